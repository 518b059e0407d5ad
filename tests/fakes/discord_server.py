"""Loopback Discord: an aiohttp REST API plus websocket gateway that the real discord.py logs into.

Build a world, start the server, point discord.py at it, run a real bot, then drive it as users would::

    server = FakeDiscord()
    lab = server.add_guild("Lab")
    papers = server.add_text_channel(lab, "papers")
    alice = server.add_member(lab, "alice", permissions={"manage_channels"})
    await server.start()
    async with running_bot(bot, server):           # from tests.fakes.discord_fixtures
        result = await server.slash("paper", "search", query="mamba", as_user=alice, channel=papers)
        assert "Mamba" in result.text
    await server.close()

Everything the bot sends is recorded (`server.requests`, `server.messages_in(channel)`, interaction
results) and checked against Discord's real limits, answering with Discord-shaped errors. Faults
(5xx, 429, gateway closes, bad token, deleted channels, missing permissions) are switched on with methods.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import re
from collections.abc import Iterator
from typing import Any

import discord
import yarl
from aiohttp import web

from .discord_driver import InteractionDriver
from .discord_gateway import (
    INTENT_GUILD_MEMBERS,
    INTENT_GUILDS,
    GatewayHub,
    GatewaySession,
)
from .discord_model import (
    ADMINISTRATOR,
    DEFAULT_BOT_PERMISSIONS,
    DEFAULT_EVERYONE_PERMISSIONS,
    DM,
    EMBED_LINKS,
    GUILD_TEXT,
    OVERWRITE_MEMBER,
    OVERWRITE_ROLE,
    SEND_MESSAGES,
    VIEW_CHANNEL,
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeRole,
    FakeUser,
    Overwrite,
    PermissionsLike,
    SnowflakeFactory,
    channel_permissions,
    permission_bits,
)
from .discord_records import (
    CallbackRejected,
    FakeDiscordError,
    InteractionNotAnswered,
    InteractionResult,
    Notifier,
    Pings,
    RecordedMessage,
    RequestRecord,
    Stats,
)
from .discord_rest import API_PREFIX, Bucket, Fault, RateLimitSettings
from .discord_threads import ThreadApi

log = logging.getLogger(__name__)

__all__ = [
    "CallbackRejected",
    "FakeChannel",
    "FakeDiscord",
    "FakeDiscordError",
    "FakeGuild",
    "FakeMember",
    "FakeRole",
    "FakeUser",
    "InteractionNotAnswered",
    "InteractionResult",
    "Pings",
    "RateLimitSettings",
    "RecordedMessage",
    "RequestRecord",
    "Stats",
    "point_discord_at",
]


@contextlib.contextmanager
def point_discord_at(server: FakeDiscord) -> Iterator[FakeDiscord]:
    """Point discord.py's REST base and default gateway at `server`; restore both on exit."""
    old_base = discord.http.Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = server.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(server.gateway_url)
    try:
        yield server
    finally:
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway


