"""Caches as older Paperboys left them: the schema of the first N migrations, applied as they were."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from bot.store.base import _split_sql, load_migrations


def make_old_cache(path: Path, version: int) -> None:
    """Create a database at `path` with migrations 1..`version` applied (and user_version set to it)."""
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("PRAGMA journal_mode = WAL")
        for migration in load_migrations():
            if migration.version > version:
                break
            db.execute("BEGIN")
            for statement in _split_sql(migration.sql):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {migration.version:d}")
            db.execute("COMMIT")
