"""The arXiv source: pure parsers over fixtures, id normalisation, and fetching through the loopback arXiv."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot.config import ArxivConfig, Config
from bot.models import Paper
from bot.scrape import Scraper
from bot.sources.arxiv import ArxivSource, is_announcement_day
from bot.sources.arxiv_ids import is_category, listing_page, normalize_id, split_version
from bot.sources.arxiv_parse import ArxivFeedError, parse_api_page, parse_listing
from bot.sources.http import RetryableExhausted
from bot.store import Store
from tests.fakes.arxiv_feeds import api_error_page, arxiv_paper, atom_page, load_arxiv_fixture, rss_listing
from tests.fakes.arxiv_server import FakeArxiv, fake_arxiv
from tests.fakes.clock import ManualClock

__all__ = ["fake_arxiv"]

FRIDAY = dt.date(2026, 6, 12)
START = dt.datetime(2026, 6, 12, 6, 0, tzinfo=dt.UTC)
SAMPLES = Path(__file__).resolve().parent.parent.parent / "shared" / "samples" / "arxiv"


# ---------------------------------------------------------------- identifiers


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2406.12345", ("2406.12345", None)),
        ("2406.12345v2", ("2406.12345", 2)),
        ("arXiv:2406.12345v10", ("2406.12345", 10)),
        ("https://arxiv.org/abs/2406.12345v3", ("2406.12345", 3)),
        ("https://arxiv.org/pdf/2406.12345v1.pdf", ("2406.12345", 1)),
        ("oai:arXiv.org:2604.21952v1", ("2604.21952", 1)),
        ("0704.0001", ("0704.0001", None)),
        ("hep-th/9901001", ("hep-th/9901001", None)),
        ("http://arxiv.org/abs/hep-th/9901001v2", ("hep-th/9901001", 2)),
        ("math.AG/0601001v1", ("math/0601001", 1)),
        ("cond-mat/0102536", ("cond-mat/0102536", None)),
    ],
)
def test_ids_are_normalised_without_version_or_url(text: str, expected: tuple[str, int | None]) -> None:
    assert split_version(text) == expected
    assert normalize_id(text) == expected[0]


@pytest.mark.parametrize("text", ["", "2406.123", "24061.12345", "hep-th/99", "cs.CL", "2406.12345v", "x/1234567 y"])
def test_what_is_not_an_id_is_refused(text: str) -> None:
    assert normalize_id(text) is None


def test_category_names_and_listing_pages() -> None:
    assert all(is_category(name) for name in ("cs.CL", "hep-th", "q-bio.NC", "cond-mat.mes-hall", "math"))
    assert not any(is_category(name) for name in ("", "cs CL", "cs.", ".CL", "cs.CL;drop", "CS.CL"))
    assert listing_page("cs.CL") == "https://arxiv.org/list/cs.CL/new"


# ---------------------------------------------------------------- parsing


def test_an_api_page_parses_to_papers_with_primary_category_first() -> None:
    page = parse_api_page(load_arxiv_fixture("arxiv_api_cs.CL.xml"))
    assert (page.total, page.start, page.skipped) == (3, 0, 1)  # the entry without a title is skipped
    first, old = page.papers
    assert first.id == "2606.11111" and first.version == 2
    assert first.title == "Parsing with Sparse Experts"
    assert first.summary == "We route each token to a few experts and parse faster than dense models & keep accuracy."
    assert first.categories == ("cs.CL", "cs.LG") and first.primary_category == "cs.CL"
    assert (first.comments, first.journal_ref) == ("12 pages, 4 figures", "ACL 2026")
    assert (first.published, first.updated) == (dt.date(2026, 6, 10), dt.date(2026, 6, 11))
    assert first.authors == ("Ada Lovelace", "Tri Dao") and first.sources == ("arxiv",)
    assert (old.id, old.categories, old.version) == ("hep-th/9901001", ("hep-th", "cs.CL"), 1)


def test_a_listing_keeps_new_and_cross_lists_in_order_and_leaves_replacements_out() -> None:
    listing = parse_listing(load_arxiv_fixture("arxiv_rss_cs.CL.xml"), "cs.CL")
    assert listing.day == FRIDAY
    assert [p.id for p in listing.papers] == ["2606.11111", "2606.11112", "2606.11113"]
    assert listing.kinds == ("new", "cross", "new") and listing.skipped == 0
    cross = listing.papers[1]
    assert cross.authors == ("Grace Hopper", "Alan Turing", "Emmy Noether")
    assert cross.summary == "A retrieval model for languages with little text."
    assert cross.categories == ("cs.IR", "cs.CL") and cross.day == FRIDAY and cross.published is None
    assert listing.papers[0].published == FRIDAY  # a new submission first appears on its announcement day


def test_an_empty_listing_is_a_day_without_announcement() -> None:
    listing = parse_listing(rss_listing("cs.CL", dt.date(2026, 6, 13), []), "cs.CL")
    assert (listing.day, listing.papers, listing.kinds) == (dt.date(2026, 6, 13), (), ())


@pytest.mark.parametrize("name", ["arxiv_api_cs.CL.xml", "arxiv_rss_cs.CL.xml"])
def test_a_truncated_feed_is_refused_whole(name: str) -> None:
    text = load_arxiv_fixture(name)
    parse = parse_api_page if "api" in name else (lambda t: parse_listing(t, "cs.CL"))
    with pytest.raises(ArxivFeedError, match="not complete XML"):
        parse(text[: len(text) // 2])


def test_api_errors_dtds_and_other_documents_are_refused() -> None:
    with pytest.raises(ArxivFeedError, match="refused the query: incorrect id format"):
        parse_api_page(api_error_page("incorrect id format"))
    bomb = '<?xml version="1.0"?><!DOCTYPE f [<!ENTITY a "aaaa">]><feed>&a;</feed>'
    with pytest.raises(ArxivFeedError, match="DTD"):
        parse_api_page(bomb)
    with pytest.raises(ArxivFeedError, match="not an Atom feed"):
        parse_api_page("<rss/>")
    with pytest.raises(ArxivFeedError, match="not an RSS feed"):
        parse_listing(atom_page([], start=0, total=0), "cs.CL")
    feed = atom_page([], start=0, total=0).replace("<opensearch:totalResults>0</opensearch:totalResults>", "")
    with pytest.raises(ArxivFeedError, match="totalResults"):
        parse_api_page(feed)


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="the shared samples are not here")
def test_the_real_samples_parse() -> None:
    page = parse_api_page((SAMPLES / "arxiv_api_query_transformer.xml").read_text("utf-8"))
    assert len(page.papers) == 5 and page.total > 5 and page.skipped == 0
    assert all(p.categories and p.title and p.authors and p.version for p in page.papers)
    assert page.papers[0].primary_category == "cs.RO"
    listing = parse_listing((SAMPLES / "arxiv_rss_cs.LG.xml").read_text("utf-8"), "cs.LG")
    assert listing.day == dt.date(2026, 4, 27) and len(listing.papers) == 3
    assert listing.kinds == ("new", "new", "new") and all(p.summary for p in listing.papers)


def test_weekends_have_no_announcement() -> None:
    assert [is_announcement_day(FRIDAY + dt.timedelta(days=n)) for n in range(7)] == [
        True, False, False, True, True, True, True,
    ]  # fmt: skip


# ---------------------------------------------------------------- fetching


class SteppedClock:
    """The manual clock driving both the rate limiter and the server's request stamps."""

    def __init__(self) -> None:
        self.manual = ManualClock(START)
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.manual.now().timestamp()

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.manual.advance(dt.timedelta(seconds=seconds))


