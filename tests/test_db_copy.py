"""`paperboy db` on Postgres: migrate, check, backup with pg_dump, and copying a SQLite cache into Postgres."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import os
from pathlib import Path

import psycopg
import pytest

from bot.cli import main
from bot.models import ArxivListing, DigestSettings, Paper, ScrapeRun
from bot.store import Store
from bot.store.postgres import PostgresStore
from bot.store.postgres import latest_version as postgres_latest_version
from tests.fakes.clock import ManualClock
from tests.fakes.postgres import PostgresServer

DAY = dt.date(2026, 6, 12)
START = dt.datetime(2026, 6, 12, 8, 0, tzinfo=dt.UTC)


def paper(pid: str, upvotes: int) -> Paper:
    return Paper(
        id=pid,
        title=f"Title of {pid}",
        authors=("Ada", "Grace"),
        summary="An abstract.",
        published=DAY,
        day=DAY,
        upvotes=upvotes,
        ai_keywords=("kw",),
        github_repo="https://github.com/x/y",
    )


async def fill_sqlite(path: Path) -> None:
    """A cache with a row in every table, some booleans set, and a deleted subscription (a gap in the ids)."""
    store = await Store.open(path, clock=ManualClock(START))
    try:
        run = ScrapeRun(source="api", day=DAY, started=START, finished=START, outcome="ok", fetched=3)
        await store.upsert_papers([paper("p1", 5), paper("p2", 9), paper("p3", 1)], day=DAY, run=run)
        await store.record_scrape_run(dataclasses.replace(run, outcome="failed", error="503"))
        # p3 is also in an arXiv listing: its arXiv fields and the listing travel too.
        arxiv = dataclasses.replace(
            paper("p3", 0), sources=("arxiv",), categories=("cs.CL", "cs.LG"), comments="9 pages", version=2
        )
        await store.upsert_papers([arxiv], listings=[ArxivListing("cs.CL", DAY, ("p3",), ("new",))])
        await store.save_digest_settings(DigestSettings(guild_id=1, channel_id=10, weekdays_only=True))
        await store.save_digest_settings(
            DigestSettings(guild_id=1, channel_id=11, post_empty=False, frequency="weekly", weekday=5)
        )
        await store.disable_digest(11, "channel deleted")
        await store.save_digest_settings(
            DigestSettings(guild_id=1, channel_id=12, source="arxiv", category="cs.CL", query="parsing")
        )
        for number, query in enumerate(("mamba", "diffusion", "video")):
            await store.add_subscription(
                guild_id=1,
                channel_id=10,
                query=query,
                normalized=query,
                created_by=7,
                skip_digest_papers=number == 1,
                max_per_channel=25,
                max_per_guild=100,
            )
        first = (await store.list_subscriptions())[0]
        await store.remove_subscription(first.id, guild_id=1)
        await store.claim_delivery(10, "digest", DAY.isoformat(), nonce="n", parts=[{"content": "digest"}])
        await store.record_part_sent(10, "digest", DAY.isoformat(), 0, 900)
        await store.mark_delivered(10, "digest", DAY.isoformat(), 900)
        await store.claim_delivery(10, "alert_batch", "b1", nonce="m", parts=[{}], members=[("alert", "p2")])
        await store.set_meta("alerts.cursor", "2026-06-12T08:00:00+00:00|p3")
        for paper_id in ("p1", "p3"):
            await store.save_paper(7, paper_id, limit=500)
    finally:
        await store.close()


async def snapshot(store: Store | PostgresStore) -> dict[str, object]:
    """Everything the public API can read back, to compare the two sides of a copy."""
    return {
        "counts": await store.counts(),
        "papers": await store.get_papers(["p1", "p2", "p3"]),
        "recent": [p.id for p in await store.recent_papers(10)],
        "day": await store.papers_of_day(DAY),
        "entries": await store.daily_entries(DAY),
        "digests": await store.list_digest_settings(),
        "subscriptions": await store.list_subscriptions(),
        "deliveries": [
            await store.get_delivery(10, k, key)
            for k, key in (("digest", DAY.isoformat()), ("alert_batch", "b1"), ("alert", "p2"))
        ],
        "runs": await store.scrape_runs(),
        "meta": await store.get_meta("alerts.cursor"),
        "listed": await store.first_listed_since(START.isoformat(timespec="seconds")),
        "saved": await store.saved_papers(7),
        "listing": await store.listing_papers("cs.CL", DAY),
    }


async def read_both(path: Path, url: str) -> tuple[dict[str, object], dict[str, object]]:
    source, target = await Store.open(path), await PostgresStore.open(url)
    try:
        return await snapshot(source), await snapshot(target)
    finally:
        await source.close()
        await target.close()


async def migrate(url: str) -> None:
    """Create the schema in an empty Postgres database (opening migrates)."""
    store = await PostgresStore.open(url)
    await store.close()


@pytest.fixture
def sqlite_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A filled SQLite cache named by PAPERBOY_DATABASE__PATH, no config file."""
    path = tmp_path / "paperboy.db"
    asyncio.run(fill_sqlite(path))
    monkeypatch.setenv("PAPERBOY_DATABASE__PATH", str(path))
    monkeypatch.chdir(tmp_path)
    return path


