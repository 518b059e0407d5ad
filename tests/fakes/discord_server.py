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

import asyncio
import contextlib
import copy
import hashlib
import json
import logging
import math
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import discord
import yarl
from aiohttp import BodyPartReader, web

from .discord_gateway import (
    INTENT_DIRECT_MESSAGES,
    INTENT_GUILD_MEMBERS,
    INTENT_GUILD_MESSAGES,
    INTENT_GUILDS,
    INTENT_MESSAGE_CONTENT,
    GatewayHub,
    GatewaySession,
)
from .discord_limits import (
    BUTTON,
    CHANNEL_SELECT,
    LABEL,
    LINK_BUTTON_STYLE,
    MENTIONABLE_SELECT,
    MESSAGE_FLAG_COMPONENTS_V2,
    MESSAGE_FLAG_EPHEMERAL,
    MESSAGE_FLAG_LOADING,
    MESSAGE_FLAG_SUPPRESS_EMBEDS,
    MESSAGE_FLAG_SUPPRESS_NOTIFICATIONS,
    ROLE_SELECT,
    SELECT_TYPES,
    STRING_SELECT,
    TEXT_INPUT,
    USER_SELECT,
    FormErrors,
    is_empty_message,
    validate_choices,
    validate_commands,
    validate_message,
    validate_modal,
)
from .discord_model import (
    ADMINISTRATOR,
    DEFAULT_BOT_PERMISSIONS,
    DEFAULT_EVERYONE_PERMISSIONS,
    DM,
    EMBED_LINKS,
    GUILD_TEXT,
    MANAGE_MESSAGES,
    MENTION_EVERYONE,
    OVERWRITE_MEMBER,
    OVERWRITE_ROLE,
    READ_MESSAGE_HISTORY,
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
    base_permissions,
    channel_permissions,
    permission_bits,
    utcnow,
)
from .discord_records import (
    APPLICATION_COMMAND,
    AUTOCOMPLETE,
    AUTOCOMPLETE_RESULT,
    CHANNEL_MESSAGE,
    DEFERRED_CHANNEL_MESSAGE,
    DEFERRED_UPDATE_MESSAGE,
    MESSAGE_COMPONENT,
    MODAL,
    MODAL_SUBMIT,
    PING,
    PONG,
    UPDATE_MESSAGE,
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

API_PREFIX = "/api/v10"
INTERACTION_TOKEN_LIFETIME = 15 * 60.0
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024
_CREATE_FLAGS = MESSAGE_FLAG_SUPPRESS_EMBEDS | MESSAGE_FLAG_SUPPRESS_NOTIFICATIONS | MESSAGE_FLAG_COMPONENTS_V2
_RESPONSE_FLAGS = _CREATE_FLAGS | MESSAGE_FLAG_EPHEMERAL
_VALID_CALLBACKS = {
    PING: (PONG,),
    APPLICATION_COMMAND: (CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, MODAL),
    MESSAGE_COMPONENT: (CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE, MODAL),
    AUTOCOMPLETE: (AUTOCOMPLETE_RESULT,),
    MODAL_SUBMIT: (CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE),
}
_OPTION_TYPE_NAMES = {
    1: "sub-command",
    2: "sub-command group",
    3: "string",
    4: "integer",
    5: "boolean",
    6: "user",
    7: "channel",
    8: "role",
    9: "mentionable",
    10: "number",
    11: "attachment",
}
# Option names that collide with slash()/autocomplete() keyword parameters must go through options={...}.
_RESERVED = ("as_user", "channel", "locale", "timeout", "wait", "enforce_default_permissions", "options", "focused")


# ---- HTTP helpers ------------------------------------------------------------------------------------
def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON response whose Content-Type is exactly `application/json`, as discord.py requires."""
    merged = {"Content-Type": "application/json"}
    merged.update(headers or {})
    return web.Response(body=json.dumps(data).encode(), status=status, headers=merged)


class ApiError(Exception):
    """An error answer in Discord's JSON shape."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *,
        errors: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {message} (code {code})")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        """The JSON body."""
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors is not None:
            body["errors"] = self.errors
        body.update(self.extra)
        return body

    def response(self) -> web.Response:
        """The aiohttp response."""
        return json_response(self.body(), self.status, self.headers)


def _unknown(kind: str, code: int) -> ApiError:
    return ApiError(404, code, f"Unknown {kind}")


def _form_error(errors: FormErrors) -> ApiError:
    return ApiError(400, 50035, "Invalid Form Body", errors=errors.tree)


def _empty_message() -> ApiError:
    return ApiError(400, 50006, "Cannot send an empty message")


def _bucket_hash(name: str) -> str:
    return hashlib.sha256(f"fake-discord:{name}".encode()).hexdigest()[:32]


@dataclass
class RateLimitSettings:
    """Rate limits the fake enforces; `per_*` are (requests, seconds) windows."""

    enabled: bool = True
    headers: bool = True
    per_channel: tuple[int, float] = (5, 5.0)
    global_per_second: int = 50
    per_webhook: tuple[int, float] = (5, 2.0)
    per_route: tuple[int, float] = (50, 1.0)


class _Bucket:
    """A fixed window that starts with its first request, like Discord's buckets."""

    def __init__(self, name: str, limit: int, per: float) -> None:
        self.hash = _bucket_hash(name)
        self.limit = limit
        self.per = per
        self.count = 0
        self.window_start: float | None = None

    def _roll(self, now: float) -> None:
        if self.window_start is None or now >= self.window_start + self.per:
            self.window_start = now
            self.count = 0

    def try_acquire(self, now: float) -> float | None:
        """Take a slot; return None if granted, else seconds until the window resets."""
        self._roll(now)
        assert self.window_start is not None
        if self.count >= self.limit:
            return self.window_start + self.per - now
        self.count += 1
        return None

    def headers(self, now: float) -> dict[str, str]:
        """The X-RateLimit-* headers describing the current window."""
        self._roll(now)
        assert self.window_start is not None
        reset_after = max(0.0, self.window_start + self.per - now)
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(0, self.limit - self.count)),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": self.hash,
        }


@dataclass
class _Fault:
    remaining: int
    status: int
    method: str | None = None
    path: re.Pattern[str] | None = None
    posts_only: bool = False
    code: int = 0
    message: str = ""
    retry_after: float | None = None
    global_: bool = False

    def matches(self, method: str, path: str, route: _Route) -> bool:
        if self.posts_only:
            return route.bucket == "message"
        if self.method is not None and self.method != method:
            return False
        return self.path is None or bool(self.path.search(path))


@dataclass
class _Call:
    request: web.Request
    params: dict[str, str]
    body: Any
    files: list[dict[str, Any]]
    record: RequestRecord

    def param_id(self, name: str) -> int:
        value = self.params[name]
        if not value.isdigit():
            raise ApiError(404, 0, "404: Not Found")
        return int(value)


Handler = Callable[[_Call], Awaitable[web.Response]]


@dataclass(frozen=True)
class _Route:
    method: str
    template: str
    pattern: re.Pattern[str]
    handler: str
    auth: str  # "bot": needs the bot token; "token": authorised by the interaction token in the path
    bucket: str | None  # "message", "webhook", "route", or None for no rate limit


def _compile(template: str) -> re.Pattern[str]:
    out = ""
    for part in re.split(r"(\{[a-z_]+\})", template):
        if part.startswith("{"):
            out += f"(?P<{part[1:-1]}>[^/]+)"
        else:
            out += re.escape(part)
    return re.compile(f"^{out}/?$")


