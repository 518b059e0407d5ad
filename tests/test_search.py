"""Search over the store: ranking, typo-tolerant titles, paging, autocomplete, trending, the CLI."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import random
import sqlite3
import threading
import weakref
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import bot.search.answer as answer_module
import bot.search.engine as search_module
from bot.cli import main
from bot.models import Paper
from bot.query import QueryError, parse
from bot.search import Period, Search, SearchResults, Sort, TitleWords, Trending, title_key, title_score
from bot.search.upkeep import MERGED_AT_KEY
from bot.store import Store, StoreError

DAY = dt.date(2026, 6, 12)

# One Search per store, as the bot keeps one: its title index follows the store across calls.
_searches: weakref.WeakKeyDictionary[Store, Search] = weakref.WeakKeyDictionary()


def finder_of(store: Store) -> Search:
    """The Search these tests share for `store`."""
    found = _searches.get(store)
    if found is None:
        found = _searches[store] = Search(store)
    return found


async def search(
    store: Store,
    query: str,
    *,
    sort: Sort = "relevance",
    limit: int = 10,
    offset: int = 0,
    since: dt.date | None = None,
) -> SearchResults:
    """A page of results from the shared Search of `store`."""
    return await finder_of(store).search(query, sort=sort, limit=limit, offset=offset, since=since)


async def autocomplete(store: Store, text: str, limit: int = 25) -> list[tuple[str, str]]:
    """Suggestions from the shared Search of `store`."""
    return await finder_of(store).autocomplete(text, limit)


async def trending(store: Store, period: Period, now: dt.datetime, limit: int = 10) -> Trending:
    """Trending papers from the shared Search of `store`."""
    return await finder_of(store).trending(period, now, limit)


def day_of(paper: Paper) -> dt.date:
    """The day of a paper these tests made with one."""
    assert paper.day is not None
    return paper.day


KNOWN = {
    "1706.03762": "Attention Is All You Need",
    "2312.00752": "Mamba: Linear-Time Sequence Modeling with Selective State Spaces",
    "2006.11239": "Denoising Diffusion Probabilistic Models",
    "2302.13971": "LLaMA: Open and Efficient Foundation Language Models",
    "2201.11903": "Chain-of-Thought Prompting Elicits Reasoning in Large Language Models",
    "2106.09685": "LoRA: Low-Rank Adaptation of Large Language Models",
    "2305.18290": "Direct Preference Optimization: Your Language Model is Secretly a Reward Model",
    "2005.11401": "Retrieval-Augmented Generation for Knowledge-Intensive NLP Tasks",
    "2101.03961": "Switch Transformers: Scaling to Trillion Parameter Models with Simple and Efficient Sparsity",
    "2210.03629": "ReAct: Synergizing Reasoning and Acting in Language Models",
    "2112.10752": "High-Resolution Image Synthesis with Latent Diffusion Models",
    "2308.04079": "3D Gaussian Splatting for Real-Time Radiance Field Rendering",
}
FILLER_WORDS = str.split(
    "attention language models diffusion image video reasoning agents retrieval sparse experts efficient "
    "training large learning transformer generation state space sequence selective scaling reward "
    "preference optimization synthesis latent rendering benchmark evaluation"
)


def filler_papers(count: int, seed: int = 5) -> list[Paper]:
    """Papers that share the known titles' words, so that ranking has something to beat."""
    rng = random.Random(seed)
    papers = []
    for index in range(count):
        title = " ".join(rng.choice(FILLER_WORDS) for _ in range(rng.randint(4, 9))).title()
        papers.append(
            Paper(
                id=f"2501.{index:05d}",
                title=title,
                authors=(f"Author {rng.randint(1, 40)}",),
                summary=" ".join(rng.choice(FILLER_WORDS) for _ in range(60)),
                day=DAY - dt.timedelta(days=rng.randint(0, 60)),
                upvotes=rng.randint(0, 40),
            )
        )
    return papers


