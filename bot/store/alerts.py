"""Reads the keyword alerts need: papers newly listed, alert counts for the hourly cap, digest posts."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence

from bot.models import Paper
from bot.store.base import StoreBase
from bot.store.rows import P_COLUMNS, PAPER_COLUMNS, paper_from_row

log = logging.getLogger(__name__)

_CHUNK = 500


class AlertsMixin(StoreBase):
    """Queries over papers and deliveries on behalf of the alerts."""

    async def first_listed_since(
        self, since: str, *, after: tuple[str, str] = ("", ""), limit: int = 5000
    ) -> list[tuple[str, Paper]]:
        """(when first listed, paper) for papers whose first Daily Papers entry was recorded at or after
        `since` (a stored instant), ordered by that instant then id, starting after `after`, at most `limit`."""
        first_after, id_after = after

        def read(db: sqlite3.Connection) -> list[tuple[str, Paper]]:
            rows = db.execute(
                f"SELECT e.first, {P_COLUMNS} FROM ("
                "  SELECT paper_id, min(first_seen) AS first FROM daily_entries"
                "  WHERE paper_id IN (SELECT paper_id FROM daily_entries WHERE first_seen >= ?)"
                "  GROUP BY paper_id HAVING min(first_seen) >= ?"
                ") e JOIN papers p ON p.id = e.paper_id "
                "WHERE e.first > ? OR (e.first = ? AND e.paper_id > ?) ORDER BY e.first, e.paper_id LIMIT ?",
                (since, since, first_after, first_after, id_after, limit),
            ).fetchall()
            return [(str(row[0]), paper_from_row(tuple(row)[1:])) for row in rows]

        # Thousands of rows at a time: read and turned into papers off the event loop, beside the writer.
        return await self.read(read, background=True)

    async def last_listed_at(self) -> str | None:
        """When the latest Daily Papers entry was first recorded (a stored instant), if any."""
        async with self._db.execute("SELECT max(first_seen) FROM daily_entries") as cursor:
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
