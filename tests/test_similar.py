"""Similar papers: term choice, the store's more-like-this query, the vocabulary migration, and the CLI."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import socket
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.cli import main
from bot.models import Paper
from bot.query.columns import BM25_WEIGHTS
from bot.similar import TEXT_COLUMNS, SimilarPapers, distinctive_terms, term_weights
from bot.store import Store, latest_version
from bot.store.base import _split_sql, load_migrations
from bot.store.similar import quoted_term
from tests.fakes.hf_items import make_daily_item
from tests.fakes.hf_server import FakeHuggingFace

DAY = dt.date(2026, 6, 12)
FILLER = "we propose a method and show results on several benchmarks with strong baselines"
TOPICS = {
    "protein": ("protein folding", "protein structure prediction with residue contact maps and folding energy"),
    "speech": ("speech recognition", "speech recognition of accented speakers with acoustic phoneme decoders"),
    "robot": ("robot grasping", "robot grasping with tactile gripper feedback and manipulation policies"),
    "galaxy": ("galaxy morphology", "galaxy morphology classification from telescope survey images"),
}


def topic_paper(pid: str, topic: str, n: int, **extra: object) -> Paper:
    title, words = TOPICS[topic]
    return Paper(
        id=pid,
        title=f"{title.title()} Study {n}",
        authors=("Ada Lovelace", "Shared Author"),  # the same people on every topic: authors must not count
        summary=f"{words}. {FILLER}. Variant {n} of {words.split()[0]}.",
        day=DAY,
        published=DAY,
        **extra,  # type: ignore[arg-type]
    )


def corpus() -> list[Paper]:
    papers = []
    for t, topic in enumerate(TOPICS):
        papers += [topic_paper(f"2606.{t}{n:04d}", topic, n) for n in range(4)]
    return papers


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "paperboy.db")
    await opened.upsert_papers(corpus())
    yield opened
    await opened.close()


# ---------------------------------------------------------------- choosing terms


def test_term_weights_count_columns_by_their_bm25_weight_and_skip_authors_and_noise() -> None:
    paper = Paper(
        id="1",
        title="Folding folding",
        authors=("Zed Zebra",),
        summary="the folding of 2024 x proteins",
        ai_keywords=("proteins",),
    )
    weights = term_weights(paper)
    assert weights["fold"] == 2 * 10.0 + 1.0
    assert weights["protein"] == 4.0 + 1.0
    assert not {"zed", "zebra", "the", "of", "2024", "x"} & set(weights)


def test_distinctive_terms_prefers_rare_terms_within_the_bounds() -> None:
    weights = {"rare": 2.0, "common": 5.0, "alone": 9.0, "everywhere": 9.0, "mid": 2.0, "once": 1.0}
    frequencies = {"rare": 2, "common": 15, "alone": 1, "everywhere": 60, "mid": 10, "once": 3}
    # "alone" matches no other paper, "everywhere" is in over half of them, and "once" is said once in
    # the abstract: none is chosen.
    assert distinctive_terms(weights, frequencies, 100) == ["common", "rare", "mid"]
    assert distinctive_terms(weights, frequencies, 100, max_terms=1) == ["common"]
    # A budget of 14 postings cannot take "common" (15): the rarer terms come instead.
    assert distinctive_terms(weights, frequencies, 100, posting_budget=14) == ["rare", "mid"]
    assert distinctive_terms({}, {}, 0) == []


def test_terms_reach_fts5_only_as_quoted_strings() -> None:
    assert quoted_term('a"b OR c') == '"a""b OR c"'


# ---------------------------------------------------------------- the store and the logic


async def test_a_paper_finds_the_papers_on_its_topic_first_and_never_itself(store: Store) -> None:
    similar = SimilarPapers(store)
    for topic_index, topic in enumerate(TOPICS):
        paper = await store.get_paper(f"2606.{topic_index}0001")
        assert paper is not None
        found = await similar.similar(paper, 5)
        assert paper.id not in [p.id for p in found]
        assert [p.id[:6] for p in found[:3]] == [f"2606.{topic_index}"] * 3, (topic, [p.title for p in found])


async def test_limit_is_kept_and_an_unknown_id_is_none(store: Store) -> None:
    similar = SimilarPapers(store)
    assert len(await similar.similar_to_id("2606.00000", 2) or []) == 2
    assert await similar.similar_to_id("2606.00000", 0) == []
    assert await similar.similar_to_id("9999.99999") is None


async def test_a_paper_without_text_gives_an_empty_list(store: Store) -> None:
    blank = Paper(id="2606.99999", title="", authors=("Ada Lovelace",), day=DAY)
    await store.upsert_papers([blank])
    assert await SimilarPapers(store).similar(blank) == []
    only_its_own = Paper(id="2606.99998", title="Zyxwvut Qwerty", day=DAY)
    await store.upsert_papers([only_its_own])
    assert await SimilarPapers(store).similar(only_its_own) == []


async def test_a_paper_not_in_the_cache_still_finds_cached_papers(store: Store) -> None:
    outsider = topic_paper("2607.00001", "galaxy", 9)
    found = await SimilarPapers(store).similar(outsider, 3)
    assert [p.id[:6] for p in found] == ["2606.3"] * 3


async def test_frequent_terms_come_from_memory_and_are_counted_again_as_the_cache_grows(store: Store) -> None:
    similar = SimilarPapers(store, frequent_papers=3)
    await similar.warm()
    counts, papers = await similar.frequencies(["protein", "galaxi", "fold", "unknownterm"])
    assert papers == 16
    assert counts["protein"] == 4 and counts["galaxi"] == 4 and "unknownterm" not in counts
    assert "protein" in similar._frequent and "unknownterm" not in similar._frequent
    # Two more protein papers: 12% growth, over the 10% that triggers a recount.
    await store.upsert_papers([topic_paper(f"2606.0{n:04d}", "protein", n) for n in (7, 8)])
    counts, papers = await similar.frequencies(["protein"])
    assert (counts["protein"], papers) == (6, 18)
    found = await similar.similar_to_id("2606.00001", 5)
    assert found is not None and [p.id[:6] for p in found] == ["2606.0"] * 5


async def test_the_store_refuses_unknown_columns_and_wrong_weights(store: Store) -> None:
    with pytest.raises(ValueError, match="columns"):
        await store.papers_matching_terms(["x"], columns=["nope"], weights=BM25_WEIGHTS, exclude_id=None, limit=5)
    with pytest.raises(ValueError, match="weight"):
        await store.papers_matching_terms(["x"], columns=TEXT_COLUMNS, weights=(1.0,), exclude_id=None, limit=5)
    hostile = ['"', "OR", "NEAR(", "title:x", "*", ")"]
    assert (
        await store.papers_matching_terms(hostile, columns=TEXT_COLUMNS, weights=BM25_WEIGHTS, exclude_id=None, limit=5)
        == []
    )


async def test_the_vocabulary_migration_upgrades_an_existing_cache(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        for migration in load_migrations()[:3]:
            for statement in _split_sql(migration.sql):
                conn.execute(statement)
        conn.execute("PRAGMA user_version = 3")
        for paper in corpus():
            conn.execute(
                "INSERT INTO papers (id, title, authors, summary, day, first_seen, updated_at) "
                "VALUES (?, ?, '[]', ?, ?, '2026-06-12T00:00:00+00:00', '2026-06-12T00:00:00+00:00')",
                (paper.id, paper.title, paper.summary, DAY.isoformat()),
            )
    upgraded = await Store.open(path, migrate=False)
    try:
        assert await upgraded.migrate() == list(range(4, latest_version() + 1))
        # The vocabulary reads the index the old cache already had: nothing to rebuild.
        assert (await upgraded.document_frequencies(["protein", "galaxi"])) == {"protein": 4, "galaxi": 4}
        found = await SimilarPapers(upgraded).similar_to_id("2606.10002", 3)
        assert found is not None and [p.id[:6] for p in found] == ["2606.1"] * 3
        assert await upgraded.check() == []
    finally:
        await upgraded.close()


# ---------------------------------------------------------------- the command line


@pytest.fixture
def cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache holding the corpus; the CLI reads it, and Hugging Face is a closed port."""
    db = tmp_path / "cli.db"

    async def fill() -> None:
        opened = await Store.open(db)
        await opened.upsert_papers(corpus())
        await opened.close()

    asyncio.run(fill())
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("PAPERBOY_DATABASE__PATH", str(db))
    monkeypatch.setenv("PAPERBOY_HUGGINGFACE__BASE_URL", f"http://127.0.0.1:{port}")
    monkeypatch.chdir(tmp_path)
    return db