class FakeDiscord(ThreadApi, InteractionDriver):
    """A Discord REST API and gateway on 127.0.0.1 for the real discord.py, with a driver API for tests.

    Identity: `token`, `application_id`, `bot_user_id` (deliberately different from the application id),
    `api_base` (for Route.BASE / `[discord] api_base`), `gateway_url` (for DEFAULT_GATEWAY / `gateway_url`).

    World (before or after login; live changes are dispatched): `add_guild`, `add_role`, `add_text_channel`,
    `add_member`, `add_user`, `dm_channel`, `set_overwrite`, `clear_overwrite`, `delete_channel`.

    Users acting: `slash`, `autocomplete`, `click`, `select`, `submit_modal` (return InteractionResult, except
    autocomplete which returns the choices) and `user_message`.

    Inspection: `messages_in`, `wait_for_messages`, `synced_commands`, `requests` / `requests_to`, `stats`,
    `gateway_ops`, `wait_for_op`, `wait_until_connected`, `interactions`, `internal_errors`,
    `bot_permissions`, `member_permissions`.

    Faults: `fail_next_posts`, `fail_next_requests`, `rate_limit_next_post`, `set_rate_limits`,
    `close_gateway`, `reject_token` / `accept_token`, `delete_channel`, `deny_bot` / `allow_bot`,
    `latency` (seconds added to every REST answer), `interaction_deadline` (None disables the 3 s rule).

    discord.py timings worth knowing: it retries 500/502/504 after 1, 3, 5... seconds (use 503 for an
    immediate DiscordServerError), and waits 5 s in `before_identify_hook` before re-IDENTIFYing.
    """

    def __init__(
        self,
        token: str = "fake-bot-token.paperboy.tests",
        *,
        bot_name: str = "Paperboy",
        application_name: str = "Paperboy",
        interaction_deadline: float | None = 3.0,
        nonce_window: float = 300.0,
        heartbeat_interval: float = 41.25,
        gateway_compression: bool = True,
    ) -> None:
        self.ids = SnowflakeFactory()
        self.token = token
        self.application_id = self.ids.next()
        self.application_name = application_name
        self.application_flags = 0
        self.bot_user = FakeUser(self.ids.next(), bot_name, bot=True)
        self.app_owner = FakeUser(self.ids.next(), "app-owner")
        self.interaction_deadline = interaction_deadline
        self.nonce_window = nonce_window
        self.heartbeat_interval_ms = int(heartbeat_interval * 1000)
        self.gateway_compression = gateway_compression
        self.latency = 0.0
        self.recommended_shards = 1  # what GET /gateway/bot answers as `shards`

        self.guilds: dict[int, FakeGuild] = {}
        self.users: dict[int, FakeUser] = {self.bot_user.id: self.bot_user, self.app_owner.id: self.app_owner}
        self.channels: dict[int, FakeChannel] = {}
        self._dm_by_user: dict[int, FakeChannel] = {}
        self.messages: dict[int, RecordedMessage] = {}
        self.threads: dict[int, dict[str, Any]] = {}
        self._channel_log: dict[int, list[RecordedMessage]] = {}
        self._nonces: dict[tuple[int, int, str], tuple[RecordedMessage, float]] = {}
        self.interactions: dict[int, InteractionResult] = {}
        self._interactions_by_token: dict[str, InteractionResult] = {}
        self.global_commands: list[dict[str, Any]] = []
        self.guild_commands: dict[int, list[dict[str, Any]]] = {}

        self.requests: list[RequestRecord] = []
        self.stats = Stats()
        self.rate_limits = RateLimitSettings()
        self._buckets: dict[str, Bucket] = {}
        self._global_bucket: Bucket | None = None
        self._faults: list[Fault] = []
        self._token_rejected = False
        self.internal_errors: list[str] = []

        self.notifier = Notifier()
        self.gateway = GatewayHub(self)
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    # ---- lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> FakeDiscord:
        """Listen on a free port of 127.0.0.1."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._handle_rest)
        for path in ("/gateway", "/gateway/", "/resume", "/resume/"):
            app.router.add_get(path, self.gateway.handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host_port = self._runner.addresses[0]
        self.port = int(host_port[1])
        log.debug("fake Discord listening on %s", self.base_url)
        return self

    async def close(self) -> None:
        """Close sockets and stop listening."""
        await self.gateway.close_all(1001, "Server shutting down")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:PORT"""
        if self.port is None:
            raise FakeDiscordError("FakeDiscord is not started; await server.start() first")
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        """Value for discord.http.Route.BASE (and the `api_base` config key)."""
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        """Value for DiscordWebSocket.DEFAULT_GATEWAY (and the `gateway_url` config key)."""
        return self.base_url.replace("http://", "ws://") + "/gateway"

    @property
    def resume_gateway_url(self) -> str:
        """The URL READY tells the bot to resume on (distinct from gateway_url, as on Discord)."""
        return self.base_url.replace("http://", "ws://") + "/resume"

    @property
    def bot_user_id(self) -> int:
        """The bot user's id (different from application_id, so confusing the two fails)."""
        return self.bot_user.id

    def notify(self) -> None:
        """Wake waiters after a state change."""
        self.notifier.notify()

    def token_accepted(self, token: Any) -> bool:
        """Whether `token` is the bot's token and has not been revoked."""
        return not self._token_rejected and token == self.token

    # ---- world building ----------------------------------------------------------------------------
    def add_guild(
        self,
        name: str,
        *,
        bot_permissions: PermissionsLike = DEFAULT_BOT_PERMISSIONS,
        everyone_permissions: PermissionsLike = DEFAULT_EVERYONE_PERMISSIONS,
        locale: str = "en-US",
        shard: tuple[int, int] | None = None,
    ) -> FakeGuild:
        """Create a guild with @everyone, an owner and the bot (with a managed role); dispatch it if live.

        `shard` (shard_id, shard_count) picks an id whose guild that shard receives.
        """
        guild_id = self.ids.next() if shard is None else self.ids.next_on_shard(*shard)
        guild = FakeGuild(id=guild_id, name=name, locale=locale)
        guild.roles[guild.id] = FakeRole(guild.id, guild, "@everyone", permission_bits(everyone_permissions))
        owner = FakeUser(self.ids.next(), f"{name.lower()}-owner")
        self.users[owner.id] = owner
        guild.owner_id = owner.id
        guild.members[owner.id] = FakeMember(owner, guild)
        bot_role = FakeRole(
            self.ids.next(),
            guild,
            self.bot_user.name,
            permission_bits(bot_permissions),
            position=1,
            managed=True,
            bot_id=self.bot_user.id,
        )
        guild.roles[bot_role.id] = bot_role
        guild.members[self.bot_user.id] = FakeMember(self.bot_user, guild, [bot_role])
        self.guilds[guild.id] = guild
        for session in self.gateway.sessions_for(guild.id):
            session.dispatch("GUILD_CREATE", self.guild_create_payload(guild, session, joined=True))
        self.notify()
        return guild

    def add_role(
        self, guild: FakeGuild, name: str, permissions: PermissionsLike = None, *, mentionable: bool = False
    ) -> FakeRole:
        """Create a role with these permissions (int, discord.Permissions or names)."""
        role = FakeRole(
            self.ids.next(), guild, name, permission_bits(permissions), len(guild.roles), mentionable=mentionable
        )
        guild.roles[role.id] = role
        self.gateway.broadcast(
            "GUILD_ROLE_CREATE", {"guild_id": str(guild.id), "role": role.to_payload()}, INTENT_GUILDS
        )
        return role

    def add_text_channel(
        self, guild: FakeGuild, name: str, *, topic: str | None = None, position: int | None = None
    ) -> FakeChannel:
        """Create a text channel; dispatch CHANNEL_CREATE if the bot is connected."""
        channel = FakeChannel(
            id=self.ids.next(),
            name=name,
            type=GUILD_TEXT,
            guild=guild,
            position=len(guild.channels) if position is None else position,
            topic=topic,
        )
        guild.channels[channel.id] = channel
        self.channels[channel.id] = channel
        self.gateway.broadcast("CHANNEL_CREATE", channel.to_payload(), INTENT_GUILDS)
        return channel

    def add_member(
        self,
        guild: FakeGuild,
        name: str,
        *,
        permissions: PermissionsLike = None,
        admin: bool = False,
        roles: tuple[FakeRole, ...] | list[FakeRole] = (),
    ) -> FakeMember:
        """Add a user to a guild; `permissions`/`admin` give them a personal role with those rights."""
        user = FakeUser(self.ids.next(), name)
        self.users[user.id] = user
        member = FakeMember(user, guild, list(roles))
        bits = permission_bits(permissions) | (ADMINISTRATOR if admin else 0)
        if bits:
            member.roles.append(self.add_role(guild, f"{name}-role", bits))
        guild.members[user.id] = member
        payload = member.to_payload() | {"guild_id": str(guild.id)}
        self.gateway.broadcast("GUILD_MEMBER_ADD", payload, INTENT_GUILD_MEMBERS)
        return member

    def add_user(self, name: str) -> FakeUser:
        """A user who shares no guild with the bot (for DMs)."""
        user = FakeUser(self.ids.next(), name)
        self.users[user.id] = user
        return user

    def dm_channel(self, user: FakeUser | FakeMember) -> FakeChannel:
        """The DM channel between the bot and `user`, created on first use."""
        person = user.user if isinstance(user, FakeMember) else user
        channel = self._dm_by_user.get(person.id)
        if channel is None:
            channel = FakeChannel(id=self.ids.next(), name=f"dm-{person.name}", type=DM, recipients=[person])
            self._dm_by_user[person.id] = channel
            self.channels[channel.id] = channel
        return channel

    def set_overwrite(
        self,
        channel: FakeChannel,
        target: FakeRole | FakeMember | FakeUser,
        *,
        allow: PermissionsLike = None,
        deny: PermissionsLike = None,
    ) -> None:
        """Set a channel permission overwrite for a role or member; dispatch CHANNEL_UPDATE."""
        if channel.guild is None:
            raise FakeDiscordError("DM channels have no permission overwrites")
        kind = OVERWRITE_ROLE if isinstance(target, FakeRole) else OVERWRITE_MEMBER
        channel.overwrites[target.id] = Overwrite(target.id, kind, permission_bits(allow), permission_bits(deny))
        self.gateway.broadcast("CHANNEL_UPDATE", channel.to_payload(), INTENT_GUILDS)
        self.notify()

    def clear_overwrite(self, channel: FakeChannel, target: FakeRole | FakeMember | FakeUser) -> None:
        """Remove a role's or member's overwrite from a channel."""
        channel.overwrites.pop(target.id, None)
        self.gateway.broadcast("CHANNEL_UPDATE", channel.to_payload(), INTENT_GUILDS)
        self.notify()

    def bot_member(self, guild: FakeGuild) -> FakeMember:
        """The bot's membership of a guild."""
        return guild.members[self.bot_user.id]

    def bot_permissions(self, channel: FakeChannel) -> discord.Permissions:
        """What the bot may do in a channel (what interactions report as app_permissions)."""
        member = self.bot_member(channel.guild) if channel.guild is not None else None
        return discord.Permissions(channel_permissions(channel, member))

    def member_permissions(self, member: FakeMember, channel: FakeChannel) -> discord.Permissions:
        """A member's permissions in a channel, overwrites applied."""
        return discord.Permissions(channel_permissions(channel, member))

    # ---- fault switches ----------------------------------------------------------------------------
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
        settings = self.rate_limits
        if per_channel is not None:
            settings.per_channel = per_channel
        if global_per_second is not None:
            settings.global_per_second = global_per_second
        if per_webhook is not None:
            settings.per_webhook = per_webhook
        if per_route is not None:
            settings.per_route = per_route
        if enabled is not None:
            settings.enabled = enabled
        if headers is not None:
            settings.headers = headers
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

    # ---- inspection --------------------------------------------------------------------------------
    def messages_in(
        self,
        channel: FakeChannel,
        *,
        ephemeral: bool = False,
        deleted: bool = False,
        loading: bool = False,
    ) -> list[RecordedMessage]:
        """Messages in a channel, oldest first; ephemeral, deleted and "thinking..." ones only if asked."""
        out = []
        for message in self._channel_log.get(channel.id, []):
            if message.ephemeral and not ephemeral:
                continue
            if message.deleted and not deleted:
                continue
            if message.loading and not loading:
                continue
            out.append(message)
        return out

    async def wait_for_messages(
        self, channel: FakeChannel, count: int = 1, timeout: float = 5.0, **filters: bool
    ) -> list[RecordedMessage]:
        """Wait until `channel` holds at least `count` messages (same filters as messages_in); return them."""
        await self.notifier.wait_for(
            lambda: len(self.messages_in(channel, **filters)) >= count,
            timeout,
            lambda: f"{count} message(s) in #{channel.name} (have {len(self.messages_in(channel, **filters))})",
        )
        return self.messages_in(channel, **filters)

    def synced_commands(self, guild: FakeGuild | int | None = None) -> list[dict[str, Any]]:
        """Commands the bot synced globally (guild=None) or to a guild, as Discord stores them."""
        if guild is None:
            return copy.deepcopy(self.global_commands)
        guild_id = guild.id if isinstance(guild, FakeGuild) else guild
        return copy.deepcopy(self.guild_commands.get(guild_id, []))

    def requests_to(self, method: str | None = None, path: str | None = None) -> list[RequestRecord]:
        """Recorded requests filtered by method and a regex on the path (relative to /api/v10)."""
        pattern = re.compile(path) if path else None
        return [
            r
            for r in self.requests
            if (method is None or r.method == method.upper()) and (pattern is None or pattern.search(r.path))
        ]

    @property
    def gateway_ops(self) -> list[int]:
        """Opcodes received from clients, in order (2 IDENTIFY, 6 RESUME, 1 HEARTBEAT...)."""
        return list(self.gateway.ops_received)

    async def wait_for_op(self, op: int, count: int = 1, timeout: float = 5.0) -> None:
        """Wait until the gateway has received opcode `op` at least `count` times."""
        await self.notifier.wait_for(
            lambda: self.gateway.ops_received.count(op) >= count,
            timeout,
            lambda: f"gateway op {op} x{count} (received ops {self.gateway.ops_received})",
        )

    async def wait_until_connected(self, timeout: float = 5.0) -> GatewaySession:
        """Wait until a valid session has an open socket; return it."""

        def connected() -> bool:
            return any(s.connection is not None and not s.connection.closed for s in self.gateway.live_sessions())

        await self.notifier.wait_for(connected, timeout, lambda: "a connected gateway session")
        return self.gateway.primary_session()

    # ---- gateway payloads --------------------------------------------------------------------------
    def ready_payload(self, session: GatewaySession) -> dict[str, Any]:
        """The READY event for a new session."""
        user = self.bot_user.to_payload() | {"verified": True, "mfa_enabled": False, "email": None}
        payload: dict[str, Any] = {
            "v": 10,
            "user": user,
            "guilds": [{"id": str(g), "unavailable": True} for g in self.guilds if session.owns(g)],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.resume_gateway_url,
            "application": {"id": str(self.application_id), "flags": self.application_flags},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "user_settings": {},
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "_trace": ["fake-discord-gateway"],
        }
        if session.shard is not None:
            payload["shard"] = session.shard
        return payload

    def guild_create_payload(
        self, guild: FakeGuild, session: GatewaySession, *, joined: bool = False
    ) -> dict[str, Any]:
        """GUILD_CREATE; all members only with the GUILD_MEMBERS intent, else just the bot.

        A guild listed in READY comes back with `unavailable: false`; a guild joined later has no such key,
        which is how discord.py tells on_guild_available from on_guild_join.
        """
        everyone = session.wants(INTENT_GUILD_MEMBERS)
        payload = guild.to_payload(members=guild.members.values() if everyone else [self.bot_member(guild)])
        if joined:
            del payload["unavailable"]
        return payload
