"""Leadership over a real Postgres: one leader among processes, failover when its connection dies, settings
changes reaching the leader at once; and the sole process of a SQLite deployment leading from the start."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator

import psycopg
import pytest

from bot.clock import SystemClock
from bot.models import DigestSettings, ProcessStatus
from bot.services.digests import DigestScheduler
from bot.services.leader import Leadership, ScheduledWork
from bot.services.status import describe_shards, process_fields
from bot.store.postgres import PostgresStore
from bot.store.postgres.leader import PostgresLeaderLock
from tests.fakes.harness import BotHarness, eventually, wait_until
from tests.fakes.transport import MemoryTransport

RETRY = 0.2  # seconds between a follower's tries, short for the tests


class Recorder:
    """Scheduled work that only records when it was started and stopped."""

    def __init__(self, leadership: Leadership, name: str = "digests") -> None:
        self.events: list[str] = []
        self.wakes = 0
        leadership.add(ScheduledWork(name, start=self._start, stop=self._stop, settings_changed=self._wake))

    def _start(self) -> None:
        self.events.append("start")

    async def _stop(self, grace: float) -> None:
        self.events.append(f"stop {grace:g}")

    def _wake(self) -> None:
        self.wakes += 1

    @property
    def running(self) -> bool:
        return bool(self.events) and self.events[-1] == "start"


@pytest.fixture
async def store(postgres_url: str) -> AsyncIterator[PostgresStore]:
    opened = await PostgresStore.open(postgres_url)
    try:
        yield opened
    finally:
        await opened.close()


def member(url: str, name: str, shards: tuple[int, ...]) -> Leadership:
    leadership = Leadership(PostgresLeaderLock(url), SystemClock(), name=name, retry=RETRY)
    leadership.begin(shards, 3)
    return leadership


async def backend_pid(url: str, name: str) -> int:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        row = await (await conn.execute("SELECT backend_pid FROM processes WHERE name = %s", (name,))).fetchone()
    assert row is not None
    return int(row[0])


async def terminate(url: str, pid: int) -> None:
    """What the leader's death looks like to Postgres: its connection ends."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("SELECT pg_terminate_backend(%s)", (pid,))


async def test_one_leader_and_a_new_one_when_its_connection_dies(store: PostgresStore, postgres_url: str) -> None:
    first = member(postgres_url, "first", (0,))
    first_work = Recorder(first)
    await wait_until(lambda: first.is_leader, what="the first process to lead")
    second, third = member(postgres_url, "second", (1,)), member(postgres_url, "third", (2,))
    second_work, third_work = Recorder(second), Recorder(third)
    everyone = (first, second, third)
    try:

        async def all_registered() -> bool:
            return len(await first.processes()) == 3

        await eventually(all_registered, what="three registered processes")
        listed = sorted(await second.processes(), key=lambda p: p.name)  # the two followers start together
        assert [(p.name, p.leader, p.this) for p in listed] == [
            ("first", True, False),
            ("second", False, True),
            ("third", False, False),
        ]
        assert [describe_shards(p) for p in listed] == ["shard 0 of 3", "shard 1 of 3", "shard 2 of 3"]
        assert not second_work.events and not third_work.events
        # The leader's connection dies: it stops its work at once, and one of the others takes over.
        await terminate(postgres_url, await backend_pid(postgres_url, "first"))
        await wait_until(lambda: first_work.events == ["start", "stop 0"], what="the old leader to stop its work")
        await wait_until(lambda: second.is_leader or third.is_leader, timeout=30, what="a new leader")
        assert sum(m.is_leader for m in everyone) == 1
        assert [second_work.running, third_work.running] == [second.is_leader, third.is_leader]
        # The old leader reconnects as a follower and does not start its work again.
        await eventually(all_registered, what="the old leader registered again")
        assert not first.is_leader and first_work.events == ["start", "stop 0"]
        fields = process_fields(await first.processes(), SystemClock().now())
        assert fields["Leader"] in ("second", "third")
        assert "first (this one): shard 0 of 3, follower" in str(fields["Processes"])
    finally:
        for leadership in everyone:
            await leadership.close()
    assert not second_work.running and not third_work.running


