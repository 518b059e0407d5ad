"""Reads the keyword alerts need, on Postgres: papers newly listed, alert counts, digest posts."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.models import Paper
from bot.store.arxiv import LISTED
from bot.store.postgres.base import PostgresStoreBase
from bot.store.rows import P_COLUMNS, PAPER_COLUMNS, paper_from_row

log = logging.getLogger(__name__)


class PostgresAlertsMixin(PostgresStoreBase):
    """Queries over papers and deliveries on behalf of the alerts."""

    async def first_listed_since(
        self, since: str, *, after: tuple[str, str] = ("", ""), limit: int = 5000
    ) -> list[tuple[str, Paper]]:
        """(when first listed, paper) for papers whose first listing (a Daily Papers entry or an arXiv
        announcement) was recorded at or after `since` (a stored instant), ordered by that instant then id,
        starting after `after`, at most `limit`."""
        first_after, id_after = after
        # Byte order ("C") on every text comparison: the same order SQLite uses, whatever the server's locale.
        rows = await self._fetchall(
            f"SELECT e.first, {P_COLUMNS} FROM ("
            f'  SELECT paper_id, min(first_seen COLLATE "C") AS first FROM {LISTED} AS listed'
            f'  WHERE paper_id IN (SELECT paper_id FROM {LISTED} AS recent WHERE first_seen COLLATE "C" >= %s)'
            '  GROUP BY paper_id HAVING min(first_seen COLLATE "C") >= %s'
            ") e JOIN papers p ON p.id = e.paper_id "
            'WHERE e.first > %s OR (e.first = %s AND e.paper_id COLLATE "C" > %s) '
            'ORDER BY e.first, e.paper_id COLLATE "C" LIMIT %s',
            (since, since, first_after, first_after, id_after, limit),
        )
        return [(str(row[0]), paper_from_row(row[1:])) for row in rows]

    async def first_listed_keys_since(
        self, since: str, *, after: tuple[str, str] = ("", ""), limit: int = 5000
    ) -> list[tuple[str, str]]:
        """(when first listed, paper id) of `first_listed_since`, without reading the papers themselves."""
        first_after, id_after = after
        rows = await self._fetchall(
            f'SELECT paper_id, min(first_seen COLLATE "C") AS first FROM {LISTED} AS listed'
            f' WHERE paper_id IN (SELECT paper_id FROM {LISTED} AS recent WHERE first_seen COLLATE "C" >= %s)'
            ' GROUP BY paper_id HAVING min(first_seen COLLATE "C") >= %s'
            ' AND (min(first_seen COLLATE "C") > %s OR (min(first_seen COLLATE "C") = %s'
            ' AND paper_id COLLATE "C" > %s))'
            ' ORDER BY 2, paper_id COLLATE "C" LIMIT %s',
            (since, since, first_after, first_after, id_after, limit),
        )
        return [(str(row[1]), str(row[0])) for row in rows]

    async def last_listed_at(self) -> str | None:
        """When the latest Daily Papers entry or arXiv listing was first recorded (a stored instant), if any."""
        row = await self._fetchone(f'SELECT max(first_seen COLLATE "C") FROM {LISTED} AS listed')
        return str(row[0]) if row and row[0] is not None else None

    async def recent_papers(self, limit: int) -> list[Paper]:
        """The `limit` papers stored last, newest first."""
        rows = await self._fetchall(f"SELECT {PAPER_COLUMNS} FROM papers ORDER BY seq DESC LIMIT %s", (limit,))
        return [paper_from_row(row) for row in rows]

    async def alerts_in_batches_from(self, channel_id: int, first_key: str, *, kind: str, batch_kind: str) -> int:
        """How many `kind` rows belong to `batch_kind` deliveries of a channel whose key is >= `first_key`
        and which are not failed (alert batch keys start with the time they were made)."""
        row = await self._fetchone(
            "SELECT count(*) FROM deliveries a JOIN deliveries b "
            "ON b.channel_id = a.channel_id AND b.kind = %s AND b.key = a.batch "
            'WHERE a.channel_id = %s AND a.kind = %s AND b.key COLLATE "C" >= %s '
            "AND b.status IN ('pending', 'sent')",
            (batch_kind, channel_id, kind, first_key),
        )
        return int(row[0]) if row else 0

    async def digest_payloads_for(self, channel_id: int, paper_ids: Sequence[str]) -> dict[str, list[str]]:
        """For each paper, the stored payloads of the channel's sent digests of the days it was featured."""
        rows = await self._fetchall(
            "SELECT e.paper_id, d.payload FROM daily_entries e JOIN deliveries d "
            "ON d.channel_id = %s AND d.kind = 'digest' AND d.key = e.day AND d.status = 'sent' "
            "WHERE e.paper_id = ANY(%s) AND d.payload IS NOT NULL",
            (channel_id, list(paper_ids)),
        )
        found: dict[str, list[str]] = {}
        for paper_id, payload in rows:
            found.setdefault(str(paper_id), []).append(str(payload))
        return found
