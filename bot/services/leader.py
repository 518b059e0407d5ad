"""Leadership: of all the processes sharing a database, exactly one runs the scheduled work.

Scheduled work (the scraper, the digest scheduler, the alert pipeline, and the index upkeep that follows a
scrape) registers here instead of starting itself. With one process (SQLite) that process leads from the start
and the work starts at once, as it always did. With Postgres each process keeps a dedicated connection that
tries to take an advisory lock every few seconds; its holder leads and starts the work, and a leader whose
connection fails stops the work at once, since another process may take the lock as soon as Postgres sees
the connection gone. The outbox (intent, nonce, history check) lets the new leader finish what was in flight.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from typing import Protocol

from bot.clock import Clock
from bot.models import ProcessStatus
from bot.services.tasks import BackgroundTasks, stop_loop
from bot.store.errors import StoreError

log = logging.getLogger(__name__)

# How often a follower tries the lock (and every process marks itself alive); a dead leader's successor
# starts within this after Postgres notices the leader's connection gone (at once for a killed process).
RETRY_SECONDS = 2.0
# How long one check of the lock's connection (heartbeat, then the wait) may overrun before it counts as lost.
CHECK_TIMEOUT = 8.0


class LeaderLock(Protocol):
    """The database side of leadership (bot.store.postgres.leader.PostgresLeaderLock)."""

    async def connect(self, process_id: str, name: str, shard_ids: tuple[int, ...], shard_count: int) -> None:
        """Open the dedicated connection and register this process."""
        ...

    async def try_acquire(self) -> bool:
        """Take the lock if free; True when this process holds it."""
        ...

    async def wait_for_changes(self, wait_seconds: float) -> bool:
        """Mark this process alive and wait up to `wait_seconds` for a settings change (True if one came)."""
        ...

    async def processes(self) -> list[ProcessStatus]:
        """The processes alive lately, the leader marked."""
        ...

    async def close(self) -> None:
        """Close the connection, releasing the lock."""
        ...


@dataclasses.dataclass(frozen=True)
class ScheduledWork:
    """A service only the leader runs: how to start it, stop it (with a grace in seconds) and wake it."""

    name: str
    start: Callable[[], None]
    stop: Callable[[float], Awaitable[None]]
    settings_changed: Callable[[], None] | None = None


def process_name() -> str:
    """How this process is named to the others: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Leadership:
    """Starts the registered work while this process leads and stops it the moment it no longer does."""

    def __init__(
        self, lock: LeaderLock | None, clock: Clock, *, name: str | None = None, retry: float = RETRY_SECONDS
    ) -> None:
        self.lock = lock
        self.clock = clock
        self.name = name or process_name()
        self.id = uuid.uuid4().hex  # the registry's key: names repeat across containers (same host name, pid 1)
        self.retry = retry
        self.started_at = clock.now()
        # Without a lock (SQLite) there is no other process: this one leads from the start.
        self.is_leader = lock is None
        self.leader_since: dt.datetime | None = self.started_at if lock is None else None
        self.terms = 0  # how many times this process became the leader through the lock
        self.shard_ids: tuple[int, ...] = (0,)
        self.shard_count = 1
        self.tasks = BackgroundTasks("leadership")
        self._works: dict[str, ScheduledWork] = {}
        self._running: set[str] = set()
        self._campaign: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ work

    def add(self, work: ScheduledWork) -> None:
        """Register scheduled work; it starts now if this process leads, else when it becomes the leader."""
        self._works[work.name] = work
        if self.is_leader:
            self._start(work)

    async def remove(self, name: str, grace: float) -> None:
        """Forget scheduled work, stopping it (waiting up to `grace` s for work under way) if it runs."""
        work = self._works.pop(name, None)
        if work is not None and name in self._running:
            self._running.discard(name)
            await work.stop(grace)

    @property
    def running(self) -> list[str]:
        """The names of the work running in this process."""
        return sorted(self._running)

    def _start(self, work: ScheduledWork) -> None:
        try:
            work.start()
        except Exception:
            log.exception("could not start %s", work.name)
            return
        self._running.add(work.name)

    async def _stop_all(self, grace: float) -> None:
        running = [self._works[name] for name in self._running if name in self._works]
        self._running.clear()
        results = await asyncio.gather(*(work.stop(grace) for work in running), return_exceptions=True)
        for work, result in zip(running, results, strict=True):
            if isinstance(result, BaseException):
                log.error("stopping %s failed", work.name, exc_info=result)

    # ------------------------------------------------------------------ the lock

    def begin(self, shard_ids: tuple[int, ...], shard_count: int) -> None:
        """Start competing for the lock (a no-op for the only process), announcing these shards."""
        self.shard_ids, self.shard_count = shard_ids, shard_count
        if self.lock is not None and self._campaign is None:
            self._campaign = self.tasks.spawn(self._campaign_loop(self.lock), name="leader-campaign")

    async def close(self) -> None:
        """Stop competing, stop any work still running and release the lock."""
        await stop_loop(self._campaign)
        self._campaign = None
        await self._stop_all(0.0)
        if self.lock is not None:
            await self.lock.close()
            self.is_leader = False

    async def _campaign_loop(self, lock: LeaderLock) -> None:
        connected = False
        while True:
            try:
                if not connected:
                    await lock.connect(self.id, self.name, self.shard_ids, self.shard_count)
                    connected = True
                    await self._check_shards(lock)
                if not self.is_leader and await lock.try_acquire():
                    self._take_over()
                # A check that hangs (the network dropped) counts as lost well before the server's keepalives
                # free the lock for another process (about 25 s): the old leader has stopped by then.
                async with asyncio.timeout(self.retry + CHECK_TIMEOUT):
                    changed = await lock.wait_for_changes(self.retry)
                if changed and self.is_leader:
                    self._settings_changed()
            except Exception as exc:  # whatever failed, the lock can no longer be trusted: act as if it were lost
                if not isinstance(exc, StoreError | OSError):
                    log.exception("leader lock check failed")
                connected = False
                await self._step_down(str(exc))
                await lock.close()
                await asyncio.sleep(self.retry)  # the database is unreachable: try again in a moment

    async def _check_shards(self, lock: LeaderLock) -> None:
        """Say so when another live process runs one of these shards (both would answer its interactions)."""
        for other in await lock.processes():
            if other.this:
                continue
            if other.shard_count != self.shard_count:
                log.error(
                    "process %s splits the bot into %d shards, this one into %d: give every process the same "
                    "shard_count", other.name, other.shard_count, self.shard_count,
                )  # fmt: skip
            elif shared := sorted(set(other.shard_ids) & set(self.shard_ids)):
                log.error(
                    "process %s also runs shard(s) %s: each shard must run in exactly one process",
                    other.name, ", ".join(map(str, shared)),
                )  # fmt: skip

    def _take_over(self) -> None:
        self.is_leader = True
        self.leader_since = self.clock.now()
        self.terms += 1
        log.info("%s is now the leader: it runs the scraper, digests, alerts and index upkeep", self.name)
        for work in list(self._works.values()):
            if work.name not in self._running:
                self._start(work)

    async def _step_down(self, reason: str) -> None:
        if not self.is_leader:
            log.warning("leader lock connection failed (%s); retrying in %.0f s", reason, self.retry)
            return
        self.is_leader = False
        self.leader_since = None
        log.error("lost the leader lock's connection (%s): scheduled work stopped; another process takes over", reason)
        await self._stop_all(0.0)

    def _settings_changed(self) -> None:
        for work in list(self._works.values()):
            if work.settings_changed is not None and work.name in self._running:
                work.settings_changed()

    # ------------------------------------------------------------------ status

    def this_process(self) -> ProcessStatus:
        """This process as the status shows it."""
        return ProcessStatus(
            name=self.name,
            shard_ids=self.shard_ids,
            shard_count=self.shard_count,
            started_at=self.started_at,
            seen_at=self.clock.now(),
            leader=self.is_leader,
            this=True,
        )

    async def processes(self) -> list[ProcessStatus]:
        """Every process sharing the database (just this one without a lock, or when the database fails)."""
        if self.lock is None:
            return [self.this_process()]
        try:
            found = await self.lock.processes()
        except StoreError as exc:
            log.warning("could not list the processes: %s", exc)
            return [self.this_process()]
        return found if any(p.this for p in found) else [*found, self.this_process()]


def leadership_for(database_url: str, clock: Clock) -> Leadership:
    """The leadership of a process on this database: the lock on Postgres, sole leader on SQLite."""
    if not database_url:
        return Leadership(None, clock)
    from bot.store.postgres.leader import PostgresLeaderLock

    return Leadership(PostgresLeaderLock(database_url), clock)
