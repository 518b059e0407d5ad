"""arXiv announcements on Postgres: each category's listing of a day, in listing order."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import psycopg

from bot.models import ArxivListing, Paper
from bot.query import category_range
from bot.store.arxiv import UPSERT_LISTED, listing_rows
from bot.store.postgres.base import PostgresStoreBase
from bot.store.rows import P_COLUMNS, paper_from_row, stored_date

log = logging.getLogger(__name__)


async def write_listing(conn: psycopg.AsyncConnection[Any], listing: ArxivListing, now: str) -> None:
    """Make a category's listing of a day the given one (inside the caller's transaction)."""
    await conn.execute(
        "DELETE FROM arxiv_listings WHERE category = %s AND day = %s AND NOT paper_id = ANY(%s)",
        (listing.category, listing.day.isoformat(), list(listing.paper_ids)),
    )
    async with conn.cursor() as cursor:
        await cursor.executemany(UPSERT_LISTED.format("%s"), listing_rows(listing, now))


def category_condition(op: str, value: object) -> tuple[str, list[object]]:
    """A `category:` filter as a condition over papers `p` with its bound values (as SQLite's search has it).

    For the Postgres search's filter compiler: paper_categories holds each category folded to lower case,
    in byte order, so an exact category is one key and a prefix one range of its primary key.
    """
    if op not in ("=", "!=") or not isinstance(value, str):
        raise ValueError("category compares with = or != and a category name")
    key, high = category_range(value)
    where, params = ("c.category = %s", [key])
    if high is not None:
        where, params = "c.category >= %s AND c.category < %s", [key, high]
    negated = "NOT " if op == "!=" else ""
    return f"p.id {negated}IN (SELECT c.paper_id FROM paper_categories c WHERE {where})", list(params)


class PostgresArxivMixin(PostgresStoreBase):
    """Reads of the arXiv listings (written with the papers by `upsert_papers(..., listing=...)`)."""

    async def listing_papers(self, category: str, day: dt.date) -> list[Paper]:
        """The papers a category announced on `day`, in listing order."""
        rows = await self._fetchall(
            f"SELECT {P_COLUMNS} FROM arxiv_listings l JOIN papers p ON p.id = l.paper_id "
            "WHERE l.category = %s AND l.day = %s ORDER BY l.position",
            (category, day.isoformat()),
        )
        return [paper_from_row(row) for row in rows]

    async def latest_listing_day(self, category: str, on_or_before: dt.date) -> dt.date | None:
        """The most recent day, not after `on_or_before`, with a stored listing of `category`."""
        row = await self._fetchone(
            "SELECT max(day) FROM arxiv_listings WHERE category = %s AND day <= %s",
            (category, on_or_before.isoformat()),
        )
        return stored_date(row[0]) if row else None