@pytest.fixture
def clock(fake_arxiv: FakeArxiv) -> SteppedClock:
    test_clock = SteppedClock()
    fake_arxiv.stamp = test_clock.monotonic
    return test_clock


@pytest.fixture
async def source(fake_arxiv: FakeArxiv, clock: SteppedClock) -> AsyncIterator[ArxivSource]:
    config = Config(
        arxiv=ArxivConfig(categories=("cs.CL", "cs.LG"), api_url=fake_arxiv.api_url, listing_url=fake_arxiv.listing_url)
    )
    async with httpx.AsyncClient(headers={"User-Agent": "paperboy-tests (+loopback)"}) as http:
        arxiv = ArxivSource.from_config(
            http,
            config,
            today=lambda: clock.manual.now().date(),
            clock=clock.monotonic,
            sleep=clock.sleep,
            backoff_base=0.01,
            max_attempts=3,
        )
        arxiv.page_size = 2
        yield arxiv


def submissions(category: str, day: dt.date, count: int, first: int = 1) -> list[Paper]:
    return [arxiv_paper(f"2606.{n:05d}", categories=(category,), day=day) for n in range(first, first + count)]


async def test_older_days_come_from_the_api_page_by_page(fake_arxiv: FakeArxiv, source: ArxivSource) -> None:
    day = FRIDAY - dt.timedelta(days=1)
    fake_arxiv.submit("cs.CL", day, submissions("cs.CL", day, 5))
    fake_arxiv.submit("cs.LG", day, [*submissions("cs.LG", day, 1, first=3), *submissions("cs.LG", day, 1, first=9)])
    fetched = await source.fetch_day(day)
    assert fetched.via == "api" and fetched.listings == ()
    assert [p.id for p in fetched.papers] == [f"2606.{n:05d}" for n in (1, 2, 3, 4, 5, 9)]
    api = fake_arxiv.requests_to("/api/query")
    assert [(r.query["start"], r.query["max_results"]) for r in api] == [("0", "2"), ("2", "2"), ("4", "2"), ("0", "2")]
    assert api[0].query["search_query"] == "cat:cs.CL AND submittedDate:[202606110000 TO 202606112359]"
    assert {r.query["sortBy"] for r in api} == {"submittedDate"}


