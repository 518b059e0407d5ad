"""The Store contract, run against both backends: SQLite and a real throwaway Postgres."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import inspect
import os
import pwd
import shutil
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path

import psycopg
import psycopg_pool
import pytest

from bot.models import ArxivListing, DailyEntry, DigestSettings, Paper, ScrapeRun, Subscription
from bot.query import parse
from bot.search.factory import query_spec
from bot.store import (
    CannotOpen,
    DatabaseBusy,
    DatabaseCorrupt,
    DiskFull,
    DuplicateSubscription,
    LimitReached,
    ReadingListFull,
    ReadOnlyDatabase,
    Store,
    StoreError,
)
from bot.store import latest_version as sqlite_latest_version
from bot.store.postgres import PostgresStore, display_url
from bot.store.postgres import latest_version as postgres_latest_version
from bot.store.postgres.errors import classify
from tests.fakes.clock import ManualClock
from tests.fakes.postgres import BIN_ENV, PostgresServer, PostgresUnavailable, find_bin_dir, start_server
from tests.store_checks import DAY, full_paper, sample_run

AnyStore = Store | PostgresStore
START = dt.datetime(2026, 6, 12, 8, 0, tzinfo=dt.UTC)
# The Postgres store's own title lookups (pg_trgm stands in for the SQLite bot's in-memory title index)
# and the upkeep of its search columns, computed in Python.
POSTGRES_ONLY = {
    "fill_search_columns", "similar_title_rows", "title_rows_with_prefix", "unindexed_paper_count",
}  # fmt: skip
# SQLite's way of running a synchronous read on its reading connections (Postgres reads through its pool).
SQLITE_ONLY = {"read", "release_memory"}


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AnyStore]:
    """An empty, migrated store of each backend on a manual clock."""
    clock = ManualClock(START)
    opened: AnyStore
    if request.param == "sqlite":
        opened = await Store.open(tmp_path / "contract.db", clock=clock)
    else:
        opened = await PostgresStore.open(request.getfixturevalue("postgres_url"), clock=clock)
    try:
        yield opened
    finally:
        await opened.close()


def clock_of(store: AnyStore) -> ManualClock:
    assert isinstance(store.clock, ManualClock)
    return store.clock


def paper(pid: str, upvotes: int = 3, day: dt.date | None = DAY, title: str = "") -> Paper:
    return full_paper(pid, upvotes=upvotes, day=day, title=title or f"Paper {pid}: Sparse Mixture of Experts")


def run(day: dt.date | None = DAY, outcome: str = "ok") -> ScrapeRun:
    return sample_run(day, at=START, outcome=outcome)


def test_postgres_store_offers_every_store_method() -> None:
    def public(cls: type) -> dict[str, inspect.Signature]:
        return {
            name: inspect.signature(getattr(cls, name))
            for name in dir(cls)
            if not name.startswith("_") and inspect.iscoroutinefunction(getattr(cls, name))
        }

    sqlite_api, postgres_api = public(Store), public(PostgresStore)
    assert set(sqlite_api) - set(postgres_api) == SQLITE_ONLY
    assert set(postgres_api) - set(sqlite_api) == POSTGRES_ONLY
    # Opening differs by backend (a file path or a URL); every other method takes the same arguments.
    for name, signature in postgres_api.items():
        if name == "open" or name in POSTGRES_ONLY:
            continue
        assert [p.name for p in signature.parameters.values()] == [
            p.name for p in sqlite_api[name].parameters.values()
        ], name


async def test_migrations_are_recorded_and_idempotent(store: AnyStore) -> None:
    expected = sqlite_latest_version() if isinstance(store, Store) else postgres_latest_version()
    assert await store.schema_version() == expected
    assert await store.migrate() == []
    assert await store.check() == []
    await store.check_writable()


async def test_a_schema_newer_than_the_code_is_refused(store: AnyStore) -> None:
    if isinstance(store, Store):
        await store._db.execute("PRAGMA user_version = 99")
    else:
        await store._execute("INSERT INTO schema_version (version, name, applied_at) VALUES (99, 'x', 'now')")
    with pytest.raises(StoreError, match="newer than this Paperboy"):
        await store.migrate()
    assert any("schema version is 99" in problem for problem in await store.check())


async def test_papers_round_trip_and_upserts_are_idempotent(store: AnyStore) -> None:
    first = await store.upsert_papers([paper("2606.00001"), paper("2606.00002", upvotes=9)], day=DAY, run=run())
    assert first.new == ("2606.00001", "2606.00002") and first.changed == () and first.unchanged == 0
    assert await store.get_paper("2606.00001") == paper("2606.00001")
    assert await store.get_paper("2606.99999") is None
    ids = ["2606.00002", "2606.99999", "2606.00001"]
    assert [p.id for p in await store.get_papers(ids)] == ["2606.00002", "2606.00001"]

    version = store.papers_version
    again = await store.upsert_papers([paper("2606.00001"), paper("2606.00002", upvotes=9)], day=DAY)
    assert again.new == () and again.changed == () and again.unchanged == 2
    moved = await store.upsert_papers([paper("2606.00001", upvotes=7, title="Retitled")], day=DAY)
    assert moved.changed == ("2606.00001",) and store.papers_version > version
    stored = await store.get_paper("2606.00001")
    assert stored is not None and stored.title == "Retitled" and stored.upvotes == 7


async def test_search_reads_titles_ids_and_term_counts(store: AnyStore) -> None:
    """The methods search, autocomplete, trending and similar papers read, alike on both backends."""
    titles = ["Sparse routing", "Sparse experts", "Dense layers"]
    papers = [paper(f"2606.0000{n}", upvotes=n, title=title) for n, title in enumerate(titles, start=1)]
    assert await store.bulk_insert_papers(papers) == 3
    high = await store.paper_rowid_high_mark()
    rows = await store.paper_titles(0)
    assert sorted(title for _, title in rows) == sorted(titles) and max(r for r, _ in rows) == high
    assert await store.paper_titles(high) == []
    assert {pid for pid, _ in (await store.ids_and_titles([r for r, _ in rows])).values()} == {p.id for p in papers}
    first = next(rowid for rowid, title in rows if title == titles[0])
    assert {p.id for p in (await store.papers_by_rowid([first])).values()} == {"2606.00001"}
    assert await store.ids_with_prefix("2606.0000", 2) == [("2606.00001", titles[0]), ("2606.00002", titles[1])]
    clock_of(store).advance(dt.timedelta(minutes=5))
    since = store.now_text()
    await store.upsert_papers([paper("2606.00003", upvotes=3, title="Dense sparse layers")])
    assert [t for _, t in await store.titles_updated_since(since)] == ["Dense sparse layers"]
    sparse = query_spec(store, parse("sparse"), sort="top", limit=10)
    assert sparse.match is not None and await store.match_counts([sparse.match], 2) == [2]
    assert await store.match_counts([sparse.match], 10) == [3]
    assert [p.id for p in await store.top_papers_between(DAY, DAY, 2)] == ["2606.00003", "2606.00002"]
    assert await store.latest_paper_day(DAY + dt.timedelta(days=3)) == DAY
    assert (await store.document_frequencies(["spars", "dens", "absent"])) == {"spars": 3, "dens": 1}
    assert await store.indexed_paper_count() == 3
    await store.merge_search_index(200, start=True)
    assert [p.id for p in await store.search_page(sparse)] == ["2606.00003", "2606.00002", "2606.00001"]


async def test_a_paper_keeps_its_latest_day_and_entries_keep_their_own_upvotes(store: AnyStore) -> None:
    later = DAY + dt.timedelta(days=1)
    await store.upsert_papers([paper("a", upvotes=5, day=later)], day=later)
    await store.upsert_papers([paper("a", upvotes=2, day=DAY), paper("b", upvotes=4)], day=DAY)
    kept = await store.get_paper("a")
    assert kept is not None and kept.day == later
    assert await store.daily_entries(DAY) == [DailyEntry(DAY, "a", 2), DailyEntry(DAY, "b", 4)]
    assert [(p.id, p.upvotes, p.day) for p in await store.papers_of_day(DAY)] == [("b", 4, DAY), ("a", 2, DAY)]
    assert await store.newest_day() == later
    counts = await store.counts()
    assert (counts.papers, counts.days, counts.daily_entries, counts.digests, counts.subscriptions) == (2, 2, 3, 0, 0)
    assert await store.delete_paper("a") is True
    assert await store.delete_paper("a") is False
    assert await store.daily_entries(DAY) == [DailyEntry(DAY, "b", 4)]


async def test_a_large_batch_upserts_in_one_go(store: AnyStore) -> None:
    ids = [f"2606.{n:05d}" for n in range(1200)]
    first = await store.upsert_papers([paper(pid, upvotes=1) for pid in ids], day=DAY)
    assert first.new == tuple(ids)
    second = await store.upsert_papers([paper(pid, upvotes=1 + n % 2) for n, pid in enumerate(ids)], day=DAY)
    assert second.new == () and second.changed == tuple(ids[1::2]) and second.unchanged == 600
    entries = await store.daily_entries(DAY)
    assert len(entries) == 1200 and sum(entry.upvotes for entry in entries) == 1800
    assert [p.id for p in await store.recent_papers(2)] == [ids[-1], ids[-2]]


async def test_scrape_runs_newest_first_by_day(store: AnyStore) -> None:
    assert await store.last_scrape_run() is None
    await store.upsert_papers([paper("a"), paper("b")], day=DAY, run=run())
    await store.record_scrape_run(run(DAY + dt.timedelta(days=1), outcome="failed"))
    await store.record_scrape_run(dataclasses.replace(run(None, outcome="empty"), error="nothing"))
    runs = await store.scrape_runs()
    assert [(r.day, r.outcome, r.new, r.error) for r in runs] == [
        (None, "empty", 0, "nothing"),
        (DAY + dt.timedelta(days=1), "failed", 0, None),
        (DAY, "ok", 2, None),
    ]
    assert runs[0].id is not None and runs[0].started == START
    last = await store.last_scrape_run(DAY)
    assert last is not None and last.new == 2 and last.fetched == 2
    assert len(await store.scrape_runs(limit=2)) == 2


async def test_digest_settings_round_trip(store: AnyStore) -> None:
    settings = DigestSettings(guild_id=1, channel_id=10, time=dt.time(7, 30), timezone="Europe/Berlin", top=5,
                              min_upvotes=3, weekdays_only=True, style="cards", post_empty=False)  # fmt: skip
    saved = await store.save_digest_settings(settings)
    assert saved == dataclasses.replace(settings, effective_from=START)
    await store.save_digest_settings(DigestSettings(guild_id=2, channel_id=20))
    await store.disable_digest(10, "missing permissions")
    disabled = await store.get_digest_settings(10)
    assert disabled is not None and not disabled.enabled and disabled.disabled_reason == "missing permissions"
    assert [s.channel_id for s in await store.list_digest_settings()] == [10, 20]
    assert [s.channel_id for s in await store.list_digest_settings(enabled_only=True)] == [20]
    assert [s.channel_id for s in await store.list_digest_settings(1)] == [10]
    assert await store.guild_counts(1) == (0, 0)
    clock_of(store).advance(dt.timedelta(hours=1))
    again = await store.save_digest_settings(settings)
    assert again.enabled and again.disabled_reason is None and again.effective_from == START + dt.timedelta(hours=1)
    assert await store.guild_counts(1) == (1, 0)
    assert await store.delete_digest_settings(10) is True
    assert await store.delete_digest_settings(10) is False
    assert await store.get_digest_settings(10) is None


async def test_weekly_digest_settings_round_trip_and_change_back(store: AnyStore) -> None:
    weekly = DigestSettings(guild_id=1, channel_id=30, frequency="weekly", weekday=4)
    assert await store.save_digest_settings(weekly) == dataclasses.replace(weekly, effective_from=START)
    assert [(s.frequency, s.weekday) for s in await store.list_digest_settings(1)] == [("weekly", 4)]
    daily = await store.save_digest_settings(dataclasses.replace(weekly, frequency="daily", weekday=0))
    assert (daily.frequency, daily.weekday) == ("daily", 0)


async def test_subscriptions_limits_duplicates_and_removal(store: AnyStore) -> None:
    def add(channel: int, query: str, **limits: int) -> Awaitable[Subscription]:
        return store.add_subscription(guild_id=1, channel_id=channel, query=query, normalized=query.lower(),
                                      created_by=7, max_per_channel=limits.get("channel", 2),
                                      max_per_guild=limits.get("guild", 3))  # fmt: skip

    first = await store.add_subscription(
        guild_id=1, channel_id=10, query="Mamba", normalized="mamba", created_by=7, skip_digest_papers=True,
        max_per_channel=2, max_per_guild=3,
    )  # fmt: skip
    assert (first.query, first.normalized, first.created_at) == ("Mamba", "mamba", START)
    assert first.skip_digest_papers
    assert await store.get_subscription(first.id) == first
    with pytest.raises(DuplicateSubscription):
        await add(10, "MAMBA")
    await add(10, "diffusion")
    with pytest.raises(LimitReached) as channel_full:
        await add(10, "third")
    assert channel_full.value.scope == "channel"
    await add(11, "video")
    with pytest.raises(LimitReached) as guild_full:
        await add(12, "fourth")
    assert guild_full.value.scope == "server"
    assert [s.normalized for s in await store.list_subscriptions(channel_id=10)] == ["mamba", "diffusion"]
    assert len(await store.list_subscriptions(guild_id=1)) == 3 and len(await store.list_subscriptions()) == 3
    assert await store.guild_counts(1) == (0, 3)
    assert await store.remove_subscription(first.id, guild_id=2) is None
    assert await store.remove_subscription(first.id, guild_id=1) == first
    assert await store.remove_subscription(first.id, guild_id=1) is None
    assert (await store.counts()).subscriptions == 2


async def test_reading_lists_are_per_member_newest_first_bounded_and_cleared(store: AnyStore) -> None:
    await store.upsert_papers([paper(f"2606.0000{n}") for n in range(1, 5)], day=DAY)
    assert await store.save_paper(7, "2606.00001", limit=3) is True
    assert await store.save_paper(7, "2606.00001", limit=3) is False
    assert await store.save_paper(7, "2606.00002", limit=3) is True
    assert await store.save_paper(8, "2606.00004", limit=3) is True
    assert await store.save_paper(7, "2606.00003", limit=3) is True
    with pytest.raises(ReadingListFull) as full:
        await store.save_paper(7, "2606.00004", limit=3)
    assert full.value.limit == 3 and "3 papers" in str(full.value)
    assert await store.save_paper(7, "2606.00003", limit=3) is False
    assert [p.id for p in await store.saved_papers(7)] == ["2606.00003", "2606.00002", "2606.00001"]
    assert [p.id for p in await store.saved_papers(7, offset=1, limit=1)] == ["2606.00002"]
    assert (await store.saved_papers(8))[0] == paper("2606.00004")
    assert (await store.saved_count(7), await store.saved_count(8), await store.saved_count(9)) == (3, 1, 0)
    assert await store.unsave_paper(7, "2606.00002") is True
    assert await store.unsave_paper(7, "2606.00002") is False
    assert await store.unsave_paper(8, "2606.00001") is False
    assert await store.delete_paper("2606.00003") is True
    assert [p.id for p in await store.saved_papers(7)] == ["2606.00001"]
    assert await store.clear_saved(7) == 1
    assert await store.clear_saved(7) == 0
    assert [p.id for p in await store.saved_papers(8)] == ["2606.00004"]


async def test_meta_replaces_values(store: AnyStore) -> None:
    assert await store.get_meta("cursor") is None
    await store.set_meta("cursor", "one")
    await store.set_meta("cursor", "two")
    assert await store.get_meta("cursor") == "two"


async def test_the_outbox_claim_and_finish_protocol(store: AnyStore) -> None:
    parts = [{"content": "part one"}, {"content": "part two"}]
    claimed, created = await store.claim_delivery(10, "digest", "2026-06-12", nonce="n1", parts=parts)
    assert created and claimed.status == "pending" and claimed.parts == tuple(parts)
    assert claimed.sent_ids == (None, None)
    assert claimed.created_at == START and claimed.attempts == 0
    again, created_again = await store.claim_delivery(10, "digest", "2026-06-12", nonce="n2", parts=[])
    assert not created_again and again.nonce == "n1" and again.parts == tuple(parts)
    await store.record_attempt(10, "digest", "2026-06-12")
    await store.record_part_sent(10, "digest", "2026-06-12", 0, 111)
    halfway = await store.get_delivery(10, "digest", "2026-06-12")
    assert halfway is not None and halfway.attempts == 1 and halfway.sent_ids == (111, None)

    retry_at = START + dt.timedelta(minutes=5)
    await store.schedule_retry(10, "digest", "2026-06-12", error="503", at=retry_at)
    assert await store.next_retry_at(["digest"]) == retry_at
    assert await store.open_deliveries(["digest"], due_by=START) == []
    assert [d.key for d in await store.open_deliveries(["digest"], due_by=retry_at)] == ["2026-06-12"]
    await store.mark_delivered(10, "digest", "2026-06-12", 112, outcome="late")
    done = await store.get_delivery(10, "digest", "2026-06-12")
    assert done is not None and (done.status, done.message_id, done.outcome, done.error) == ("sent", 112, "late", None)
    assert done.next_attempt_at is None and await store.open_deliveries(["digest"]) == []
    assert await store.next_retry_at(["digest"]) is None
    latest = await store.latest_delivery(10, "digest")
    assert latest is not None and latest.key == "2026-06-12"
    assert await store.latest_delivery(10, "alert") is None


async def test_batched_alert_rows_follow_their_batch(store: AnyStore) -> None:
    members = [("alert", "p1"), ("alert", "p2")]
    batch, _ = await store.claim_delivery(10, "alert_batch", "0800-a", nonce="b", parts=[{}], members=members)
    await store.claim_delivery(20, "alert_batch", "0800-b", nonce="c", parts=[{}], members=[("alert", "p1")])
    assert await store.delivered_keys(10, "alert", ["p1", "p2", "p3"]) == {"p1", "p2"}
    assert await store.delivered_pairs("alert", ["p1", "p3"]) == {(10, "p1"), (20, "p1")}
    assert await store.delivered_pairs("alert", []) == set()
    assert await store.alerts_in_batches_from(10, "0000", kind="alert", batch_kind="alert_batch") == 2
    assert await store.alerts_in_batches_from(10, "0900", kind="alert", batch_kind="alert_batch") == 0
    await store.mark_delivered(10, "alert_batch", batch.key, 500)
    member = await store.get_delivery(10, "alert", "p2")
    assert member is not None and (member.status, member.message_id, member.batch) == ("sent", 500, "0800-a")
    await store.mark_failed(20, "alert_batch", "0800-b", error="forbidden")
    failed = await store.get_delivery(20, "alert", "p1")
    assert failed is not None and (failed.status, failed.error) == ("failed", "forbidden")
    assert await store.alerts_in_batches_from(20, "0000", kind="alert", batch_kind="alert_batch") == 0


async def test_concurrent_claims_make_exactly_one_owner(store: AnyStore) -> None:
    results = await asyncio.gather(
        *(store.claim_delivery(10, "digest", "2026-06-12", nonce=f"n{i}", parts=[{}]) for i in range(12))
    )
    assert sum(created for _, created in results) == 1
    assert len({delivery.nonce for delivery, _ in results}) == 1


async def test_alert_reads_over_listings_and_digests(store: AnyStore) -> None:
    assert await store.last_listed_at() is None
    await store.upsert_papers([paper("p1"), paper("p2")], day=DAY)
    clock_of(store).advance(dt.timedelta(hours=1))
    later = (START + dt.timedelta(hours=1)).isoformat(timespec="seconds")
    await store.upsert_papers([paper("p3"), paper("p1")], day=DAY + dt.timedelta(days=1))
    assert await store.last_listed_at() == later
    start = START.isoformat(timespec="seconds")
    listed = await store.first_listed_since(start)
    assert [(when, p.id) for when, p in listed] == [(start, "p1"), (start, "p2"), (later, "p3")]
    assert [p.id for _, p in await store.first_listed_since(later)] == ["p3"]
    assert [p.id for _, p in await store.first_listed_since(start, after=(start, "p1"), limit=1)] == ["p2"]
    assert await store.first_listed_keys_since(start) == [(start, "p1"), (start, "p2"), (later, "p3")]
    assert await store.first_listed_keys_since(start, after=(start, "p1"), limit=1) == [(start, "p2")]
    assert [p.id for p in await store.recent_papers(2)] == ["p3", "p2"]
    await store.claim_delivery(10, "digest", DAY.isoformat(), nonce="d", parts=[{"content": "x"}])
    assert await store.digest_payloads_for(10, ["p1"]) == {}
    await store.mark_delivered(10, "digest", DAY.isoformat(), 9)
    payloads = await store.digest_payloads_for(10, ["p1", "p2", "p3"])
    assert set(payloads) == {"p1", "p2"} and '"content": "x"' in payloads["p1"][0]


async def test_a_database_that_cannot_be_reached_is_a_cannot_open(tmp_path: Path, postgres_url: str) -> None:
    with pytest.raises(CannotOpen):
        await Store.open(tmp_path / "missing" / "folder" / "x.db")
    with pytest.raises(CannotOpen, match="cannot connect"):
        await PostgresStore.open(postgres_url.rsplit("/", 1)[0] + "/no_such_database")


async def test_a_read_only_postgres_refuses_writes_with_read_only_database(postgres_url: str) -> None:
    store = await PostgresStore.open(postgres_url)
    await store.close()
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        name = postgres_url.rsplit("/", 1)[1]
        admin.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    store = await PostgresStore.open(postgres_url, migrate=False)
    try:
        with pytest.raises(ReadOnlyDatabase):
            await store.check_writable()
        with pytest.raises(ReadOnlyDatabase):
            await store.set_meta("k", "v")
        assert await store.get_meta("k") is None
    finally:
        await store.close()


@pytest.mark.parametrize(
    ("sqlstate", "kind"),
    [("53100", DiskFull), ("25006", ReadOnlyDatabase), ("42501", ReadOnlyDatabase), ("40P01", DatabaseBusy),
     ("55P03", DatabaseBusy), ("XX001", DatabaseCorrupt), ("3D000", CannotOpen), ("28P01", CannotOpen),
     ("08006", CannotOpen), ("22001", StoreError)],
)  # fmt: skip
def test_postgres_errors_are_classified_by_sqlstate(sqlstate: str, kind: type[StoreError]) -> None:
    raw = psycopg.errors.lookup(sqlstate)("server said something")
    error = classify(raw, "postgresql://db:5432/paperboy")
    assert type(error) is kind and error.__cause__ is raw and "postgresql://db:5432/paperboy" in str(error)


# ---------------------------------------------------------------- several processes on one Postgres


async def test_two_stores_on_one_database_claim_each_delivery_once(postgres_url: str) -> None:
    # Two pools stand in for two bot processes: both migrate at once, then race for the same claims.
    first, second = await asyncio.gather(PostgresStore.open(postgres_url), PostgresStore.open(postgres_url))
    try:
        assert await first.schema_version() == await second.schema_version() == postgres_latest_version()
        claims = [
            store.claim_delivery(channel, "digest", DAY.isoformat(), nonce=f"{name}{channel}", parts=[{}])
            for channel in range(20)
            for name, store in (("a", first), ("b", second))
        ]
        results = await asyncio.gather(*claims)
        assert sum(created for _, created in results) == 20
        owners = {delivery.channel_id: delivery.nonce for delivery, _ in results}
        assert len(owners) == 20
        for channel, nonce in owners.items():
            stored = await second.get_delivery(channel, "digest", DAY.isoformat())
            assert stored is not None and stored.nonce == nonce
    finally:
        await first.close()
        await second.close()


# ---------------------------------------------------------------- the throwaway server itself


def test_missing_server_binaries_fail_loudly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BIN_ENV, str(tmp_path))
    with pytest.raises(PostgresUnavailable, match=r"pip install '\.\[dev\]'"):
        find_bin_dir()


def test_the_session_server_runs_unprivileged(postgres_server: PostgresServer) -> None:
    owner = postgres_server.data_dir.stat().st_uid
    assert owner == (pwd.getpwnam("nobody").pw_uid if os.geteuid() == 0 else os.geteuid())
    assert owner != 0


@pytest.mark.skipif(os.geteuid() != 0, reason="only root has binaries that nobody may not reach")
def test_under_root_binaries_out_of_nobodys_reach_are_copied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A copy of the installed package (and its vendored libraries) inside a folder only root may enter.
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    package = find_bin_dir().parent.parent
    shutil.copytree(package, private / package.name, ignore=shutil.ignore_patterns("include", "*.py*"))
    shutil.copytree(package.parent / f"{package.name}.libs", private / f"{package.name}.libs")
    monkeypatch.setenv(BIN_ENV, str(private / package.name / "pginstall" / "bin"))
    server = start_server()
    try:
        assert server.bin_dir.is_relative_to(server.root)
        with psycopg.connect(server.url()) as conn:
            assert conn.execute("SELECT current_setting('server_version_num')::int >= 150000").fetchone() == (True,)
    finally:
        server.stop()


async def test_a_server_older_than_supported_is_named(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.store.postgres.base as postgres_base

    monkeypatch.setattr(postgres_base, "MIN_SERVER_VERSION", 990000)
    with pytest.raises(StoreError, match=r"runs PostgreSQL 1\d\.\d+; Paperboy needs 15 or newer"):
        await PostgresStore.open(postgres_url)
    monkeypatch.undo()
    store = await PostgresStore.open(postgres_url)
    try:
        monkeypatch.setattr(postgres_base, "MIN_SERVER_VERSION", 990000)
        assert any("is older than the 15 Paperboy needs" in problem for problem in await store.check())
    finally:
        await store.close()


def test_a_pool_with_no_free_connection_is_busy_and_urls_are_shown_without_credentials() -> None:
    error = classify(psycopg_pool.PoolTimeout("couldn't get a connection after 30.00 sec"), "postgresql://db:5432/x")
    assert type(error) is DatabaseBusy and "no free connection to postgresql://db:5432/x" in str(error)
    assert display_url("postgresql://bot:hunter2@db.internal:6543/paperboy") == "postgresql://db.internal:6543/paperboy"
    assert display_url("postgresql://bot@db.internal/paperboy") == "postgresql://db.internal:5432/paperboy"
    assert "hunter2" not in display_url("postgresql://bot:hunter2@[bad")


# ---------------------------------------------------------------- one paper seen by both sources

MERGED_ID = "2606.04242"
ANNOUNCED = DAY - dt.timedelta(days=1)


def hugging_face_side() -> Paper:
    return paper(MERGED_ID, upvotes=42, title="Sparse experts (as Hugging Face had it)")


def arxiv_side(version: int = 2) -> Paper:
    return Paper(
        id=MERGED_ID,
        title=f"Sparse Experts, version {version}",
        authors=("Ada Lovelace", "Tri Dao", "Grace Hopper"),
        summary="The abstract of the latest version.",
        published=dt.date(2026, 6, 9),
        day=ANNOUNCED,
        categories=("cs.CL", "cs.LG"),
        sources=("arxiv",),
        comments="12 pages",
        journal_ref="ACL 2026",
        version=version,
        updated=dt.date(2026, 6, 9) + dt.timedelta(days=version),
    )


def merged_paper() -> Paper:
    hf, arxiv = hugging_face_side(), arxiv_side()
    return dataclasses.replace(
        hf,
        title=arxiv.title,
        authors=arxiv.authors,
        summary=arxiv.summary,
        published=arxiv.published,
        categories=arxiv.categories,
        sources=("huggingface", "arxiv"),
        comments=arxiv.comments,
        journal_ref=arxiv.journal_ref,
        version=arxiv.version,
        updated=arxiv.updated,
    )


async def save_from(store: AnyStore, source: str, arxiv: Paper | None = None) -> None:
    if source == "huggingface":
        await store.upsert_papers([hugging_face_side()], day=DAY)
    else:
        listing = ArxivListing("cs.CL", ANNOUNCED, (MERGED_ID,), ("new",))
        await store.upsert_papers([arxiv or arxiv_side()], listings=[listing])


@pytest.mark.parametrize("order", [("huggingface", "arxiv"), ("arxiv", "huggingface")])
async def test_a_paper_seen_by_both_sources_is_one_row_whose_fields_merge(
    store: AnyStore, order: tuple[str, str]
) -> None:
    for source in order:
        await save_from(store, source)
    merged = await store.get_paper(MERGED_ID)
    assert merged == merged_paper()
    assert merged is not None and merged.primary_category == "cs.CL"
    assert (await store.counts()).papers == 1
    assert await store.listing_papers("cs.CL", ANNOUNCED) == [merged]
    assert [p.upvotes for p in await store.papers_of_day(DAY)] == [42]
    assert await store.latest_listing_day("cs.CL", DAY) == ANNOUNCED
    assert await store.latest_listing_day("cs.CL", ANNOUNCED - dt.timedelta(days=1)) is None
    assert await store.listing_papers("cs.LG", ANNOUNCED) == []


async def test_search_finds_the_merged_row_by_the_title_it_kept(store: AnyStore) -> None:
    # arXiv's title stays when Hugging Face re-saves the paper under its own: search must follow the row.
    await save_from(store, "arxiv")
    await save_from(store, "huggingface")
    kept = query_spec(store, parse("version"), sort="top", limit=10)
    dropped = query_spec(store, parse("had"), sort="top", limit=10)
    assert [p.id for p in await store.search_page(kept)] == [MERGED_ID]
    assert await store.search_page(dropped) == []


async def test_refreshing_either_source_keeps_what_the_other_brought(store: AnyStore) -> None:
    await save_from(store, "arxiv")
    await save_from(store, "huggingface")
    upvoted = dataclasses.replace(hugging_face_side(), upvotes=50)
    result = await store.upsert_papers([upvoted], day=DAY)
    assert result.changed == (MERGED_ID,)
    assert await store.get_paper(MERGED_ID) == dataclasses.replace(merged_paper(), upvotes=50)
    # An arXiv refresh neither resets the upvotes nor counts as an upvote change.
    again = await store.upsert_papers([arxiv_side()])
    assert again.changed == () and again.unchanged == 1
    assert await store.get_paper(MERGED_ID) == dataclasses.replace(merged_paper(), upvotes=50)


async def test_an_older_arxiv_version_does_not_replace_a_newer_one(store: AnyStore) -> None:
    await save_from(store, "huggingface")
    await save_from(store, "arxiv", arxiv_side(version=3))
    await save_from(store, "arxiv", arxiv_side(version=1))
    stored = await store.get_paper(MERGED_ID)
    assert stored is not None and (stored.version, stored.title) == (3, "Sparse Experts, version 3")


async def test_a_listing_is_replaced_whole_and_follows_its_papers(store: AnyStore) -> None:
    first = [dataclasses.replace(arxiv_side(), id=f"2606.0500{n}") for n in range(3)]
    ids = tuple(p.id for p in first)
    await store.upsert_papers(first, listings=[ArxivListing("cs.CL", ANNOUNCED, ids, ("new", "cross", "new"))])
    assert [p.id for p in await store.listing_papers("cs.CL", ANNOUNCED)] == list(ids)
    reordered = (ids[2], ids[0])
    await store.upsert_papers([], listings=[ArxivListing("cs.CL", ANNOUNCED, reordered, ("new", "new"))])
    assert [p.id for p in await store.listing_papers("cs.CL", ANNOUNCED)] == list(reordered)
    assert await store.delete_paper(ids[2])
    assert [p.id for p in await store.listing_papers("cs.CL", ANNOUNCED)] == [ids[0]]


async def test_arxiv_digest_settings_round_trip(store: AnyStore) -> None:
    settings = DigestSettings(guild_id=1, channel_id=77, source="arxiv", category="cs.CL", query="parsing")
    saved = await store.save_digest_settings(settings)
    assert (saved.source, saved.category, saved.query) == ("arxiv", "cs.CL", "parsing")
    plain = await store.save_digest_settings(DigestSettings(guild_id=1, channel_id=78))
    assert (plain.source, plain.category, plain.query) == ("huggingface", None, None)


async def test_an_arxiv_listing_counts_as_a_first_listing_for_alerts(store: AnyStore) -> None:
    start = clock_of(store).now().isoformat(timespec="seconds")
    await save_from(store, "arxiv")
    assert [p.id for _, p in await store.first_listed_since(start)] == [MERGED_ID]
    assert await store.last_listed_at() == start
    # Re-listed later, and featured on Hugging Face later still: still first listed at the start.
    clock_of(store).advance(dt.timedelta(hours=2))
    later = clock_of(store).now().isoformat(timespec="seconds")
    await save_from(store, "arxiv")
    await save_from(store, "huggingface")
    assert [(first, p.id) for first, p in await store.first_listed_since(start)] == [(start, MERGED_ID)]
    assert await store.first_listed_since(later) == []
    assert await store.last_listed_at() == later


async def test_scrape_runs_can_be_read_per_source(store: AnyStore) -> None:
    await store.record_scrape_run(dataclasses.replace(run(DAY), source="huggingface", outcome="failed"))
    await store.record_scrape_run(dataclasses.replace(run(DAY), source="arxiv"))
    last = await store.last_scrape_run(DAY)
    assert last is not None and last.source == "arxiv"
    hf = await store.last_scrape_run(DAY, source="huggingface")
    assert hf is not None and hf.outcome == "failed"
    assert [r.source for r in await store.scrape_runs(source="arxiv")] == ["arxiv"]
    assert await store.last_scrape_run(DAY + dt.timedelta(days=1), source="arxiv") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("category:cs.CL", ["2606.00001", "2606.00002"]),
        ("category:cs.*", ["2606.00001", "2606.00002", "2606.00003"]),
        ("-category:cs.CL", ["2606.00003", "2606.00004"]),
        ("category:hep-th", ["2606.00004"]),
    ],
)
async def test_category_filters_select_the_same_papers_on_both_backends(
    store: AnyStore, text: str, expected: list[str]
) -> None:
    from bot.query import parse
    from bot.store.postgres.arxiv import category_condition
    from bot.store.search import SearchSpec

    shelves = {"2606.00001": ("cs.CL",), "2606.00002": ("cs.LG", "cs.CL"), "2606.00003": ("cs.CV",)}
    shelves["2606.00004"] = ("hep-th",)
    await store.upsert_papers([dataclasses.replace(paper(pid), categories=cats) for pid, cats in shelves.items()])
    (only,) = parse(text).filters
    if isinstance(store, Store):
        found = [p.id for p in await store.search_page(SearchSpec(filters=(only,), sort="new", limit=10))]
    else:
        condition, params = category_condition(only.op, only.value)
        rows = await store._fetchall(f"SELECT p.id FROM papers p WHERE {condition}", params)
        found = [str(row[0]) for row in rows]
    assert sorted(found) == expected