def test_copy_moves_every_table_and_the_counts_match(
    sqlite_config: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "copy", "--to", postgres_url]) == 0
    out = capsys.readouterr().out
    for line in (
        "papers: 3 rows",
        "daily_entries: 3 rows",
        "digest_settings: 3 rows",
        "subscriptions: 2 rows",
        "deliveries: 3 rows",
        "scrape_runs: 2 rows",
        "meta: 1 rows",
        "saved_papers: 2 rows",
        "arxiv_listings: 1 rows",
        "every table's row count matches",
    ):
        assert line in out
    source, target = asyncio.run(read_both(sqlite_config, postgres_url))
    assert target == source
    listed = target["listing"]
    assert isinstance(listed, list) and [(p.id, p.categories, p.sources) for p in listed] == [
        ("p3", ("cs.CL", "cs.LG"), ("huggingface", "arxiv"))
    ]


def test_the_copy_carries_on_numbering_after_the_copied_rows(sqlite_config: Path, postgres_url: str) -> None:
    assert main(["db", "copy", "--to", postgres_url]) == 0

    async def add_more() -> tuple[int, list[str]]:
        target = await PostgresStore.open(postgres_url)
        try:
            added = await target.add_subscription(
                guild_id=1,
                channel_id=12,
                query="new",
                normalized="new",
                created_by=7,
                max_per_channel=25,
                max_per_guild=100,
            )
            await target.upsert_papers([paper("p4", 2)])
            run = ScrapeRun(source="api", day=None, started=START, finished=START, outcome="empty")
            await target.record_scrape_run(run)
            return added.id, [p.id for p in await target.recent_papers(2)]
        finally:
            await target.close()

    new_id, recent = asyncio.run(add_more())
    assert new_id == 4 and recent == ["p4", "p3"]


def test_copy_refuses_a_target_that_is_not_empty(
    sqlite_config: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "copy", "--to", postgres_url]) == 0
    capsys.readouterr()
    assert main(["db", "copy", "--to", postgres_url]) == 1
    err = capsys.readouterr().err
    assert "is not empty (3 papers" in err and "Traceback" not in err and "postgres@" not in err
    source, target = asyncio.run(read_both(sqlite_config, postgres_url))
    assert target == source