_ROUTE_TABLE = [
    ("GET", "/users/@me", "get_me", "bot", "route"),
    ("GET", "/users/{user_id}", "get_user", "bot", "route"),
    ("POST", "/users/@me/channels", "create_dm", "bot", "route"),
    ("GET", "/oauth2/applications/@me", "get_application", "bot", "route"),
    ("GET", "/applications/@me", "get_application", "bot", "route"),
    ("GET", "/gateway", "get_gateway", "none", None),
    ("GET", "/gateway/bot", "get_gateway_bot", "bot", "route"),
    ("GET", "/channels/{channel_id}", "get_channel", "bot", "route"),
    ("GET", "/channels/{channel_id}/messages", "get_messages", "bot", "route"),
    ("POST", "/channels/{channel_id}/messages", "post_message", "bot", "message"),
    ("GET", "/channels/{channel_id}/messages/{message_id}", "get_message", "bot", "route"),
    ("PATCH", "/channels/{channel_id}/messages/{message_id}", "edit_message", "bot", "route"),
    ("DELETE", "/channels/{channel_id}/messages/{message_id}", "delete_message", "bot", "route"),
    ("POST", "/channels/{channel_id}/typing", "typing", "bot", "route"),
    ("GET", "/guilds/{guild_id}", "get_guild", "bot", "route"),
    ("GET", "/guilds/{guild_id}/channels", "get_guild_channels", "bot", "route"),
    ("GET", "/guilds/{guild_id}/members/{user_id}", "get_member", "bot", "route"),
    ("GET", "/applications/{application_id}/commands", "get_commands", "bot", "route"),
    ("PUT", "/applications/{application_id}/commands", "put_commands", "bot", "route"),
    ("POST", "/applications/{application_id}/commands", "post_command", "bot", "route"),
    ("GET", "/applications/{application_id}/commands/{command_id}", "get_command", "bot", "route"),
    ("DELETE", "/applications/{application_id}/commands/{command_id}", "delete_command", "bot", "route"),
    ("GET", "/applications/{application_id}/guilds/{guild_id}/commands", "get_commands", "bot", "route"),
    ("PUT", "/applications/{application_id}/guilds/{guild_id}/commands", "put_commands", "bot", "route"),
    ("POST", "/applications/{application_id}/guilds/{guild_id}/commands", "post_command", "bot", "route"),
    (
        "GET",
        "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}",
        "get_command",
        "bot",
        "route",
    ),
    (
        "DELETE",
        "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}",
        "delete_command",
        "bot",
        "route",
    ),
    ("POST", "/interactions/{interaction_id}/{token}/callback", "interaction_callback", "token", None),
    ("POST", "/webhooks/{application_id}/{token}", "post_followup", "token", "webhook"),
    ("GET", "/webhooks/{application_id}/{token}/messages/{message_ref}", "get_webhook_message", "token", "webhook"),
    (
        "PATCH",
        "/webhooks/{application_id}/{token}/messages/{message_ref}",
        "edit_webhook_message",
        "token",
        "webhook",
    ),
    (
        "DELETE",
        "/webhooks/{application_id}/{token}/messages/{message_ref}",
        "delete_webhook_message",
        "token",
        "webhook",
    ),
]
_ROUTES = [
    _Route(method, template, _compile(template), handler, auth, bucket)
    for method, template, handler, auth, bucket in _ROUTE_TABLE
]


def _normalize_embeds(embeds: list[Any]) -> list[dict[str, Any]]:
    out = []
    for embed in embeds:
        item = copy.deepcopy(embed)
        item.setdefault("type", "rich")
        out.append(item)
    return out


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


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


