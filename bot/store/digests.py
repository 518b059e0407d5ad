"""Per-channel digest settings."""

from __future__ import annotations

import logging

from bot.models import DigestSettings
from bot.store.base import StoreBase
from bot.store.rows import DIGEST_COLUMNS, settings_from_row, settings_values

log = logging.getLogger(__name__)


class DigestsMixin(StoreBase):
    """Typed access to `digest_settings`."""

    async def save_digest_settings(self, settings: DigestSettings) -> DigestSettings:
        """Create or replace a channel's digest settings (re-enabling it); return what was stored.

        `effective_from` (default: now) marks when the settings took effect: earlier due times don't count.
        """
        now = self.now_text()
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO digest_settings (channel_id, guild_id, time, timezone, top, min_upvotes, "
                "weekdays_only, style, post_empty, enabled, disabled_reason, created_at, updated_at, "
                "frequency, weekday, source, category, query) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, NULL, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (channel_id) DO UPDATE SET "
                "guild_id = excluded.guild_id, time = excluded.time, timezone = excluded.timezone, "
                "top = excluded.top, min_upvotes = excluded.min_upvotes, "
                "weekdays_only = excluded.weekdays_only, style = excluded.style, "
                "post_empty = excluded.post_empty, enabled = 1, disabled_reason = NULL, "
                "created_at = excluded.created_at, updated_at = excluded.updated_at, "
                "frequency = excluded.frequency, weekday = excluded.weekday, "
                "source = excluded.source, category = excluded.category, query = excluded.query",
                settings_values(settings, now=now),
            )
        stored = await self.get_digest_settings(settings.channel_id)
        assert stored is not None
        return stored

    async def get_digest_settings(self, channel_id: int) -> DigestSettings | None:
        """A channel's digest settings, if it has any."""
        async with self._db.execute(
            f"SELECT {DIGEST_COLUMNS} FROM digest_settings WHERE channel_id = ?", (channel_id,)
        ) as cursor:
            row = await cursor.fetchone()
        return settings_from_row(row) if row else None

    async def list_digest_settings(
        self, guild_id: int | None = None, *, enabled_only: bool = False
    ) -> list[DigestSettings]:
        """Digest settings of one guild (or all), by channel id."""
        clauses, params = [], []
        if guild_id is not None:
            clauses.append("guild_id = ?")
            params.append(guild_id)
        if enabled_only:
            clauses.append("enabled = 1")
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        async with self._db.execute(
            f"SELECT {DIGEST_COLUMNS} FROM digest_settings {where} ORDER BY channel_id", params
        ) as cursor:
            rows = await cursor.fetchall()
        return [settings_from_row(row) for row in rows]

    async def delete_digest_settings(self, channel_id: int) -> bool:
        """Turn a channel's digest off; True if it had one."""
        async with self.transaction() as db:
            cursor = await db.execute("DELETE FROM digest_settings WHERE channel_id = ?", (channel_id,))
            return cursor.rowcount > 0

    async def disable_digest(self, channel_id: int, reason: str) -> None:
        """Stop a channel's digest and say why (shown in /digest show)."""
        async with self.transaction() as db:
            await db.execute(
                "UPDATE digest_settings SET enabled = 0, disabled_reason = ?, updated_at = ? WHERE channel_id = ?",
                (reason, self.now_text(), channel_id),
            )
