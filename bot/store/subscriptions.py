"""Per-channel standing queries (keyword alerts)."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence

from bot.models import Subscription
from bot.store.base import StoreBase
from bot.store.errors import StoreError
from bot.store.rows import SUBSCRIPTION_COLUMNS, subscription_from_row

log = logging.getLogger(__name__)


class DuplicateSubscription(StoreError):
    """The channel already has a subscription with the same normalised query."""


class SubscriptionsMixin(StoreBase):
    """Typed access to `subscriptions`."""

    async def add_subscription(
        self,
        *,
        guild_id: int,
        channel_id: int,
        query: str,
        normalized: str,
        created_by: int,
        skip_digest_papers: bool = False,
        max_per_channel: int,
        max_per_guild: int,
    ) -> Subscription:
        """Add a standing query; raises DuplicateSubscription or LimitReached (checked in the same transaction)."""
        async with self.transaction() as db:
            async with db.execute(
                "SELECT (SELECT count(*) FROM subscriptions WHERE channel_id = ?), "
                "(SELECT count(*) FROM subscriptions WHERE guild_id = ?)",
                (channel_id, guild_id),
            ) as cursor:
                row = await cursor.fetchone()
            assert row is not None
            check_subscription_limits(row, max_per_channel=max_per_channel, max_per_guild=max_per_guild)
            try:
                cursor = await db.execute(
                    "INSERT INTO subscriptions (guild_id, channel_id, query, normalized, created_by, created_at, "
                    "skip_digest_papers) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (guild_id, channel_id, query, normalized, created_by, self.now_text(), int(skip_digest_papers)),
                )
            except sqlite3.IntegrityError as exc:
                raise DuplicateSubscription(normalized) from exc
            new_id = cursor.lastrowid
        found = await self.get_subscription(int(new_id or 0))
        assert found is not None
        return found

    async def get_subscription(self, subscription_id: int) -> Subscription | None:
        """One subscription by id."""
        async with self._db.execute(
            f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE id = ?", (subscription_id,)
        ) as cursor:
            row = await cursor.fetchone()
        return subscription_from_row(row) if row else None

    async def list_subscriptions(
        self, *, guild_id: int | None = None, channel_id: int | None = None
    ) -> list[Subscription]:
        """Subscriptions of a guild or channel (all if neither), oldest first."""
        clauses, params = [], []
        if guild_id is not None:
            clauses.append("guild_id = ?")
            params.append(guild_id)
        if channel_id is not None:
            clauses.append("channel_id = ?")
            params.append(channel_id)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        async with self._db.execute(
            f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions {where} ORDER BY id", params
        ) as cursor:
            rows = await cursor.fetchall()
        return [subscription_from_row(row) for row in rows]

    async def remove_subscription(self, subscription_id: int, *, guild_id: int) -> Subscription | None:
        """Delete a subscription of this guild; return it, or None if there was none."""
        found = await self.get_subscription(subscription_id)
        if found is None or found.guild_id != guild_id:
            return None
        async with self.transaction() as db:
            await db.execute("DELETE FROM subscriptions WHERE id = ?", (subscription_id,))
        return found


class LimitReached(StoreError):
    """A per-channel or per-guild subscription limit would be exceeded."""

    def __init__(self, scope: str, limit: int) -> None:
        super().__init__(f"{scope} limit of {limit} reached")
        self.scope = scope
        self.limit = limit


def check_subscription_limits(counts: Sequence[int], *, max_per_channel: int, max_per_guild: int) -> None:
    """Raise LimitReached if (subscriptions in the channel, in the guild) already reach a limit."""
    if counts[0] >= max_per_channel:
        raise LimitReached("channel", max_per_channel)
    if counts[1] >= max_per_guild:
        raise LimitReached("server", max_per_guild)
