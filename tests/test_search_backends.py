"""Search on both backends: known items come first, and SQLite and Postgres agree on what every query matches."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import random
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.models import Paper
from bot.query import Query, QueryError, parse
from bot.search.factory import SearchEngine, open_search, query_spec
from bot.store import AnyStore, Store
from bot.store.base import load_migrations
from bot.store.postgres import PostgresStore
from bot.store.postgres import latest_version as postgres_latest_version
from tests.fakes.harness import BotHarness
from tests.fakes.hf_items import make_daily_item
from tests.strategies import expressions, terms
from tests.test_search import KNOWN, filler_papers, known_papers
from tests.test_search_e2e import serve_corpus

DAY = dt.date(2026, 6, 12)
BACKENDS = ["sqlite", "postgres"]

# The known-item queries of tests/test_search.py: typos, missing words, the start of a title.
KNOWN_QUERIES = [
    ("attention is all you need", "1706.03762"),
    ("Atention is al you ned", "1706.03762"),
    ("attention all you need", "1706.03762"),
    ("mamba linear-time sequence modeling with selective state spaces", "2312.00752"),
    ("Mamba: Linear-Time Sequence Modelling with Selective State Space", "2312.00752"),
    ("mamba linear time", "2312.00752"),
    ("Denoising Diffusion Probabilistic", "2006.11239"),
    ("denoisng difusion probabilistc models", "2006.11239"),
    ("LLaMA: Open and Efficient Foundation Language Models", "2302.13971"),
    ("chain of thought prompting elicits reasoning", "2201.11903"),
    ("low rank adaptation of large language models", "2106.09685"),
    ("direct preferance optimisation", "2305.18290"),
    ("retrieval augmented generation knowledge intensive", "2005.11401"),
    ("switch transformers trillion parameter", "2101.03961"),
    ("high resolution image synthesis latent diffusion", "2112.10752"),
    ("gaussian splatting real-time radiance field", "2308.04079"),
    ("react synergizing reasoning acting", "2210.03629"),
    ("mamba", "2312.00752"),
    ("title:llama", "2302.13971"),
]
# Queries over every part of the language, whose match sets must be the same on both backends.
LANGUAGE_QUERIES = [
    "models",
    "language models",
    '"language models"',
    '"models language"',
    "diffusion OR mamba",
    "models -diffusion",
    "-models",
    "NOT (models OR attention)",
    "title:diffusion",
    "abstract:studies",
    'author:"Ada Lovelace"',
    'author:"Lovelace Ada"',
    "author:ada -title:models",
    "keyword:sparse",
    "(llama OR mamba) models",
    "models upvotes:>=15",
    "diffusion day:>=2026-05-20 code:no",
    "upvotes:10..12",
    "day:2026-06-12",
    "attention OR -models",
    "sparse experts -(video OR image)",
]


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest) -> AsyncIterator[AnyStore]:
    """The known titles among 300 fillers, on each backend."""
    opened: AnyStore
    if request.param == "sqlite":
        opened = await Store.open(":memory:")
    else:
        opened = await PostgresStore.open(request.getfixturevalue("postgres_url"))
    try:
        await opened.bulk_insert_papers([*known_papers(), *filler_papers(300)])
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def engine(store: AnyStore) -> AsyncIterator[SearchEngine]:
    found = open_search(store)
    try:
        yield found
    finally:
        await found.close()


@pytest.mark.parametrize(("query", "expected"), KNOWN_QUERIES)
async def test_known_item_comes_first(engine: SearchEngine, query: str, expected: str) -> None:
    results = await engine.search(query, limit=5)
    assert results.papers, query
    assert results.papers[0].id == expected, [p.title for p in results.papers]


async def matched_ids(store: AnyStore, query: Query) -> set[str]:
    """Every paper the store's SQL finds for a parsed query (its full-text form and filters)."""
    spec = query_spec(store, query, sort="new", limit=1000)
    page = await store.search_page(spec)
    assert await store.search_count(spec) == len(page)
    if spec.match is not None and not spec.exclude:
        # The bulk path of search: the same papers, by rowid.
        hits = await store.match_hits(spec.match, limit=1000, filters=spec.filters)
        by_rowid = await store.papers_by_rowid([h.rowid for h in hits])
        assert {p.id for p in by_rowid.values()} == {p.id for p in page}
    return {p.id for p in page}


