"""Search storage: the index without a copy of the text, its migration, reading beside the writer,
and the ranking points: words in the order typed, short titles of common words."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import shutil
import sqlite3
import threading
from contextlib import closing
from pathlib import Path

import pytest

import bot.search.answer as search_module
from bot.models import Paper
from bot.search import Search
from bot.store import Store
from tests.old_caches import insert_old_papers, make_old_cache

DAY = dt.date(2026, 6, 12)
WORDS = str.split(
    "sparse routing long context transformers instruction tuning synthetic preference data token pruning "
    "vision language models stepwise verifiers mathematical reasoning benchmark web navigation agents "
    "gaussian splatting dynamic scene reconstruction speech synthesis reward modeling robot manipulation"
)
QUERIES = [
    "sparse routing",
    '"language models" -vision',
    "reasoning OR navigation",
    "title:agents",
    "author:okafor",
    "gaussian splatting dynamic",
]


def corpus(count: int, seed: int = 7) -> list[Paper]:
    """Papers of random words from WORDS, with authors, keywords and AI summaries."""
    rng = random.Random(seed)
    return [
        Paper(
            id=f"2601.{index:05d}",
            title=" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 8))).title(),
            authors=(f"Ada Okafor {rng.randint(1, 30)}", "Tri Dao"),
            summary=" ".join(rng.choice(WORDS) for _ in range(rng.randint(60, 120))),
            ai_summary=" ".join(rng.choice(WORDS) for _ in range(20)) if index % 3 else None,
            ai_keywords=tuple(rng.sample(WORDS, 3)),
            day=DAY - dt.timedelta(days=index % 40),
            upvotes=rng.randint(0, 60),
        )
        for index in range(count)
    ]


def raw_answers(path: Path) -> list[list[str]]:
    """Each query's matching ids through SQL that reads the same on the old and the new schema."""
    found = []
    with closing(sqlite3.connect(path)) as db:
        for match in ('"sparse" "routing"', '"vision" OR "speech"', '{title} : "agents"', '{authors} : "okafor"'):
            rows = db.execute(
                "SELECT p.id FROM papers_fts JOIN papers p ON p.rowid = papers_fts.rowid "
                "WHERE papers_fts MATCH ? ORDER BY bm25(papers_fts, 10, 4, 3, 1, 1), p.id",
                (match,),
            ).fetchall()
            found.append([str(r[0]) for r in rows])
    return found


async def answers(store: Store) -> list[list[str]]:
    finder = Search(store)
    return [[p.id for p in (await finder.search(q, limit=1000)).papers] for q in QUERIES]


async def test_the_migration_keeps_every_answer_and_shrinks_the_file(tmp_path: Path) -> None:
    papers = corpus(1500)
    old = tmp_path / "old.db"
    make_old_cache(old, 6)
    insert_old_papers(old, papers)
    store = await Store.open(old, migrate=False)
    for gone in papers[100:400:7]:  # holes in the rowids, which a VACUUM of the old table would close up
        await store.delete_paper(gone.id)
    await store.save_paper(5, papers[10].id, limit=100)
    await store.close()
    before = raw_answers(old)
    copy = tmp_path / "copy.db"
    shutil.copy(old, copy)

    migrated = await Store.open(copy)
    try:
        assert await migrated.check() == []
        assert [p.id for p in await migrated.saved_papers(5)] == [papers[10].id]
        ours = await answers(migrated)
    finally:
        await migrated.close()
    assert raw_answers(copy) == before
    assert copy.stat().st_size < old.stat().st_size * 0.75
    # The same answers as a cache made by the new schema from the same writes.
    fresh = await Store.open(tmp_path / "fresh.db")
    try:
        await fresh.bulk_insert_papers(papers)
        for gone in papers[100:400:7]:
            await fresh.delete_paper(gone.id)
        assert await answers(fresh) == ours
    finally:
        await fresh.close()
    assert all(ours), ours
    with closing(sqlite3.connect(copy)) as db:
        assert db.execute("PRAGMA page_size").fetchone() == (8192,)  # rewritten with larger pages
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        db.execute("VACUUM")  # keeps papers.seq: the index still points at the right rows
        for table in ("papers_fts", "papers_fts_title"):
            db.execute(f"INSERT INTO {table} ({table}) VALUES ('integrity-check')")
    assert raw_answers(copy) == before