def known_papers() -> list[Paper]:
    return [
        Paper(
            id=pid,
            title=title,
            authors=("Ada Lovelace",),
            summary=f"The paper {title.lower()} studies models.",
            day=DAY - dt.timedelta(days=i),
            upvotes=10 + i,
        )
        for i, (pid, title) in enumerate(KNOWN.items())
    ]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "search.db")
    await opened.bulk_insert_papers([*known_papers(), *filler_papers(300)])
    yield opened
    await opened.close()


# ---------------------------------------------------------------- known items


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("attention is all you need", "1706.03762"),
        ("Atention is al you ned", "1706.03762"),  # typos
        ("attention all you need", "1706.03762"),  # a missing word
        ("mamba linear-time sequence modeling with selective state spaces", "2312.00752"),  # lower case
        ("Mamba: Linear-Time Sequence Modelling with Selective State Space", "2312.00752"),
        ("mamba linear time", "2312.00752"),  # the start of a title
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
    ],
)
async def test_known_item_comes_first(store: Store, query: str, expected: str) -> None:
    results = await search(store, query, limit=5)
    assert results.papers, query
    assert results.papers[0].id == expected


async def test_paper_id_or_url_goes_straight_to_the_paper(store: Store) -> None:
    for ref in (
        "2312.00752",
        "arXiv:2312.00752v2",
        "https://huggingface.co/papers/2312.00752",
        "https://arxiv.org/abs/2312.00752",
    ):
        results = await search(store, ref)
        assert [p.id for p in results.papers] == ["2312.00752"]
        assert results.paper_ref == "2312.00752" and results.total == 1
    missing = await search(store, "2312.99999")
    assert missing.papers == () and missing.total == 0 and missing.paper_ref == "2312.99999"


# ---------------------------------------------------------------- ranking and sorts


def twin(pid: str, title: str, summary: str, upvotes: int, day: dt.date) -> Paper:
    return Paper(id=pid, title=title, authors=("Someone",), summary=summary, upvotes=upvotes, day=day)


async def test_title_outranks_abstract_and_ties_go_to_upvotes_then_recency(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "rank.db")
    try:
        await store.bulk_insert_papers(
            [
                twin("1", "Other things", "quokka " * 5 + "filler text here", 500, DAY),
                twin("2", "Quokka behaviour", "filler text here and more", 1, DAY - dt.timedelta(days=9)),
                twin("3", "Unrelated", "nothing", 900, DAY),
                twin("4", "Quokka habitat", "filler text here and more", 7, DAY - dt.timedelta(days=9)),
                twin("5", "Quokka habitat", "filler text here and more", 7, DAY - dt.timedelta(days=1)),
            ]
        )
        results = await search(store, "quokka", limit=10)
        assert [p.id for p in results.papers] == ["5", "4", "2", "1"]
        assert results.total == 4 and results.total_exact
        new = await search(store, "quokka", sort="new")
        assert [p.id for p in new.papers] == ["1", "5", "4", "2"]
        top = await search(store, "quokka", sort="top")
        assert [p.id for p in top.papers] == ["1", "5", "4", "2"]
        by_author = await search(store, "author:someone", sort="top", limit=2)
        assert [p.id for p in by_author.papers] == ["3", "1"]
    finally:
        await store.close()


async def test_filters_alone_list_papers_in_the_chosen_order(store: Store) -> None:
    on_day = await search(store, f"day:{DAY.isoformat()}", sort="top", limit=100)
    assert on_day.papers and all(p.day == DAY for p in on_day.papers)
    upvotes = [p.upvotes for p in on_day.papers]
    assert upvotes == sorted(upvotes, reverse=True)
    relevance = await search(store, f"day:{DAY.isoformat()}", limit=100)
    assert [p.id for p in relevance.papers] == [p.id for p in on_day.papers]
    newest = await search(store, "upvotes:>=30", sort="new", limit=100)
    days = [p.day for p in newest.papers if p.day]
    assert days == sorted(days, reverse=True) and all(p.upvotes >= 30 for p in newest.papers)