@pytest.mark.parametrize("text", LANGUAGE_QUERIES)
async def test_each_query_matches_what_the_predicate_says(store: AnyStore, text: str) -> None:
    query = parse(text)
    corpus = [*known_papers(), *filler_papers(300)]
    assert await matched_ids(store, query) == {p.id for p in corpus if query.matches(p)}


async def test_pages_totals_and_sorts_agree_with_the_predicate(engine: SearchEngine) -> None:
    corpus = {p.id: p for p in [*known_papers(), *filler_papers(300)]}
    for text in ("sparse experts", '"language models" -llama', "models upvotes:>=30"):
        query = parse(text)
        expected = {pid for pid, p in corpus.items() if query.matches(p)}
        for sort in ("new", "top"):
            pages = [await engine.search(text, sort=sort, limit=7, offset=offset) for offset in range(0, 350, 7)]
            found = [p.id for page in pages for p in page.papers]
            assert len(found) == len(set(found)) and set(found) == expected, (text, sort)
            assert pages[0].total == len(expected) and pages[0].total_exact
            key = (lambda p: (p.day, p.upvotes)) if sort == "new" else (lambda p: (p.upvotes,))
            assert [key(corpus[i]) for i in found] == sorted((key(corpus[i]) for i in found), reverse=True)


async def test_title_hits_outrank_abstract_hits_and_ties_go_to_upvotes(store: AnyStore) -> None:
    twins = [
        Paper(id="2606.00001", title="Zebra crossings", summary="roads", day=DAY, upvotes=1),
        Paper(id="2606.00002", title="Roads", summary="zebra crossings", day=DAY, upvotes=50),
        Paper(id="2606.00003", title="Zebra stripes", summary="animals", day=DAY, upvotes=9),
        Paper(id="2606.00004", title="Zebra stripes", summary="animals", day=DAY, upvotes=3),
    ]
    await store.bulk_insert_papers(twins)
    results = await open_search(store).search("zebra", limit=10)
    assert [p.id for p in results.papers][-1] == "2606.00002"  # the abstract alone holds the word
    order = [p.id for p in results.papers]
    assert order.index("2606.00003") < order.index("2606.00004")  # same text: more upvotes first


async def test_autocomplete_and_trending(engine: SearchEngine) -> None:
    assert ("2312.00752", KNOWN["2312.00752"]) in await engine.autocomplete("2312.0")
    assert (await engine.autocomplete("https://arxiv.org/abs/2312.00752")) == [("2312.00752", KNOWN["2312.00752"])]
    assert (await engine.autocomplete("Mamba: Lin"))[0][0] == "2312.00752"
    assert (await engine.autocomplete("denoising diff"))[0][0] == "2006.11239"
    assert (await engine.autocomplete("atention is al"))[0][0] == "1706.03762"
    assert (await engine.autocomplete("gaussian splat"))[0][0] == "2308.04079"
    assert len(await engine.autocomplete("models", limit=25)) <= 25
    assert await engine.autocomplete("   ") == []
    now = dt.datetime.combine(DAY, dt.time(12), tzinfo=dt.UTC)
    week = await engine.trending("week", now, limit=5)
    corpus = [*known_papers(), *filler_papers(300)]
    in_week = sorted(
        (p for p in corpus if p.day and DAY - dt.timedelta(days=6) <= p.day <= DAY),
        key=lambda p: (-p.upvotes, -p.day.toordinal() if p.day else 0, p.id),
    )
    assert [p.id for p in week.papers] == [p.id for p in in_week[:5]]
    assert (await engine.trending("day", now)).first == DAY


async def test_merging_the_index_keeps_every_answer(engine: SearchEngine) -> None:
    before = await engine.search("sparse experts", limit=50)
    now = dt.datetime.combine(DAY, dt.time(12), tzinfo=dt.UTC)
    assert await engine.merge_index_if_due(now)
    assert not await engine.merge_index_if_due(now + dt.timedelta(hours=1))
    assert (await engine.search("sparse experts", limit=50)).papers == before.papers


