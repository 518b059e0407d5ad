"""The Postgres connection pool: numbered migrations in a schema_version table, transactions, check, backup."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, Self

import psycopg
import psycopg_pool
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from bot.clock import Clock, SystemClock
from bot.store.base import latest_version as latest_packaged_version
from bot.store.base import load_migrations
from bot.store.errors import StoreError
from bot.store.postgres.errors import classify

log = logging.getLogger(__name__)

_MIGRATIONS_PACKAGE = "bot.store.postgres"
# Key of the transaction-level advisory lock that lets one process at a time migrate the schema.
_MIGRATE_LOCK = 0x70617065_72626F79
# The oldest PostgreSQL release supported; older ones are refused rather than half working.
MIN_SERVER_VERSION = 150000
_TABLES = ("papers", "daily_entries", "digest_settings", "subscriptions", "deliveries", "scrape_runs", "meta")


def latest_version() -> int:
    """The Postgres schema version this code expects."""
    return latest_packaged_version(_MIGRATIONS_PACKAGE)


def _version_text(number: int) -> str:
    """PostgreSQL's version number (180006) as people write it (18.6)."""
    return f"{number // 10000}.{number % 10000}"


def display_url(url: str) -> str:
    """The URL as host:port/database for messages, without user or password."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "the configured Postgres database"
    host, port, name = parts.get("host", "localhost"), parts.get("port", "5432"), parts.get("dbname", "")
    return f"postgresql://{host}:{port}/{name}"


class PostgresStoreBase:
    """Owns a psycopg connection pool; subclasses add the typed methods."""

    def __init__(self, pool: psycopg_pool.AsyncConnectionPool, url: str, clock: Clock | None = None) -> None:
        self._pool = pool
        self._url = url
        # Named like the SQLite store's file path: it is what messages call the database.
        self.path = display_url(url)
        # Where rows get their timestamps: the same clock as the loops that read them.
        self.clock: Clock = clock or SystemClock()
        # Bumped whenever paper rows change through this Store, so in-memory indexes know to refresh.
        self.papers_version = 0

    @classmethod
    async def open(cls, url: str, *, migrate: bool = True, clock: Clock | None = None, max_size: int = 10) -> Self:
        """Connect to `url` (and by default upgrade its schema); rows are stamped with `clock` (the system's)."""
        where = display_url(url)
        try:
            # One direct connection first: a wrong URL fails at once with the server's reason.
            probe = await psycopg.AsyncConnection.connect(url, connect_timeout=10)
            server_version = probe.info.server_version
            await probe.close()
        except psycopg.Error as exc:
            raise classify(exc, where) from exc
        if server_version < MIN_SERVER_VERSION:
            raise StoreError(f"{where} runs PostgreSQL {_version_text(server_version)}; Paperboy needs 15 or newer")
        pool = psycopg_pool.AsyncConnectionPool(
            url, min_size=1, max_size=max_size, open=False, timeout=30, kwargs={"autocommit": True}
        )
        store = cls(pool, url, clock)
        try:
            await pool.open(wait=True, timeout=30)
            if migrate:
                await store.migrate()
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            await pool.close()
            raise classify(exc, where) from exc
        except BaseException:
            await pool.close()
            raise
        return store

    def now_text(self) -> str:
        """Now by the store's clock as ISO text, the form every stored instant takes."""
        return self.clock.now().isoformat(timespec="seconds")

    async def close(self) -> None:
        """Wait for the connections in use to come back, then close them all."""
        await self._pool.close()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A connection inside one transaction; committed at the end, rolled back whole on any error."""
        async with self._pool.connection() as conn, conn.transaction():
            yield conn

    async def _fetchone(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(sql, params)
            return await cursor.fetchone()

    async def _fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(sql, params)
            return await cursor.fetchall()

    async def _execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one write in its own transaction; the number of rows it touched."""
        # The pool's connections autocommit: one statement is its own transaction, without BEGIN/COMMIT trips.
        async with self._pool.connection() as conn:
            cursor = await conn.execute(sql, params)
            return cursor.rowcount

    async def check_writable(self) -> None:
        """Raise StoreError now if the database cannot take writes (read-only replica or user)."""
        # An UPDATE matching no row still needs write access to the table: rolled back, changes nothing.
        async with self._pool.connection() as conn, conn.transaction(force_rollback=True):
            await conn.execute("UPDATE meta SET value = value WHERE false")

    async def schema_version(self) -> int:
        """The highest version recorded in schema_version (0 on an empty database)."""
        exists = await self._fetchone("SELECT to_regclass('schema_version') IS NOT NULL")
        if not exists or not exists[0]:
            return 0
        row = await self._fetchone("SELECT coalesce(max(version), 0) FROM schema_version")
        return int(row[0]) if row else 0

    async def migrate(self) -> list[int]:
        """Apply each pending migration in its own transaction (one process at a time); return versions applied."""
        migrations = load_migrations(_MIGRATIONS_PACKAGE)
        newest = migrations[-1].version if migrations else 0
        applied: list[int] = []
        async with self._pool.connection() as conn:
            # IF NOT EXISTS alone is not safe against another process creating the table at the same moment.
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATE_LOCK,))
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                    "applied_at TEXT NOT NULL)"
                )
            for migration in migrations:
                async with conn.transaction():
                    await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATE_LOCK,))
                    cursor = await conn.execute("SELECT coalesce(max(version), 0) FROM schema_version")
                    row = await cursor.fetchone()
                    current = int(row[0]) if row else 0
                    if current > newest:
                        raise StoreError(
                            f"{self.path} has schema version {current}, newer than this Paperboy knows "
                            f"({newest}); upgrade Paperboy"
                        )
                    if migration.version <= current:
                        continue
                    log.info("applying migration %s", migration.name)
                    # Without parameters psycopg sends the whole script at once, as several statements.
                    await conn.execute(migration.sql.encode("utf-8"))
                    await conn.execute(
                        "INSERT INTO schema_version (version, name, applied_at) VALUES (%s, %s, %s)",
                        (migration.version, migration.name, self.now_text()),
                    )
                applied.append(migration.version)
        return applied

    async def check(self) -> list[str]:
        """Problems found: a schema version other than expected, missing tables, invalid indexes; empty if healthy."""
        problems: list[str] = []
        try:
            async with self._pool.connection() as conn:
                server_version = conn.info.server_version
            if server_version < MIN_SERVER_VERSION:
                problems.append(f"PostgreSQL {_version_text(server_version)} is older than the 15 Paperboy needs")
            version, expected = await self.schema_version(), latest_version()
            if version != expected:
                problems.append(f"schema version is {version}, expected {expected}: run `paperboy db migrate`")
            if version:
                for (table,) in await self._fetchall(
                    "SELECT name FROM unnest(%s::text[]) AS name WHERE to_regclass(name) IS NULL", (list(_TABLES),)
                ):
                    problems.append(f"table {table} is missing")
            for (index,) in await self._fetchall(
                "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE NOT i.indisvalid AND n.nspname = current_schema()"
            ):
                problems.append(f"index {index} is invalid (an interrupted build): REINDEX it")
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            problems.append(str(classify(exc, self.path)))
        return problems

    async def backup(self, target: str | Path) -> None:
        """Dump the database to `target` with pg_dump (custom format, for pg_restore)."""
        pg_dump = shutil.which("pg_dump")
        if pg_dump is None:
            raise StoreError(
                "pg_dump is not installed here: install the PostgreSQL client tools (e.g. `apt install "
                f"postgresql-client`), or run `pg_dump --format=custom --file={target} <database URL>` "
                "on a machine that has them"
            )
        settings = conninfo_to_dict(self._url)
        # The password travels in the environment, not on a command line other users can read.
        password = settings.pop("password", None)
        env = dict(os.environ)
        if password is not None:
            env["PGPASSWORD"] = str(password)
        process = await asyncio.create_subprocess_exec(
            pg_dump, "--format=custom", f"--file={target}", f"--dbname={make_conninfo('', **settings)}",
            env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, stderr = await process.communicate()
        if process.returncode != 0:
            reason = stderr.decode("utf-8", "replace").strip().splitlines()
            raise StoreError(f"pg_dump of {self.path} failed: {reason[-1] if reason else process.returncode}")
