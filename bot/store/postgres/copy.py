"""`paperboy db copy`: move a SQLite cache, with its settings and delivery history, into an empty Postgres."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

import psycopg

from bot.store import Store
from bot.store.errors import StoreError
from bot.store.errors import classify as classify_sqlite
from bot.store.postgres import PostgresStore
from bot.store.postgres.errors import classify
from bot.store.postgres.lexemes import search_vector, title_key
from bot.store.rows import PAPER_COLUMN_COUNT, PAPER_COLUMNS, paper_from_row

log = logging.getLogger(__name__)

# (table, SQLite select list, Postgres columns) in an order that satisfies the foreign keys.
_TABLES: tuple[tuple[str, str, str], ...] = (
    ("papers", f"rowid, {PAPER_COLUMNS}, first_seen, updated_at", f"seq, {PAPER_COLUMNS}, first_seen, updated_at"),
    ("daily_entries", "day, paper_id, upvotes, first_seen, updated_at", ""),
    (
        "digest_settings",
        "channel_id, guild_id, time, timezone, top, min_upvotes, weekdays_only, style, post_empty, enabled, "
        "disabled_reason, created_at, updated_at, frequency, weekday, source, category, query",
        "",
    ),
    ("subscriptions", "id, guild_id, channel_id, query, normalized, created_by, created_at, skip_digest_papers", ""),
    (
        "deliveries",
        "channel_id, kind, key, status, nonce, message_id, attempts, payload, batch, outcome, error, created_at, "
        "updated_at, next_attempt_at",
        "",
    ),
    ("scrape_runs", "id, source, day, started, finished, outcome, fetched, new, updated, skipped, error", ""),
    ("meta", "key, value", ""),
    ("saved_papers", "id, member_id, paper_id, saved_at", ""),
    ("arxiv_listings", "category, day, position, paper_id, kind, first_seen", ""),
)
# SQLite keeps these as 0/1 integers; Postgres has booleans.
_BOOLEANS = frozenset({"weekdays_only", "post_empty", "enabled", "skip_digest_papers"})
# Identity columns given explicit values: their sequences must continue after the copied ones.
_IDENTITIES = (("papers", "seq"), ("subscriptions", "id"), ("scrape_runs", "id"), ("saved_papers", "id"))
_BATCH = 2000


async def target_counts(target: PostgresStore) -> dict[str, int]:
    """Rows per copied table in the Postgres database."""
    counts = {}
    for table, _, _ in _TABLES:
        row = await target._fetchone(f"SELECT count(*) FROM {table}")
        counts[table] = int(row[0]) if row else 0
    return counts


async def copy_sqlite_to_postgres(source: Store, target: PostgresStore) -> dict[str, int]:
    """Copy every table of `source` into `target` (migrated, empty) in one transaction; rows copied per table.

    Refuses a target holding any row; after copying, compares the row count of each table on both
    sides and rolls everything back on a difference, so the target ends up either complete or empty.
    """
    try:
        return await _copy(source, target)
    except psycopg.Error as exc:
        raise classify(exc, target.path) from exc
    except sqlite3.Error as exc:
        raise classify_sqlite(exc, source.path) from exc


async def _copy(source: Store, target: PostgresStore) -> dict[str, int]:
    found = await target_counts(target)
    if any(found.values()):
        held = ", ".join(f"{count} {table}" for table, count in found.items() if count)
        raise StoreError(f"{target.path} is not empty ({held}): copy only into a new, empty database")
    copied: dict[str, int] = {}
    # The source's write transaction holds its writers off, so every table is read from one snapshot.
    async with source.transaction() as sqlite, target.transaction() as conn:
        for table, select_list, pg_columns in _TABLES:
            columns = [name.strip() for name in (pg_columns or select_list).split(",")]
            # A paper's search columns are computed here, from the same values, as the store computes them.
            searched = table == "papers"
            if searched:
                columns += ["search_vector", "title_key"]
            booleans = [index for index, name in enumerate(columns) if name in _BOOLEANS]
            total = 0
            async with (
                conn.cursor() as pg_cursor,
                pg_cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as pg_copy,
                sqlite.execute(f"SELECT {select_list} FROM {table} ORDER BY 1") as cursor,
            ):
                while rows := list(await cursor.fetchmany(_BATCH)):
                    for row in rows:
                        values: list[Any] = list(row)
                        for index in booleans:
                            values[index] = bool(values[index])
                        if searched:
                            paper = paper_from_row(values[1 : 1 + PAPER_COLUMN_COUNT])
                            values += [search_vector(paper), title_key(paper.title)]
                        await pg_copy.write_row(values)
                    total += len(rows)
            async with sqlite.execute(f"SELECT count(*) FROM {table}") as cursor:
                expected_row = await cursor.fetchone()
            expected = int(expected_row[0]) if expected_row else 0
            landed_cursor = await conn.execute(f"SELECT count(*) FROM {table}")
            landed_row = await landed_cursor.fetchone()
            landed = int(landed_row[0]) if landed_row else 0
            if not expected == total == landed:
                raise StoreError(
                    f"copy of {table} does not add up: {expected} rows in SQLite, {total} read, {landed} in Postgres"
                )
            copied[table] = landed
            log.info("copied %d rows of %s", landed, table)
        for table, column in _IDENTITIES:
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                f"coalesce((SELECT max({column}) FROM {table}), 0) + 1, false)"
            )
    target.papers_version += 1
    return copied
