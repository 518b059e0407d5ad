"""Fault switches of the loopback Discord: failing or rate-limited requests, gateway closes, revoked token."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from .discord_gateway import INTENT_GUILDS, GatewayHub
from .discord_model import (
    EMBED_LINKS,
    SEND_MESSAGES,
    VIEW_CHANNEL,
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeRole,
    FakeUser,
    PermissionsLike,
)
from .discord_rate_limits import Bucket, Fault, RateLimitSettings
from .discord_records import FakeDiscordError

log = logging.getLogger(__name__)


class FaultSwitches:
    """Faults a test switches on, and off again (a mixin; FakeDiscord owns the state)."""

    if TYPE_CHECKING:
        rate_limits: RateLimitSettings
        _buckets: dict[str, Bucket]
        _global_bucket: Bucket | None
        _faults: list[Fault]
        _token_rejected: bool
        gateway: GatewayHub

        def notify(self) -> None: ...

        def bot_member(self, guild: FakeGuild) -> FakeMember: ...

        def set_overwrite(
            self,
            channel: FakeChannel,
            target: FakeRole | FakeMember | FakeUser,
            *,
            allow: PermissionsLike = None,
            deny: PermissionsLike = None,
        ) -> None: ...

        def clear_overwrite(self, channel: FakeChannel, target: FakeRole | FakeMember | FakeUser) -> None: ...

    def fail_next_posts(self, n: int = 1, status: int = 500, *, code: int = 0, message: str | None = None) -> None:
        """Make the next `n` POST /channels/{id}/messages answer `status` (500: discord.py retries)."""
        self._faults.append(
            Fault(n, status, posts_only=True, code=code, message=message or f"{status}: Injected failure")
        )

    def fail_next_requests(
        self,
        n: int = 1,
        status: int = 500,
        *,
        method: str | None = None,
        path: str | None = None,
        code: int = 0,
        message: str | None = None,
    ) -> None:
        """Make the next `n` requests matching method and path regex (relative to /api/v10) fail."""
        self._faults.append(
            Fault(
                n,
                status,
                method=method.upper() if method else None,
                path=re.compile(path) if path else None,
                code=code,
                message=message or f"{status}: Injected failure",
            )
        )

    def rate_limit_next_post(self, retry_after: float = 0.2, global_: bool = False) -> None:
        """Answer the next channel message POST with one 429 (global or per-route)."""
        self._faults.append(Fault(1, 429, posts_only=True, retry_after=retry_after, global_=global_))

    def set_rate_limits(
        self,
        *,
        per_channel: tuple[int, float] | None = None,
        global_per_second: int | None = None,
        per_webhook: tuple[int, float] | None = None,
        per_route: tuple[int, float] | None = None,
        enabled: bool | None = None,
        headers: bool | None = None,
    ) -> None:
        """Tune rate limits; `headers=False` hides X-RateLimit-* on success so discord.py must learn by 429s."""
        given = {
            "per_channel": per_channel,
            "global_per_second": global_per_second,
            "per_webhook": per_webhook,
            "per_route": per_route,
            "enabled": enabled,
            "headers": headers,
        }
        for name, value in given.items():
            if value is not None:  # the settings object is shared: change it in place
                setattr(self.rate_limits, name, value)
        self._buckets.clear()
        self._global_bucket = None

    async def close_gateway(self, code: int = 4000, reason: str = "") -> None:
        """Close the bot's gateway socket(s) with `code`.

        4000: discord.py RESUMEs. 4009/4007: the session ends, the RESUME gets INVALID_SESSION and the bot
        IDENTIFYs again. 4004: authentication failed, discord.py stops. 1000: discord.py reconnects and resumes.
        """
        if await self.gateway.close_all(code, reason) == 0:
            raise FakeDiscordError("no open gateway connection to close")
        self.notify()

    def reject_token(self) -> None:
        """Revoke the token: REST answers 401 (login raises LoginFailure) and IDENTIFY/RESUME get close 4004."""
        self._token_rejected = True

    def accept_token(self) -> None:
        """Undo reject_token()."""
        self._token_rejected = False

    def delete_channel(self, channel: FakeChannel) -> None:
        """Delete a channel: CHANNEL_DELETE is dispatched and requests for it get 404 (10003 Unknown Channel)."""
        channel.deleted = True
        if channel.guild is not None:
            self.gateway.broadcast("CHANNEL_DELETE", channel.to_payload(), INTENT_GUILDS)
        self.notify()

    def deny_bot(self, channel: FakeChannel, *, send: bool = True, embed: bool = True, view: bool = False) -> None:
        """Deny the bot Send Messages / Embed Links / View Channel in a channel with a member overwrite."""
        deny = (SEND_MESSAGES if send else 0) | (EMBED_LINKS if embed else 0) | (VIEW_CHANNEL if view else 0)
        assert channel.guild is not None, "deny_bot needs a guild channel"
        self.set_overwrite(channel, self.bot_member(channel.guild), deny=deny)

    def allow_bot(self, channel: FakeChannel) -> None:
        """Remove the bot's member overwrite from a channel."""
        assert channel.guild is not None, "allow_bot needs a guild channel"
        self.clear_overwrite(channel, self.bot_member(channel.guild))
