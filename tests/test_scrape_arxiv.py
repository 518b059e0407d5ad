"""Scraping both sources: `paperboy scrape --source`, and the bot's scraper reading arXiv next to Hugging Face."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot.cli import main
from bot.config import ArxivConfig, Config
from bot.scrape_sources import SourcesScraper, build_scraper
from bot.sources.arxiv import ArxivSource
from bot.sources.http import PoliteClient
from bot.sources.huggingface import HuggingFaceSource
from bot.store import Store
from tests.fakes.arxiv_feeds import arxiv_paper
from tests.fakes.arxiv_server import FakeArxiv, fake_arxiv
from tests.fakes.clock import ManualClock
from tests.fakes.hf_fixtures import FakeHuggingFace, fake_hf, load_fixture

__all__ = ["fake_arxiv", "fake_hf"]

JUNE_12 = dt.date(2026, 6, 12)  # a Friday
SHARED_ID = "2606.09988"  # a paper of the Hugging Face fixture, also submitted to cs.CL


@pytest.fixture
def cli_env(fake_hf: FakeHuggingFace, fake_arxiv: FakeArxiv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PAPERBOY_CONFIG", raising=False)
    database = tmp_path / "cli.db"
    for key, value in {
        "DATABASE__PATH": str(database),
        "HUGGINGFACE__BASE_URL": fake_hf.base_url,
        "SCRAPER__MAX_REQUESTS_PER_MINUTE": "6000",
        "ARXIV__CATEGORIES": "cs.CL",
        "ARXIV__API_URL": fake_arxiv.api_url,
        "ARXIV__LISTING_URL": fake_arxiv.listing_url,
        "ARXIV__MAX_REQUESTS_PER_MINUTE": "6000",
    }.items():
        monkeypatch.setenv(f"PAPERBOY_{key}", value)
    return database


async def run_cli(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


def hf_items_with_shared_id() -> list[dict[str, object]]:
    items: list[dict[str, object]] = load_fixture("hf_daily_2026-06-12.json")
    first = items[0]["paper"]
    assert isinstance(first, dict)
    first["id"] = SHARED_ID
    return items


async def test_scrape_reads_both_sources_and_merges_a_shared_paper(
    fake_hf: FakeHuggingFace, fake_arxiv: FakeArxiv, cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_hf.set_day(JUNE_12, hf_items_with_shared_id())
    shared = arxiv_paper(SHARED_ID, categories=("cs.CL", "cs.LG"), day=JUNE_12, comments="9 pages", version=2)
    fake_arxiv.submit("cs.CL", JUNE_12, [shared, arxiv_paper("2606.55555", day=JUNE_12)])
    assert await run_cli("scrape", "--date", "2026-06-12") == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        "scraped huggingface: 1 day, 30 new, 0 updated, 0 skipped, 0 failed",
        "scraped arxiv: 1 day, 1 new, 0 updated, 0 skipped, 0 failed",
    ]
    assert "arxiv 2026-06-12: 2 papers (1 new, 0 updated, 0 skipped) from the api" in err
    with sqlite3.connect(cli_env) as db:
        assert db.execute("SELECT count(*) FROM papers").fetchone() == (31,)
        sources, categories, comments, upvotes = db.execute(
            "SELECT sources, categories, comments, upvotes FROM papers WHERE id = ?", (SHARED_ID,)
        ).fetchone()
    assert json.loads(sources) == ["huggingface", "arxiv"] and json.loads(categories) == ["cs.CL", "cs.LG"]
    assert comments == "9 pages"
    assert upvotes > 0
    assert await run_cli("show", SHARED_ID, "--json") == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["sources"] == ["huggingface", "arxiv"] and shown["categories"] == ["cs.CL", "cs.LG"]
    assert shown["primary_category"] == "cs.CL" and shown["version"] == 2


async def test_show_falls_back_to_arxiv_for_a_paper_hugging_face_does_not_know(
    fake_hf: FakeHuggingFace, fake_arxiv: FakeArxiv, cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_arxiv.submit("cs.CL", JUNE_12, [arxiv_paper("2606.55555", day=JUNE_12, version=4)])
    assert await run_cli("show", "https://arxiv.org/abs/2606.55555v2", "--json") == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["id"], shown["version"], shown["sources"]) == ("2606.55555", 4, ["arxiv"])
    assert [r.path for r in fake_hf.requests] == ["/api/papers/2606.55555"]
    assert await run_cli("show", "2606.99999") == 1
    assert "no paper 2606.99999 on Hugging Face Daily Papers nor on arXiv" in capsys.readouterr().err


async def test_scrape_source_picks_one(
    fake_hf: FakeHuggingFace, fake_arxiv: FakeArxiv, cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_arxiv.submit("cs.CL", JUNE_12, [arxiv_paper("2606.55555", day=JUNE_12)])
    assert await run_cli("scrape", "--date", "2026-06-12", "--source", "arxiv") == 0
    assert capsys.readouterr().out.strip() == "scraped 1 day, 1 new, 0 updated, 0 skipped, 0 failed"
    assert fake_hf.requests == []
    assert await run_cli("scrape", "--date", "2026-06-12", "--source", "huggingface") == 0
    assert len(fake_arxiv.requests) == 1


async def test_arxiv_alone_without_categories_is_a_usage_error(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PAPERBOY_ARXIV__CATEGORIES", "")
    assert await run_cli("scrape", "--source", "arxiv") == 2
    assert "set [arxiv] categories" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        await run_cli("scrape", "--source", "wikipedia")
    assert exited.value.code == 2


# ---------------------------------------------------------------- the bot's scraper


@pytest.fixture
async def both(fake_hf: FakeHuggingFace, fake_arxiv: FakeArxiv, tmp_path: Path) -> AsyncIterator[SourcesScraper]:
    clock = ManualClock(dt.datetime(2026, 6, 12, 9, 0, tzinfo=dt.UTC))
    store = await Store.open(tmp_path / "bot.db", clock=clock)
    config = Config(
        arxiv=ArxivConfig(
            categories=("cs.CL",),
            api_url=fake_arxiv.api_url,
            listing_url=fake_arxiv.listing_url,
            max_requests_per_minute=6000,
            backfill_days=2,
        )
    )
    async with httpx.AsyncClient() as http:
        hf = HuggingFaceSource(PoliteClient(http, max_requests_per_minute=6000), fake_hf.base_url)
        arxiv = ArxivSource.from_config(http, config, today=lambda: clock.now().date())
        yield SourcesScraper(store, hf, arxiv, arxiv_backfill=2, clock=clock.now)
    await store.close()


async def test_the_bot_reads_todays_announcement_and_backfills_arxiv_once(
    both: SourcesScraper, fake_hf: FakeHuggingFace, fake_arxiv: FakeArxiv
) -> None:
    fake_arxiv.announce("cs.CL", JUNE_12, [(arxiv_paper("2606.70001", day=JUNE_12), "new")])
    fake_arxiv.submit("cs.CL", JUNE_12 - dt.timedelta(days=2), [arxiv_paper("2606.60001", day=JUNE_12)])
    yesterday = JUNE_12 - dt.timedelta(days=1)
    summary = await both.scrape_days([yesterday, JUNE_12])
    assert [(r.day, r.via) for r in summary.reports[2:]] == [
        (JUNE_12 - dt.timedelta(days=2), "api"),
        (yesterday, "api"),
        (JUNE_12, "listing"),
    ]
    assert {p.id for p in summary.new_papers} == {"2606.70001", "2606.60001"}
    assert [p.id for p in await both.store.listing_papers("cs.CL", JUNE_12)] == ["2606.70001"]
    # The next run: the backfill is done; only today's feed again, and for a digest's refresh as well.
    fake_arxiv.requests.clear()
    await both.scrape_days([yesterday, JUNE_12])
    await both.scrape_day(JUNE_12)
    assert [r.path for r in fake_arxiv.requests] == ["/rss/cs.CL", "/rss/cs.CL"]
    # Hugging Face days of long ago do not touch arXiv.
    fake_arxiv.requests.clear()
    await both.scrape_days([JUNE_12 - dt.timedelta(days=30)])
    assert fake_arxiv.requests == []


async def test_without_categories_the_bot_scrapes_hugging_face_only(fake_arxiv: FakeArxiv) -> None:
    store = await Store.open(":memory:")
    try:
        async with httpx.AsyncClient() as http:
            assert build_scraper(store, http, Config()).arxiv is None
            configured = Config(arxiv=ArxivConfig(categories=("cs.CL",), api_url=fake_arxiv.api_url))
            arxiv = build_scraper(store, http, configured).arxiv
            assert arxiv is not None and arxiv.source.name == "arxiv"
    finally:
        await store.close()