async def test_the_index_holds_no_copy_of_the_text(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "lean.db")
    try:
        await store.bulk_insert_papers(corpus(200))
        await store.upsert_papers([Paper(id="2601.00003", title="Wombat Burrows", summary="marsupial", day=DAY)])
        await store.delete_paper("2601.00004")
    finally:
        await store.close()
    with closing(sqlite3.connect(tmp_path / "lean.db")) as db:
        tables = {str(r[0]) for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "papers_fts_content" not in tables and "papers_fts_title_content" not in tables
        for table in ("papers_fts", "papers_fts_title"):
            db.execute(f"INSERT INTO {table} ({table}) VALUES ('integrity-check')")
        assert db.execute("SELECT rowid FROM papers_fts WHERE papers_fts MATCH 'wombat'").fetchall() == [(4,)]


async def test_a_search_completes_while_the_writer_is_busy_in_a_transaction(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "busy.db")
    try:
        await store.bulk_insert_papers(corpus(300))
        finder = Search(store)
        expected = [p.id for p in (await finder.search("sparse routing", limit=20)).papers]
        gate = threading.Event()
        await store._db.create_function("hold", 0, lambda: gate.wait(30))
        async with store.transaction() as db:
            await db.execute("UPDATE papers SET title = 'Renamed' WHERE id = ?", (expected[0],))
            # A long statement on the writer's only thread (as an alert pass over many papers makes).
            held = asyncio.ensure_future(db.execute("SELECT hold()"))
            try:
                during = await asyncio.wait_for(finder.search("sparse routing", limit=20), timeout=10)
                completions = await asyncio.wait_for(finder.autocomplete("sparse rout"), timeout=10)
            finally:
                gate.set()
                await held
        # The search read the last committed state, not the write under way.
        assert [p.id for p in during.papers] == expected and completions
        assert expected[0] not in [p.id for p in (await finder.search("sparse routing", limit=20)).papers]
    finally:
        await store.close()


def ranked(*papers: tuple[str, str, int]) -> list[Paper]:
    return [
        Paper(id=pid, title=title, summary=f"about {title.lower()}", day=DAY, upvotes=upvotes)
        for pid, title, upvotes in papers
    ]


@pytest.mark.parametrize("dense", [False, True])
async def test_titles_holding_the_words_in_order_rank_above_the_words_scattered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dense: bool
) -> None:
    if dense:
        monkeypatch.setattr(search_module, "DENSE_WINDOW", 3)  # every word is "common": no bm25
    store = await Store.open(tmp_path / "order.db")
    try:
        await store.bulk_insert_papers(
            ranked(
                ("2601.00001", "Runtime Enforcement for Coding Agents", 3),
                ("2601.00002", "Coding Agents for Runtime Enforcement of Shared Repository Pipelines", 90),
                ("2601.00003", "Agents that Enforce Coding Rules at Runtime", 80),
                ("2601.00004", "Enforcement of Runtime Policies for Agents Coding in Teams", 70),
            )
        )
        finder = Search(store)
        first = (await finder.search("runtime enforcement for coding agents")).papers
        assert first[0].id == "2601.00001"
        two = (await finder.search("coding agents")).papers
        assert {p.id for p in two[:2]} == {"2601.00001", "2601.00002"}  # adjacent first
        flipped = (await finder.search("agents coding")).papers
        assert flipped[0].id == "2601.00004"
    finally:
        await store.close()


async def test_a_short_title_of_common_words_comes_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_module, "DENSE_WINDOW", 20)
    rng = random.Random(3)
    target = Paper(id="1807.03819", title="Universal Transformers", summary="recurrence in depth", day=DAY)
    crowd = [
        Paper(
            id=f"2601.{index:05d}",
            title=f"{rng.choice(WORDS).title()} Transformers for {rng.choice(WORDS).title()}",
            summary="universal " + " ".join(rng.choice(WORDS) for _ in range(30)),
            day=DAY,
            upvotes=rng.randint(10, 90),
        )
        for index in range(120)
    ]
    store = await Store.open(tmp_path / "common.db")
    try:
        await store.bulk_insert_papers([target, *crowd])  # stored first: outside the window of the newest
        found = await Search(store).search("universal transformers", limit=5)
        assert found.papers[0].id == target.id and not found.total_exact
        assert (await Search(store).search("Universal Transformers", sort="top", limit=5)).papers[0].id != target.id
    finally:
        await store.close()