async def test_since_keeps_recent_papers_only(store: Store) -> None:
    since = DAY - dt.timedelta(days=3)
    results = await search(store, "models", since=since, limit=100)
    assert results.papers and all(p.day and p.day >= since for p in results.papers)
    everything = await search(store, "models", limit=100)
    assert results.total < everything.total
    with_filters = await search(store, "models upvotes:>=20 code:no", since=since, limit=100)
    assert with_filters.papers and all(
        p.day and p.day >= since and p.upvotes >= 20 and not p.has_code for p in with_filters.papers
    )
    assert with_filters.total <= results.total


async def test_pages_join_up_without_gaps_or_repeats(store: Store) -> None:
    for query in ("language models", "attention is all you need", "diffusion -video", "upvotes:>=5"):
        whole = await search(store, query, limit=1000)
        pages: list[str] = []
        for offset in range(0, whole.total + 7, 7):
            page = await search(store, query, limit=7, offset=offset)
            assert page.total == whole.total
            pages.extend(p.id for p in page.papers)
        assert pages == [p.id for p in whole.papers], query
        assert len(pages) == whole.total


async def test_a_very_common_query_is_ranked_within_its_newest_matches(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    exact = await search(store, "models", limit=5)
    assert exact.total_exact and exact.total > 40
    monkeypatch.setattr(answer_module, "DENSE_WINDOW", 20)
    windowed = await search(store, "models", limit=20)
    assert not windowed.total_exact and windowed.total == 20
    stored_order = [*known_papers(), *filler_papers(300)]
    query, in_title = parse("models"), parse("title:models")
    newest_20 = [p for p in stored_order if query.matches(p)][-20:]
    assert {p.id for p in windowed.papers} == {p.id for p in newest_20}
    # Titles holding the words first, then the most upvoted.
    ranked = sorted(newest_20, key=lambda p: (not in_title.matches(p), -p.upvotes, -day_of(p).toordinal(), p.id))
    assert [p.id for p in windowed.papers] == [p.id for p in ranked]
    pages = [
        p.id for offset in (0, 5, 10, 15, 20) for p in (await search(store, "models", limit=5, offset=offset)).papers
    ]
    assert pages == [p.id for p in windowed.papers]
    # Filters apply before the window: a rare day's papers are all found, however old.
    old_day = min(p.day for p in stored_order if query.matches(p) and p.day)
    filtered = await search(store, f"models day:{old_day.isoformat()}", limit=100)
    expected = [p for p in stored_order if query.matches(p) and p.day == old_day]
    assert filtered.total_exact and filtered.total == len(expected)
    assert {p.id for p in filtered.papers} == {p.id for p in expected}


async def test_a_query_with_a_very_common_word_ranks_title_hits_then_upvotes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(answer_module, "DENSE_WINDOW", 20)
    papers = [
        twin(
            f"{i}",
            "Common zebra" if i % 12 == 1 else "Common ground",
            "common words" + " filler" * (i % 5) + (" zebra" if i % 6 == 1 else ""),
            upvotes=(i * 37) % 50,
            day=DAY - dt.timedelta(days=i % 5),
        )
        for i in range(80)
    ]
    store = await Store.open(tmp_path / "dense.db")
    try:
        await store.bulk_insert_papers(papers)
        results = await search(store, "zebra common", limit=100)
        query, in_title = parse("zebra common"), parse("title:(zebra common)")
        matching = [p for p in papers if query.matches(p)]
        assert len(matching) <= 20 and results.total_exact and results.total == len(matching)
        expected = sorted(
            matching, key=lambda p: (not in_title.matches(p), -p.upvotes, -day_of(p).toordinal(), -int(p.id))
        )
        assert [p.id for p in results.papers] == [p.id for p in expected]
        # With every word rare enough, bm25 decides, and it weighs lengths too.
        monkeypatch.setattr(answer_module, "DENSE_WINDOW", 1000)
        by_bm25 = await search(store, "zebra common", limit=100)
        assert {p.id for p in by_bm25.papers} == {p.id for p in expected}
        assert [p.id for p in by_bm25.papers] != [p.id for p in expected]
    finally:
        await store.close()


async def test_ranking_follows_upvote_changes_and_deletions(store: Store) -> None:
    first = (await search(store, "gaussian splatting", sort="top", limit=3)).papers[0]
    await store.upsert_papers([dataclasses.replace(first, upvotes=first.upvotes + 10_000)])
    assert (await search(store, "models", sort="top", limit=1)).papers[0].id == first.id
    assert (await search(store, "upvotes:>=10000", limit=5)).total == 1
    await store.delete_paper(first.id)
    assert (await search(store, "upvotes:>=10000", limit=5)).total == 0
    assert all(p.id != first.id for p in (await search(store, "models", sort="top", limit=5)).papers)


async def test_merging_the_index_in_steps_keeps_every_answer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    opened = await Store.open(tmp_path / "merge.db")
    try:
        papers = [*known_papers(), *filler_papers(400)]
        for start in range(0, len(papers), 20):  # one write each, as scrapes make them: many b-trees
            await opened.bulk_insert_papers(papers[start : start + 20])
        queries = ["diffusion", '"language models" -survey', "sparse OR experts", "gaussian splatting", "upvotes:>=30"]
        before = [await search(opened, q, sort="top", limit=50) for q in queries]
        # The title-only index is merged too: titles typed and completed are found as before.
        titled = [p.title for p in papers[::97]]
        titles_before = [await search(opened, title.lower(), limit=5) for title in titled]
        completions_before = [await finder_of(opened).autocomplete(title[:12]) for title in titled]
        monkeypatch.setattr(search_module, "MERGE_STEP_PAGES", 2)  # small steps, so that it takes several
        steps = await finder_of(opened).merge_index()
        assert steps > 2
        # In one piece now: starting another merge finds nothing to do.
        assert await opened.merge_search_index(10, start=True) is False
        after = [await search(opened, q, sort="top", limit=50) for q in queries]
        assert [[p.id for p in r.papers] for r in after] == [[p.id for p in r.papers] for r in before]
        assert [r.total for r in after] == [r.total for r in before]
        titles_after = [await search(opened, title.lower(), limit=5) for title in titled]
        assert [[p.id for p in r.papers] for r in titles_after] == [[p.id for p in r.papers] for r in titles_before]
        assert [r.papers[0].title for r in titles_after] == titled
        assert [await finder_of(opened).autocomplete(title[:12]) for title in titled] == completions_before
    finally:
        await opened.close()


async def test_the_index_is_merged_at_most_once_a_day(store: Store) -> None:
    finder = finder_of(store)
    noon = dt.datetime(2026, 6, 12, 12, tzinfo=dt.UTC)
    assert await finder.merge_index_if_due(noon) is True
    assert await finder.merge_index_if_due(noon + dt.timedelta(hours=23)) is False
    assert await finder.merge_index_if_due(noon + dt.timedelta(hours=24)) is True
    assert await store.get_meta(MERGED_AT_KEY) == (noon + dt.timedelta(hours=24)).isoformat()


async def test_bad_arguments_are_refused(store: Store) -> None:
    with pytest.raises(QueryError):
        await search(store, 'mamba "state')
    with pytest.raises(ValueError, match="sort"):
        await search(store, "mamba", sort="oldest")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="limit"):
        await search(store, "mamba", limit=0)