async def test_hostile_text_is_only_ever_words(store: AnyStore) -> None:
    odd = Paper(
        id="2606.00009",
        title="It's a C:\\path 'quoted' & | ! <-> :* :A (x) -- ; DROP TABLE papers",
        summary="Backslash \\' and quote '' and colon:weight and <2> followed",
        day=DAY,
    )
    await store.bulk_insert_papers([odd])
    engine = open_search(store)
    for text in (
        '"it\'s"',
        "'quoted' & path",
        '"drop table papers"',
        "c:\\path",
        'title:"a c path"',
        "colon:weight",
        '"<2> followed"',
        "x:*",
        "\\' ''",
    ):
        try:
            query = parse(text)
        except QueryError:
            continue
        results = await engine.search(text, limit=20)
        assert ("2606.00009" in {p.id for p in results.papers}) == query.matches(odd), text
    assert await store.counts() is not None  # the table is still there
    assert (await engine.search("drop", limit=5)).papers[0].id == "2606.00009"


async def test_similar_papers_find_stems_that_do_not_stem_to_themselves(store: AnyStore) -> None:
    # "platypusion" is indexed as "platypus", which Porter would shorten again if it were stemmed as a query
    # word ("diffusion" is indexed as "diffus" the same way).
    await store.bulk_insert_papers([Paper(id="2606.00010", title="Platypusion policies", summary="x", day=DAY)])
    assert await store.document_frequencies(["platypus"]) == {"platypus": 1}
    found = await store.papers_matching_terms(
        ["platypus"], columns=("title",), weights=(10, 6, 4, 1, 1), exclude_id=None, limit=5
    )
    assert [p.id for p in found] == ["2606.00010"]


async def test_hostile_terms_reach_the_store_as_lexemes_only(store: AnyStore) -> None:
    await store.bulk_insert_papers([Paper(id="2606.00009", title="Quokka wombat", summary="x", day=DAY)])
    hostile = ["quokka' | 'wombat", "quokka\\' | !", "wombat:*", "'", "\\", "quokka <-> wombat"]
    found = await store.papers_matching_terms(
        hostile, columns=("title", "summary"), weights=(10, 6, 4, 1, 1), exclude_id=None, limit=5
    )
    # Never a syntax error. Postgres reads each term as one lexeme, which no paper holds; FTS5 splits a
    # string into a phrase of its words (here "quokka wombat"), which this paper does hold.
    assert [p.id for p in found] == ([] if isinstance(store, PostgresStore) else ["2606.00009"])
    assert await store.document_frequencies(hostile) == {}
    assert [p.id for p in await store.papers_matching_terms(
        ["quokka", *hostile], columns=("title",), weights=(10, 6, 4, 1, 1), exclude_id=None, limit=5
    )] == ["2606.00009"]  # fmt: skip


async def test_an_upgraded_database_gets_search_columns_for_its_old_rows(postgres_url: str) -> None:
    older = load_migrations("bot.store.postgres")[:3]
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT)")
        for migration in older:
            conn.execute(migration.sql.encode())
            conn.execute("INSERT INTO schema_version VALUES (%s, %s, 'then')", (migration.version, migration.name))
        conn.execute(
            "INSERT INTO papers (id, title, summary, first_seen, updated_at) "
            "VALUES ('2606.00001', 'Quokka navigation', 'Wombat maps', 'then', 'then')"
        )
    store = await PostgresStore.open(postgres_url, migrate=False)
    try:
        assert await store.migrate() == [4, *range(5, postgres_latest_version() + 1)]
        assert await store.check() == []
        engine = open_search(store)
        assert [p.id for p in (await engine.search("wombat")).papers] == ["2606.00001"]
        assert (await engine.autocomplete("quokka nav"))[0][0] == "2606.00001"
        assert await store.document_frequencies(["wombat"]) == {"wombat": 1}
        # A row left without them (written by an older process meanwhile) is reported, then filled.
        await store._execute("UPDATE papers SET search_vector = NULL, title_key = NULL")
        assert await store.check() == ["1 papers have no search columns yet: run `paperboy db migrate`"]
        assert await store.migrate() == [] and await store.check() == []
        assert [p.id for p in (await engine.search("quokka")).papers] == ["2606.00001"]
    finally:
        await store.close()