class FakeDiscord:
    """A Discord REST API and gateway on 127.0.0.1 for the real discord.py, with a driver API for tests.

    World: `add_guild`, `add_role`, `add_text_channel`, `add_member`, `dm_channel`, `set_overwrite`.
    Users acting: `slash`, `autocomplete`, `click`, `select`, `submit_modal`, `user_message`.
    Inspection: `messages_in`, `wait_for_messages`, `synced_commands`, `requests`, `stats`, `gateway_ops`.
    Faults: `fail_next_posts`, `fail_next_requests`, `rate_limit_next_post`, `close_gateway`,
    `reject_token`, `delete_channel`, `deny_bot`, `set_rate_limits`, `latency`.
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

        self.guilds: dict[int, FakeGuild] = {}
        self.users: dict[int, FakeUser] = {self.bot_user.id: self.bot_user, self.app_owner.id: self.app_owner}
        self.channels: dict[int, FakeChannel] = {}
        self._dm_by_user: dict[int, FakeChannel] = {}
        self.messages: dict[int, RecordedMessage] = {}
        self._channel_log: dict[int, list[RecordedMessage]] = {}
        self._nonces: dict[tuple[int, int, str], tuple[RecordedMessage, float]] = {}
        self.interactions: dict[int, InteractionResult] = {}
        self._interactions_by_token: dict[str, InteractionResult] = {}
        self.global_commands: list[dict[str, Any]] = []
        self.guild_commands: dict[int, list[dict[str, Any]]] = {}

        self.requests: list[RequestRecord] = []
        self.stats = Stats()
        self.rate_limits = RateLimitSettings()
        self._buckets: dict[str, _Bucket] = {}
        self._global_bucket: _Bucket | None = None
        self._faults: list[_Fault] = []
        self._token_rejected = False

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
    ) -> FakeGuild:
        """Create a guild with @everyone, an owner and the bot (with a managed role); dispatch it if live."""
        guild = FakeGuild(id=self.ids.next(), name=name, locale=locale)
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
        for session in self.gateway.live_sessions():
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
            _Fault(n, status, posts_only=True, code=code, message=message or f"{status}: Injected failure")
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
            _Fault(
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
        self._faults.append(_Fault(1, 429, posts_only=True, retry_after=retry_after, global_=global_))

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
            "guilds": [{"id": str(g), "unavailable": True} for g in self.guilds],
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

    def guild_create_payload(self, guild: FakeGuild, session: GatewaySession, *, joined: bool = False) -> dict[str, Any]:
        """GUILD_CREATE; all members only with the GUILD_MEMBERS intent, else just the bot.

        A guild listed in READY comes back with `unavailable: false`; a guild joined later has no such key,
        which is how discord.py tells on_guild_available from on_guild_join.
        """
        everyone = session.wants(INTENT_GUILD_MEMBERS)
        payload = guild.to_payload(members=guild.members.values() if everyone else [self.bot_member(guild)])
        if joined:
            del payload["unavailable"]
        return payload

    # ---- REST plumbing -----------------------------------------------------------------------------
    async def _handle_rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        record = RequestRecord(request.method, path, dict(request.query))
        self.requests.append(record)
        self.stats.requests += 1
        try:
            response = await self._serve(request, path, record)
        except ApiError as error:
            response = error.response()
        record.status = response.status
        self.notify()
        return response

    async def _read_body(self, request: web.Request) -> tuple[Any, list[dict[str, Any]]]:
        files: list[dict[str, Any]] = []
        if request.content_type.startswith("multipart/"):
            body: Any = None
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, BodyPartReader):
                    continue
                data = await part.read()
                if part.name == "payload_json":
                    body = json.loads(data.decode())
                else:
                    files.append({"name": part.name, "filename": part.filename, "size": len(data)})
            return body, files
        raw = await request.read()
        if not raw:
            return None, files
        try:
            return json.loads(raw), files
        except ValueError:
            raise ApiError(400, 50109, "The request body contains invalid JSON.") from None

    def _check_auth(self, request: web.Request, route: _Route) -> None:
        header = request.headers.get("Authorization")
        unauthorized = ApiError(401, 0, "401: Unauthorized")
        if route.auth == "bot" and (header is None or header != f"Bot {self.token}" or self._token_rejected):
            raise unauthorized
        if route.auth == "token" and header is not None and header != f"Bot {self.token}":
            raise unauthorized

    def _too_many(self, retry_after: float, *, global_: bool, bucket: _Bucket | None) -> ApiError:
        if global_:
            self.stats.rate_limited_global += 1
        else:
            self.stats.rate_limited_local += 1
        retry_after = max(retry_after, 0.001)
        headers = {
            "Via": "1.1 google",
            "Retry-After": str(math.ceil(retry_after)),
            "X-RateLimit-Scope": "global" if global_ else "user",
        }
        if global_:
            headers["X-RateLimit-Global"] = "true"
            headers["X-RateLimit-Limit"] = str(self.rate_limits.global_per_second)
            headers["X-RateLimit-Remaining"] = "0"
            headers["X-RateLimit-Reset"] = f"{time.time() + retry_after:.3f}"
            headers["X-RateLimit-Reset-After"] = f"{retry_after:.3f}"
        elif bucket is not None:
            headers.update(bucket.headers(time.monotonic()))
            headers["X-RateLimit-Remaining"] = "0"
            headers["X-RateLimit-Reset-After"] = f"{retry_after:.3f}"
            headers["X-RateLimit-Reset"] = f"{time.time() + retry_after:.3f}"
        return ApiError(
            429,
            0,
            "You are being rate limited.",
            headers=headers,
            extra={"retry_after": round(retry_after, 3), "global": global_},
        )

    def _bucket_for(self, route: _Route, params: dict[str, str]) -> _Bucket | None:
        if route.bucket is None:
            return None
        settings = self.rate_limits
        if route.bucket == "message":
            key, (limit, per) = f"message:{params['channel_id']}", settings.per_channel
            name = "POST /channels/{channel_id}/messages"
        elif route.bucket == "webhook":
            key, (limit, per) = f"webhook:{params['token']}", settings.per_webhook
            name = "webhook"
        else:
            major = params.get("channel_id") or params.get("guild_id") or ""
            key, (limit, per) = f"{route.method} {route.template}:{major}", settings.per_route
            name = f"{route.method} {route.template}"
        bucket = self._buckets.get(key)
        if bucket is None or bucket.limit != limit or bucket.per != per:
            bucket = self._buckets[key] = _Bucket(name, limit, per)
        return bucket

    def _check_global(self, route: _Route) -> None:
        if route.auth != "bot" or not self.rate_limits.enabled:
            return
        if self._global_bucket is None or self._global_bucket.limit != self.rate_limits.global_per_second:
            self._global_bucket = _Bucket("global", self.rate_limits.global_per_second, 1.0)
        wait = self._global_bucket.try_acquire(time.monotonic())
        if wait is not None:
            raise self._too_many(wait, global_=True, bucket=None)

    @property
    def _send_bucket_headers(self) -> bool:
        return self.rate_limits.enabled and self.rate_limits.headers

    def _take_fault(self, method: str, path: str, route: _Route) -> _Fault | None:
        for fault in self._faults:
            if fault.remaining > 0 and fault.matches(method, path, route):
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._faults.remove(fault)
                return fault
        return None

    async def _serve(self, request: web.Request, path: str, record: RequestRecord) -> web.StreamResponse:
        if self.latency:
            await asyncio.sleep(self.latency)
        route = None
        params: dict[str, str] = {}
        for candidate in _ROUTES:
            if candidate.method != request.method:
                continue
            match = candidate.pattern.match(path)
            if match:
                route, params = candidate, match.groupdict()
                break
        if route is None:
            log.warning("fake Discord has no route for %s %s", request.method, path)
            raise ApiError(404, 0, "404: Not Found")
        record.route = route.template
        body, files = await self._read_body(request)
        record.body = body
        self._check_auth(request, route)
        self._check_global(route)
        bucket = self._bucket_for(route, params)
        fault = self._take_fault(request.method, path, route)
        if fault is not None:
            if fault.status == 429:
                raise self._too_many(fault.retry_after or 0.2, global_=fault.global_, bucket=bucket)
            self.stats.injected_failures += 1
            raise ApiError(fault.status, fault.code, fault.message)
        if bucket is not None and self.rate_limits.enabled:
            wait = bucket.try_acquire(time.monotonic())
            if wait is not None:
                raise self._too_many(wait, global_=False, bucket=bucket)
        handler: Handler = getattr(self, f"_rest_{route.handler}")
        try:
            response = await handler(_Call(request, params, body, files, record))
        except ApiError as error:
            if error.code in (50035, 50006):
                self.stats.rejected_bodies += 1
            if bucket is not None and self._send_bucket_headers:
                error.headers.update(bucket.headers(time.monotonic()))
            raise
        if bucket is not None and self._send_bucket_headers:
            response.headers.update(bucket.headers(time.monotonic()))
        return response

    # ---- lookups -----------------------------------------------------------------------------------
    def _channel(self, channel_id: int) -> FakeChannel:
        channel = self.channels.get(channel_id)
        if channel is None or channel.deleted:
            raise _unknown("Channel", 10003)
        if channel.guild is not None:
            bits = channel_permissions(channel, self.bot_member(channel.guild))
            if not bits & VIEW_CHANNEL:
                raise ApiError(403, 50001, "Missing Access")
        return channel

    def _channel_message(self, channel: FakeChannel, message_id: int) -> RecordedMessage:
        message = self.messages.get(message_id)
        if message is None or message.channel is not channel or message.deleted or message.ephemeral:
            raise _unknown("Message", 10008)
        return message

    def _guild(self, guild_id: int) -> FakeGuild:
        guild = self.guilds.get(guild_id)
        if guild is None:
            raise _unknown("Guild", 10004)
        return guild

    def _check_application(self, call: _Call) -> None:
        if call.param_id("application_id") != self.application_id:
            raise ApiError(403, 50001, "Missing Access")

    # ---- message store -----------------------------------------------------------------------------
    def _attachments(self, files: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for item in files:
            attachment_id = self.ids.next()
            url = f"{self.base_url}/attachments/{attachment_id}/{item['filename']}"
            out.append(
                {
                    "id": str(attachment_id),
                    "filename": item["filename"],
                    "size": item["size"],
                    "url": url,
                    "proxy_url": url,
                    "content_type": "application/octet-stream",
                }
            )
        return out

    def _store_message(self, message: RecordedMessage) -> None:
        self.messages[message.id] = message
        self._channel_log.setdefault(message.channel.id, []).append(message)
        self.stats.messages_created += 1
        if not message.ephemeral:
            message.channel.last_message_id = message.id
            self._dispatch_message("MESSAGE_CREATE", message)
        self.notify()

    def _dispatch_message(self, event: str, message: RecordedMessage) -> None:
        if message.ephemeral:
            return
        intent = INTENT_DIRECT_MESSAGES if message.channel.is_dm else INTENT_GUILD_MESSAGES
        payload = message.to_payload()
        for session in self.gateway.live_sessions():
            if not session.wants(intent):
                continue
            data = dict(payload)
            can_read = (
                message.author is self.bot_user
                or message.channel.is_dm
                or session.wants(INTENT_MESSAGE_CONTENT)
                or self.bot_user.id in message.pings.users
            )
            if not can_read:
                data.update(content="", embeds=[], components=[], attachments=[])
            session.dispatch(event, data)

    def _build_message(
        self,
        channel: FakeChannel,
        body: dict[str, Any],
        files: list[dict[str, Any]],
        *,
        allowed_flags: int,
        can_embed: bool,
        can_mention_everyone: bool,
        author: FakeUser | None = None,
    ) -> RecordedMessage:
        embeds = _normalize_embeds(body.get("embeds") or [])
        dropped: list[dict[str, Any]] = []
        if embeds and not can_embed:
            # Without Embed Links, Discord accepts the message but shows no embeds.
            dropped, embeds = embeds, []
        attachments = self._attachments(files)
        flags = int(body.get("flags") or 0) & allowed_flags
        components = copy.deepcopy(body.get("components") or [])
        if is_empty_message(
            body.get("content"),
            embeds,
            attachments,
            components,
            flags,
            sticker_ids=body.get("sticker_ids") or (),
            poll=body.get("poll"),
        ):
            raise _empty_message()
        author = author or self.bot_user
        nonce = body.get("nonce")
        return RecordedMessage(
            id=self.ids.next(),
            channel=channel,
            author=author,
            content=body.get("content") or "",
            embeds=embeds,
            components=components,
            attachments=attachments,
            flags=flags,
            nonce=None if nonce is None else str(nonce),
            allowed_mentions=copy.deepcopy(body.get("allowed_mentions")),
            tts=bool(body.get("tts")),
            author_member=channel.guild.members.get(author.id) if channel.guild is not None else None,
            can_mention_everyone=can_mention_everyone,
            dropped_embeds=dropped,
        )

    def _apply_edit(self, message: RecordedMessage, body: dict[str, Any], files: list[dict[str, Any]]) -> None:
        errors = FormErrors()
        validate_message(body, errors)
        if errors:
            raise _form_error(errors)
        new = message.snapshot()
        if "content" in body:
            new["content"] = body["content"] or ""
        if "embeds" in body:
            new["embeds"] = _normalize_embeds(body["embeds"] or [])
        if "components" in body:
            new["components"] = copy.deepcopy(body["components"] or [])
        if "allowed_mentions" in body:
            new["allowed_mentions"] = copy.deepcopy(body["allowed_mentions"])
        if "attachments" in body:
            keep = {str(a.get("id")) for a in body["attachments"] or [] if isinstance(a, dict)}
            new["attachments"] = [a for a in new["attachments"] if a["id"] in keep]
        new["attachments"] = new["attachments"] + self._attachments(files)
        if "flags" in body and body["flags"] is not None:
            new["flags"] = (message.flags & ~MESSAGE_FLAG_SUPPRESS_EMBEDS) | (
                int(body["flags"]) & MESSAGE_FLAG_SUPPRESS_EMBEDS
            )
        if is_empty_message(new["content"], new["embeds"], new["attachments"], new["components"], new["flags"]):
            raise _empty_message()
        filling_placeholder = message.loading
        if not filling_placeholder:
            message.history.append(message.snapshot())
            message.edited_at = utcnow()
            self.stats.messages_edited += 1
        message.content = new["content"]
        message.embeds = new["embeds"]
        message.components = new["components"]
        message.allowed_mentions = new["allowed_mentions"]
        message.attachments = new["attachments"]
        message.flags = new["flags"] & ~MESSAGE_FLAG_LOADING
        self._dispatch_message("MESSAGE_UPDATE", message)
        self.notify()

    def _delete(self, message: RecordedMessage) -> None:
        message.deleted = True
        self.stats.messages_deleted += 1
        if not message.ephemeral:
            data: dict[str, Any] = {"id": str(message.id), "channel_id": str(message.channel.id)}
            if message.channel.guild is not None:
                data["guild_id"] = str(message.channel.guild.id)
            intent = INTENT_DIRECT_MESSAGES if message.channel.is_dm else INTENT_GUILD_MESSAGES
            self.gateway.broadcast("MESSAGE_DELETE", data, intent)
        self.notify()

    # ---- REST: users, application, gateway ---------------------------------------------------------
    async def _rest_get_me(self, call: _Call) -> web.Response:
        return json_response(self.bot_user.to_payload() | {"verified": True, "mfa_enabled": False, "email": None})

    async def _rest_get_user(self, call: _Call) -> web.Response:
        user = self.users.get(call.param_id("user_id"))
        if user is None:
            raise _unknown("User", 10013)
        return json_response(user.to_payload())

    async def _rest_create_dm(self, call: _Call) -> web.Response:
        user = self.users.get(int((call.body or {}).get("recipient_id") or 0))
        if user is None:
            raise _unknown("User", 10013)
        return json_response(self.dm_channel(user).to_payload())

    async def _rest_get_application(self, call: _Call) -> web.Response:
        return json_response(
            {
                "id": str(self.application_id),
                "name": self.application_name,
                "icon": None,
                "description": "",
                "summary": "",
                "type": None,
                "rpc_origins": [],
                "bot_public": True,
                "bot_require_code_grant": False,
                "bot": self.bot_user.to_payload(),
                "owner": self.app_owner.to_payload(),
                "team": None,
                "verify_key": hashlib.sha256(self.token.encode()).hexdigest(),
                "flags": self.application_flags,
                "tags": [],
                "redirect_uris": [],
                "interactions_endpoint_url": None,
                "role_connections_verification_url": None,
                "approximate_guild_count": len(self.guilds),
            }
        )

    async def _rest_get_gateway(self, call: _Call) -> web.Response:
        return json_response({"url": self.gateway_url})

    async def _rest_get_gateway_bot(self, call: _Call) -> web.Response:
        limit = {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1}
        return json_response({"url": self.gateway_url, "shards": 1, "session_start_limit": limit})

    # ---- REST: channels and messages ---------------------------------------------------------------
    async def _rest_get_channel(self, call: _Call) -> web.Response:
        return json_response(self._channel(call.param_id("channel_id")).to_payload())

    async def _rest_typing(self, call: _Call) -> web.Response:
        self._channel(call.param_id("channel_id"))
        return web.Response(status=204)

    async def _rest_get_messages(self, call: _Call) -> web.Response:
        channel = self._channel(call.param_id("channel_id"))
        if channel.guild is not None:
            bits = channel_permissions(channel, self.bot_member(channel.guild))
            if not bits & READ_MESSAGE_HISTORY:
                return json_response([])
        query = call.request.query
        limit = max(1, min(100, int(query.get("limit", "50"))))
        history = [m for m in self._channel_log.get(channel.id, []) if not m.deleted and not m.ephemeral]
        if "before" in query:
            history = [m for m in history if m.id < int(query["before"])]
        if "after" in query:
            history = [m for m in history if m.id > int(query["after"])]
            history = history[:limit]
        if "around" in query:
            pivot = int(query["around"])
            older = [m for m in history if m.id <= pivot][-(limit // 2 + 1) :]
            newer = [m for m in history if m.id > pivot][: limit - len(older)]
            history = older + newer
        history = history[-limit:]
        return json_response([m.to_payload() for m in reversed(history)])

    async def _rest_get_message(self, call: _Call) -> web.Response:
        channel = self._channel(call.param_id("channel_id"))
        return json_response(self._channel_message(channel, call.param_id("message_id")).to_payload())

    async def _rest_post_message(self, call: _Call) -> web.Response:
        channel = self._channel(call.param_id("channel_id"))
        bits = channel_permissions(channel, self.bot_member(channel.guild) if channel.guild else None)
        if not bits & SEND_MESSAGES:
            raise ApiError(403, 50013, "Missing Permissions")
        body = call.body if isinstance(call.body, dict) else {}
        errors = FormErrors()
        validate_message(body, errors)
        nonce = body.get("nonce")
        if nonce is not None and len(str(nonce)) > 25:
            errors.add(("nonce",), "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        reference = body.get("message_reference")
        if reference and reference.get("fail_if_not_exists", True):
            target = self.messages.get(int(reference.get("message_id") or 0))
            if target is None or target.channel is not channel or target.deleted:
                errors.add(("message_reference",), "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message")
        if errors:
            raise _form_error(errors)
        if nonce is not None and body.get("enforce_nonce"):
            key = (channel.id, self.bot_user.id, str(nonce))
            seen = self._nonces.get(key)
            if seen is not None and not seen[0].deleted and time.monotonic() - seen[1] <= self.nonce_window:
                self.stats.nonce_dedupes += 1
                return json_response(seen[0].to_payload())
        message = self._build_message(
            channel,
            body,
            call.files,
            allowed_flags=_CREATE_FLAGS,
            can_embed=bool(bits & EMBED_LINKS),
            can_mention_everyone=bool(bits & MENTION_EVERYONE),
        )
        if reference:
            message.type = 19
            message.message_reference = {
                "type": 0,
                "message_id": str(reference.get("message_id")),
                "channel_id": str(channel.id),
            }
        if nonce is not None:
            self._nonces[(channel.id, self.bot_user.id, str(nonce))] = (message, time.monotonic())
        self._store_message(message)
        return json_response(message.to_payload())

    async def _rest_edit_message(self, call: _Call) -> web.Response:
        channel = self._channel(call.param_id("channel_id"))
        message = self._channel_message(channel, call.param_id("message_id"))
        if message.author is not self.bot_user:
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        self._apply_edit(message, call.body if isinstance(call.body, dict) else {}, call.files)
        return json_response(message.to_payload())

    async def _rest_delete_message(self, call: _Call) -> web.Response:
        channel = self._channel(call.param_id("channel_id"))
        message = self._channel_message(channel, call.param_id("message_id"))
        if message.author is not self.bot_user:
            bits = channel_permissions(channel, self.bot_member(channel.guild) if channel.guild else None)
            if channel.is_dm or not bits & MANAGE_MESSAGES:
                raise ApiError(403, 50013, "Missing Permissions")
        self._delete(message)
        return web.Response(status=204)

    # ---- REST: guilds ------------------------------------------------------------------------------
    async def _rest_get_guild(self, call: _Call) -> web.Response:
        guild = self._guild(call.param_id("guild_id"))
        payload = guild.to_payload(members=[])
        for key in ("channels", "members", "threads", "presences", "voice_states", "joined_at", "large"):
            payload.pop(key, None)
        return json_response(payload)

    async def _rest_get_guild_channels(self, call: _Call) -> web.Response:
        guild = self._guild(call.param_id("guild_id"))
        return json_response([channel.to_payload() for channel in guild.live_channels()])

    async def _rest_get_member(self, call: _Call) -> web.Response:
        guild = self._guild(call.param_id("guild_id"))
        member = guild.members.get(call.param_id("user_id"))
        if member is None:
            raise _unknown("Member", 10007)
        return json_response(member.to_payload())

    # ---- REST: application commands ---------------------------------------------------------------
    def _command_scope(self, call: _Call) -> tuple[list[dict[str, Any]], int | None]:
        self._check_application(call)
        if "guild_id" not in call.params:
            return self.global_commands, None
        guild = self._guild(call.param_id("guild_id"))
        return self.guild_commands.setdefault(guild.id, []), guild.id

    def _normalize_command(
        self, command: dict[str, Any], guild_id: int | None, existing: list[dict[str, Any]]
    ) -> dict[str, Any]:
        kind = int(command.get("type", 1))
        previous = next((c for c in existing if c["name"] == command.get("name") and c["type"] == kind), None)
        permissions = command.get("default_member_permissions")
        stored: dict[str, Any] = {
            "id": previous["id"] if previous else str(self.ids.next()),
            "application_id": str(self.application_id),
            "version": str(self.ids.next()),
            "type": kind,
            "name": command.get("name"),
            "description": command.get("description") or "",
            "options": _drop_nulls(copy.deepcopy(command.get("options") or [])),
            "default_member_permissions": None if permissions is None else str(permissions),
            "dm_permission": command.get("dm_permission", True),
            "contexts": command.get("contexts"),
            "integration_types": command.get("integration_types") or [0],
            "nsfw": bool(command.get("nsfw", False)),
            "name_localizations": command.get("name_localizations") or None,
            "description_localizations": command.get("description_localizations") or None,
        }
        if guild_id is not None:
            stored["guild_id"] = str(guild_id)
        return stored

    async def _rest_get_commands(self, call: _Call) -> web.Response:
        commands, _ = self._command_scope(call)
        return json_response(copy.deepcopy(commands))

    async def _rest_put_commands(self, call: _Call) -> web.Response:
        commands, guild_id = self._command_scope(call)
        errors = FormErrors()
        validate_commands(call.body, errors)
        if errors:
            raise _form_error(errors)
        replacement = [self._normalize_command(c, guild_id, commands) for c in call.body]
        commands[:] = replacement
        self.notify()
        return json_response(copy.deepcopy(replacement))

    async def _rest_post_command(self, call: _Call) -> web.Response:
        commands, guild_id = self._command_scope(call)
        errors = FormErrors()
        validate_commands([call.body], errors)
        if errors:
            raise _form_error(errors)
        stored = self._normalize_command(call.body, guild_id, commands)
        index = next((i for i, c in enumerate(commands) if c["id"] == stored["id"]), None)
        if index is None:
            commands.append(stored)
        else:
            commands[index] = stored
        self.notify()
        return json_response(copy.deepcopy(stored), 201 if index is None else 200)

    def _find_stored_command(self, call: _Call) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        commands, _ = self._command_scope(call)
        for command in commands:
            if command["id"] == call.params["command_id"]:
                return commands, command
        raise _unknown("application command", 10063)

    async def _rest_get_command(self, call: _Call) -> web.Response:
        _, command = self._find_stored_command(call)
        return json_response(copy.deepcopy(command))

    async def _rest_delete_command(self, call: _Call) -> web.Response:
        commands, command = self._find_stored_command(call)
        commands.remove(command)
        self.notify()
        return web.Response(status=204)

    # ---- REST: interactions ------------------------------------------------------------------------
    async def _rest_interaction_callback(self, call: _Call) -> web.Response:
        interaction = self.interactions.get(call.param_id("interaction_id"))
        if interaction is None or interaction.token != call.params["token"]:
            raise _unknown("interaction", 10062)
        if interaction.acknowledged:
            error = ApiError(400, 40060, "Interaction has already been acknowledged.")
        elif interaction.expired:
            error = _unknown("interaction", 10062)
        else:
            try:
                return self._apply_callback(interaction, call)
            except ApiError as exc:
                error = exc
        interaction.rejected.append({"status": error.status, "body": error.body()})
        self.notify()
        raise error

    def _apply_callback(self, interaction: InteractionResult, call: _Call) -> web.Response:
        body = call.body if isinstance(call.body, dict) else {}
        kind = body.get("type")
        data = body.get("data") or {}
        errors = FormErrors()
        allowed = _VALID_CALLBACKS[interaction.type]
        if kind in (DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE) and interaction.source_message is None:
            allowed = ()
        if kind not in allowed:
            errors.add(
                ("type",),
                "INTERACTION_CALLBACK_TYPE_INVALID",
                f"Callback type {kind} is not valid for interaction type {interaction.type}",
            )
            raise _form_error(errors)
        channel = interaction.channel
        original: RecordedMessage | None = None
        if kind in (CHANNEL_MESSAGE, UPDATE_MESSAGE):
            validate_message(data, errors, ("data",))
            if errors:
                raise _form_error(errors)
        if kind == CHANNEL_MESSAGE:
            original = self._build_message(
                channel, data, call.files, allowed_flags=_RESPONSE_FLAGS, can_embed=True, can_mention_everyone=True
            )
            self._mark_response(original, interaction)
            self._store_message(original)
        elif kind == DEFERRED_CHANNEL_MESSAGE:
            flags = (int(data.get("flags") or 0) & MESSAGE_FLAG_EPHEMERAL) | MESSAGE_FLAG_LOADING
            original = RecordedMessage(id=self.ids.next(), channel=channel, author=self.bot_user, flags=flags)
            original.can_mention_everyone = True
            self._mark_response(original, interaction)
            self._store_message(original)
        elif kind == DEFERRED_UPDATE_MESSAGE:
            original = interaction.source_message
        elif kind == UPDATE_MESSAGE:
            original = interaction.source_message
            assert original is not None
            self._apply_edit(original, data, call.files)
        elif kind == AUTOCOMPLETE_RESULT:
            validate_choices(data.get("choices"), errors, ("data",))
            if errors:
                raise _form_error(errors)
            interaction.choices = copy.deepcopy(data.get("choices"))
        elif kind == MODAL:
            validate_modal(data, errors, ("data",))
            if errors:
                raise _form_error(errors)
            interaction.modal = copy.deepcopy(data)
        interaction.original = original
        interaction.edits_at_ack = original.edit_count if original is not None else 0
        interaction.callback_type = kind
        interaction.callback = copy.deepcopy(body)
        interaction.acknowledged_at = time.monotonic()
        self.stats.callbacks += 1
        self.notify()
        answer: dict[str, Any] = {
            "interaction": {
                "id": str(interaction.id),
                "type": interaction.type,
                "response_message_loading": kind == DEFERRED_CHANNEL_MESSAGE,
                "response_message_ephemeral": bool(original is not None and original.ephemeral),
            },
            "resource": {"type": kind},
        }
        if original is not None:
            answer["interaction"]["response_message_id"] = str(original.id)
            if kind in (CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, UPDATE_MESSAGE):
                answer["resource"]["message"] = original.to_payload()
        return json_response(answer)

    def _mark_response(self, message: RecordedMessage, interaction: InteractionResult) -> None:
        message.webhook_id = self.application_id
        message.application_id = self.application_id
        message.interaction = interaction
        is_command_reply = interaction.type == APPLICATION_COMMAND and interaction.original is None
        message.type = 20 if is_command_reply else 0

    def _interaction_for_webhook(self, call: _Call) -> InteractionResult:
        if call.param_id("application_id") != self.application_id:
            raise _unknown("Webhook", 10015)
        interaction = self._interactions_by_token.get(call.params["token"])
        if interaction is None or not interaction.acknowledged:
            raise _unknown("Webhook", 10015)
        if time.monotonic() - interaction.dispatched_at > INTERACTION_TOKEN_LIFETIME:
            raise ApiError(401, 50027, "Invalid Webhook Token")
        return interaction

    def _webhook_message(self, interaction: InteractionResult, ref: str) -> RecordedMessage:
        if ref == "@original":
            message = interaction.original
        else:
            wanted = int(ref) if ref.isdigit() else -1
            candidates = [interaction.original, *interaction.followups]
            message = next((m for m in candidates if m is not None and m.id == wanted), None)
        if message is None or message.deleted:
            raise _unknown("Message", 10008)
        return message

    async def _rest_post_followup(self, call: _Call) -> web.Response:
        interaction = self._interaction_for_webhook(call)
        body = call.body if isinstance(call.body, dict) else {}
        errors = FormErrors()
        validate_message(body, errors)
        if errors:
            raise _form_error(errors)
        original = interaction.original
        if interaction.callback_type == DEFERRED_CHANNEL_MESSAGE and original is not None and original.loading:
            # The first followup after a "thinking" defer replaces the placeholder (and keeps its ephemerality).
            fill = {k: body[k] for k in ("content", "embeds", "components", "allowed_mentions") if k in body}
            self._apply_edit(original, fill, call.files)
            message = original
        else:
            message = self._build_message(
                interaction.channel,
                body,
                call.files,
                allowed_flags=_RESPONSE_FLAGS,
                can_embed=True,
                can_mention_everyone=True,
            )
            self._mark_response(message, interaction)
            interaction.followups.append(message)
            self._store_message(message)
        self.stats.followups += 1
        self.notify()
        if call.request.query.get("wait", "0").lower() in ("1", "true"):
            return json_response(message.to_payload())
        return web.Response(status=204)

    async def _rest_get_webhook_message(self, call: _Call) -> web.Response:
        interaction = self._interaction_for_webhook(call)
        return json_response(self._webhook_message(interaction, call.params["message_ref"]).to_payload())

    async def _rest_edit_webhook_message(self, call: _Call) -> web.Response:
        interaction = self._interaction_for_webhook(call)
        message = self._webhook_message(interaction, call.params["message_ref"])
        self._apply_edit(message, call.body if isinstance(call.body, dict) else {}, call.files)
        return json_response(message.to_payload())

    async def _rest_delete_webhook_message(self, call: _Call) -> web.Response:
        interaction = self._interaction_for_webhook(call)
        self._delete(self._webhook_message(interaction, call.params["message_ref"]))
        return web.Response(status=204)

    # ---- driving: who, where -----------------------------------------------------------------------
    def _default_channel(self) -> FakeChannel:
        for guild in self.guilds.values():
            for channel in guild.live_channels():
                if channel.type == GUILD_TEXT:
                    return channel
        raise FakeDiscordError("no text channel exists; pass channel= or add one with add_text_channel()")

    def _invoker(
        self, channel: FakeChannel, as_user: FakeMember | FakeUser | None
    ) -> tuple[FakeUser, FakeMember | None]:
        if channel.deleted:
            raise FakeDiscordError(f"#{channel.name} was deleted; nobody can use it")
        if channel.is_dm:
            if as_user is None:
                return channel.recipients[0], None
            user = as_user.user if isinstance(as_user, FakeMember) else as_user
            if user not in channel.recipients:
                raise FakeDiscordError(f"{user.name} is not in {channel.name}")
            return user, None
        guild = channel.guild
        assert guild is not None
        if as_user is None:
            people = [m for m in guild.members.values() if not m.user.bot and m.id != guild.owner_id]
            if not people:
                raise FakeDiscordError(f"guild {guild.name!r} has no members; add one with add_member()")
            member = people[0]
        else:
            user_id = as_user.id
            found = guild.members.get(user_id)
            if found is None:
                raise FakeDiscordError(f"{as_user.name} is not a member of {guild.name!r}")
            member = found
        if not channel_permissions(channel, member) & VIEW_CHANNEL:
            raise FakeDiscordError(f"{member.name} cannot see #{channel.name}")
        return member.user, member

    def _interaction_payload(
        self,
        kind: int,
        data: dict[str, Any],
        channel: FakeChannel,
        user: FakeUser,
        member: FakeMember | None,
        locale: str,
        message: RecordedMessage | None,
    ) -> tuple[int, str, dict[str, Any]]:
        interaction_id = self.ids.next()
        token = "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(48)
        app_bits = self.bot_permissions(channel).value
        payload: dict[str, Any] = {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": kind,
            "data": data,
            "token": token,
            "version": 1,
            "locale": locale,
            "app_permissions": str(app_bits),
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
            "channel_id": str(channel.id),
        }
        channel_payload = channel.to_payload()
        if channel.guild is not None and member is not None:
            guild = channel.guild
            member_bits = channel_permissions(channel, member)
            channel_payload["permissions"] = str(member_bits)
            payload.update(
                guild_id=str(guild.id),
                guild={"id": str(guild.id), "locale": guild.locale, "features": []},
                guild_locale=guild.locale,
                member=member.to_payload() | {"permissions": str(member_bits)},
                authorizing_integration_owners={"0": str(guild.id)},
                context=0,
            )
        else:
            payload.update(user=user.to_payload(), authorizing_integration_owners={"0": "0"}, context=1)
        payload["channel"] = channel_payload
        if message is not None:
            payload["message"] = message.to_payload()
        return interaction_id, token, payload

    def _send_interaction(
        self,
        kind: int,
        name: str,
        data: dict[str, Any],
        channel: FakeChannel,
        user: FakeUser,
        member: FakeMember | None,
        locale: str,
        source: RecordedMessage | None = None,
    ) -> InteractionResult:
        session = self.gateway.primary_session()
        interaction_id, token, payload = self._interaction_payload(kind, data, channel, user, member, locale, source)
        result = InteractionResult(
            id=interaction_id,
            token=token,
            type=kind,
            name=name,
            channel=channel,
            user=user,
            member=member,
            payload=payload,
            notifier=self.notifier,
            source_message=source,
            deadline=self.interaction_deadline,
        )
        self.interactions[interaction_id] = result
        self._interactions_by_token[token] = result
        session.dispatch("INTERACTION_CREATE", payload)
        result.dispatched_at = time.monotonic()
        self.stats.interactions_created += 1
        return result

    # ---- driving: slash commands -------------------------------------------------------------------
    def _find_command(self, name: str, channel: FakeChannel, kind: int = 1) -> dict[str, Any]:
        scopes: list[list[dict[str, Any]]] = []
        if channel.guild is not None:
            scopes.append(self.guild_commands.get(channel.guild.id, []))
        scopes.append(self.global_commands)
        for scope in scopes:
            for command in scope:
                if command["name"] == name and command["type"] == kind:
                    if channel.is_dm and not self._usable_in_dm(command):
                        raise FakeDiscordError(f"/{name} is not available in DMs (guild-only command)")
                    return command
        synced = {"global": [c["name"] for c in self.global_commands]}
        for guild_id, commands in self.guild_commands.items():
            synced[self.guilds[guild_id].name] = [c["name"] for c in commands]
        raise FakeDiscordError(
            f"the bot never synced a command named {name!r} usable in #{channel.name}; synced: {synced}"
        )

    @staticmethod
    def _usable_in_dm(command: dict[str, Any]) -> bool:
        if "guild_id" in command:
            return False
        contexts = command.get("contexts")
        if contexts is not None:
            return 1 in contexts
        return command.get("dm_permission", True) is not False

    def _check_default_permissions(self, command: dict[str, Any], member: FakeMember | None) -> None:
        required = command.get("default_member_permissions")
        if required is None or member is None:
            return
        needed = int(required)
        have = base_permissions(member.guild, member)
        if have & ADMINISTRATOR or (needed and have & needed == needed):
            return
        missing = [name for name, on in discord.Permissions(needed & ~have) if on] or ["administrator"]
        raise FakeDiscordError(
            f"{member.name} cannot see /{command['name']}: it needs {missing} (default_member_permissions). "
            "Pass enforce_default_permissions=False to model a server that granted it to them."
        )

    def _walk_path(
        self, command: dict[str, Any], path: tuple[str, ...]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str]:
        """Return (top-level options list, the nested list to put option values in, qualified name)."""
        top: list[dict[str, Any]] = []
        container = top
        schema = command.get("options") or []
        qualified = command["name"]
        for name in path:
            found = next((o for o in schema if o["name"] == name and o["type"] in (1, 2)), None)
            if found is None:
                subs = [o["name"] for o in schema if o["type"] in (1, 2)]
                raise FakeDiscordError(f"/{qualified} has no sub-command {name!r}; it has {subs}")
            node: dict[str, Any] = {"type": found["type"], "name": name, "options": []}
            container.append(node)
            container = node["options"]
            schema = found.get("options") or []
            qualified += f" {name}"
        subs = [o["name"] for o in schema if o["type"] in (1, 2)]
        if subs:
            raise FakeDiscordError(f"/{qualified} needs a sub-command: one of {subs}")
        return top, container, qualified

    def _leaf_schema(self, command: dict[str, Any], path: tuple[str, ...]) -> list[dict[str, Any]]:
        schema = command.get("options") or []
        for name in path:
            schema = next(o for o in schema if o["name"] == name).get("options") or []
        return schema

    def _encode_option(
        self,
        option: dict[str, Any],
        value: Any,
        channel: FakeChannel,
        member: FakeMember | None,
        resolved: dict[str, dict[str, Any]],
    ) -> Any:
        kind = option["type"]
        name = option["name"]
        label = f"option {name!r} ({_OPTION_TYPE_NAMES.get(kind, kind)})"
        if kind in (3, 4, 10):
            if kind == 3 and not isinstance(value, str):
                raise FakeDiscordError(f"{label} needs a str, got {value!r}")
            if kind == 4 and (isinstance(value, bool) or not isinstance(value, int)):
                raise FakeDiscordError(f"{label} needs an int, got {value!r}")
            if kind == 10 and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise FakeDiscordError(f"{label} needs a number, got {value!r}")
            choices = option.get("choices")
            if choices and value not in [c["value"] for c in choices]:
                raise FakeDiscordError(f"{label}: {value!r} is not one of {[c['value'] for c in choices]}")
            if kind == 3:
                low, high = option.get("min_length", 0), option.get("max_length", 6000)
                if not low <= len(value) <= high:
                    raise FakeDiscordError(f"{label}: length must be {low}..{high}")
            else:
                low, high = option.get("min_value"), option.get("max_value")
                if (low is not None and value < low) or (high is not None and value > high):
                    raise FakeDiscordError(f"{label}: {value} is outside {low}..{high}")
            return value
        if kind == 5:
            if not isinstance(value, bool):
                raise FakeDiscordError(f"{label} needs a bool, got {value!r}")
            return value
        if kind == 7:
            if not isinstance(value, FakeChannel):
                raise FakeDiscordError(f"{label} needs a FakeChannel, got {value!r}")
            allowed = option.get("channel_types")
            if allowed and value.type not in allowed:
                raise FakeDiscordError(f"{label}: #{value.name} has type {value.type}, allowed {allowed}")
            self._resolve_channel(value, member, resolved)
            return str(value.id)
        if kind in (6, 8, 9):
            if isinstance(value, FakeRole) and kind in (8, 9):
                resolved.setdefault("roles", {})[str(value.id)] = value.to_payload()
                return str(value.id)
            if isinstance(value, FakeMember | FakeUser) and kind in (6, 9):
                self._resolve_user(value, channel, resolved)
                return str(value.id)
            raise FakeDiscordError(f"{label} cannot take {value!r}")
        if kind == 11:
            if not isinstance(value, dict) or "filename" not in value:
                raise FakeDiscordError(f"{label} needs a dict with 'filename' (and optional 'size', 'content_type')")
            attachment_id = str(self.ids.next())
            url = f"{self.base_url}/attachments/{attachment_id}/{value['filename']}"
            resolved.setdefault("attachments", {})[attachment_id] = {
                "id": attachment_id,
                "filename": value["filename"],
                "size": int(value.get("size", 0)),
                "content_type": value.get("content_type", "application/octet-stream"),
                "url": url,
                "proxy_url": url,
            }
            return attachment_id
        raise FakeDiscordError(f"{label}: unknown option type")

    def _resolve_channel(
        self, target: FakeChannel, member: FakeMember | None, resolved: dict[str, dict[str, Any]]
    ) -> None:
        """Resolved channel data carries the invoking member's permissions in that channel."""
        entry = target.to_payload()
        entry.pop("permission_overwrites", None)
        viewer = member if member is not None and target.guild is member.guild else None
        entry["permissions"] = str(channel_permissions(target, viewer) if viewer is not None else 0)
        resolved.setdefault("channels", {})[str(target.id)] = entry

    def _resolve_user(
        self, target: FakeMember | FakeUser, where: FakeChannel, resolved: dict[str, dict[str, Any]]
    ) -> None:
        user = target.user if isinstance(target, FakeMember) else target
        resolved.setdefault("users", {})[str(user.id)] = user.to_payload()
        if where.guild is not None:
            member = where.guild.members.get(user.id)
            if member is not None:
                entry = member.to_payload(include_user=False)
                entry["permissions"] = str(channel_permissions(where, member))
                resolved.setdefault("members", {})[str(user.id)] = entry

    def _command_data(
        self,
        path: tuple[str, ...],
        channel: FakeChannel,
        member: FakeMember | None,
        values: dict[str, Any],
        *,
        focused: str | None = None,
    ) -> tuple[dict[str, Any], dict[str, Any], str]:
        if not path:
            raise FakeDiscordError("give the command name, then sub-command names: slash('paper', 'search', ...)")
        command = self._find_command(path[0], channel)
        top, leaf, qualified = self._walk_path(command, path[1:])
        schema = self._leaf_schema(command, path[1:])
        known = {o["name"] for o in schema}
        unknown = sorted(set(values) - known - ({focused} if focused else set()))
        if unknown:
            raise FakeDiscordError(f"/{qualified} has no option(s) {unknown}; it has {sorted(known)}")
        if focused is not None and focused not in known:
            raise FakeDiscordError(f"/{qualified} has no option {focused!r} to autocomplete; it has {sorted(known)}")
        resolved: dict[str, dict[str, Any]] = {}
        for option in schema:
            name = option["name"]
            if name == focused:
                if not option.get("autocomplete"):
                    raise FakeDiscordError(f"option {name!r} of /{qualified} has no autocomplete")
                leaf.append({"type": option["type"], "name": name, "value": str(values.get(name, "")), "focused": True})
            elif name in values:
                encoded = self._encode_option(option, values[name], channel, member, resolved)
                leaf.append({"type": option["type"], "name": name, "value": encoded})
            elif option.get("required") and focused is None:
                raise FakeDiscordError(f"/{qualified} needs option {name!r}")
        data: dict[str, Any] = {"id": command["id"], "name": command["name"], "type": 1, "options": top}
        if resolved:
            data["resolved"] = resolved
        if "guild_id" in command:
            data["guild_id"] = command["guild_id"]
        return command, data, qualified

    async def slash(
        self,
        *path: str,
        as_user: FakeMember | FakeUser | None = None,
        channel: FakeChannel | None = None,
        options: dict[str, Any] | None = None,
        locale: str = "en-US",
        timeout: float = 5.0,
        wait: bool = True,
        enforce_default_permissions: bool = True,
        **option_values: Any,
    ) -> InteractionResult:
        """Invoke a synced slash command as a user and wait for the bot's first answer.

        `path` is the command, then group and sub-command names: slash("alerts", "add", query="x").
        Option values: str/int/float/bool, FakeChannel, FakeMember/FakeUser, FakeRole, or for attachments a
        dict with a 'filename'. An option named like a keyword of this method (e.g. `channel`) must be given
        in `options={"channel": papers}`; `channel=` is where the command is typed (default: the first text
        channel). `as_user` defaults to the first member that is neither the bot nor the owner.
        Guild commands are looked up before global ones; unknown names, missing required options, values
        outside choices/ranges, or a user lacking default_member_permissions raise FakeDiscordError.
        With wait=False the result is returned at once; call `await result.wait_response()` later.
        """
        where = channel or self._default_channel()
        user, member = self._invoker(where, as_user)
        values = dict(options or {}) | option_values
        command, data, qualified = self._command_data(tuple(path), where, member, values)
        if enforce_default_permissions:
            self._check_default_permissions(command, member)
        result = self._send_interaction(APPLICATION_COMMAND, qualified, data, where, user, member, locale)
        if wait:
            await result.wait_response(timeout)
        return result

    async def autocomplete(
        self,
        *path: str,
        focused: str,
        value: str = "",
        as_user: FakeMember | FakeUser | None = None,
        channel: FakeChannel | None = None,
        options: dict[str, Any] | None = None,
        locale: str = "en-US",
        timeout: float = 5.0,
        **option_values: Any,
    ) -> list[dict[str, Any]]:
        """Type `value` into option `focused` and return the bot's choices ([{"name", "value"}]).

        Other already-filled options go in as keywords. A rejected answer (e.g. 26 choices) raises
        CallbackRejected with Discord's error body.
        """
        where = channel or self._default_channel()
        user, member = self._invoker(where, as_user)
        values = dict(options or {}) | option_values | {focused: value}
        _, data, qualified = self._command_data(tuple(path), where, member, values, focused=focused)
        result = self._send_interaction(AUTOCOMPLETE, qualified, data, where, user, member, locale)
        await result.wait_response(timeout, fail_fast=True)
        return list(result.choices or [])

    # ---- driving: components -----------------------------------------------------------------------
    @staticmethod
    def _as_message(message: RecordedMessage | InteractionResult) -> RecordedMessage:
        if isinstance(message, InteractionResult):
            if message.original is None:
                raise FakeDiscordError(f"{message!r} has no message to interact with")
            return message.original
        return message

    def _component_invoker(
        self, message: RecordedMessage, as_user: FakeMember | FakeUser | None
    ) -> tuple[FakeUser, FakeMember | None]:
        if message.deleted:
            raise FakeDiscordError(f"message {message.id} was deleted")
        if as_user is None and message.interaction is not None:
            as_user = message.interaction.member or message.interaction.user
        interaction = message.interaction
        if message.ephemeral and interaction is not None and as_user is not None and as_user.id != interaction.user.id:
            raise FakeDiscordError("only the user who received an ephemeral message can use its components")
        return self._invoker(message.channel, as_user)

    async def click(
        self,
        message: RecordedMessage | InteractionResult,
        custom_id: str,
        *,
        as_user: FakeMember | FakeUser | None = None,
        locale: str = "en-US",
        timeout: float = 5.0,
        wait: bool = True,
    ) -> InteractionResult:
        """Click a button on a recorded message; `as_user` defaults to whoever triggered that message."""
        target = self._as_message(message)
        component = target.component(custom_id)
        if component.get("type") != BUTTON:
            raise FakeDiscordError(f"{custom_id!r} is not a button (type {component.get('type')})")
        if component.get("style") == LINK_BUTTON_STYLE or component.get("disabled"):
            raise FakeDiscordError(f"button {custom_id!r} cannot be clicked (link or disabled)")
        user, member = self._component_invoker(target, as_user)
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": BUTTON}
        if "id" in component:
            data["id"] = component["id"]
        result = self._send_interaction(
            MESSAGE_COMPONENT, custom_id, data, target.channel, user, member, locale, target
        )
        if wait:
            await result.wait_response(timeout)
        return result

    async def select(
        self,
        message: RecordedMessage | InteractionResult,
        custom_id: str,
        values: list[Any],
        *,
        as_user: FakeMember | FakeUser | None = None,
        locale: str = "en-US",
        timeout: float = 5.0,
        wait: bool = True,
    ) -> InteractionResult:
        """Pick `values` in a select menu: option values (str) for string selects, objects for the others."""
        target = self._as_message(message)
        component = target.component(custom_id)
        kind = component.get("type")
        if kind not in SELECT_TYPES:
            raise FakeDiscordError(f"{custom_id!r} is not a select menu (type {kind})")
        if component.get("disabled"):
            raise FakeDiscordError(f"select {custom_id!r} is disabled")
        low, high = component.get("min_values", 1), component.get("max_values", 1)
        if not low <= len(values) <= high:
            raise FakeDiscordError(f"select {custom_id!r} takes {low}..{high} values, got {len(values)}")
        user, member = self._component_invoker(target, as_user)
        resolved: dict[str, dict[str, Any]] = {}
        encoded: list[str] = []
        if kind == STRING_SELECT:
            offered = [o["value"] for o in component.get("options") or []]
            for value in values:
                if value not in offered:
                    raise FakeDiscordError(f"{value!r} is not an option of {custom_id!r}: {offered}")
                encoded.append(value)
        else:
            for value in values:
                if kind == CHANNEL_SELECT and isinstance(value, FakeChannel):
                    self._resolve_channel(value, member, resolved)
                elif kind in (ROLE_SELECT, MENTIONABLE_SELECT) and isinstance(value, FakeRole):
                    resolved.setdefault("roles", {})[str(value.id)] = value.to_payload()
                elif kind in (USER_SELECT, MENTIONABLE_SELECT) and isinstance(value, FakeMember | FakeUser):
                    self._resolve_user(value, target.channel, resolved)
                else:
                    raise FakeDiscordError(f"select {custom_id!r} (type {kind}) cannot take {value!r}")
                encoded.append(str(value.id))
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": kind, "values": encoded}
        if resolved:
            data["resolved"] = resolved
        result = self._send_interaction(
            MESSAGE_COMPONENT, custom_id, data, target.channel, user, member, locale, target
        )
        if wait:
            await result.wait_response(timeout)
        return result

    async def submit_modal(
        self,
        opened_by: InteractionResult,
        fields: dict[str, str],
        *,
        locale: str = "en-US",
        timeout: float = 5.0,
        wait: bool = True,
    ) -> InteractionResult:
        """Fill the modal the bot opened (callback type 9) with {custom_id: text} and submit it."""
        if opened_by.modal is None:
            raise FakeDiscordError(f"{opened_by!r} did not open a modal")
        modal = opened_by.modal
        unknown = set(fields)

        def fill(component: dict[str, Any]) -> dict[str, Any]:
            if component.get("type") == TEXT_INPUT:
                custom_id = component["custom_id"]
                unknown.discard(custom_id)
                text = fields.get(custom_id, "")
                if component.get("required", True) and not text:
                    raise FakeDiscordError(f"modal field {custom_id!r} is required")
                return {"type": TEXT_INPUT, "custom_id": custom_id, "value": text}
            if component.get("type") == LABEL:
                return {"type": LABEL, "component": fill(component["component"])}
            return {"type": component.get("type"), "components": [fill(c) for c in component.get("components") or []]}

        components = [fill(c) for c in modal.get("components") or []]
        if unknown:
            raise FakeDiscordError(f"modal {modal.get('custom_id')!r} has no field(s) {sorted(unknown)}")
        data = {"custom_id": modal["custom_id"], "components": components}
        result = self._send_interaction(
            MODAL_SUBMIT,
            str(modal["custom_id"]),
            data,
            opened_by.channel,
            opened_by.user,
            opened_by.member,
            locale,
            opened_by.source_message,
        )
        if wait:
            await result.wait_response(timeout)
        return result

    # ---- driving: plain messages -------------------------------------------------------------------
    def user_message(self, author: FakeMember | FakeUser, channel: FakeChannel, content: str) -> RecordedMessage:
        """A user posts a message; the bot gets MESSAGE_CREATE (content only with the message content intent)."""
        user = author.user if isinstance(author, FakeMember) else author
        message = RecordedMessage(
            id=self.ids.next(),
            channel=channel,
            author=user,
            content=content,
            author_member=channel.guild.members.get(user.id) if channel.guild else None,
        )
        self._store_message(message)
        return message
