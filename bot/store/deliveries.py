"""The deliveries table: intents recorded before sending, message ids after, open ones resumed."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from bot.models import Delivery
from bot.store.base import StoreBase
from bot.store.rows import DELIVERY_COLUMNS, delivery_from_row, delivery_payload, payload_with_part_sent, stored_instant

log = logging.getLogger(__name__)


class DeliveriesMixin(StoreBase):
    """Exactly-once bookkeeping for everything the bot posts on its own."""

    async def get_delivery(self, channel_id: int, kind: str, key: str) -> Delivery | None:
        """The delivery record for (channel, kind, key), if any."""
        async with self._db.execute(
            f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE channel_id = ? AND kind = ? AND key = ?",
            (channel_id, kind, key),
        ) as cursor:
            row = await cursor.fetchone()
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
        (the alerts of one bundled message); a member that already exists is left alone.
        """
        now = self.now_text()
        async with self.transaction() as db:
            cursor = await db.execute(
                "INSERT INTO deliveries (channel_id, kind, key, status, nonce, payload, outcome, created_at, "
                "updated_at) VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (channel_id, kind, key, nonce, delivery_payload(parts, [None] * len(parts)), outcome, now, now),
            )
            created = cursor.rowcount > 0
            if created:
                for member_kind, member_key in members:
                    await db.execute(
                        "INSERT INTO deliveries (channel_id, kind, key, status, nonce, batch, created_at, "
                        "updated_at) VALUES (?, ?, ?, 'pending', ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                        (channel_id, member_kind, member_key, nonce, key, now, now),
                    )
        delivery = await self.get_delivery(channel_id, kind, key)
        assert delivery is not None
        return delivery, created

    async def record_attempt(self, channel_id: int, kind: str, key: str) -> None:
        """Note that a send is about to start (so a crash after it is verified, not blindly repeated)."""
        async with self.transaction() as db:
            await db.execute(
                "UPDATE deliveries SET attempts = attempts + 1, updated_at = ? "
                "WHERE channel_id = ? AND kind = ? AND key = ?",
                (self.now_text(), channel_id, kind, key),
            )

    async def record_part_sent(self, channel_id: int, kind: str, key: str, index: int, message_id: int) -> None:
        """Remember the message id of one sent part."""
        async with self.transaction() as db:
            async with db.execute(
                "SELECT payload FROM deliveries WHERE channel_id = ? AND kind = ? AND key = ?",
                (channel_id, kind, key),
            ) as cursor:
                row = await cursor.fetchone()
            assert row is not None
            await db.execute(
                "UPDATE deliveries SET payload = ?, updated_at = ? WHERE channel_id = ? AND kind = ? AND key = ?",
                (payload_with_part_sent(row[0], index, message_id), self.now_text(), channel_id, kind, key),
            )

    async def mark_delivered(
        self, channel_id: int, kind: str, key: str, message_id: int | None, *, outcome: str | None = None
    ) -> None:
        """Close a delivery as sent (and the alert rows batched into it)."""
        now = self.now_text()
        async with self.transaction() as db:
            await db.execute(
                "UPDATE deliveries SET status = 'sent', message_id = ?, error = NULL, next_attempt_at = NULL, "
                "outcome = coalesce(?, outcome), updated_at = ? WHERE channel_id = ? AND kind = ? AND key = ?",
                (message_id, outcome, now, channel_id, kind, key),
            )
            await db.execute(
                "UPDATE deliveries SET status = 'sent', message_id = ?, updated_at = ? "
                "WHERE channel_id = ? AND batch = ? AND status = 'pending'",
                (message_id, now, channel_id, key),
            )

    async def schedule_retry(self, channel_id: int, kind: str, key: str, *, error: str, at: dt.datetime) -> None:
        """Keep a delivery open and try again at `at`."""
        async with self.transaction() as db:
            await db.execute(
                "UPDATE deliveries SET error = ?, next_attempt_at = ?, updated_at = ? "
                "WHERE channel_id = ? AND kind = ? AND key = ?",
                (error, at.isoformat(timespec="seconds"), self.now_text(), channel_id, kind, key),
            )

    async def mark_failed(self, channel_id: int, kind: str, key: str, *, error: str) -> None:
        """Give up on a delivery for good (the channel is gone or forbids the bot)."""
        now = self.now_text()
        async with self.transaction() as db:
            await db.execute(
                "UPDATE deliveries SET status = 'failed', error = ?, next_attempt_at = NULL, updated_at = ? "
                "WHERE channel_id = ? AND kind = ? AND key = ?",
                (error, now, channel_id, kind, key),
            )
            await db.execute(
                "UPDATE deliveries SET status = 'failed', error = ?, updated_at = ? "
                "WHERE channel_id = ? AND batch = ? AND status = 'pending'",
                (error, now, channel_id, key),
            )

    async def open_deliveries(self, kinds: Sequence[str], due_by: dt.datetime | None = None) -> list[Delivery]:
        """Pending deliveries of these kinds whose next attempt is due by `due_by` (all if None)."""
        marks = ",".join("?" * len(kinds))
        sql = f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE status = 'pending' AND kind IN ({marks})"
        params: list[Any] = list(kinds)
        if due_by is not None:
            sql += " AND (next_attempt_at IS NULL OR next_attempt_at <= ?)"
            params.append(due_by.isoformat(timespec="seconds"))
        async with self._db.execute(sql + " ORDER BY created_at, channel_id, key", params) as cursor:
            rows = await cursor.fetchall()
        return [delivery_from_row(row) for row in rows]

    async def next_retry_at(self, kinds: Sequence[str]) -> dt.datetime | None:
        """The earliest scheduled retry among pending deliveries of these kinds."""
        marks = ",".join("?" * len(kinds))
        async with self._db.execute(
            f"SELECT min(next_attempt_at) FROM deliveries WHERE status = 'pending' AND kind IN ({marks})",
            list(kinds),
        ) as cursor:
            row = await cursor.fetchone()
        return stored_instant(row[0]) if row else None

    async def delivered_keys(self, channel_id: int, kind: str, keys: Sequence[str]) -> set[str]:
        """Which of `keys` already have a delivery record of `kind` in this channel (in any state)."""
        found: set[str] = set()
        for start in range(0, len(keys), 500):
            chunk = list(keys[start : start + 500])
            marks = ",".join("?" * len(chunk))
            async with self._db.execute(
                f"SELECT key FROM deliveries WHERE channel_id = ? AND kind = ? AND key IN ({marks})",
                [channel_id, kind, *chunk],
            ) as cursor:
                found.update(str(row[0]) for row in await cursor.fetchall())
        return found

    async def latest_delivery(self, channel_id: int, kind: str) -> Delivery | None:
        """The most recently created delivery of `kind` to a channel."""
        async with self._db.execute(
            f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE channel_id = ? AND kind = ? "
            "ORDER BY created_at DESC, key DESC LIMIT 1",
            (channel_id, kind),
        ) as cursor:
            row = await cursor.fetchone()
        return delivery_from_row(row) if row else None

    async def delivered_pairs(self, kind: str, keys: Sequence[str]) -> set[tuple[int, str]]:
        """(channel, key) pairs that have a delivery record of `kind` for any of `keys`."""
        if not keys:
            return set()
        marks = ",".join("?" * len(keys))
        async with self._db.execute(
            f"SELECT channel_id, key FROM deliveries WHERE kind = ? AND key IN ({marks})", [kind, *keys]
        ) as cursor:
            return {(int(row[0]), str(row[1])) for row in await cursor.fetchall()}
