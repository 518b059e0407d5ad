"""arXiv announcements on SQLite: each category's listing of a day, in listing order."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from bot.models import ArxivListing, Paper
from bot.store.base import StoreBase
from bot.store.rows import P_COLUMNS, paper_from_row, stored_date

log = logging.getLogger(__name__)


# Papers already listed keep when they were first listed: that is when alerts saw them.
UPSERT_LISTED = (
    "INSERT INTO arxiv_listings (category, day, position, paper_id, kind, first_seen) "
    "VALUES ({0}, {0}, {0}, {0}, {0}, {0}) "
    "ON CONFLICT (category, day, paper_id) DO UPDATE SET position = excluded.position, kind = excluded.kind"
)
# Every place a paper is listed, with when it was first listed there: Daily Papers days and arXiv announcements.
LISTED = "(SELECT paper_id, first_seen FROM daily_entries UNION ALL SELECT paper_id, first_seen FROM arxiv_listings)"


def listing_rows(listing: ArxivListing, now: str) -> list[tuple[str, str, int, str, str, str]]:
    """(category, day, position, paper_id, kind, first_seen) of each paper of a listing."""
    day = listing.day.isoformat()
    return [
        (listing.category, day, position, paper_id, kind, now)
        for position, (paper_id, kind) in enumerate(zip(listing.paper_ids, listing.kinds, strict=True))
    ]


async def write_listing(db: Any, listing: ArxivListing, now: str) -> None:
    """Make a category's listing of a day the given one (inside the caller's transaction)."""
    key = (listing.category, listing.day.isoformat())
    async with db.execute("SELECT paper_id FROM arxiv_listings WHERE category = ? AND day = ?", key) as cursor:
        stale = {row[0] for row in await cursor.fetchall()} - set(listing.paper_ids)
    await db.executemany(
        "DELETE FROM arxiv_listings WHERE category = ? AND day = ? AND paper_id = ?", [(*key, pid) for pid in stale]
    )
    await db.executemany(UPSERT_LISTED.format("?"), listing_rows(listing, now))


class ArxivMixin(StoreBase):
    """Reads of the arXiv listings (written with the papers by `upsert_papers(..., listing=...)`)."""

    async def listing_papers(self, category: str, day: dt.date) -> list[Paper]:
        """The papers a category announced on `day`, in listing order."""
        async with self._db.execute(
            f"SELECT {P_COLUMNS} FROM arxiv_listings l JOIN papers p ON p.id = l.paper_id "
            "WHERE l.category = ? AND l.day = ? ORDER BY l.position",
            (category, day.isoformat()),
        ) as cursor:
            rows = await cursor.fetchall()
        return [paper_from_row(row) for row in rows]

    async def latest_listing_day(self, category: str, on_or_before: dt.date) -> dt.date | None:
        """The most recent day, not after `on_or_before`, with a stored listing of `category`."""
        async with self._db.execute(
            "SELECT max(day) FROM arxiv_listings WHERE category = ? AND day <= ?",
            (category, on_or_before.isoformat()),
        ) as cursor:
            row = await cursor.fetchone()
        return stored_date(row[0]) if row else None
