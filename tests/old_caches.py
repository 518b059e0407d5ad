"""Caches as older Paperboys left them: the schema of the first N migrations, applied as they were."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from contextlib import closing
from pathlib import Path

from bot.models import Paper
from bot.store.base import _split_sql, load_migrations
from bot.store.rows import paper_values


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


# The papers columns of the schema before arXiv (migration 0008) added its own.
_COLUMNS_BEFORE_ARXIV = (
    "id", "title", "authors", "summary", "published", "day", "upvotes", "ai_summary", "ai_keywords",
    "github_repo", "github_stars", "project_page", "thumbnail", "num_comments", "organization",
)  # fmt: skip


def insert_old_papers(path: Path, papers: Iterable[Paper], at: str = "2026-06-12T00:00:00+00:00") -> None:
    """Store `papers` (and their day entries) in an old cache, as versions before arXiv wrote them."""
    names = ", ".join(_COLUMNS_BEFORE_ARXIV)
    marks = ", ".join("?" for _ in _COLUMNS_BEFORE_ARXIV)
    with closing(sqlite3.connect(path)) as db, db:
        for paper in papers:
            values = paper_values(paper)
            db.execute(
                f"INSERT INTO papers ({names}, first_seen, updated_at) VALUES ({marks}, ?, ?)",
                [*(values[name] for name in _COLUMNS_BEFORE_ARXIV), at, at],
            )
            if paper.day:
                db.execute(
                    "INSERT INTO daily_entries (day, paper_id, upvotes, first_seen, updated_at) VALUES (?, ?, ?, ?, ?)",
                    (paper.day.isoformat(), paper.id, paper.upvotes, at, at),
                )