# ---------------------------------------------------------------- autocomplete and the title index


async def test_autocomplete_ids_titles_and_typos(store: Store) -> None:
    by_id = await autocomplete(store, "2312.0")
    assert ("2312.00752", KNOWN["2312.00752"]) in by_id
    assert (await autocomplete(store, "https://arxiv.org/abs/2312.00752")) == [("2312.00752", KNOWN["2312.00752"])]
    assert (await autocomplete(store, "Mamba: Lin"))[0][0] == "2312.00752"
    assert (await autocomplete(store, "denoising diff"))[0][0] == "2006.11239"
    assert (await autocomplete(store, "atention is al"))[0][0] == "1706.03762"
    assert (await autocomplete(store, "gaussian splat"))[0][0] == "2308.04079"
    assert len(await autocomplete(store, "models", limit=25)) <= 25
    assert await autocomplete(store, "   ") == []


async def test_title_index_follows_the_store(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_module, "REFRESH_SECONDS", 0.0)
    assert (await autocomplete(store, "Quokka navigation"))[:1] != [("2607.00001", "Quokka Navigation")]
    await store.upsert_papers([Paper(id="2607.00001", title="Quokka Navigation in Dense Forests", day=DAY)])
    assert (await autocomplete(store, "Quokka navigation"))[0][0] == "2607.00001"
    await store.upsert_papers([Paper(id="2607.00001", title="Wombat Burrows", day=DAY)])
    # The same second as the first write: the index re-reads rows changed within the last second.
    assert (await autocomplete(store, "Wombat burr"))[0] == ("2607.00001", "Wombat Burrows")
    assert all(pid != "2607.00001" for pid, _ in await autocomplete(store, "Quokka Navigation in Dense"))


