"""The store: migrations, idempotent upserts, FTS kept in step, backup, integrity check, clock and errors."""

from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path

import pytest

from bot.cli import main
from bot.models import ScrapeRun
from bot.store import (
    CannotOpen,
    DatabaseBusy,
    DatabaseCorrupt,
    DiskFull,
    DuplicateSubscription,
    LimitReached,
    ReadOnlyDatabase,
    Store,
    StoreError,
    latest_version,
)
from bot.store.base import load_migrations
from bot.store.errors import classify
from tests.fakes.clock import ManualClock
from tests.old_caches import make_old_cache
from tests.store_checks import DAY, sample_run
from tests.store_checks import sample_paper as paper


def run(day: dt.date = DAY) -> ScrapeRun:
    return sample_run(day, at=dt.datetime.now(dt.UTC))


def raw_rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


async def fts_ids(store: Store, match: str) -> set[str]:
    rows = raw_rows(
        Path(store.path),
        f"SELECT p.id FROM papers_fts JOIN papers p ON p.rowid = papers_fts.rowid WHERE papers_fts MATCH '{match}'",
    )
    return {str(r[0]) for r in rows}


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "paperboy.db")
    yield opened
    await opened.close()


async def test_migrates_an_empty_database_and_rerun_is_a_no_op(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    store = await Store.open(path, migrate=False)
    assert await store.schema_version() == 0
    assert await store.migrate() == list(range(1, latest_version() + 1))
    assert await store.schema_version() == latest_version()
    assert await store.migrate() == []
    assert await store.check() == []
    await store.close()
    tables = {r[0] for r in raw_rows(path, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {
        "papers",
        "daily_entries",
        "papers_fts",
        "digest_settings",
        "subscriptions",
        "deliveries",
        "scrape_runs",
    } <= tables
    assert raw_rows(path, "PRAGMA journal_mode") == [("wal",)]


async def test_weekly_digest_migration_keeps_existing_digests_daily(tmp_path: Path) -> None:
    path = tmp_path / "v4.db"
    with sqlite3.connect(path) as conn:
        for migration in load_migrations()[:4]:
            conn.executescript(migration.sql)
        conn.execute("PRAGMA user_version = 4")
        conn.execute(
            "INSERT INTO digest_settings (channel_id, guild_id, time, timezone, top, created_at, updated_at) "
            "VALUES (10, 1, '08:00', 'UTC', 5, '2026-06-01T00:00:00+00:00', '2026-06-01T00:00:00+00:00')"
        )
    store = await Store.open(path)
    try:
        assert await store.schema_version() == latest_version() >= 5
        kept = await store.get_digest_settings(10)
        assert kept is not None and (kept.frequency, kept.weekday, kept.top) == ("daily", 0, 5)
    finally:
        await store.close()


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 999")
    with pytest.raises(StoreError, match="newer"):
        await Store.open(path)


async def test_upsert_reports_new_then_changed_upvotes(store: Store) -> None:
    first = await store.upsert_papers([paper("2606.00001"), paper("2606.00002")], day=DAY, run=run())
    assert set(first.new) == {"2606.00001", "2606.00002"} and first.changed == ()
    second = await store.upsert_papers([paper("2606.00001", upvotes=9), paper("2606.00002")], day=DAY)
    assert second.new == () and second.changed == ("2606.00001",)
    assert (await store.get_paper("2606.00001")).upvotes == 9  # type: ignore[union-attr]
    assert [(e.paper_id, e.upvotes) for e in await store.daily_entries(DAY)] == [("2606.00001", 9), ("2606.00002", 3)]
    assert (await store.counts()).papers == 2
    last = await store.last_scrape_run(DAY)
    assert last is not None and last.new == 2 and last.outcome == "ok"


async def test_same_day_twice_changes_nothing_but_timestamps(store: Store) -> None:
    papers = [paper("2606.00001"), paper("2606.00002", title="Another")]
    await store.upsert_papers(papers, day=DAY)
    content = "SELECT id, title, authors, summary, published, day, upvotes, ai_keywords FROM papers ORDER BY id"
    before = raw_rows(Path(store.path), content)
    entries_before = raw_rows(Path(store.path), "SELECT day, paper_id, upvotes FROM daily_entries")
    result = await store.upsert_papers(papers, day=DAY)
    assert result.new == () and result.changed == () and result.unchanged == 2
    assert raw_rows(Path(store.path), content) == before
    assert raw_rows(Path(store.path), "SELECT day, paper_id, upvotes FROM daily_entries") == entries_before


async def test_round_trip_keeps_every_field(store: Store) -> None:
    original = paper(
        "2606.00003",
        github_repo="https://github.com/a/b",
        github_stars=12,
        ai_summary="Short.",
        project_page="https://a.example",
        thumbnail="https://cdn.example/t.png",
        num_comments=4,
        organization="Lab",
    )
    await store.upsert_papers([original], day=DAY)
    assert await store.get_paper("2606.00003") == original
    assert await store.get_paper("0000.00000") is None


async def test_fts_follows_inserts_updates_and_deletes(store: Store) -> None:
    await store.upsert_papers([paper("2606.00001", title="Mamba agents for planning")], day=DAY)
    assert await fts_ids(store, "agent") == {"2606.00001"}  # porter stemming
    assert await fts_ids(store, "authors:dao") == {"2606.00001"}
    await store.upsert_papers([paper("2606.00001", title="Transformers for planning")], day=DAY)
    assert await fts_ids(store, "agent") == set()
    assert await fts_ids(store, "transformer") == {"2606.00001"}
    assert await store.delete_paper("2606.00001")
    assert await fts_ids(store, "transformer") == set()
    assert raw_rows(Path(store.path), "SELECT count(*) FROM papers_fts") == [(0,)]
    assert raw_rows(Path(store.path), "SELECT count(*) FROM daily_entries") == [(0,)]


async def test_later_day_moves_paper_day_forward_only(store: Store) -> None:
    await store.upsert_papers([paper("2606.00001")], day=DAY)
    later = dataclasses.replace(paper("2606.00001"), day=DAY + dt.timedelta(days=1))
    await store.upsert_papers([later], day=DAY + dt.timedelta(days=1))
    await store.upsert_papers([paper("2606.00001")], day=DAY)
    assert (await store.get_paper("2606.00001")).day == DAY + dt.timedelta(days=1)  # type: ignore[union-attr]
    assert await store.newest_day() == DAY + dt.timedelta(days=1)


async def test_backup_round_trip(store: Store, tmp_path: Path) -> None:
    await store.upsert_papers([paper("2606.00001")], day=DAY)
    target = tmp_path / "copy.db"
    await store.backup(target)
    copy = await Store.open(target, migrate=False)
    try:
        assert await copy.check() == []
        assert await copy.get_paper("2606.00001") == await store.get_paper("2606.00001")
    finally:
        await copy.close()


async def test_integrity_check_reports_a_damaged_file(tmp_path: Path) -> None:
    path = tmp_path / "damaged.db"
    store = await Store.open(path)
    await store.close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        # Damage only pages the papers fill, not the schema's, so the file still opens.
        schema_pages = conn.execute("PRAGMA page_count").fetchone()[0]
    store = await Store.open(path)
    await store.upsert_papers(
        [paper(f"2606.{i:05d}", title=f"Paper number {i} " + "x" * 400) for i in range(300)], day=DAY
    )
    await store.close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    data = bytearray(path.read_bytes())
    for page in range(schema_pages + 1, len(data) // page_size, 2):
        start = page * page_size
        data[start + 8 : start + 200] = b"\xff" * 192
    path.write_bytes(bytes(data))
    damaged = await Store.open(path, migrate=False)
    try:
        problems = await damaged.check()
    finally:
        await damaged.close()
    assert problems and any("integrity" in p or "damaged" in p for p in problems)


def test_cli_migrate_check_backup_and_damaged_header(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "cli.db"
    monkeypatch.setenv("PAPERBOY_DATABASE__PATH", str(db))
    monkeypatch.chdir(tmp_path)
    assert main(["db", "migrate"]) == 0
    assert f"schema 0 -> {latest_version()}" in capsys.readouterr().out
    assert main(["db", "migrate"]) == 0
    assert "is current" in capsys.readouterr().out
    assert main(["db", "check"]) == 0
    assert "ok" in capsys.readouterr().out
    assert main(["db", "backup", str(tmp_path / "b.db")]) == 0
    assert (tmp_path / "b.db").stat().st_size > 0
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not sqlite" * 500)
    monkeypatch.setenv("PAPERBOY_DATABASE__PATH", str(garbage))
    assert main(["db", "check"]) == 1
    err = capsys.readouterr().err
    assert "damaged or not a Paperboy database" in err and "Traceback" not in err


def test_cli_bad_config_exits_2_naming_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[database]\npathh = "x"\n')
    assert main(["--config", str(bad), "db", "check"]) == 2
    assert "pathh" in capsys.readouterr().err


# ---------------------------------------------------------------- one clock, errors by result code


async def test_rows_are_stamped_by_the_clock_the_store_is_given(tmp_path: Path) -> None:
    start = dt.datetime(2031, 3, 4, 5, 6, 7, tzinfo=dt.UTC)
    clock = ManualClock(start)
    store = await Store.open(tmp_path / "clocked.db", clock=clock)
    try:
        await store.upsert_papers([paper("2606.00001")])
        await store.add_subscription(
            guild_id=1, channel_id=2, query="moe", normalized="moe", created_by=3, max_per_channel=5, max_per_guild=5
        )
        await store.claim_delivery(2, "digest", "2031-03-04", nonce="n", parts=[{"content": "x"}])
        clock.advance(dt.timedelta(hours=1))
        await store.mark_delivered(2, "digest", "2031-03-04", 99)
        delivery = await store.get_delivery(2, "digest", "2031-03-04")
    finally:
        await store.close()
    path = tmp_path / "clocked.db"
    assert raw_rows(path, "SELECT first_seen, updated_at FROM papers") == [(start.isoformat(), start.isoformat())]
    assert raw_rows(path, "SELECT created_at FROM subscriptions") == [(start.isoformat(),)]
    assert delivery is not None and delivery.status == "sent" and delivery.kind == "digest"
    assert (delivery.created_at, delivery.updated_at) == (start, start + dt.timedelta(hours=1))


@pytest.mark.parametrize(
    ("code", "message", "kind", "words"),
    [
        # Messages chosen to mislead a reader of the text: the result code decides.
        (sqlite3.SQLITE_READONLY, "disk is full", ReadOnlyDatabase, "is read-only"),
        (sqlite3.SQLITE_READONLY_DBMOVED, "attempt to write", ReadOnlyDatabase, "is read-only"),  # extended code
        (sqlite3.SQLITE_FULL, "readonly", DiskFull, "is full"),
        (sqlite3.SQLITE_CORRUPT, "oops", DatabaseCorrupt, "damaged"),
        (sqlite3.SQLITE_NOTADB, "file is not a database", DatabaseCorrupt, "restore it from a backup"),
        (sqlite3.SQLITE_BUSY, "database is locked", DatabaseBusy, "locked by another process"),
        (sqlite3.SQLITE_LOCKED, "database table is locked", DatabaseBusy, "locked by another process"),
        (sqlite3.SQLITE_CANTOPEN, "unable to open database file", CannotOpen, "cannot open"),
        (sqlite3.SQLITE_ERROR, "no such table: nowhere", StoreError, "no such table"),
    ],
)
def test_sqlite_errors_are_classified_by_result_code(
    code: int, message: str, kind: type[StoreError], words: str
) -> None:
    raw = sqlite3.OperationalError(message)
    raw.sqlite_errorcode = code
    error = classify(raw, "/data/paperboy.db")
    assert type(error) is kind
    assert words in str(error) and "/data/paperboy.db" in str(error)


async def test_a_plain_read_raises_store_error_not_sqlite_error(store: Store) -> None:
    with sqlite3.connect(store.path) as conn:
        conn.execute("DROP TABLE meta")
    with pytest.raises(StoreError, match="no such table") as caught:
        await store.get_meta("anything")
    assert isinstance(caught.value.__cause__, sqlite3.OperationalError)


async def test_a_write_blocked_by_another_process_is_reported_as_busy(store: Store) -> None:
    await store.set_meta("k", "before")
    other = sqlite3.connect(store.path, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        await store._db.execute("PRAGMA busy_timeout = 20")  # not the 5 s the bot waits
        with pytest.raises(DatabaseBusy, match="locked by another process"):
            await store.set_meta("k", "after")
        other.execute("ROLLBACK")
    finally:
        other.close()
    assert await store.get_meta("k") == "before"


def test_subscription_refusals_are_store_errors() -> None:
    assert issubclass(DuplicateSubscription, StoreError) and issubclass(LimitReached, StoreError)


async def test_the_reading_list_migration_upgrades_an_existing_cache(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    # The cache as it was before saved papers existed.
    make_old_cache(path, 5)
    with closing(sqlite3.connect(path)) as old, old:
        # Written as that version wrote papers (today's upsert needs columns added since).
        old.execute(
            "INSERT INTO papers (id, title, first_seen, updated_at) "
            "VALUES ('2606.00001', 'A paper', '2026-06-12T00:00:00+00:00', '2026-06-12T00:00:00+00:00')"
        )
    upgraded = await Store.open(path)
    try:
        assert await upgraded.schema_version() == latest_version()
        assert await upgraded.save_paper(7, "2606.00001", limit=500) is True
        assert [p.id for p in await upgraded.saved_papers(7)] == ["2606.00001"]
        assert await upgraded.check() == []
    finally:
        await upgraded.close()
