"""The leader's advisory lock, the process registry and settings notifications, on one dedicated connection.

Every `paperboy run` process sharing a Postgres database keeps one connection of its own (outside the pool):
it holds the row that says which shards the process runs and when it was last alive, listens for settings
changes, and tries to take the session-level advisory lock that makes its holder the leader. When a process
dies its connection closes and Postgres releases the lock at once, so another process can take it.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import psycopg

from bot.models import ProcessStatus
from bot.store.errors import StoreError
from bot.store.postgres.base import display_url
from bot.store.postgres.errors import classify

log = logging.getLogger(__name__)

# The two-key form of the advisory lock (classid, objid): "pape" and 2, apart from the migration lock,
# which uses the one-key form (objsubid 1 in pg_locks, 2 for this form).
LOCK_CLASS = 0x70617065
LOCK_OBJECT = 2
# What the settings triggers (migration processes) send their notifications on.
SETTINGS_CHANNEL = "paperboy_settings"
# TCP keepalives on the lock's connection, both ends: a leader whose machine vanishes without closing its
# connection loses the lock within about 25 s (10 s idle, then 3 probes 5 s apart), not hours later.
KEEPALIVE_IDLE, KEEPALIVE_INTERVAL, KEEPALIVE_COUNT = 10, 5, 3
SERVER_KEEPALIVES = (
    f"-c tcp_keepalives_idle={KEEPALIVE_IDLE} -c tcp_keepalives_interval={KEEPALIVE_INTERVAL} "
    f"-c tcp_keepalives_count={KEEPALIVE_COUNT}"
)
# A process whose heartbeat is older than this is shown as gone; after FORGET_AFTER its row is deleted.
ALIVE_WITHIN = dt.timedelta(seconds=60)
FORGET_AFTER = dt.timedelta(days=1)

_HOLDER = (
    "SELECT l.pid FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
    "WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database() "
    "AND l.classid = %s AND l.objid = %s AND l.objsubid = 2"
)


class PostgresLeaderLock:
    """One process's dedicated connection: its registry row, LISTEN for settings, and the leader lock."""

    def __init__(self, url: str) -> None:
        self._url = url
        self.where = display_url(url)
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._id = ""

    async def connect(self, process_id: str, name: str, shard_ids: tuple[int, ...], shard_count: int) -> None:
        """Open the connection, listen for settings changes and register (or refresh) this process's row."""
        try:
            conn = await psycopg.AsyncConnection.connect(
                self._url,
                autocommit=True,
                connect_timeout=10,
                options=SERVER_KEEPALIVES,
                keepalives=1,
                keepalives_idle=KEEPALIVE_IDLE,
                keepalives_interval=KEEPALIVE_INTERVAL,
                keepalives_count=KEEPALIVE_COUNT,
            )
        except psycopg.Error as exc:
            raise classify(exc, self.where) from exc
        self._conn, self._id = conn, process_id
        ids = ",".join(str(shard) for shard in shard_ids)
        await self._run(f"LISTEN {SETTINGS_CHANNEL}")
        await self._run("DELETE FROM processes WHERE heartbeat_at < now() - %s", (FORGET_AFTER,))
        await self._run(
            "INSERT INTO processes (id, name, backend_pid, shard_ids, shard_count) "
            "VALUES (%s, %s, pg_backend_pid(), %s, %s) "
            "ON CONFLICT (id) DO UPDATE SET backend_pid = excluded.backend_pid, heartbeat_at = now()",
            (process_id, name, ids, shard_count),
        )

    async def try_acquire(self) -> bool:
        """Take the leader lock if nobody holds it; True when this connection holds it (now or already)."""
        row = await self._run("SELECT pg_try_advisory_lock(%s, %s)", (LOCK_CLASS, LOCK_OBJECT))
        return bool(row and row[0])

    async def wait_for_changes(self, wait_seconds: float) -> bool:
        """Mark this process alive, then wait up to `wait_seconds` for a settings change; True if one came.

        A lost connection raises StoreError at once (the wait ends as soon as the socket closes).
        """
        await self._run("UPDATE processes SET heartbeat_at = now() WHERE id = %s", (self._id,))
        conn = self._connection()
        changed = False
        try:
            async for _ in conn.notifies(timeout=wait_seconds, stop_after=1):
                changed = True
        except psycopg.Error as exc:
            raise classify(exc, self.where) from exc
        return changed

    async def processes(self) -> list[ProcessStatus]:
        """The processes alive (connected, heartbeat recent), the leader (the lock's holder) marked, oldest first."""
        rows = await self._fetchall(
            f"SELECT p.id, p.name, p.shard_ids, p.shard_count, p.started_at, p.heartbeat_at, "
            f"p.backend_pid IN ({_HOLDER}) FROM processes p WHERE p.heartbeat_at >= now() - %s "
            # A process that died has no connection left, even if its heartbeat is recent.
            "AND p.backend_pid IN (SELECT pid FROM pg_stat_activity) "
            "ORDER BY p.started_at, p.name",
            (LOCK_CLASS, LOCK_OBJECT, ALIVE_WITHIN),
        )
        return [
            ProcessStatus(
                name=name,
                shard_ids=tuple(int(shard) for shard in ids.split(",") if shard),
                shard_count=int(count),
                started_at=started,
                seen_at=seen,
                leader=bool(leader),
                this=process_id == self._id,
            )
            for process_id, name, ids, count, started, seen, leader in rows
        ]

    async def close(self) -> None:
        """Close the connection (which releases the lock if held); safe to call when already closed."""
        conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            try:
                await conn.close()
            except psycopg.Error as exc:
                log.debug("closing the leader connection: %s", exc)

    def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is None or self._conn.closed:
            raise StoreError(f"the leader connection to {self.where} is closed")
        return self._conn

    async def _run(self, sql: str, params: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
        conn = self._connection()
        try:
            cursor = await conn.execute(sql, params or None)
            return await cursor.fetchone() if cursor.description else None
        except psycopg.Error as exc:
            raise classify(exc, self.where) from exc

    async def _fetchall(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        # A connection of its own: the dedicated one may be waiting for notifications for a few seconds.
        try:
            async with await psycopg.AsyncConnection.connect(self._url, autocommit=True, connect_timeout=10) as conn:
                cursor = await conn.execute(sql, params)
                return await cursor.fetchall()
        except psycopg.Error as exc:
            raise classify(exc, self.where) from exc
