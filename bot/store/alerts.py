"""Reads the keyword alerts need: papers newly listed, alert counts for the hourly cap, digest posts."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence

from bot.models import Paper
from bot.store.arxiv import LISTED
from bot.store.base import StoreBase
from bot.store.reader import give_way
from bot.store.rows import P_COLUMNS, PAPER_COLUMNS, paper_from_row

log = logging.getLogger(__name__)

_CHUNK = 500
_ROWS_AT_ONCE = 1000  # paper rows read by id per statement
_AFTER_EVERY = "~"  # sorts after every stored instant and paper id (digits, letters, '.', '-', ':', '+')
# Instants at which listings were first recorded, from a lower bound on: the `limit`-th bounds one page.
_NTH_FIRST_SEEN = (
    "SELECT first_seen FROM (SELECT first_seen FROM daily_entries WHERE first_seen {0} :low "
    "UNION ALL SELECT first_seen FROM arxiv_listings WHERE first_seen {0} :low) "
    "ORDER BY first_seen LIMIT 1 OFFSET :offset"
)
# Papers with a listing recorded in [low, high], each with its first listing anywhere, keyed after `after`.
_FIRST_LISTED_IN_RANGE = (
    "WITH e AS MATERIALIZED ("  # once per paper: not once per use of `first` below
    "  SELECT c.paper_id AS paper_id, min("
    "    coalesce((SELECT min(d.first_seen) FROM daily_entries d WHERE d.paper_id = c.paper_id), :never),"
    "    coalesce((SELECT min(a.first_seen) FROM arxiv_listings a WHERE a.paper_id = c.paper_id), :never)"
    "  ) AS first FROM ("
    "    SELECT paper_id FROM daily_entries WHERE first_seen {0} :low AND first_seen <= :high"
    "    UNION SELECT paper_id FROM arxiv_listings WHERE first_seen {0} :low AND first_seen <= :high"
    "  ) AS c"
    ") SELECT e.first, e.paper_id FROM e "
    "WHERE e.first >= :since AND e.first <= :high "
    "AND (e.first > :after_first OR (e.first = :after_first AND e.paper_id > :after_id)) "
    "ORDER BY e.first, e.paper_id LIMIT :limit"
)


class AlertsMixin(StoreBase):
    """Queries over papers and deliveries on behalf of the alerts."""

    async def first_listed_since(
        self, since: str, *, after: tuple[str, str] = ("", ""), limit: int = 5000
    ) -> list[tuple[str, Paper]]:
        """(when first listed, paper) for papers whose first listing (a Daily Papers entry or an arXiv
        announcement) was recorded at or after `since` (a stored instant), ordered by that instant then id,
        starting after `after`, at most `limit`."""

        def read(db: sqlite3.Connection) -> list[tuple[str, Paper]]:
            found = []
            for number, (first, row) in enumerate(_first_listed_rows(db, since, after, limit), start=1):
                found.append((first, paper_from_row(row)))
                if number % _ROWS_AT_ONCE == 0:
                    give_way()
            return found

        # Thousands of rows at a time: read and turned into papers off the event loop, beside the writer.
        return await self.read(read, background=True)

    async def first_listed_keys_since(
        self, since: str, *, after: tuple[str, str] = ("", ""), limit: int = 5000
    ) -> list[tuple[str, str]]:
        """(when first listed, paper id) of `first_listed_since`, without reading the papers themselves."""
        return await self.read(lambda db: _first_listed_keys(db, since, after, limit), background=True)

    async def last_listed_at(self) -> str | None:
        """When the latest Daily Papers entry or arXiv listing was first recorded (a stored instant), if any."""
        async with self._db.execute(f"SELECT max(first_seen) FROM {LISTED} AS listed") as cursor:
            row = await cursor.fetchone()
        return str(row[0]) if row and row[0] is not None else None

    async def recent_papers(self, limit: int) -> list[Paper]:
        """The `limit` papers stored last, newest first."""

        def read(db: sqlite3.Connection) -> list[Paper]:
            rows = db.execute(f"SELECT {PAPER_COLUMNS} FROM papers ORDER BY rowid DESC LIMIT ?", (limit,)).fetchall()
            return [paper_from_row(row) for row in rows]

        return await self.read(read, background=True)

    async def alerts_in_batches_from(self, channel_id: int, first_key: str, *, kind: str, batch_kind: str) -> int:
        """How many `kind` rows belong to `batch_kind` deliveries of a channel whose key is >= `first_key`
        and which are not failed (alert batch keys start with the time they were made)."""
        async with self._db.execute(
            "SELECT count(*) FROM deliveries a JOIN deliveries b "
            "ON b.channel_id = a.channel_id AND b.kind = ? AND b.key = a.batch "
            "WHERE a.channel_id = ? AND a.kind = ? AND b.key >= ? AND b.status IN ('pending', 'sent')",
            (batch_kind, channel_id, kind, first_key),
        ) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def digest_payloads_for(self, channel_id: int, paper_ids: Sequence[str]) -> dict[str, list[str]]:
        """For each paper, the stored payloads of the channel's sent digests of the days it was featured."""
        found: dict[str, list[str]] = {}
        for start in range(0, len(paper_ids), _CHUNK):
            chunk = list(paper_ids[start : start + _CHUNK])
            marks = ",".join("?" * len(chunk))
            async with self._db.execute(
                "SELECT e.paper_id, d.payload FROM daily_entries e JOIN deliveries d "
                "ON d.channel_id = ? AND d.kind = 'digest' AND d.key = e.day AND d.status = 'sent' "
                f"WHERE e.paper_id IN ({marks}) AND d.payload IS NOT NULL",
                [channel_id, *chunk],
            ) as cursor:
                for paper_id, payload in await cursor.fetchall():
                    found.setdefault(str(paper_id), []).append(str(payload))
        return found


