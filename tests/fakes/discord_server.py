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

FakeDiscord is composed of mixins: the REST API (discord_rest*.py, discord_rate_limits.py, discord_threads.py),
the users' side (discord_driver.py, discord_slash.py), the world (discord_world.py) and the fault switches
(discord_faults.py); the gateway is discord_gateway.py and the records discord_records.py.
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

from .discord_faults import FaultSwitches
from .discord_gateway import GatewayHub, GatewaySession
from .discord_interaction_result import InteractionResult
from .discord_model import (
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeRole,
    FakeUser,
    SnowflakeFactory,
)
from .discord_rate_limits import Bucket, Fault, RateLimitSettings
from .discord_records import (
    CallbackRejected,
    FakeDiscordError,
    InteractionNotAnswered,
    Notifier,
    Pings,
    RecordedMessage,
    RequestRecord,
    Stats,
)
from .discord_rest_http import API_PREFIX
from .discord_slash import SlashDriver
from .discord_threads import ThreadApi
from .discord_world import WorldBuilder

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


class FakeDiscord(ThreadApi, SlashDriver, WorldBuilder, FaultSwitches):
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