async def test_title_lookups_prefer_the_closest_title(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "titles.db")
    try:
        await store.bulk_insert_papers(
            [
                Paper(id="2601.00001", title="Attention Is All You Need", day=DAY),
                Paper(id="2601.00002", title="Attention Is Not All You Need", day=DAY),
                Paper(id="2601.00003", title="All You Need Is Love", day=DAY),
            ]
        )
        finder = Search(store)
        assert (await finder.search("attention is all you need")).papers[0].id == "2601.00001"
        assert (await finder.search("atention is not al you need")).papers[0].id == "2601.00002"
        assert (await finder.autocomplete("all you"))[0][0] == "2601.00003"
        await store.upsert_papers([Paper(id="2601.00003", title="Something Else Entirely", day=DAY)])
        assert all(pid != "2601.00003" for pid, _ in await finder.autocomplete("all you need is"))
    finally:
        await store.close()


def test_title_score_counts_the_order_of_the_words() -> None:
    typed = title_key("runtime enforcement for coding agents")
    assert title_score(typed, title_key("Runtime Enforcement for Coding Agents")) == 100
    reordered = title_score(typed, title_key("Coding Agents for Runtime Enforcement"))
    longer = title_score(typed, title_key("Runtime Enforcement for Coding Agents with Policy Automata"))
    assert reordered < longer and reordered < 90 <= longer
    assert title_score(typed, title_key("Runtme Enforcment for Coding Agents")) >= 90  # typos


async def test_the_title_vocabulary_counts_words_as_the_index_does(store: Store) -> None:
    read = await store.read(TitleWords.read)
    added = TitleWords()
    added.add_titles(p.title for p in [*known_papers(), *filler_papers(300)])
    words = {w for p in [*known_papers(), *filler_papers(300)] for w in title_key(p.title).split()}
    assert len(read) == len(added) == len(words)
    assert all(read.count(w) == added.count(w) > 0 for w in words)
    assert read.similar("atention") == ["attention"] and read.completions("spa")[:1] == ["sparse"]


async def test_new_titles_reach_the_vocabulary_without_changing_the_one_a_search_started_with(store: Store) -> None:
    finder = Search(store)
    await finder.warm()
    started_with = finder.words
    counted = len(started_with)
    await store.bulk_insert_papers([twin("2606.99001", "Zyxwvut Quorbling Networks", "", 1, dt.date(2026, 6, 13))])
    await finder.refresh(force=True)
    # Counts after an update are estimates: the paper is seen both as new and as changed.
    assert finder.words is not started_with and finder.words.count("quorbling") > 0
    assert len(started_with) == counted and started_with.count("quorbling") == 0
    assert [p.id for p in (await finder.search("Zyxwvut Quorbling Netwroks")).papers][:1] == ["2606.99001"]


# ---------------------------------------------------------------- trending