def _first_listed_rows(
    db: sqlite3.Connection, since: str, after: tuple[str, str], limit: int
) -> list[tuple[str, tuple[object, ...]]]:
    """(first listed, paper row) of `first_listed_since`, read range by range of listing instants.

    A paper's first listing is the least of its listings; ordering every paper listed since `since` by it
    would group and sort them all for each page. Instead each step takes the next `limit` listings by
    instant, [low, high], whose papers hold every paper first listed in that range (its first listing is
    one of them), and looks up each one's first listing by its id. A step that yields too few (papers
    listed twice, or already returned) goes on from just after `high`, in the same read.
    """
    keys = _first_listed_keys(db, since, after, limit)
    # The papers' rows last, by id: sorting the keys alone is much cheaper than sorting whole rows.
    rows: dict[str, tuple[object, ...]] = {}
    for start in range(0, len(keys), _ROWS_AT_ONCE):
        ids = [paper_id for _, paper_id in keys[start : start + _ROWS_AT_ONCE]]
        marks = ",".join("?" * len(ids))
        for row in db.execute(f"SELECT {P_COLUMNS} FROM papers p WHERE p.id IN ({marks})", ids):
            rows[str(row[0])] = tuple(row)
        give_way()  # a search running meanwhile has the interpreter to itself (see bot.store.reader)
    return [(first, rows[paper_id]) for first, paper_id in keys]


def _first_listed_keys(db: sqlite3.Connection, since: str, after: tuple[str, str], limit: int) -> list[tuple[str, str]]:
    """(first listed, paper id) of `first_listed_since`, read range by range (see `_first_listed_rows`)."""
    first_after, id_after = after
    low, inclusive = max(since, first_after), True
    keys: list[tuple[str, str]] = []
    while len(keys) < limit:
        step = "=" if inclusive else ""
        nth = db.execute(_NTH_FIRST_SEEN.format(">" + step), {"low": low, "offset": limit - 1}).fetchone()
        high = str(nth[0]) if nth is not None else _AFTER_EVERY
        keys += db.execute(
            _FIRST_LISTED_IN_RANGE.format(">" + step),
            {
                "never": _AFTER_EVERY,
                "low": low,
                "high": high,
                "since": since,
                "after_first": first_after,
                "after_id": id_after,
                "limit": limit - len(keys),
            },
        ).fetchall()
        if nth is None:
            break
        # Every paper first listed up to `high` has been read: go on strictly after it.
        low, inclusive = high, False
        first_after, id_after = high, _AFTER_EVERY
    return [(str(first), str(paper_id)) for first, paper_id in keys]
