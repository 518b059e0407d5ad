"""Small key/value facts the bot remembers between runs, and per-guild counts for status."""

from __future__ import annotations

import logging

from bot.store.base import StoreBase

log = logging.getLogger(__name__)


class MetaMixin(StoreBase):
    """The `meta` table and counts that span settings tables."""

    async def get_meta(self, key: str) -> str | None:
        """The value stored under `key`, if any."""
        async with self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)) as cursor:
            row = await cursor.fetchone()
        return str(row[0]) if row else None

    async def set_meta(self, key: str, value: str) -> None:
        """Store `value` under `key`, replacing what was there."""
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    async def guild_counts(self, guild_id: int) -> tuple[int, int]:
        """(digests, alert subscriptions) configured in one guild."""
        async with self._db.execute(
            "SELECT (SELECT count(*) FROM digest_settings WHERE guild_id = ? AND enabled = 1), "
            "(SELECT count(*) FROM subscriptions WHERE guild_id = ?)",
            (guild_id, guild_id),
        ) as cursor:
            row = await cursor.fetchone()
        assert row is not None
        return int(row[0]), int(row[1])
