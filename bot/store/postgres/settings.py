"""Per-channel digest settings, standing queries and the meta table on Postgres."""

from __future__ import annotations

import logging

import psycopg

from bot.models import DigestSettings, Subscription
from bot.store.postgres.base import PostgresStoreBase
from bot.store.rows import (
    DIGEST_COLUMNS,
    SUBSCRIPTION_COLUMNS,
    settings_from_row,
    settings_values,
    subscription_from_row,
)
from bot.store.subscriptions import DuplicateSubscription, check_subscription_limits

log = logging.getLogger(__name__)


class PostgresSettingsMixin(PostgresStoreBase):
    """Typed access to `digest_settings`, `subscriptions` and `meta`."""

    async def save_digest_settings(self, settings: DigestSettings) -> DigestSettings:
        """Create or replace a channel's digest settings (re-enabling it); return what was stored.

        `effective_from` (default: now) marks when the settings took effect: earlier due times don't count.
        """
        now = self.now_text()
        await self._execute(
            "INSERT INTO digest_settings (channel_id, guild_id, time, timezone, top, min_upvotes, "
            "weekdays_only, style, post_empty, enabled, disabled_reason, created_at, updated_at, "
            "frequency, weekday, source, category, query) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, TRUE, NULL, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (channel_id) DO UPDATE SET "
            "guild_id = excluded.guild_id, time = excluded.time, timezone = excluded.timezone, "
            "top = excluded.top, min_upvotes = excluded.min_upvotes, "
            "weekdays_only = excluded.weekdays_only, style = excluded.style, "
            "post_empty = excluded.post_empty, enabled = TRUE, disabled_reason = NULL, "
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
        row = await self._fetchone(f"SELECT {DIGEST_COLUMNS} FROM digest_settings WHERE channel_id = %s", (channel_id,))
        return settings_from_row(row) if row else None

    async def list_digest_settings(
        self, guild_id: int | None = None, *, enabled_only: bool = False
    ) -> list[DigestSettings]:
        """Digest settings of one guild (or all), by channel id."""
        rows = await self._fetchall(
            f"SELECT {DIGEST_COLUMNS} FROM digest_settings "
            "WHERE (%s::bigint IS NULL OR guild_id = %s) AND (enabled OR NOT %s) ORDER BY channel_id",
            (guild_id, guild_id, enabled_only),
        )
        return [settings_from_row(row) for row in rows]

    async def delete_digest_settings(self, channel_id: int) -> bool:
        """Turn a channel's digest off; True if it had one."""
        return await self._execute("DELETE FROM digest_settings WHERE channel_id = %s", (channel_id,)) > 0

    async def disable_digest(self, channel_id: int, reason: str) -> None:
        """Stop a channel's digest and say why (shown in /digest show)."""
        await self._execute(
            "UPDATE digest_settings SET enabled = FALSE, disabled_reason = %s, updated_at = %s WHERE channel_id = %s",
            (reason, self.now_text(), channel_id),
        )

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
        async with self.transaction() as conn:
            # Counting then inserting is only safe if no other process does the same for this guild meanwhile.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('subscriptions:' || %s, 0))", (guild_id,))
            cursor = await conn.execute(
                "SELECT (SELECT count(*) FROM subscriptions WHERE channel_id = %s), "
                "(SELECT count(*) FROM subscriptions WHERE guild_id = %s)",
                (channel_id, guild_id),
            )
            row = await cursor.fetchone()
            assert row is not None
            check_subscription_limits(row, max_per_channel=max_per_channel, max_per_guild=max_per_guild)
            try:
                # A savepoint, so the unique violation leaves the transaction usable for the clean exit.
                async with conn.transaction():
                    cursor = await conn.execute(
                        "INSERT INTO subscriptions (guild_id, channel_id, query, normalized, created_by, created_at, "
                        "skip_digest_papers) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
                        (guild_id, channel_id, query, normalized, created_by, self.now_text(), skip_digest_papers),
                    )
            except psycopg.errors.UniqueViolation as exc:
                raise DuplicateSubscription(normalized) from exc
            inserted = await cursor.fetchone()
        assert inserted is not None
        found = await self.get_subscription(int(inserted[0]))
        assert found is not None
        return found

    async def get_subscription(self, subscription_id: int) -> Subscription | None:
        """One subscription by id."""
        row = await self._fetchone(
            f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE id = %s", (subscription_id,)
        )
        return subscription_from_row(row) if row else None

    async def list_subscriptions(
        self, *, guild_id: int | None = None, channel_id: int | None = None
    ) -> list[Subscription]:
        """Subscriptions of a guild or channel (all if neither), oldest first."""
        rows = await self._fetchall(
            f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions "
            "WHERE (%s::bigint IS NULL OR guild_id = %s) AND (%s::bigint IS NULL OR channel_id = %s) ORDER BY id",
            (guild_id, guild_id, channel_id, channel_id),
        )
        return [subscription_from_row(row) for row in rows]

    async def remove_subscription(self, subscription_id: int, *, guild_id: int) -> Subscription | None:
        """Delete a subscription of this guild; return it, or None if there was none."""
        row = await self._fetchone(
            f"DELETE FROM subscriptions WHERE id = %s AND guild_id = %s RETURNING {SUBSCRIPTION_COLUMNS}",
            (subscription_id, guild_id),
        )
        return subscription_from_row(row) if row else None

    async def get_meta(self, key: str) -> str | None:
        """The value stored under `key`, if any."""
        row = await self._fetchone("SELECT value FROM meta WHERE key = %s", (key,))
        return str(row[0]) if row else None

    async def set_meta(self, key: str, value: str) -> None:
        """Store `value` under `key`, replacing what was there."""
        await self._execute(
            "INSERT INTO meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    async def guild_counts(self, guild_id: int) -> tuple[int, int]:
        """(digests, alert subscriptions) configured in one guild."""
        row = await self._fetchone(
            "SELECT (SELECT count(*) FROM digest_settings WHERE guild_id = %s AND enabled), "
            "(SELECT count(*) FROM subscriptions WHERE guild_id = %s)",
            (guild_id, guild_id),
        )
        assert row is not None
        return int(row[0]), int(row[1])