# ---------------------------------------------------------------- agreement on generated queries

_WORDS = str.split(
    "agent agents Agentic diffusion diffuse video videos model models modeling state space of the art café "
    "cafe naïve Mamba rlhf RLHF retrieval language flow x C++ GPT-4o 3D 2026 ÉCOLE ecole über 日本 it's"
)
_NAMES = ["Tri Dao", "Albert Gu", "Dao Tri", "Zoë Müller", "Ada"]
_FILTERS = ["upvotes:>=5", "upvotes:<10", "day:>2026-06-02", "day:2026-06-02..2026-06-04", "code:yes", "-code:yes"]


def small_corpus() -> list[Paper]:
    """A fixed corpus built from the same words as the generated queries, so that they match often."""
    rng = random.Random(14)

    def text(count: int) -> str:
        return " ".join(rng.choice(_WORDS) + rng.choice(["", ",", " -", ";", "."]) for _ in range(count)).strip()

    return [
        Paper(
            id=f"2601.{index:05d}",
            title=text(rng.randint(1, 6)) or "untitled",
            authors=tuple(rng.sample(_NAMES, rng.randint(0, 3))),
            summary=text(rng.randint(0, 14)),
            ai_summary=rng.choice([None, text(5)]),
            ai_keywords=tuple(text(2) for _ in range(rng.randint(0, 3))),
            day=rng.choice([None, dt.date(2026, 6, rng.randint(1, 5))]),
            upvotes=rng.randint(0, 20),
            github_repo=rng.choice([None, "", "org/repo"]),
        )
        for index in range(60)
    ]


_QUERIES = st.tuples(
    expressions(terms(_WORDS, _NAMES, max_phrase=3), max_leaves=6), st.lists(st.sampled_from(_FILTERS), max_size=2)
).map(lambda t: " ".join([t[0], *t[1]]))


@pytest.fixture
def both_stores(postgres_url: str) -> Iterator[tuple[asyncio.AbstractEventLoop, Store, PostgresStore]]:
    """The small corpus in SQLite and in Postgres, with an event loop to query them from a sync test."""
    loop = asyncio.new_event_loop()

    async def open_both() -> tuple[Store, PostgresStore]:
        sqlite, postgres = await Store.open(":memory:"), await PostgresStore.open(postgres_url, max_size=2)
        for opened in (sqlite, postgres):
            await opened.bulk_insert_papers(small_corpus())
        return sqlite, postgres

    sqlite, postgres = loop.run_until_complete(open_both())
    try:
        yield loop, sqlite, postgres
    finally:
        loop.run_until_complete(sqlite.close())
        loop.run_until_complete(postgres.close())
        loop.close()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_QUERIES, min_size=1, max_size=6))
def test_sqlite_and_postgres_match_the_same_papers(
    both_stores: tuple[asyncio.AbstractEventLoop, Store, PostgresStore], texts: list[str]
) -> None:
    loop, sqlite, postgres = both_stores
    corpus = small_corpus()
    for text in texts:
        try:
            query = parse(text)
        except QueryError:
            continue
        on_sqlite = loop.run_until_complete(matched_ids(sqlite, query))
        on_postgres = loop.run_until_complete(matched_ids(postgres, query))
        assert on_sqlite == on_postgres == {p.id for p in corpus if query.matches(p)}, text


