"""The alert pass's reads and bookkeeping: papers first listed since an instant, page by page, against
the plain definition; the cursor's rows kept between pages; matching and learning in one go; background
work giving way to interactive reads."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot import alerts
from bot.alerts import PAUSE_EVERY, AlertMatcher, ListingCursor, PaperTerms
from bot.models import ArxivListing, Paper, Subscription
from bot.query import stem, tokenize
from bot.services.alerts import AlertPipeline
from bot.store import Store
from bot.store import reader as reader_module
from bot.store.reader import BACKGROUND_CACHE_KIB, INTERACTIVE_READS, READ_CACHE_KIB, give_way
from tests.fakes.clock import ManualClock
from tests.fakes.transport import MemoryTransport
from tests.store_checks import full_paper

START = dt.datetime(2026, 6, 12, 8, 0, tzinfo=dt.UTC)
DAY = dt.date(2026, 6, 12)


def listed_paper(number: int) -> Paper:
    return full_paper(f"2606.{number:05d}", title=f"Paper {number} on diffusion agents", day=DAY)


async def listed_store(path: Path) -> tuple[Store, ManualClock]:
    """A cache whose papers were first listed in groups sharing an instant, some listed again later, some on
    arXiv first and on Hugging Face later or the other way round."""
    clock = ManualClock(START)
    store = await Store.open(path, clock=clock)
    number = 0
    for group, size in enumerate([7, 1, 12, 3, 9, 1, 5]):
        papers = [listed_paper(number + n) for n in range(size)]
        number += size
        if group % 3 == 2:
            day = DAY + dt.timedelta(days=group)
            listing = ArxivListing("cs.LG", day, tuple(p.id for p in papers), ("new",) * len(papers))
            await store.upsert_papers(papers, listings=[listing])
        else:
            await store.upsert_papers(papers, day=DAY + dt.timedelta(days=group))
        clock.advance(dt.timedelta(seconds=5 if group % 2 else 1))
        # Listed again later (another day, or on arXiv): their first listing stays the earlier one.
        again = [listed_paper(n) for n in range(0, number, 4)]
        if group % 2:
            await store.upsert_papers(again, day=DAY + dt.timedelta(days=group + 10))
        else:
            ids = tuple(p.id for p in again)
            await store.upsert_papers(again, listings=[ArxivListing("cs.CL", DAY, ids, ("cross",) * len(ids))])
        clock.advance(dt.timedelta(seconds=1))
    return store, clock


def first_listings(path: Path) -> list[tuple[str, str]]:
    """(first listed, paper id) of every listed paper, by the plain definition, in listing order."""
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "SELECT paper_id, first_seen FROM daily_entries UNION ALL SELECT paper_id, first_seen FROM arxiv_listings"
        ).fetchall()
    first: dict[str, str] = {}
    for paper_id, seen in rows:
        first[paper_id] = min(seen, first.get(paper_id, seen))
    return sorted((seen, paper_id) for paper_id, seen in first.items())


@pytest.mark.parametrize("limit", [1, 2, 3, 5, 8, 13, 5000])
async def test_papers_first_listed_since_an_instant_come_page_by_page_as_defined(tmp_path: Path, limit: int) -> None:
    store, _ = await listed_store(tmp_path / "c.db")
    try:
        expected = first_listings(tmp_path / "c.db")
        assert len({seen for seen, _ in expected}) > 3 and len(expected) == 38
        for since in ["", expected[9][0], expected[20][0], expected[-1][0], "9999"]:
            read: list[tuple[str, str]] = []
            after = ("", "")
            while True:
                page = await store.first_listed_since(since, after=after, limit=limit)
                read += [(seen, paper.id) for seen, paper in page]
                assert all(paper.title == listed_paper(int(paper.id[5:])).title for _, paper in page)
                if len(page) < limit:
                    break
                after = read[-1]
            assert read == [row for row in expected if row[0] >= since]
    finally:
        await store.close()


async def test_a_page_may_start_inside_a_group_listed_at_one_instant(tmp_path: Path) -> None:
    store, _ = await listed_store(tmp_path / "c.db")
    try:
        expected = first_listings(tmp_path / "c.db")
        for position in range(len(expected)):
            page = await store.first_listed_since("", after=expected[position], limit=4)
            assert [(seen, paper.id) for seen, paper in page] == expected[position + 1 : position + 5]
    finally:
        await store.close()


def test_a_pass_keeps_only_the_rows_a_cursor_still_reads() -> None:
    base = dt.datetime(2026, 6, 12, 8, 0, tzinfo=dt.UTC)
    rows = [((base + dt.timedelta(seconds=20 * n)).isoformat(timespec="seconds"), f"p{n:03d}") for n in range(40)]
    kept: list[tuple[str, str]] = []
    for start in range(0, len(rows), 7):  # page by page, as a pass reads them
        kept = ListingCursor.keep_for_advance(kept + rows[start : start + 7])
    assert len(kept) < len(rows)
    for cursor in (
        ListingCursor(),
        ListingCursor(rows[-1][0], frozenset({"x"})),
        ListingCursor("2026-06-13T00:00:00+00:00"),
    ):
        assert cursor.advance(kept) == cursor.advance(rows)
    assert ListingCursor.keep_for_advance([]) == []


def subscription(number: int, query: str) -> Subscription:
    return Subscription(number, 1, 10 + number, query, query, 1, START)


def test_matching_with_learning_is_matching_then_learning() -> None:
    papers = [
        full_paper(f"2606.{n:05d}", title=f"{'Diffusion' if n % 2 else 'Mamba'} agents {n}", upvotes=n)
        for n in range(120)
    ]
    papers.append(papers[3])  # given twice: learned twice, matched once
    subscriptions = [subscription(1, "diffusion"), subscription(2, "agents upvotes:>=50"), subscription(3, "-mamba")]
    apart, together = AlertMatcher(), AlertMatcher()
    for matcher in (apart, together):
        matcher.sync(subscriptions)
    pauses: list[int] = []
    expected = apart.match(papers, papers[:10])
    apart.learn(papers)
    found = together.match(papers, papers[:10], learn=True, pause=lambda: pauses.append(1))
    assert [(m.paper.id, sorted(s.id for s in m.subscriptions), m.changed) for m in found] == [
        (m.paper.id, sorted(s.id for s in m.subscriptions), m.changed) for m in expected
    ]
    for term in (stem("diffusion"), stem("agents"), stem("mamba"), f"{stem('diffusion')} {stem('agents')}"):
        assert together.frequency(term) == apart.frequency(term) > 0
    assert len(pauses) == (120 + 10) // PAUSE_EVERY


def test_without_subscriptions_learning_still_reads_every_new_paper() -> None:
    papers = [full_paper(f"2606.{n:05d}", title=f"Mamba {n}") for n in range(5)]
    matcher = AlertMatcher()
    assert matcher.match(papers, learn=True) == []
    assert matcher.frequency(stem("mamba")) == 1.0


def test_give_way_returns_at_once_when_no_interactive_read_runs() -> None:
    assert INTERACTIVE_READS.in_flight == 0
    assert give_way() == 0.0


async def test_background_work_gives_way_until_the_interactive_read_is_done(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "c.db")
    events: list[str] = []
    reading = threading.Event()
    release = threading.Event()

    def interactive(db: sqlite3.Connection) -> int:
        reading.set()
        release.wait(30)
        events.append("read done")
        return int(db.execute("SELECT count(*) FROM papers").fetchone()[0])

    def background() -> None:
        reading.wait(30)
        give_way(longest=30)
        events.append("background went on")

    try:
        read = asyncio.ensure_future(store.read(interactive))
        waiting = asyncio.ensure_future(asyncio.to_thread(background))
        await asyncio.to_thread(reading.wait, 30)
        assert INTERACTIVE_READS.in_flight == 1
        release.set()
        assert await read == 0
        await waiting
        assert events == ["read done", "background went on"]
        assert INTERACTIVE_READS.in_flight == 0
        # Background reads are not counted: nothing waits for them.
        assert await store.read(lambda db: INTERACTIVE_READS.in_flight, background=True) == 0
    finally:
        release.set()
        await store.close()


async def test_a_background_reader_keeps_a_small_page_cache(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "c.db")
    try:

        def cache_size(db: sqlite3.Connection) -> int:
            return int(db.execute("PRAGMA cache_size").fetchone()[0])

        assert await store.read(cache_size) == -READ_CACHE_KIB
        assert await store.read(cache_size, background=True) == -BACKGROUND_CACHE_KIB < -1
        assert BACKGROUND_CACHE_KIB < READ_CACHE_KIB
    finally:
        await store.close()


def test_give_way_waits_no_longer_than_asked() -> None:
    INTERACTIVE_READS.begin()
    try:
        assert give_way(longest=0.01) > 0.0
    finally:
        INTERACTIVE_READS.end()
    assert reader_module.INTERACTIVE_READS.in_flight == 0


def counting_pages(store: Store) -> list[int]:
    """Make `store` record the number of papers on each page an alert pass reads; returns that record."""
    papers_read: list[int] = []
    reading = store.first_listed_since

    async def counted(since: str, *, after: tuple[str, str] = ("", ""), limit: int = 5000) -> list[tuple[str, Paper]]:
        found = await reading(since, after=after, limit=limit)
        papers_read.append(len(found))
        return found

    store.first_listed_since = counted  # type: ignore[method-assign]
    return papers_read


async def pass_over_listed_cache(path: Path, *, with_alert: bool) -> tuple[list[int], str | None]:
    """One alert pass over every listing of a listed cache: the sizes of the pages of papers it read, and
    the cursor it left."""
    store, clock = await listed_store(path)
    papers_read = counting_pages(store)
    try:
        await store.set_meta(alerts.CURSOR_KEY, ListingCursor().to_text())  # every listing is news
        if with_alert:
            await add_alert(store, "zeppelin")
        await AlertPipeline(store, MemoryTransport(), clock, hourly_cap=20).run_pass(())
        return papers_read, await store.get_meta(alerts.CURSOR_KEY)
    finally:
        await store.close()


async def add_alert(store: Store, query: str) -> None:
    await store.add_subscription(
        guild_id=1, channel_id=10, query=query, normalized=query, created_by=2, max_per_channel=25, max_per_guild=100
    )


async def test_a_pass_with_no_alert_anywhere_reads_listing_keys_not_papers(tmp_path: Path) -> None:
    """Two caches listed alike, one with an alert that matches nothing: both passes leave the same cursor;
    only the one with an alert reads papers."""
    read_with, cursor_with = await pass_over_listed_cache(tmp_path / "with.db", with_alert=True)
    read_without, cursor_without = await pass_over_listed_cache(tmp_path / "without.db", with_alert=False)
    assert sum(read_with) == 38 and read_without == []
    assert cursor_with is not None and cursor_with == cursor_without
    assert len(ListingCursor.from_text(cursor_with).seen) > 3


async def test_an_alert_added_while_a_page_is_read_as_keys_has_that_page_read_in_full(tmp_path: Path) -> None:
    """A page read as keys alone, then an alert appears: the page is read again with its papers and matched;
    papers listed before the alert existed are not news to it, as in a pass that read them in full."""
    store, clock = await listed_store(tmp_path / "c.db")
    keys_read = store.first_listed_keys_since

    async def then_subscribe(
        since: str, *, after: tuple[str, str] = ("", ""), limit: int = 5000
    ) -> list[tuple[str, str]]:
        found = await keys_read(since, after=after, limit=limit)
        if after == ("", ""):
            clock.advance(dt.timedelta(seconds=1))
            await store.add_subscription(
                guild_id=1,
                channel_id=10,
                query="diffusion",
                normalized="diffusion",
                created_by=2,
                max_per_channel=25,
                max_per_guild=100,
            )
        return found

    store.first_listed_keys_since = then_subscribe  # type: ignore[method-assign]
    papers_read = counting_pages(store)
    transport = MemoryTransport()
    try:
        await store.set_meta(alerts.CURSOR_KEY, ListingCursor().to_text())
        await AlertPipeline(store, transport, clock, hourly_cap=100).run_pass(())
        assert papers_read == [38]
        # Every paper was listed before the alert existed: none is news to it.
        assert transport.posts == []
        cursor = ListingCursor.from_text(await store.get_meta(alerts.CURSOR_KEY) or "")
        assert cursor.at == first_listings(tmp_path / "c.db")[-1][0]
    finally:
        await store.close()


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=80))
def test_a_papers_ascii_text_is_read_as_the_index_reads_it(text: str) -> None:
    terms = PaperTerms(full_paper("2606.00001", title=text, summary=text))
    assert terms.columns["title"] == tokenize(text) == terms.columns["summary"]