def test_cli_similar_prints_json_papers_of_the_same_topic(cached: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["similar", "https://huggingface.co/papers/2606.20001", "--limit", "3", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert isinstance(document, list) and len(document) == 3
    assert {p["id"][:6] for p in document} == {"2606.2"} and "2606.20001" not in {p["id"] for p in document}
    assert {
        "id",
        "title",
        "authors",
        "summary",
        "ai_summary",
        "upvotes",
        "day",
        "published",
        "github_repo",
        "url",
        "arxiv_url",
        "pdf_url",
    } <= set(document[0])
    assert main(["similar", "2606.20001"]) == 0
    out = capsys.readouterr().out
    assert "2606.20001" in out.splitlines()[0] and "Robot Grasping" in out


def test_cli_similar_and_cite_exit_codes(cached: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("similar", "cite"):
        assert main([command, "not a paper"]) == 2
        assert "is not a paper id" in capsys.readouterr().err
        # Not cached, and Hugging Face cannot be reached: one line, exit 1.
        assert main([command, "2401.00001"]) == 1
        err = capsys.readouterr().err
        assert err.startswith("paperboy: cannot fetch paper 2401.00001") and "Traceback" not in err
    with pytest.raises(SystemExit) as exit_info:
        main(["similar", "2606.20001", "--limit", "0"])
    assert exit_info.value.code == 2


def test_cli_cite_prints_the_entry_from_the_cache(cached: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cite", "https://arxiv.org/abs/2606.30002v2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("@misc{lovelace2026galaxy,\n") and "eprint = {2606.30002}" in out
    assert "author = {Lovelace, Ada and Author, Shared}" in out


async def test_cli_cite_fetches_a_paper_the_cache_lacks(tmp_path: Path) -> None:
    hf = await FakeHuggingFace().start()
    try:
        hf.set_day(DAY, [make_daily_item("2606.55555", "Fetched {Paper} 100%", day=DAY, authors=("Grace Hopper",))])
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PAPERBOY_", "DISCORD_"))}
        env |= {"PAPERBOY_DATABASE__PATH": str(tmp_path / "f.db"), "PAPERBOY_HUGGINGFACE__BASE_URL": hf.base_url}
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "cite",
            "2606.55555",
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), 60)
    finally:
        await hf.stop()
    assert process.returncode == 0, err.decode()
    text = out.decode()
    assert text.startswith("@misc{hopper") and r"{\textbraceleft{}Paper\textbraceright{}} 100\%" in text
    assert "author = {Hopper, Grace}" in text
