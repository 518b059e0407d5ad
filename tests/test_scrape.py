"""Scraping into the store: one transaction per day, failures recorded, idempotence, and the CLI commands."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from bot.config import Config
from bot.scrape import DayReport, Scraper, days_to_scrape, parse_day
from bot.sources.http import PoliteClient, make_http_client
from bot.sources.huggingface import HuggingFaceSource
from bot.store import Store
from tests.fakes.hf_fixtures import FakeHuggingFace, fake_hf, load_fixture, make_daily_item, paper_object

__all__ = ["fake_hf"]

JUNE_11 = dt.date(2026, 6, 11)
JUNE_12 = dt.date(2026, 6, 12)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "paperboy.db")
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def scraper(fake_hf: FakeHuggingFace, store: Store) -> AsyncIterator[Scraper]:
    async with make_http_client(Config(), read_timeout=0.5) as http:
        client = PoliteClient(
            http, max_requests_per_minute=60000, burst=1000, backoff_base=0.01, backoff_max=0.02, max_attempts=2
        )
        yield Scraper(store, HuggingFaceSource(client, fake_hf.base_url))


def table_rows(path: str) -> dict[str, list[tuple[Any, ...]]]:
    """The papers and daily_entries tables without their timestamp columns."""
    with sqlite3.connect(path) as db:
        return {
            "papers": db.execute(
                "SELECT id, title, authors, summary, published, day, upvotes, ai_summary, ai_keywords, "
                "github_repo, github_stars, project_page, thumbnail, num_comments, organization "
                "FROM papers ORDER BY id"
            ).fetchall(),
            "daily_entries": db.execute(
                "SELECT day, paper_id, upvotes FROM daily_entries ORDER BY day, paper_id"
            ).fetchall(),
        }


def full_rows(path: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as db:
        return (
            db.execute("SELECT * FROM papers ORDER BY id").fetchall()
            + db.execute("SELECT * FROM daily_entries ORDER BY day, paper_id").fetchall()
        )


# ---------------------------------------------------------------- Scraper


async def test_a_day_is_stored_with_its_entries_and_a_run(
    fake_hf: FakeHuggingFace, scraper: Scraper, store: Store
) -> None:
    items = load_fixture("hf_daily_2026-06-12.json")
    fake_hf.set_day(JUNE_12, items)
    report = await scraper.scrape_day(JUNE_12)
    assert (report.outcome, report.via) == ("ok", "api")
    assert (report.fetched, report.new, report.updated, report.skipped) == (30, 30, 0, 0)
    assert {p.id for p in report.new_papers} == {item["paper"]["id"] for item in items}
    stored = await store.papers_of_day(JUNE_12)
    assert len(stored) == 30
    assert stored[0].upvotes == max(item["paper"]["upvotes"] for item in items)
    run = await store.last_scrape_run(JUNE_12)
    assert run is not None
    assert (run.source, run.outcome, run.fetched, run.new, run.updated, run.skipped) == (
        "huggingface",
        "ok",
        30,
        30,
        0,
        0,
    )


async def test_scraping_a_day_twice_changes_nothing_but_timestamps(
    fake_hf: FakeHuggingFace, scraper: Scraper, store: Store
) -> None:
    fake_hf.set_day(JUNE_12, load_fixture("hf_daily_2026-06-12.json"))
    await scraper.scrape_day(JUNE_12)
    before = table_rows(store.path)
    again = await scraper.scrape_day(JUNE_12)
    assert (again.new, again.updated, again.new_papers, again.changed_papers) == (0, 0, (), ())
    assert table_rows(store.path) == before
    assert len(before["papers"]) == 30 and len(before["daily_entries"]) == 30


async def test_moved_upvotes_are_reported_with_the_new_counts(
    fake_hf: FakeHuggingFace, scraper: Scraper, store: Store
) -> None:
    items = load_fixture("hf_daily_2026-06-12.json")
    fake_hf.set_day(JUNE_12, items)
    await scraper.scrape_day(JUNE_12)
    items[0]["paper"]["upvotes"] += 10
    items[5]["paper"]["upvotes"] += 1
    newcomer = make_daily_item("2606.99999", "A Late Arrival", day=JUNE_12, upvotes=2)
    fake_hf.set_day(JUNE_12, [*items, newcomer])
    report = await scraper.scrape_day(JUNE_12)
    assert report.new == 1 and report.updated == 2
    assert [p.id for p in report.new_papers] == ["2606.99999"]
    changed = {p.id: p.upvotes for p in report.changed_papers}
    assert changed == {
        items[0]["paper"]["id"]: items[0]["paper"]["upvotes"],
        items[5]["paper"]["id"]: items[5]["paper"]["upvotes"],
    }
    assert {e.paper_id: e.upvotes for e in await store.daily_entries(JUNE_12)}[items[0]["paper"]["id"]] == (
        items[0]["paper"]["upvotes"]
    )


async def test_a_failed_fetch_records_a_failed_run_and_writes_nothing_else(
    fake_hf: FakeHuggingFace, scraper: Scraper, store: Store
) -> None:
    fake_hf.set_day(JUNE_12, load_fixture("hf_daily_2026-06-12.json"))
    await scraper.scrape_day(JUNE_12)
    before = full_rows(store.path)
    fake_hf.fail(503, path="/", times=None)
    report = await scraper.scrape_day(JUNE_12)
    assert report.outcome == "failed" and report.failed and report.error
    assert full_rows(store.path) == before  # timestamps included: nothing touched
    run = await store.last_scrape_run(JUNE_12)
    assert run is not None and run.outcome == "failed"
    assert run.error is not None and "HTTP 503" in run.error


async def test_a_page_without_data_props_is_a_markup_change_and_writes_nothing(
    fake_hf: FakeHuggingFace, scraper: Scraper, store: Store
) -> None:
    fake_hf.set_day(JUNE_12, load_fixture("hf_daily_2026-06-12.json"))
    fake_hf.truncate(path="/api/daily_papers")
    fake_hf.page_mode(JUNE_12, "no_props")
    report = await scraper.scrape_day(JUNE_12)
    assert report.outcome == "markup_changed" and report.failed
    assert report.error is not None and "data-props" in report.error
    counts = await store.counts()
    assert (counts.papers, counts.daily_entries) == (0, 0)
    run = await store.last_scrape_run(JUNE_12)
    assert run is not None and run.outcome == "markup_changed"


async def test_a_fallback_to_the_page_is_noted_in_the_run(
    fake_hf: FakeHuggingFace, scraper: Scraper, store: Store
) -> None:
    fake_hf.set_day(JUNE_12, load_fixture("hf_daily_2026-06-12.json"))
    fake_hf.truncate(path="/api/daily_papers")
    report = await scraper.scrape_day(JUNE_12)
    assert report.outcome == "ok" and report.via == "page" and report.new == 30
    run = await store.last_scrape_run(JUNE_12)
    assert run is not None and run.outcome == "ok"
    assert run.error is not None and "not valid JSON" in run.error


async def test_an_empty_day_is_recorded_as_empty(scraper: Scraper, store: Store) -> None:
    report = await scraper.scrape_day(JUNE_12)
    assert report.outcome == "empty" and not report.failed
    run = await store.last_scrape_run(JUNE_12)
    assert run is not None and run.outcome == "empty" and run.fetched == 0


async def test_scrape_days_sums_up_and_reports_each_day(fake_hf: FakeHuggingFace, scraper: Scraper) -> None:
    fake_hf.set_day(JUNE_12, load_fixture("hf_daily_2026-06-12.json"))
    fake_hf.set_day(JUNE_11, [make_daily_item("2606.00001", "Skip me", day=JUNE_11), {"paper": {}}])
    fake_hf.fail(404, path="/api/daily_papers", times=1)  # the first day's API and page both fail
    fake_hf.fail(404, path="/papers/date/2026-06-10", times=1)
    heard: list[DayReport] = []
    summary = await scraper.scrape_days([dt.date(2026, 6, 10), JUNE_11, JUNE_12], progress=heard.append)
    assert [r.day for r in heard] == [dt.date(2026, 6, 10), JUNE_11, JUNE_12]
    assert [r.outcome for r in heard] == ["failed", "ok", "ok"]
    assert (summary.days, summary.new, summary.updated, summary.skipped, summary.failed) == (3, 31, 0, 1, 1)
    assert len(summary.new_papers) == 31 and summary.changed_papers == []
    assert summary.line() == "3 days, 31 new, 0 updated, 1 skipped, 1 failed"


async def test_ensure_paper_fetches_once_then_serves_the_cache(
    fake_hf: FakeHuggingFace, scraper: Scraper, store: Store
) -> None:
    fake_hf.add_paper(load_fixture("hf_paper_2405.12345.json"))
    paper = await scraper.ensure_paper("2405.12345")
    assert paper is not None and paper.upvotes == 57
    assert await store.get_paper("2405.12345") == paper
    again = await scraper.ensure_paper("2405.12345")
    assert again == paper
    assert len(fake_hf.requests) == 1
    assert await scraper.ensure_paper("2405.00000") is None


# ---------------------------------------------------------------- date ranges


def test_days_to_scrape_defaults_to_yesterday_and_today() -> None:
    assert days_to_scrape(today=JUNE_12) == [JUNE_11, JUNE_12]
    assert days_to_scrape(today=JUNE_12, date="2026-06-01") == [dt.date(2026, 6, 1)]
    assert days_to_scrape(today=JUNE_12, days=3) == [dt.date(2026, 6, 10), JUNE_11, JUNE_12]
    assert days_to_scrape(today=JUNE_12, start="2026-05-30", end="2026-06-02") == [
        dt.date(2026, 5, 30),
        dt.date(2026, 5, 31),
        dt.date(2026, 6, 1),
        dt.date(2026, 6, 2),
    ]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"date": "12.06.2026"}, "not a date"),
        ({"date": "2026-02-30"}, "not a date"),
        ({"date": "20260612"}, "not a date"),
        ({"date": "2026-06-13"}, "in the future"),
        ({"days": 0}, "--days must be"),
        ({"start": "2026-06-05"}, "--from needs --to"),
        ({"end": "2026-06-05"}, "--to needs --from"),
        ({"start": "2026-06-05", "end": "2026-06-01"}, "after --to"),
        ({"start": "2000-01-01", "end": "2026-06-01"}, "spans more than"),
    ],
)
def test_days_to_scrape_rejects_bad_requests(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        days_to_scrape(today=JUNE_12, **options)


def test_parse_day_names_the_option() -> None:
    assert parse_day("2026-06-12") == JUNE_12
    with pytest.raises(ValueError, match="--from 'x'"):
        parse_day("x", "--from")


# ---------------------------------------------------------------- command line


@pytest.fixture
def cli_env(fake_hf: FakeHuggingFace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the command line at the loopback server and a fresh database; return the database path."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PAPERBOY_CONFIG", raising=False)
    database = tmp_path / "cli.db"
    monkeypatch.setenv("PAPERBOY_DATABASE__PATH", str(database))
    monkeypatch.setenv("PAPERBOY_HUGGINGFACE__BASE_URL", fake_hf.base_url)
    monkeypatch.setenv("PAPERBOY_SCRAPER__MAX_REQUESTS_PER_MINUTE", "6000")
    return database


async def run_cli(*argv: str) -> int:
    """main() runs its own event loop, so it goes to a thread while the fake server keeps serving here."""
    return await asyncio.to_thread(main, list(argv))


async def test_cli_scrape_stores_a_day(
    fake_hf: FakeHuggingFace, cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_hf.set_day(JUNE_12, load_fixture("hf_daily_2026-06-12.json"))
    assert await run_cli("scrape", "--date", "2026-06-12") == 0
    out, err = capsys.readouterr()
    assert out.strip() == "scraped 1 day, 30 new, 0 updated, 0 skipped, 0 failed"
    assert "2026-06-12: 30 papers (30 new, 0 updated, 0 skipped) from the api" in err
    with sqlite3.connect(cli_env) as db:
        assert db.execute("SELECT count(*) FROM papers").fetchone() == (30,)
        assert db.execute("SELECT count(*) FROM daily_entries WHERE day = '2026-06-12'").fetchone() == (30,)
    assert {r.user_agent for r in fake_hf.requests} == {Config().huggingface.user_agent}


async def test_cli_scrape_exits_1_when_a_day_fails(
    fake_hf: FakeHuggingFace, cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_hf.fail(404, path="/", times=None)
    assert await run_cli("scrape", "--from", "2026-06-10", "--to", "2026-06-11") == 1
    out, err = capsys.readouterr()
    assert out.strip() == "scraped 2 days, 0 new, 0 updated, 0 skipped, 2 failed"
    assert "2026-06-10: failed:" in err and "HTTP 404" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["scrape", "--date", "2026-13-01"], "--date '2026-13-01' is not a date"),
        (["scrape", "--days", "0"], "--days must be"),
        (["scrape", "--from", "2026-06-02", "--to", "2026-06-01"], "is after --to"),
        (["scrape", "--to", "2026-06-01"], "--to needs --from"),
    ],
)
async def test_cli_scrape_rejects_bad_dates_with_exit_2(
    cli_env: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert await run_cli(*argv) == 2
    assert message in capsys.readouterr().err


def test_cli_scrape_options_are_mutually_exclusive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["scrape", "--date", "2026-06-12", "--days", "3"])
    assert caught.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


async def test_cli_show_fetches_caches_and_prints_json(
    fake_hf: FakeHuggingFace, cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_hf.add_paper(load_fixture("hf_paper_2405.12345.json"))
    assert await run_cli("show", "https://arxiv.org/pdf/2405.12345v2.pdf", "--json") == 0
    document = json.loads(capsys.readouterr().out)
    assert document["id"] == "2405.12345"
    assert document["title"] == "Learning to Route Tokens in Sparse Transformers"
    assert document["authors"] == ["Mira Okafor", "Tomas Lindqvist", "Aiko Tanaka"]
    assert document["upvotes"] == 57 and document["day"] == "2024-05-21"
    assert document["url"] == "https://huggingface.co/papers/2405.12345"
    assert len(fake_hf.requests) == 1
    assert await run_cli("show", "2405.12345") == 0  # now from the cache
    assert len(fake_hf.requests) == 1
    text = capsys.readouterr().out
    assert text.splitlines()[0] == "Learning to Route Tokens in Sparse Transformers"
    for expected in (
        "Mira Okafor, Tomas Lindqvist, Aiko Tanaka",
        "57",
        "2024-05-21",
        "https://github.com/okafor-lab/token-router",
        "https://arxiv.org/abs/2405.12345",
        "https://huggingface.co/papers/2405.12345",
        "We propose a token router.",
    ):
        assert expected in text


async def test_cli_show_unknown_paper_exits_1(
    fake_hf: FakeHuggingFace, cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_hf.add_paper(paper_object(make_daily_item("2405.12345", "Known", day=JUNE_12)))
    assert await run_cli("show", "2405.54321") == 1
    assert "no paper 2405.54321" in capsys.readouterr().err


async def test_cli_show_unparseable_reference_exits_2(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert await run_cli("show", "not a paper") == 2
    assert "is not a paper id or URL" in capsys.readouterr().err
