"""The deliveries table on Postgres: intents recorded before sending, message ids after, open ones resumed."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from bot.models import Delivery
from bot.store.postgres.base import PostgresStoreBase
from bot.store.rows import DELIVERY_COLUMNS, delivery_from_row, delivery_payload, stored_instant

log = logging.getLogger(__name__)


class PostgresDeliveriesMixin(PostgresStoreBase):
    """Exactly-once bookkeeping for everything the bot posts on its own."""

    async def get_delivery(self, channel_id: int, kind: str, key: str) -> Delivery | None:
        """The delivery record for (channel, kind, key), if any."""
        row = await self._fetchone(
            f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE channel_id = %s AND kind = %s AND key = %s",
            (channel_id, kind, key),
        )
        return delivery_from_row(row) if row else None

    async def claim_delivery(
        self,
        channel_id: int,
        kind: str,
        key: str,
        *,
        nonce: str,
        parts: Sequence[dict[str, Any]],
        outcome: str | None = None,
        members: Iterable[tuple[str, str]] = (),
    ) -> tuple[Delivery, bool]:
        """Record the intent to post `parts` unless one exists; return the record and whether it is new.

        `members` are (kind, key) rows claimed in the same transaction and tied to this one by `batch`
        (the alerts of one bundled message); a member that already exists is left alone. Two processes
        claiming the same row at once both wait on its primary key: exactly one gets `True`.
        """
        now = self.now_text()
        insert = (
            "INSERT INTO deliveries (channel_id, kind, key, status, nonce, payload, outcome, created_at, updated_at) "
            "VALUES (%s, %s, %s, 'pending', %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING "
            f"RETURNING {DELIVERY_COLUMNS}"
        )
        params = (channel_id, kind, key, nonce, delivery_payload(parts, [None] * len(parts)), outcome, now, now)
        members = list(members)
        if members:
            async with self.transaction() as conn:
                cursor = await conn.execute(insert, params)
                row = await cursor.fetchone()
                if row is not None:
                    for member_kind, member_key in members:
                        await conn.execute(
                            "INSERT INTO deliveries (channel_id, kind, key, status, nonce, batch, created_at, "
                            "updated_at) VALUES (%s, %s, %s, 'pending', %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                            (channel_id, member_kind, member_key, nonce, key, now, now),
                        )
        else:
            # One round trip for the usual case: the new row comes back from the INSERT itself.
            row = await self._fetchone(insert, params)
        if row is not None:
            return delivery_from_row(row), True
        delivery = await self.get_delivery(channel_id, kind, key)
        assert delivery is not None
        return delivery, False

    async def record_attempt(self, channel_id: int, kind: str, key: str) -> None:
        """Note that a send is about to start (so a crash after it is verified, not blindly repeated)."""
        await self._execute(
            "UPDATE deliveries SET attempts = attempts + 1, updated_at = %s "
            "WHERE channel_id = %s AND kind = %s AND key = %s",
            (self.now_text(), channel_id, kind, key),
        )

    async def record_part_sent(self, channel_id: int, kind: str, key: str, index: int, message_id: int) -> None:
        """Remember the message id of one sent part."""
        # One UPDATE: its row lock keeps two processes recording parts of one delivery from overwriting each other.
        count = await self._execute(
            "UPDATE deliveries SET payload = jsonb_set(payload::jsonb, ARRAY['sent', %s::text], to_jsonb(%s::bigint))"
            "::text, updated_at = %s WHERE channel_id = %s AND kind = %s AND key = %s",
            (index, message_id, self.now_text(), channel_id, kind, key),
        )
        assert count == 1

    async def mark_delivered(
        self, channel_id: int, kind: str, key: str, message_id: int | None, *, outcome: str | None = None
    ) -> None:
        """Close a delivery as sent (and the alert rows batched into it)."""
        now = self.now_text()
        # Both updates in one statement (one round trip, one transaction).
        await self._execute(
            "WITH main AS (UPDATE deliveries SET status = 'sent', message_id = %s, error = NULL, "
            "next_attempt_at = NULL, outcome = coalesce(%s, outcome), updated_at = %s "
            "WHERE channel_id = %s AND kind = %s AND key = %s) "
            "UPDATE deliveries SET status = 'sent', message_id = %s, updated_at = %s "
            "WHERE channel_id = %s AND batch = %s AND status = 'pending'",
            (message_id, outcome, now, channel_id, kind, key, message_id, now, channel_id, key),
        )

    async def schedule_retry(self, channel_id: int, kind: str, key: str, *, error: str, at: dt.datetime) -> None:
        """Keep a delivery open and try again at `at`."""
        await self._execute(
            "UPDATE deliveries SET error = %s, next_attempt_at = %s, updated_at = %s "
            "WHERE channel_id = %s AND kind = %s AND key = %s",
            (error, at.isoformat(timespec="seconds"), self.now_text(), channel_id, kind, key),
        )

    async def mark_failed(self, channel_id: int, kind: str, key: str, *, error: str) -> None:
        """Give up on a delivery for good (the channel is gone or forbids the bot)."""
        now = self.now_text()
        await self._execute(
            "WITH main AS (UPDATE deliveries SET status = 'failed', error = %s, next_attempt_at = NULL, "
            "updated_at = %s WHERE channel_id = %s AND kind = %s AND key = %s) "
            "UPDATE deliveries SET status = 'failed', error = %s, updated_at = %s "
            "WHERE channel_id = %s AND batch = %s AND status = 'pending'",
            (error, now, channel_id, kind, key, error, now, channel_id, key),
        )

    async def open_deliveries(self, kinds: Sequence[str], due_by: dt.datetime | None = None) -> list[Delivery]:
        """Pending deliveries of these kinds whose next attempt is due by `due_by` (all if None)."""
        sql = f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE status = 'pending' AND kind = ANY(%s)"
        params: list[Any] = [list(kinds)]
        if due_by is not None:
            sql += " AND (next_attempt_at IS NULL OR next_attempt_at <= %s)"
            params.append(due_by.isoformat(timespec="seconds"))
        rows = await self._fetchall(sql + ' ORDER BY created_at, channel_id, key COLLATE "C"', params)
        return [delivery_from_row(row) for row in rows]

    async def next_retry_at(self, kinds: Sequence[str]) -> dt.datetime | None:
        """The earliest scheduled retry among pending deliveries of these kinds."""
        row = await self._fetchone(
            "SELECT min(next_attempt_at) FROM deliveries WHERE status = 'pending' AND kind = ANY(%s)", (list(kinds),)
        )
        return stored_instant(row[0]) if row else None

    async def delivered_keys(self, channel_id: int, kind: str, keys: Sequence[str]) -> set[str]:
        """Which of `keys` already have a delivery record of `kind` in this channel (in any state)."""
        rows = await self._fetchall(
            "SELECT key FROM deliveries WHERE channel_id = %s AND kind = %s AND key = ANY(%s)",
            (channel_id, kind, list(keys)),
        )
        return {str(row[0]) for row in rows}

    async def latest_delivery(self, channel_id: int, kind: str) -> Delivery | None:
        """The most recently created delivery of `kind` to a channel."""
        row = await self._fetchone(
            f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE channel_id = %s AND kind = %s "
            'ORDER BY created_at DESC, key COLLATE "C" DESC LIMIT 1',
            (channel_id, kind),
        )
        return delivery_from_row(row) if row else None

    async def delivered_pairs(self, kind: str, keys: Sequence[str]) -> set[tuple[int, str]]:
        """(channel, key) pairs that have a delivery record of `kind` for any of `keys`."""
        if not keys:
            return set()
        rows = await self._fetchall(
            "SELECT channel_id, key FROM deliveries WHERE kind = %s AND key = ANY(%s)", (kind, list(keys))
        )
        return {(int(row[0]), str(row[1])) for row in rows}