def test_copy_is_all_or_nothing(sqlite_config: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    # A check constraint the last table breaks: the copy fails there, and nothing of the earlier tables stays.
    asyncio.run(migrate(postgres_url))
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute("ALTER TABLE meta ADD CONSTRAINT no_cursor CHECK (key <> 'alerts.cursor')")
    assert main(["db", "copy", "--to", postgres_url]) == 1
    assert "no_cursor" in capsys.readouterr().err
    with psycopg.connect(postgres_url) as conn:
        left = conn.execute("SELECT (SELECT count(*) FROM papers) + (SELECT count(*) FROM deliveries)").fetchone()
    assert left == (0,)


def test_copy_needs_a_sqlite_file_and_a_postgres_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PAPERBOY_DATABASE__PATH", str(tmp_path / "missing.db"))
    assert main(["db", "copy", "--to", postgres_url]) == 1
    assert "missing.db does not exist" in capsys.readouterr().err
    assert main(["db", "copy", "--to", str(tmp_path / "other.db")]) == 2
    assert "postgresql://" in capsys.readouterr().err


def test_migrate_check_and_backup_on_postgres(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    postgres_server: PostgresServer,
    postgres_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PAPERBOY_DATABASE__URL", postgres_url)
    shown = postgres_url.replace("postgres@", "")
    assert main(["db", "migrate"]) == 0
    assert f"{shown}: schema 0 -> {postgres_latest_version()}" in capsys.readouterr().out
    assert main(["db", "migrate"]) == 0
    assert "is current" in capsys.readouterr().out
    assert main(["db", "check"]) == 0
    assert f"{shown}: ok (schema {postgres_latest_version()})" in capsys.readouterr().out

    monkeypatch.setenv("PATH", f"{postgres_server.bin_dir}{os.pathsep}{os.environ['PATH']}")
    dump = tmp_path / "paperboy.dump"
    assert main(["db", "backup", str(dump)]) == 0
    assert dump.read_bytes().startswith(b"PGDMP")
    capsys.readouterr()

    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert main(["db", "backup", str(tmp_path / "again.dump")]) == 1
    err = capsys.readouterr().err
    assert "pg_dump is not installed" in err and "pg_dump --format=custom" in err

    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute("DELETE FROM schema_version")
    assert main(["db", "check"]) == 1
    assert f"schema version is 0, expected {postgres_latest_version()}" in capsys.readouterr().err


def test_check_names_a_postgres_that_cannot_be_reached(
    monkeypatch: pytest.MonkeyPatch, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PAPERBOY_DATABASE__URL", postgres_url.rsplit("/", 1)[0] + "/nope")
    assert main(["db", "check"]) == 1
    err = capsys.readouterr().err
    assert "cannot connect to the database postgresql://127.0.0.1" in err and "Traceback" not in err


@pytest.mark.parametrize("command", [["search", "mamba"], ["scrape"], ["alerts", "test", "mamba"], ["run"]])
def test_commands_on_an_unreachable_postgres_exit_1_naming_it(
    command: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "x" * 59)
    monkeypatch.setenv("PAPERBOY_DATABASE__URL", "postgresql://paperboy:hunter2@127.0.0.1:1/paperboy")
    assert main(command) == 1
    err = capsys.readouterr().err
    assert "cannot connect to the database postgresql://127.0.0.1:1/paperboy" in err
    assert "hunter2" not in err and "Traceback" not in err


def test_search_and_alerts_test_answer_from_a_copied_cache(
    sqlite_config: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "copy", "--to", postgres_url]) == 0
    capsys.readouterr()
    monkeypatch.setenv("PAPERBOY_DATABASE__URL", postgres_url)
    assert main(["search", "title of p2", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["results"][0]["id"] == "p2" and found["total"] == 3
    assert main(["alerts", "test", "kw -title:p1", "--days", "3650", "--json"]) == 0
    assert {p["id"] for p in json.loads(capsys.readouterr().out)["papers"]} == {"p2", "p3"}
    assert main(["db", "check"]) == 0


def test_the_database_url_is_checked_and_its_password_kept_out_of_errors(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PAPERBOY_DATABASE__URL", "mysql://root@db/paperboy")
    assert main(["db", "check"]) == 2
    assert "must be empty or start with postgresql://" in capsys.readouterr().err
    monkeypatch.setenv("PAPERBOY_DATABASE__URL", "postgresql://paperboy:hunter2@127.0.0.1:1/paperboy")
    assert main(["db", "check"]) == 1
    err = capsys.readouterr().err
    assert "cannot connect" in err and "hunter2" not in err


def test_thousands_of_rows_copy_in_several_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "big.db"

    async def fill() -> None:
        store = await Store.open(path)
        try:
            await store.upsert_papers([paper(f"2606.{n:05d}", n % 50) for n in range(4500)], day=DAY)
        finally:
            await store.close()

    asyncio.run(fill())
    monkeypatch.setenv("PAPERBOY_DATABASE__PATH", str(path))
    assert main(["db", "copy", "--to", postgres_url]) == 0
    assert "papers: 4500 rows" in capsys.readouterr().out
    source, target = asyncio.run(read_both(path, postgres_url))
    assert target["counts"] == source["counts"] and target["recent"] == source["recent"]
    assert target["entries"] == source["entries"]