async def test_two_processes_running_one_shard_are_reported(
    store: PostgresStore, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    first = member(postgres_url, "first", (0, 1))
    try:
        await wait_until(lambda: first.is_leader, what="the first process to lead")
        second = member(postgres_url, "second", (1, 2))
        try:
            await wait_until(
                lambda: "process first also runs shard(s) 1: each shard must run in exactly one process" in caplog.text,
                what="the overlap to be logged",
            )
        finally:
            await second.close()
    finally:
        await first.close()


async def test_a_settings_change_made_anywhere_wakes_the_leaders_work(store: PostgresStore, postgres_url: str) -> None:
    leader = member(postgres_url, "leader", (0,))
    work = Recorder(leader)
    try:
        await wait_until(lambda: leader.is_leader, what="leadership")

        async def registered() -> bool:
            return len(await leader.processes()) == 1

        await eventually(registered, what="the leader's LISTEN to be in place")
        before = work.wakes
        # Written through another connection (the store's pool), as a follower's /digest set would.
        await store.save_digest_settings(DigestSettings(guild_id=1, channel_id=2, time=dt.time(9), timezone="UTC"))
        await wait_until(lambda: work.wakes > before, what="the leader to be told")
    finally:
        await leader.close()


def due_now(channel_id: int, now: dt.datetime) -> DigestSettings:
    return DigestSettings(
        guild_id=1,
        channel_id=channel_id,
        time=now.time().replace(second=0, microsecond=0),
        timezone="UTC",
        effective_from=now - dt.timedelta(minutes=1),
    )


async def test_digests_set_through_a_follower_are_posted_by_the_leader_even_mid_pass(postgres_url: str) -> None:
    clock = SystemClock()
    leader_store, follower_store = await PostgresStore.open(postgres_url), await PostgresStore.open(postgres_url)
    transport = MemoryTransport()
    scheduler = DigestScheduler(leader_store, transport, clock)
    told: list[int] = []

    def settings_changed() -> None:
        told.append(1)
        scheduler.wake()

    leader = Leadership(PostgresLeaderLock(postgres_url), clock, name="leader", retry=RETRY)
    leader.add(ScheduledWork("digests", start=scheduler.start, stop=scheduler.stop, settings_changed=settings_changed))
    leader.begin((0,), 1)
    try:
        await wait_until(lambda: leader.is_leader and "digests" in leader.running, what="the scheduler to run")

        async def asleep() -> bool:
            # The first pass found nothing due: only the scheduling loop is left, asleep.
            return len(await leader.processes()) == 1 and len(scheduler.tasks.running) == 1

        await eventually(asleep, what="the scheduler's first pass")
        transport.hold = asyncio.Event()  # the leader's posts wait: a pass stays under way
        await follower_store.save_digest_settings(due_now(41, clock.now()))
        await wait_until(lambda: transport.waiting == 1, timeout=10, what="the leader to start posting")
        # A second digest is set through the follower while the leader is still posting the first.
        before = len(told)
        await follower_store.save_digest_settings(due_now(42, clock.now()))
        await wait_until(lambda: len(told) > before, timeout=10, what="the leader to be told")
        transport.hold.set()
        await wait_until(lambda: transport.in_channel(42) != [], timeout=10, what="the second digest")
    finally:
        await leader.close()
        await leader_store.close()
        await follower_store.close()
    assert [len(transport.in_channel(c)) for c in (41, 42)] == [1, 1]


async def test_the_only_process_of_a_sqlite_deployment_leads_from_the_start(harness: BotHarness) -> None:
    leadership = harness.running.leadership
    assert leadership.lock is None and leadership.is_leader
    assert leadership.running == ["alerts", "digests", "scraper"]
    result = await harness.discord.slash("paperboy", "status", as_user=harness.member, channel=harness.channel)
    text = result.message.text if result.message else ""
    assert f"{leadership.name} (this process)" in text
    assert f"{leadership.name} (this one): shard 0 of 1, leader" in text


class HangingLock:
    """A lock whose connection check can be made to hang, as when the network drops without a reset."""

    def __init__(self) -> None:
        self.hanging = False
        self.closed = 0
        self.changed = asyncio.Event()  # never set: no settings change in this test

    async def connect(self, process_id: str, name: str, shard_ids: tuple[int, ...], shard_count: int) -> None:
        return None

    async def try_acquire(self) -> bool:
        return True

    async def wait_for_changes(self, wait_seconds: float) -> bool:
        if self.hanging:
            await asyncio.Event().wait()  # a heartbeat that never gets an answer
        try:
            async with asyncio.timeout(wait_seconds):
                await self.changed.wait()
        except TimeoutError:
            return False
        return True

    async def processes(self) -> list[ProcessStatus]:
        return []

    async def close(self) -> None:
        self.closed += 1


async def test_a_leader_whose_lock_check_hangs_stops_its_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.services.leader.CHECK_TIMEOUT", 0.3)
    lock = HangingLock()
    leadership = Leadership(lock, SystemClock(), name="hung", retry=RETRY)
    work = Recorder(leadership)
    leadership.begin((0,), 1)
    try:
        await wait_until(lambda: work.running, what="the work to start")
        lock.hanging = True
        # The work stops first, then the hung connection is closed: wait for both.
        await wait_until(lambda: work.events == ["start", "stop 0"] and lock.closed >= 1, what="the work to stop")
        assert not leadership.is_leader and lock.closed == 1
        lock.hanging = False
        await wait_until(lambda: leadership.is_leader and work.running, what="leadership to come back")
    finally:
        await leadership.close()