def test_the_corpus_counts_terms_alike_on_both(
    both_stores: tuple[asyncio.AbstractEventLoop, Store, PostgresStore],
) -> None:
    loop, sqlite, postgres = both_stores

    async def vocabulary(store: AnyStore) -> tuple[object, ...]:
        frequent, after = await store.frequent_terms(1, after="", limit=10_000)
        terms = [term for term, _ in frequent]
        # Stems that stem to themselves: SQLite's FTS5 stems the terms of a query once more.
        matching = await store.papers_matching_terms(
            ["agent", "video"], columns=("title", "summary"), weights=(10, 6, 4, 1, 1), exclude_id=None, limit=100
        )
        return (
            after,
            frequent,
            await store.document_frequencies([*terms[:20], "nothing-like-it"]),
            await store.indexed_paper_count(),
            {p.id for p in matching},
        )

    on_sqlite, on_postgres = loop.run_until_complete(vocabulary(sqlite)), loop.run_until_complete(vocabulary(postgres))
    assert on_sqlite == on_postgres
    # Deleting and rewriting a paper keeps the counts in step.
    first = small_corpus()[0]
    for store in (sqlite, postgres):
        loop.run_until_complete(store.delete_paper(first.id))
        loop.run_until_complete(store.upsert_papers([dataclasses.replace(first, id="2601.99999", title="flow café")]))
    assert loop.run_until_complete(vocabulary(sqlite)) == loop.run_until_complete(vocabulary(postgres))


# ---------------------------------------------------------------- the whole bot, end to end


@pytest.mark.parametrize("backend", BACKENDS)
async def test_paper_commands_through_discord(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    changes: dict[str, Any] = (
        {"database": {"url": request.getfixturevalue("postgres_url")}} if backend == "postgres" else {}
    )
    harness = await BotHarness.create(tmp_path, **changes)
    try:
        assert isinstance(harness.store, PostgresStore) == (backend == "postgres")
        await serve_corpus(harness)
        topic = "Quokka navigation with learned wombat maps"
        twins = [make_daily_item(f"2606.3000{i}", f"{topic} {i}", day=DAY, summary=topic) for i in (1, 2)]
        harness.hf.set_day(DAY, [*harness.hf.days[DAY.isoformat()], *twins])
        await harness.scrape()
        result = await harness.discord.slash(
            "paper", "search", as_user=harness.member, channel=harness.channel, query="diffusion video", sort="top"
        )
        first = result.message
        assert result.ephemeral and first is not None
        assert "page 1/3" in first.text and "25 results" in first.text and "number 24" in first.text
        await harness.discord.click(first, "search:next", as_user=harness.member)
        assert "page 2/3" in first.text and "number 14" in first.text
        typo = await harness.discord.slash(
            "paper", "search", as_user=harness.member, channel=harness.channel, query="mamba linear tme sequence"
        )
        assert typo.message is not None and "Mamba" in typo.message.text.splitlines()[1]
        choices = await harness.discord.autocomplete(
            "paper", "show", focused="paper", value="mamb", as_user=harness.member, channel=harness.channel
        )
        assert choices and choices[0]["value"] == "2606.10000"
        shown = await harness.discord.slash(
            "paper", "show", as_user=harness.member, channel=harness.channel, paper="mamba selective state spaces"
        )
        assert shown.embeds and shown.embeds[0]["title"].startswith("Mamba")
        trending = await harness.discord.slash("paper", "trending", as_user=harness.member, channel=harness.channel)
        assert trending.message is not None and "Mamba" in trending.message.text
        similar = await harness.discord.slash(
            "paper", "similar", as_user=harness.member, channel=harness.channel, paper="2606.30001"
        )
        listing = await similar.wait_final()
        assert f"{topic} 2" in listing.embeds[0]["description"]
        tried = await harness.discord.slash(
            "alerts", "test", as_user=harness.member, channel=harness.channel, query='author:"Albert Gu"', days=3
        )
        assert "Mamba" in (await tried.wait_final()).text
    finally:
        await harness.close()


@pytest.mark.slow
def test_the_search_benchmark_times_postgres_beside_sqlite(postgres_url: str) -> None:
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, str(root / "bench" / "search.py"), "--papers", "300", "--rounds", "1", "--similar-papers", "5",
         "--backend", "postgres", "--database-url", postgres_url],
        capture_output=True, text=True, timeout=180, cwd=root, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    on_postgres = report["postgres"]
    assert on_postgres["papers"] == report["papers"] == 300
    assert on_postgres["search"]["p50_ms"] > 0 and set(on_postgres["ratio_to_sqlite"]) == {
        "search",
        "autocomplete",
        "similar",
    }