async def test_requests_are_three_seconds_apart_by_the_test_clock(
    fake_arxiv: FakeArxiv, source: ArxivSource, clock: SteppedClock
) -> None:
    day = FRIDAY - dt.timedelta(days=2)
    fake_arxiv.submit("cs.CL", day, submissions("cs.CL", day, 5))
    await source.fetch_day(day)
    await source.fetch_day(day - dt.timedelta(days=1))
    stamps = [r.at for r in fake_arxiv.requests]
    assert len(stamps) == 6  # three pages of cs.CL, an empty page of cs.LG; an empty page of each the day before
    assert all(later - earlier >= 3.0 for earlier, later in zip(stamps, stamps[1:], strict=False))
    assert stamps[-1] - stamps[0] == pytest.approx(5 * 3.0)
    assert {r.user_agent for r in fake_arxiv.requests} == {"paperboy-tests (+loopback)"}


async def test_today_comes_from_the_listing_feeds(fake_arxiv: FakeArxiv, source: ArxivSource) -> None:
    fake_arxiv.listings["cs.CL"] = load_arxiv_fixture("arxiv_rss_cs.CL.xml")
    cross = arxiv_paper("2606.11111", categories=("cs.CL", "cs.LG"), day=FRIDAY)
    fake_arxiv.announce("cs.LG", FRIDAY, [(cross, "cross"), (arxiv_paper("2606.20000", day=FRIDAY), "new")])
    fetched = await source.fetch_day(FRIDAY)
    assert fetched.via == "listing" and fetched.outcome == "ok" and fetched.note is None
    assert [p.id for p in fetched.papers] == ["2606.11111", "2606.11112", "2606.11113", "2606.20000"]
    assert [(lst.category, lst.day, lst.paper_ids, lst.kinds) for lst in fetched.listings] == [
        ("cs.CL", FRIDAY, ("2606.11111", "2606.11112", "2606.11113"), ("new", "cross", "new")),
        ("cs.LG", FRIDAY, ("2606.11111", "2606.20000"), ("cross", "new")),
    ]
    assert [r.path for r in fake_arxiv.requests] == ["/rss/cs.CL", "/rss/cs.LG"]


