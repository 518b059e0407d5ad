"""The SQLite connection: pragmas, numbered migrations, one writer at a time, integrity check, backup."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.resources
import logging
import re
import sqlite3
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Self, TypeVar, cast

import aiosqlite

from bot.clock import Clock, SystemClock
from bot.store.errors import StoreError, classify
from bot.store.reader import Reader

log = logging.getLogger(__name__)

T = TypeVar("T")
WRITE_CACHE_KIB = 8 * 1024  # page cache of the writing connection (the daily index merge uses it most)
PAGE_SIZE = 8192  # bytes; SQLite's default 4096 leaves a fifth of the papers table unused
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered schema step."""

    version: int
    name: str
    sql: str


def load_migrations(package: str = "bot.store") -> list[Migration]:
    """The migrations packaged in `package` (default: SQLite's) in order; versions must run 1, 2, 3 without gaps."""
    folder = importlib.resources.files(package) / "migrations"
    found = []
    for entry in folder.iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise StoreError(f"migration {migration.name} is out of sequence (expected {expected:04d})")
    return found


def latest_version(package: str = "bot.store") -> int:
    """The schema version this code expects of the migrations in `package` (default: SQLite's)."""
    migrations = load_migrations(package)
    return migrations[-1].version if migrations else 0


class StoreBase:
    """Owns one aiosqlite connection; subclasses add the typed methods."""

    def __init__(self, db: aiosqlite.Connection, path: str, clock: Clock | None = None) -> None:
        self._db = db
        self.path = path
        # Where rows get their timestamps: the same clock as the loops that read them.
        self.clock: Clock = clock or SystemClock()
        self._write_lock = asyncio.Lock()
        # Bumped whenever paper rows change through this Store, so in-memory indexes know to refresh.
        self.papers_version = 0
        self._reader: Reader | None = None
        self._background: Reader | None = None

    @classmethod
    async def open(cls, path: str | Path, *, migrate: bool = True, clock: Clock | None = None) -> Self:
        """Open (and by default upgrade) the database at `path`; rows are stamped with `clock` (the system's)."""
        path = str(path)
        try:
            db = await aiosqlite.connect(path, isolation_level=None)
        except sqlite3.Error as exc:
            raise classify(exc, path) from exc
        db.row_factory = sqlite3.Row
        store = cls(db, path, clock)
        try:
            await store._configure()
            if migrate:
                await store.migrate()
        except BaseException:
            await db.close()
            raise
        return store

    async def _configure(self) -> None:
        try:
            await self._db.execute("PRAGMA busy_timeout = 5000")
            await self._db.execute("PRAGMA foreign_keys = ON")
            if self.path != ":memory:":
                async with self._db.execute("PRAGMA page_count") as cursor:
                    row = await cursor.fetchone()
                if row is not None and int(row[0]) == 0:
                    # A new file: large pages (set before the first table) waste less around 2 kB paper rows.
                    await self._db.execute(f"PRAGMA page_size = {PAGE_SIZE:d}")
                await self._db.execute("PRAGMA journal_mode = WAL")
            await self._db.execute("PRAGMA synchronous = NORMAL")
            # Searches and alert passes read on their own connections (bot.store.reader); writes need less.
            await self._db.execute(f"PRAGMA cache_size = -{WRITE_CACHE_KIB:d}")
        except sqlite3.Error as exc:
            raise classify(exc, self.path) from exc

    def now_text(self) -> str:
        """Now by the store's clock as ISO text, the form every stored instant takes."""
        return self.clock.now().isoformat(timespec="seconds")

    async def read(self, work: Callable[[sqlite3.Connection], T], *, background: bool = False) -> T:
        """Run the synchronous `work(connection)` on a read-only connection beside the writer.

        Searches read this way, so they never wait behind a write transaction; long background reads
        (`background`, e.g. an alert pass) use a connection of their own, so they never hold up searches.
        An in-memory database has no file for another connection to open: `work` runs on the writer's thread.
        """
        if self.path == ":memory:":
            return cast(T, await self._db._execute(work, self._db._conn))  # type: ignore[no-untyped-call]
        if background:
            if self._background is None:
                self._background = Reader(self.path, size=1, background=True)
            return await self._background.run(work)
        if self._reader is None:
            self._reader = Reader(self.path)
        return await self._reader.run(work)

    async def release_memory(self) -> None:
        """Give back the writing connection's page cache (after a bulk step such as the index merge filled it)."""
        try:
            await self._db.execute("PRAGMA shrink_memory")
        except sqlite3.Error as exc:
            raise classify(exc, self.path) from exc

    async def close(self) -> None:
        """Wait for the write in progress, then close the connections."""
        for reader in (self._reader, self._background):
            if reader is not None:
                await asyncio.to_thread(reader.close)
        self._reader = self._background = None
        async with self._write_lock:
            await self._db.close()

    async def _control(self, statement: str) -> None:
        """Run BEGIN/COMMIT/ROLLBACK to completion even if the caller is cancelled meanwhile.

        The statement runs on aiosqlite's thread whatever happens to the awaiting task, so giving up
        early would leave the connection inside a transaction nobody owns.
        """
        task = asyncio.ensure_future(self._db.execute(statement))
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            await task
            if statement.startswith("BEGIN"):
                await asyncio.shield(self._db.execute("ROLLBACK"))
            raise

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction at a time; rolled back whole on any error or cancellation."""
        async with self._write_lock:
            try:
                await self._control("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise classify(exc, self.path) from exc
            try:
                yield self._db
            except sqlite3.Error as exc:
                # A full disk or a read-only file shows up here, in the middle of a write: say so in words.
                await self._rollback()
                raise classify(exc, self.path) from exc
            except BaseException:
                await self._rollback()
                raise
            try:
                await self._control("COMMIT")
            except sqlite3.Error as exc:
                await self._rollback()
                raise classify(exc, self.path) from exc

    async def _rollback(self) -> None:
        """Roll back, unless SQLite already has (it does by itself on a full disk or an I/O error)."""
        if self._db.in_transaction:
            await self._control("ROLLBACK")

    async def check_writable(self) -> None:
        """Raise StoreError now if the database cannot take writes (read-only file or mount)."""
        version = await self.schema_version()
        async with self._write_lock:
            try:
                await self._control("BEGIN IMMEDIATE")
                try:
                    # Rewriting a header field with its own value is the smallest real write; rolled back.
                    await self._db.execute(f"PRAGMA user_version = {version:d}")
                finally:
                    await self._control("ROLLBACK")
            except sqlite3.Error as exc:
                raise classify(exc, self.path) from exc

    async def schema_version(self) -> int:
        """The version recorded in `PRAGMA user_version`."""
        async with self._db.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def migrate(self) -> list[int]:
        """Apply each pending migration in its own transaction; return the versions applied."""
        current = await self.schema_version()
        migrations = load_migrations()
        if current > (migrations[-1].version if migrations else 0):
            raise StoreError(
                f"{self.path} has schema version {current}, newer than this Paperboy knows "
                f"({latest_version()}); upgrade Paperboy"
            )
        pending = [m for m in migrations if m.version > current]
        if not pending:
            return []
        # A migration may rebuild a table others point at; with foreign keys on, dropping the old table
        # would cascade into them. SQLite's way: keys off (outside a transaction), check before commit.
        await self._db.execute("PRAGMA foreign_keys = OFF")
        applied = []
        try:
            for migration in pending:
                log.info("applying migration %s", migration.name)
                async with self.transaction() as db:
                    # executescript would commit on its own; run statement by statement instead.
                    for statement in _split_sql(migration.sql):
                        await db.execute(statement)
                    async with db.execute("PRAGMA foreign_key_check") as cursor:
                        broken = list(await cursor.fetchall())
                    if broken:
                        raise StoreError(f"migration {migration.name} left {len(broken)} rows pointing nowhere")
                    await db.execute(f"PRAGMA user_version = {migration.version:d}")
                applied.append(migration.version)
        finally:
            await self._db.execute("PRAGMA foreign_keys = ON")
        if current > 0:
            await self._give_back_free_pages()
        return applied

    async def _give_back_free_pages(self) -> None:
        """VACUUM when upgrades left much of the file unused (a rebuilt table or a dropped copy of text).

        SQLite keeps freed pages inside the file; VACUUM rewrites it without them. Tables whose rows others
        point at by rowid have an INTEGER PRIMARY KEY, which VACUUM keeps.
        """
        async with self._db.execute("PRAGMA freelist_count") as cursor:
            free = await cursor.fetchone()
        async with self._db.execute("PRAGMA page_count") as cursor:
            pages = await cursor.fetchone()
        if free and pages and int(free[0]) * 4 >= int(pages[0]) and self.path != ":memory:":
            log.info("giving back %d unused pages of %d (VACUUM)", int(free[0]), int(pages[0]))
            async with self._write_lock:
                # The page size of a WAL database only changes through a rollback-journal VACUUM.
                await self._db.execute("PRAGMA journal_mode = DELETE")
                await self._db.execute(f"PRAGMA page_size = {PAGE_SIZE:d}")
                await self._db.execute("VACUUM")
                await self._db.execute("PRAGMA journal_mode = WAL")

    async def check(self) -> list[str]:
        """Problems found by the integrity and foreign-key checks and the schema version; empty if healthy."""
        problems: list[str] = []
        try:
            async with self._db.execute("PRAGMA integrity_check") as cursor:
                rows = [str(row[0]) for row in await cursor.fetchall()]
            if rows != ["ok"]:
                problems.extend(f"integrity: {row}" for row in rows)
            async with self._db.execute("PRAGMA foreign_key_check") as cursor:
                for row in await cursor.fetchall():
                    problems.append(f"foreign key: table {row[0]} row {row[1]} points at a missing {row[2]}")
            version, expected = await self.schema_version(), latest_version()
            if version != expected:
                problems.append(f"schema version is {version}, expected {expected}: run `paperboy db migrate`")
        except sqlite3.Error as exc:
            problems.append(str(classify(exc, self.path)))
        return problems

    async def backup(self, target: str | Path) -> None:
        """Copy the live database to `target` with SQLite's online backup API."""
        target = str(target)
        try:
            destination = sqlite3.connect(target)
        except sqlite3.Error as exc:
            raise classify(exc, target) from exc
        try:
            async with self._write_lock:
                await self._db.backup(destination)
        except sqlite3.Error as exc:
            raise classify(exc, target) from exc
        finally:
            destination.close()


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements, keeping trigger bodies whole."""
    statements, buffer = [], ""
    for line in script.splitlines(keepends=True):
        if line.lstrip().startswith("--") and not buffer.strip():
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements
