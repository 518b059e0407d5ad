"""Reads the keyword alerts need: papers added since a mark, alert counts for the hourly cap, digest posts."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.models import Paper
from bot.store.base import StoreBase
from bot.store.papers import PAPER_COLUMNS, paper_from_row

log = logging.getLogger(__name__)

_CHUNK = 500


class AlertsMixin(StoreBase):
    """Queries over papers and deliveries on behalf of the alerts."""

    async def papers_after_rowid(self, after: int, limit: int = 5000) -> list[tuple[int, Paper]]:
        """(rowid, paper) of papers first stored after row `after`, oldest first, at most `limit`."""
        async with self._db.execute(
            f"SELECT rowid, {PAPER_COLUMNS} FROM papers WHERE rowid > ? ORDER BY rowid LIMIT ?",
            (after, limit),
        ) as cursor:
            rows = await cursor.fetchall()
        return [(int(row[0]), paper_from_row(tuple(row)[1:])) for row in rows]

    async def recent_papers(self, limit: int) -> list[Paper]:
        """The `limit` papers stored last, newest first."""
        async with self._db.execute(
            f"SELECT {PAPER_COLUMNS} FROM papers ORDER BY rowid DESC LIMIT ?", (limit,)
        ) as cursor:
            rows = await cursor.fetchall()
        return [paper_from_row(row) for row in rows]

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