async def test_a_weekend_asks_nothing_and_a_holiday_is_an_empty_day(
    fake_arxiv: FakeArxiv, source: ArxivSource, clock: SteppedClock
) -> None:
    clock.manual.set(START + dt.timedelta(days=1))  # Saturday
    saturday = await source.fetch_day(FRIDAY + dt.timedelta(days=1))
    assert (saturday.outcome, saturday.via, saturday.note) == ("empty", "none", "arXiv announces nothing on Saturdays")
    assert fake_arxiv.requests == []
    # A Monday holiday: the feeds still show Friday's announcement, which stays Friday's.
    clock.manual.set(START + dt.timedelta(days=3))
    monday = FRIDAY + dt.timedelta(days=3)
    for category in ("cs.CL", "cs.LG"):
        fake_arxiv.announce(category, FRIDAY, [(arxiv_paper("2606.30000", day=FRIDAY), "new")])
    holiday = await source.fetch_day(monday)
    assert holiday.note is not None and "2026-06-12" in holiday.note
    assert {lst.day for lst in holiday.listings} == {FRIDAY}
    fake_arxiv.announce("cs.CL", monday, [])
    fake_arxiv.announce("cs.LG", monday, [])
    quiet = await source.fetch_day(monday)
    assert (quiet.outcome, quiet.listings, quiet.note) == ("empty", (), None)


async def test_a_503_with_retry_after_is_waited_out(
    fake_arxiv: FakeArxiv, source: ArxivSource, clock: SteppedClock
) -> None:
    day = FRIDAY - dt.timedelta(days=1)
    fake_arxiv.submit("cs.CL", day, submissions("cs.CL", day, 1))
    fake_arxiv.fail(503, path="/api/", retry_after="7")
    fetched = await source.fetch_day(day)
    assert [p.id for p in fetched.papers] == ["2606.00001"]
    assert 7.0 in clock.slept
    fake_arxiv.fail(503, path="/api/", times=5)
    with pytest.raises(RetryableExhausted):
        await source.fetch_day(day)


async def test_a_truncated_feed_writes_nothing(fake_arxiv: FakeArxiv, source: ArxivSource, tmp_path: Path) -> None:
    fake_arxiv.listings["cs.CL"] = load_arxiv_fixture("arxiv_rss_cs.CL.xml")
    fake_arxiv.announce("cs.LG", FRIDAY, [(arxiv_paper("2606.20000", day=FRIDAY), "new")])
    fake_arxiv.truncate(path="/rss/cs.LG")
    store = await Store.open(tmp_path / "cache.db")
    try:
        report = await Scraper(store, source).scrape_day(FRIDAY)
        assert report.failed and "not complete XML" in (report.error or "")
        assert (await store.counts()).papers == 0
        assert await store.listing_papers("cs.CL", FRIDAY) == []
        run = await store.last_scrape_run(FRIDAY, source="arxiv")
        assert run is not None and run.outcome == "failed"
        again = await Scraper(store, source).scrape_day(FRIDAY)
        assert again.outcome == "ok" and again.new == 4
        assert [p.id for p in await store.listing_papers("cs.LG", FRIDAY)] == ["2606.20000"]
    finally:
        await store.close()


async def test_one_paper_by_id(fake_arxiv: FakeArxiv, source: ArxivSource) -> None:
    day = FRIDAY - dt.timedelta(days=1)
    fake_arxiv.submit("cs.CL", day, [arxiv_paper("2606.00042", day=day, version=3)])
    paper = await source.fetch_paper("https://arxiv.org/abs/2606.00042v1")
    assert paper is not None and (paper.id, paper.version) == ("2606.00042", 3)
    assert fake_arxiv.requests[-1].query["id_list"] == "2606.00042"
    assert await source.fetch_paper("2606.99999") is None
    assert await source.fetch_paper("not an id") is None


def test_an_api_entry_round_trips_through_the_feed_builder() -> None:
    paper = arxiv_paper(
        "2606.00077", categories=("cs.CL", "cs.AI"), day=FRIDAY, comments="8 pages", journal_ref="TACL", version=2
    )
    parsed = parse_api_page(atom_page([paper], start=0, total=1)).papers
    assert parsed == (dataclasses.replace(paper, updated=FRIDAY),)
