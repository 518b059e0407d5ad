"""Keyword alerts without Discord: the indexed matcher against the plain loop, batch planning, store reads,
the backtest and `paperboy alerts test`."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import alerts
from bot.alerts import (
    AlertMatcher,
    PaperTerms,
    ReferenceMatcher,
    batch_key,
    check_alert_query,
    group_by_channel,
    index_keys,
    more_query,
    pairs_of,
    papers_in_digest,
    plan_batch,
    window_start_key,
)
from bot.cli import main
from bot.errors import UserError
from bot.models import Paper, Subscription
from bot.query import PaperText, parse
from bot.store import Store
from tests.strategies import CATEGORY_FILTERS, expressions, paper_lists, terms

NOW = dt.datetime(2026, 6, 13, 10, 30, tzinfo=dt.UTC)
DAY = dt.date(2026, 6, 12)

WORDS = [
    "agent",
    "agents",
    "agentic",
    "diffusion",
    "video",
    "model",
    "models",
    "modeling",
    "flow",
    "mamba",
    "state",
    "space",
    "spaces",
    "survey",
    "language",
    "of",
    "the",
    "café",
    "naïve",
    "3d",
    "llm",
    "x",
    "mixture",
    "experts",
    "vision",
    "état",
]
NAMES = ["Tri Dao", "Albert Gu", "Ada Lovelace", "Zoë Müller", "Dao Tran"]
FILTERS = [
    "upvotes:>=5",
    "upvotes:<10",
    "upvotes:3..12",
    "upvotes:7",
    "-upvotes:>20",
    "day:2026-06-03",
    "day:>2026-06-02",
    "day:2026-06-02..2026-06-04",
    "code:yes",
    "code:no",
    "-code:yes",
    *CATEGORY_FILTERS,
]


def subscription(number: int, query: str, *, channel: int = 1, skip_digest: bool = False) -> Subscription:
    return Subscription(
        id=number,
        guild_id=9,
        channel_id=channel,
        query=query,
        normalized=query,
        created_by=5,
        created_at=NOW,
        skip_digest_papers=skip_digest,
    )


def paper(number: int, title: str = "", **changes: Any) -> Paper:
    base = Paper(
        id=f"2606.{number:05d}",
        title=title or f"Paper {number}",
        authors=("Ada Lovelace",),
        summary="We study things.",
        day=DAY,
        upvotes=number,
    )
    return dataclasses.replace(base, **changes)


def ids(matches: list[alerts.PaperMatches]) -> list[tuple[int, str]]:
    return sorted((s.id, p.id) for s, p in pairs_of(matches))


# ---------------------------------------------------------------- random corpora

_text = st.lists(st.sampled_from([*WORDS, ",", "-", ";", "state-of-the-art"]), max_size=14).map(" ".join)


_PAPERS = paper_lists(_text, NAMES, max_upvotes=30, repos=[None, "", "https://github.com/a/b"], month="2606")
_TERMS = terms(WORDS, NAMES, max_phrase=4)
_EXPRESSIONS = expressions(_TERMS, max_leaves=6)
# The shapes people type most, with words, phrases, fields or authors in the slots.
SHAPES = [
    "{0}",
    "{0} {1}",
    "{0} -{1}",
    "({0} OR {1}) {2}",
    "{0} OR {1}",
    "{0} -{1} -{2}",
    "{0} {1} {2}",
    "{0} -({1} OR {2})",
    "{0} OR ({1} -{2})",
    "({0} {1}) OR {2}",
    "{0} NOT {1}",
]
_SHAPED = st.tuples(st.sampled_from(SHAPES), st.lists(_TERMS, min_size=3, max_size=3)).map(lambda t: t[0].format(*t[1]))
_WITH_FILTERS = st.tuples(st.one_of(_SHAPED, _EXPRESSIONS), st.lists(st.sampled_from(FILTERS), max_size=2)).map(
    lambda t: " ".join([t[0], *t[1]])
)
_QUERIES = st.one_of(
    _SHAPED,
    _WITH_FILTERS,
    _EXPRESSIONS,
    st.lists(st.sampled_from(FILTERS), min_size=1, max_size=2).map(" ".join),
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(lambda ws: " ".join(f"-{w}" for w in ws)),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(_QUERIES, min_size=1, max_size=25),
    _PAPERS,
    _PAPERS,
    _PAPERS,
    st.integers(0, 2**16),
)
def test_indexed_matcher_equals_every_query_against_every_paper(
    queries: list[str], history: list[Paper], new: list[Paper], changed: list[Paper], seed: int
) -> None:
    """The index, its per-key checks and the upvotes index decide exactly as `Query.matches` does."""
    # Several subscriptions share a query (in different channels), as they do in real servers.
    subscriptions = [subscription(i + 1, q, channel=1 + (seed + i) % 3) for i, q in enumerate(queries + queries[:3])]
    changed = [dataclasses.replace(p, id=p.id + "c", upvotes=p.upvotes + 7) for p in changed] + new[:1]
    matcher = AlertMatcher()
    matcher.learn(history)  # which terms are rare decides the index; the answers must not depend on it
    matcher.sync(subscriptions)
    expected = ReferenceMatcher(subscriptions).match(new, changed)
    assert ids(matcher.match(new, changed)) == ids(expected)
    # After removing some subscriptions (and adding one back) the index still answers the same.
    kept = [s for s in subscriptions if (s.id + seed) % 3]
    matcher.sync(kept)
    matcher.add(subscriptions[0])
    kept = [*kept, subscriptions[0]] if subscriptions[0] not in kept else kept
    assert ids(matcher.match(new, changed)) == ids(ReferenceMatcher(kept).match(new, changed))


@settings(max_examples=150, deadline=None)
@given(_PAPERS, _QUERIES)
def test_every_matching_paper_holds_an_index_key(papers: list[Paper], text: str) -> None:
    try:
        query = parse(text)
    except Exception:
        return
    keys = index_keys(query.root)
    for candidate in papers:
        if keys is not None and query.matches(candidate):
            terms = PaperTerms(candidate)
            assert any(term in (terms.every if column is None else terms.sets[column]) for column, term in keys)


@settings(max_examples=150, deadline=None)
@given(_text)
def test_paper_terms_read_text_as_the_index_does(text: str) -> None:
    candidate = Paper(id="1", title=text, summary=text[::-1], authors=(text,))
    terms, reference = PaperTerms(candidate), PaperText.of(candidate)
    for column, positions in reference.positions.items():
        assert set(positions) == {t for t in terms.sets[column] if " " not in t}


def test_shared_queries_are_compiled_once_and_reach_every_subscription() -> None:
    subs = [subscription(i, "Diffusion  VIDEO" if i % 2 else "video diffusion", channel=i) for i in range(1, 7)]
    matcher = AlertMatcher()
    matcher.sync(subs)
    assert matcher.distinct_queries == 1 and len(matcher) == 6
    (found,) = matcher.match([paper(1, "Video diffusion at scale"), paper(2, "Image diffusion")])
    assert found.paper.id == "2606.00001" and sorted(s.id for s in found.subscriptions) == [1, 2, 3, 4, 5, 6]


def test_word_forms_phrases_and_fields_match_like_search() -> None:
    matcher = AlertMatcher()
    matcher.sync(
        [
            subscription(1, "agent"),
            subscription(2, '"mixture of experts"'),
            subscription(3, 'author:"Tri Dao"'),
            subscription(4, "title:mamba -survey"),
        ]
    )
    papers = [
        paper(1, "Agents that plan", authors=("Tri Dao",)),
        paper(2, "Sparse Mixture-of-Experts routing"),
        paper(3, "Mamba: a survey"),
        paper(4, "Mamba strikes back", authors=("Dao Tri",)),
    ]
    assert ids(matcher.match(papers)) == [(1, "2606.00001"), (2, "2606.00002"), (3, "2606.00001"), (4, "2606.00004")]


def test_a_long_phrase_needs_its_words_in_a_row_not_just_its_pairs() -> None:
    matcher = AlertMatcher()
    matcher.sync([subscription(1, '"state space model"')])
    apart = paper(1, "State space and space model")  # both pairs occur, the phrase does not
    together = paper(2, "A state-space model")
    assert ids(matcher.match([apart, together])) == [(1, "2606.00002")]


def test_queries_without_required_words_see_every_paper() -> None:
    matcher = AlertMatcher()
    matcher.sync([subscription(1, "upvotes:>=50"), subscription(2, "-survey code:yes")])
    assert matcher.unindexed_queries == 2
    papers = [paper(60, github_repo="https://github.com/a/b"), paper(7, "A survey", github_repo="x/y"), paper(3)]
    assert ids(matcher.match(papers)) == [(1, "2606.00060"), (2, "2606.00060")]


def test_changed_papers_only_reach_queries_with_an_upvotes_filter() -> None:
    matcher = AlertMatcher()
    matcher.sync([subscription(1, "diffusion"), subscription(2, "diffusion upvotes:>=50")])
    below = paper(1, "Diffusion for video", upvotes=10)
    assert ids(matcher.match([below])) == [(1, "2606.00001")]
    crossed = dataclasses.replace(below, upvotes=55)
    # Its upvotes moved: only the threshold query is asked again, and now it matches.
    assert ids(matcher.match([], [crossed])) == [(2, "2606.00001")]
    # A paper both new and changed in one pass is matched both ways.
    both = matcher.match([crossed], [crossed])
    assert [(m.changed, sorted(s.id for s in m.subscriptions)) for m in both] == [(False, [1, 2]), (True, [2])]


def test_a_stored_query_that_no_longer_parses_is_left_out_and_reported() -> None:
    matcher = AlertMatcher()
    matcher.sync([subscription(1, "diffusion"), subscription(2, "title:")])
    assert set(matcher.broken) == {2} and "title:" in matcher.broken[2]
    assert ids(matcher.match([paper(1, "diffusion")])) == [(1, "2606.00001")]
    matcher.sync([subscription(1, "diffusion")])
    assert matcher.broken == {}


def test_removing_the_last_holder_of_a_query_drops_it() -> None:
    matcher = AlertMatcher()
    matcher.sync([subscription(1, "mamba", channel=1), subscription(2, "mamba", channel=2)])
    matcher.remove(1)
    assert ids(matcher.match([paper(1, "Mamba")])) == [(2, "2606.00001")]
    matcher.remove(2)
    assert matcher.distinct_queries == 0 and matcher.match([paper(1, "Mamba")]) == []


def test_rare_terms_are_chosen_as_keys() -> None:
    matcher = AlertMatcher()
    matcher.learn([paper(i, "the state of the art model") for i in range(10)] + [paper(99, "state of mamba")])
    assert index_keys(parse("model mamba").root, matcher.frequency) == frozenset({(None, "mamba")})
    # A phrase is keyed by its rarest adjacent pair.
    assert index_keys(parse('"the state of mamba"').root, matcher.frequency) == frozenset({(None, "of mamba")})


# ---------------------------------------------------------------- planning a channel's post


def test_grouping_names_each_matching_subscription_once_per_paper() -> None:
    subs = [
        subscription(2, "video", channel=7),
        subscription(1, "diffusion", channel=7),
        subscription(3, "video", channel=8),
    ]
    matcher = AlertMatcher()
    matcher.sync(subs)
    grouped = group_by_channel(matcher.match([paper(1, "Video diffusion")]))
    assert {c: [(p.id, [s.id for s in ss]) for p, ss in m] for c, m in grouped.items()} == {
        7: [("2606.00001", [1, 2])],
        8: [("2606.00001", [3])],
    }


def test_new_papers_are_not_news_to_alerts_created_after_their_listing() -> None:
    older, newer = (
        subscription(1, "video", channel=7),
        dataclasses.replace(subscription(2, "video", channel=8), created_at=NOW + dt.timedelta(hours=1)),
    )
    matcher = AlertMatcher()
    matcher.sync([older, newer])
    found = matcher.match([paper(1, "Video")])
    listed = {"2606.00001": NOW + dt.timedelta(minutes=5)}
    assert set(group_by_channel(found, listed)) == {7}
    assert set(group_by_channel(found)) == {7, 8}
    # Listed in the very second the alert was made: it counts as news.
    assert set(group_by_channel(found, {"2606.00001": NOW + dt.timedelta(hours=1)})) == {7, 8}


def test_an_upvote_crossing_is_news_to_alerts_created_after_the_listing() -> None:
    older = subscription(1, "video upvotes:>=50", channel=7)
    newer = dataclasses.replace(
        subscription(2, "video upvotes:>=50", channel=8), created_at=NOW + dt.timedelta(hours=1)
    )
    matcher = AlertMatcher()
    matcher.sync([older, newer])
    crossed = paper(60, "Video")
    listed = {crossed.id: NOW}  # listed before the newer alert existed, then its upvotes moved past 50
    assert set(group_by_channel(matcher.match([crossed], [crossed]), listed)) == {7, 8}


def test_listing_cursor_rereads_a_little_and_remembers_what_it_saw() -> None:
    start = alerts.ListingCursor()
    assert start.reread_from == ""
    cursor = start.advance(
        [("2026-06-13T10:00:00+00:00", "a"), ("2026-06-13T10:05:00+00:00", "b"), ("2026-06-13T10:06:30+00:00", "c")]
    )
    assert cursor.at == "2026-06-13T10:06:30+00:00" and cursor.reread_from == "2026-06-13T10:04:30+00:00"
    assert cursor.seen == {"b", "c"}  # "a" is before the window the next pass reads again
    assert alerts.ListingCursor.from_text(cursor.to_text()) == cursor
    assert cursor.advance([]) == cursor


def test_plan_orders_by_upvotes_skips_alerted_papers_and_spills_over_the_cap() -> None:
    sub = subscription(1, "diffusion")
    matches = [(paper(n), [sub]) for n in (5, 40, 12, 30, 8)]
    batch = plan_batch(
        1, matches, already_alerted=["2606.00040"], in_digest=[], sent_this_hour=17, hourly_cap=20, now=NOW
    )
    assert batch is not None
    assert [p.upvotes for p, _ in batch.listed] == [30, 12, 8]
    assert [p.upvotes for p, _ in batch.over_cap] == [5]
    assert batch.more_query == "diffusion" and sorted(batch.paper_ids) == sorted(
        ["2606.00030", "2606.00012", "2606.00008", "2606.00005"]
    )
    full = plan_batch(1, matches, already_alerted=[], in_digest=[], sent_this_hour=25, hourly_cap=20, now=NOW)
    assert full is not None and full.listed == [] and len(full.over_cap) == 5
    none_left = plan_batch(
        1, matches[:1], already_alerted=["2606.00005"], in_digest=[], sent_this_hour=0, hourly_cap=20, now=NOW
    )
    assert none_left is None


def test_digest_papers_are_skipped_only_when_every_matching_alert_asks_for_it() -> None:
    skipping, keeping = subscription(1, "video", skip_digest=True), subscription(2, "diffusion")
    matches = [(paper(1), [skipping]), (paper(2), [skipping, keeping]), (paper(3), [skipping])]
    batch = plan_batch(
        1, matches, already_alerted=[], in_digest=["2606.00001", "2606.00002"], sent_this_hour=0, hourly_cap=20, now=NOW
    )
    assert batch is not None and sorted(p.id for p, _ in batch.listed) == ["2606.00002", "2606.00003"]


def test_batch_keys_are_deterministic_and_sort_by_time() -> None:
    first = batch_key(5, ["b", "a"], NOW)
    assert first == batch_key(5, ["a", "b"], NOW) != batch_key(6, ["a", "b"], NOW)
    later_now = NOW + dt.timedelta(minutes=61)
    later = batch_key(5, ["a"], later_now)
    assert first.startswith("2026-06-13T10:30:00Z/")
    # An hour later the first batch falls out of the cap's window, the new one is in it.
    assert first < window_start_key(later_now) < later
    assert window_start_key(NOW + dt.timedelta(minutes=59)) < first


def test_more_query_combines_queries_when_it_can() -> None:
    a, b = subscription(1, "diffusion"), subscription(2, "mamba")
    assert more_query([(paper(1), [a]), (paper(2), [b]), (paper(3), [b])]) == "(mamba) OR (diffusion)"
    filtered = subscription(3, "video upvotes:>=50")
    # Filters cannot sit inside OR: the query behind most of the papers stands in.
    assert more_query([(paper(1), [filtered]), (paper(2), [filtered]), (paper(3), [a])]) == "video upvotes:>=50"
    assert more_query([]) is None


def test_digest_posts_are_recognised_by_the_exact_paper_link() -> None:
    posted = '{"parts": [{"embeds": [{"description": "[A](https://huggingface.co/papers/2606.12345)"}]}]}'
    papers = [Paper(id="2606.12345", title="A"), Paper(id="2606.1234", title="B")]
    assert papers_in_digest(papers, {"2606.12345": [posted], "2606.1234": [posted]}) == {"2606.12345"}


def test_alert_queries_are_checked_with_helpful_messages() -> None:
    assert check_alert_query("diffusion video").normalized() == "diffusion video"
    with pytest.raises(UserError, match="paper's id or link"):
        check_alert_query("https://huggingface.co/papers/2405.12345")
    with pytest.raises(UserError, match=r'unclosed quote.*add a closing "'):
        check_alert_query('"mixture of')


# ---------------------------------------------------------------- store reads and the backtest


async def test_store_reads_for_alerts(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "a.db")
    try:
        assert await store.last_listed_at() is None
        await store.upsert_papers([paper(3, "Looked up by id, never listed")])  # as /paper show caches one
        await store.upsert_papers([paper(1, "One"), paper(2, "Two")], day=DAY)
        rows = await store.first_listed_since("")
        assert [p.id for _, p in rows] == ["2606.00001", "2606.00002"]
        first = rows[0][0]
        assert await store.last_listed_at() == first
        assert [p.id for _, p in await store.first_listed_since("", after=(first, "2606.00001"))] == ["2606.00002"]
        # Listed again on a later day, a paper keeps its first listing; the looked-up one now has one.
        await store.upsert_papers(
            [paper(1, "One"), paper(3, "Looked up by id, never listed")], day=DAY + dt.timedelta(days=1)
        )
        listed = {p.id: when for when, p in await store.first_listed_since("")}
        assert listed["2606.00001"] == first and listed["2606.00003"] >= first
        assert await store.first_listed_since("9999") == []
        assert [p.id for p in await store.recent_papers(1)] == ["2606.00002"]
        key = batch_key(7, ["2606.00001", "2606.00002"], NOW)
        await store.claim_delivery(
            7,
            "alert_batch",
            key,
            nonce="n",
            parts=[{"content": "x"}],
            members=[("alert", "2606.00001"), ("alert", "2606.00002")],
        )

        async def in_window(now: dt.datetime) -> int:
            return await store.alerts_in_batches_from(7, window_start_key(now), kind="alert", batch_kind="alert_batch")

        assert await in_window(NOW) == 2
        assert await in_window(NOW + dt.timedelta(hours=1, seconds=1)) == 0
        await store.mark_failed(7, "alert_batch", key, error="gone")
        assert await in_window(NOW) == 0  # a post that failed for good used none of the hour's room
        await store.claim_delivery(
            7,
            "digest",
            DAY.isoformat(),
            nonce="d",
            parts=[{"content": "[One](https://huggingface.co/papers/2606.00001)"}],
        )
        assert await store.digest_payloads_for(7, ["2606.00001"]) == {}  # not sent yet
        await store.mark_delivered(7, "digest", DAY.isoformat(), 1)
        found = await store.digest_payloads_for(7, ["2606.00001", "2606.00002"])
        assert set(found) == {"2606.00001", "2606.00002"}
        assert papers_in_digest([paper(1), paper(2)], found) == {"2606.00001"}
    finally:
        await store.close()


async def _cache(path: Path) -> None:
    store = await Store.open(path)
    try:
        today = dt.date(2026, 6, 13)
        for offset, title in enumerate(["Video diffusion", "Diffusion survey", "Mamba", "Old diffusion"]):
            day = today - dt.timedelta(days=offset * 3)
            await store.upsert_papers([paper(offset + 1, title, day=day)], day=day)
    finally:
        await store.close()


async def test_backtest_uses_the_days_window(tmp_path: Path) -> None:
    await _cache(tmp_path / "c.db")
    store = await Store.open(tmp_path / "c.db")
    try:
        today = dt.date(2026, 6, 13)
        week = await alerts.backtest(store, "diffusion -survey", days=7, today=today)
        assert [p.title for p in week.papers] == ["Video diffusion"]
        month = await alerts.backtest(store, "diffusion", days=30, today=today)
        assert [p.title for p in month.papers] == ["Video diffusion", "Diffusion survey", "Old diffusion"]
        # With filters of its own, and a page smaller than the count.
        filtered = await alerts.backtest(store, "diffusion upvotes:>=2 code:no", days=30, today=today, limit=1)
        assert filtered.total == 2 and [p.title for p in filtered.papers] == ["Diffusion survey"]
        assert filtered.since == dt.date(2026, 5, 15)
    finally:
        await store.close()


def test_cli_alerts_test(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import asyncio

    asyncio.run(_cache(tmp_path / "c.db"))
    monkeypatch.setenv("PAPERBOY_DATABASE__PATH", str(tmp_path / "c.db"))
    import bot.models

    monkeypatch.setattr(bot.models, "utcnow", lambda: dt.datetime(2026, 6, 13, 12, tzinfo=dt.UTC))
    assert main(["alerts", "test", "diffusion", "--days", "30", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["total"] == 3 and document["since"] == "2026-05-15"
    assert [p["title"] for p in document["papers"]] == ["Video diffusion", "Diffusion survey", "Old diffusion"]
    assert main(["alerts", "test", "mamba OR video"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("2 cached papers since 2026-06-07 (7 days) match 'mamba OR video'")
    assert "Video diffusion" in out and "Mamba" in out
    assert main(["alerts", "test", "diffusion ("]) == 2
    assert "bad query" in capsys.readouterr().err
    assert main(["alerts", "test", "2405.12345"]) == 2