async def test_trending_by_period(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "trend.db")
    now = dt.datetime(2026, 6, 14, 8, 0, tzinfo=dt.UTC)
    try:
        await store.bulk_insert_papers(
            [
                twin("a", "A", "", 5, dt.date(2026, 6, 12)),
                twin("b", "B", "", 50, dt.date(2026, 6, 12)),
                twin("c", "C", "", 90, dt.date(2026, 6, 9)),
                twin("d", "D", "", 300, dt.date(2026, 5, 20)),
                twin("e", "E", "", 999, dt.date(2026, 4, 1)),
                twin("f", "F", "", 9999, dt.date(2026, 6, 20)),  # after `now`
            ]
        )
        day = await trending(store, "day", now)
        assert [p.id for p in day.papers] == ["b", "a"] and day.first == day.last == dt.date(2026, 6, 12)
        week = await trending(store, "week", now)
        assert [p.id for p in week.papers] == ["c", "b", "a"]
        assert (week.first, week.last) == (dt.date(2026, 6, 8), dt.date(2026, 6, 14))
        month = await trending(store, "month", now, limit=2)
        assert [p.id for p in month.papers] == ["d", "c"]
        empty = await trending(store, "day", dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
        assert empty.papers == () and empty.last is None
    finally:
        await store.close()


# ---------------------------------------------------------------- command line


async def test_cli_search_prints_json(
    store: Store, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAPERBOY_DATABASE__PATH", store.path)
    code = await _run_cli(["search", "mamba selective", "--limit", "2", "--json"])
    assert code == 0
    document = json.loads(capsys.readouterr().out)
    assert document["query"] == "mamba selective"
    assert document["total"] >= 1
    assert document["results"][0]["id"] == "2312.00752"
    assert document["results"][0]["url"] == "https://huggingface.co/papers/2312.00752"
    assert len(document["results"]) <= 2


async def test_cli_bad_query_exits_2_with_position_and_hint(
    store: Store, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAPERBOY_DATABASE__PATH", store.path)
    code = await _run_cli(["search", '(mamba OR "state'])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert "unclosed quote at 10" in captured.err
    assert "\n            ^" in captured.err  # the caret under the quote
    assert "hint: add a closing" in captured.err


async def test_cli_search_text_output(
    store: Store, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAPERBOY_DATABASE__PATH", store.path)
    assert await _run_cli(["search", "gaussian splatting", "--sort", "top"]) == 0
    out = capsys.readouterr().out
    assert "3D Gaussian Splatting for Real-Time Radiance Field Rendering" in out
    assert "2308.04079" in out


async def _run_cli(argv: list[str]) -> int:
    """Run the command line in a worker thread (it starts its own event loop)."""

    return await asyncio.to_thread(main, argv)


# ---------------------------------------------------------------- reading the title vocabulary after start


async def test_searches_before_the_title_vocabulary_is_read_still_find_titles(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    finder = Search(store)
    gate = threading.Event()
    read_words = search_module._vocabulary

    def held_back(db: sqlite3.Connection) -> tuple[TitleWords, int]:
        gate.wait(timeout=30)
        return read_words(db)

    monkeypatch.setattr(search_module, "_vocabulary", held_back)
    warming = finder.start_warming()
    assert finder.start_warming() is warming  # started once
    try:
        # The vocabulary is being read on one reading connection; searches go on beside it.
        plain = await finder.search("Attention Is All You Need", limit=5)
        typo = await finder.search("Atention Is Al You Need", limit=5)
        assert plain.papers[0].id == "1706.03762" and typo.papers[0].id == "1706.03762"
        assert not finder.ready and len(finder.words) == 0
    finally:
        gate.set()
    await warming
    assert finder.ready and len(finder.words) > len(FILLER_WORDS)
    assert (await finder.autocomplete("denoisng diffu"))[0][0] == "2006.11239"


async def test_a_failed_warm_up_is_logged_and_the_first_lookup_reads_the_vocabulary(
    store: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    finder = Search(store)
    read_words = search_module._vocabulary

    def fails_once(db: sqlite3.Connection) -> tuple[TitleWords, int]:
        monkeypatch.setattr(search_module, "_vocabulary", read_words)
        raise StoreError("the disk is having a bad day")

    monkeypatch.setattr(search_module, "_vocabulary", fails_once)
    await finder.start_warming()
    assert any("could not read the title vocabulary" in r.getMessage() for r in caplog.records)
    assert not finder.ready
    assert (await finder.search("Atention Is Al You Need", limit=5)).papers[0].id == "1706.03762"
    assert finder.ready
