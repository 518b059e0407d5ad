"""REST core of the loopback Discord server: request plumbing, auth, lookups, user and guild routes."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from typing import TYPE_CHECKING, Any

import discord
from aiohttp import BodyPartReader, web

from .discord_gateway import GatewayHub
from .discord_model import (
    VIEW_CHANNEL,
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeUser,
    SnowflakeFactory,
    channel_permissions,
)
from .discord_rate_limits import RateLimiting
from .discord_records import Notifier, RecordedMessage, RequestRecord
from .discord_rest_http import _ROUTES, ApiError, Handler, _Call, _Route, _unknown, json_response

if TYPE_CHECKING:
    from .discord_interaction_result import InteractionResult

log = logging.getLogger(__name__)


class RestApi(RateLimiting):
    """The core of the Discord REST API as FakeDiscord serves it (a mixin; FakeDiscord owns the state).

    The message, command and interaction routes are mixins built on it; a route's handler is looked up
    by name (`_rest_<handler>`) on the composed FakeDiscord.
    """

    if TYPE_CHECKING:
        # State that FakeDiscord (discord_server.py) owns, and helpers of its world (discord_world.py).
        ids: SnowflakeFactory
        token: str
        application_id: int
        application_name: str
        application_flags: int
        bot_user: FakeUser
        app_owner: FakeUser
        interaction_deadline: float | None
        nonce_window: float
        latency: float
        guilds: dict[int, FakeGuild]
        users: dict[int, FakeUser]
        channels: dict[int, FakeChannel]
        messages: dict[int, RecordedMessage]
        _channel_log: dict[int, list[RecordedMessage]]
        _nonces: dict[tuple[int, int, str], tuple[RecordedMessage, float]]
        interactions: dict[int, InteractionResult]
        _interactions_by_token: dict[str, InteractionResult]
        global_commands: list[dict[str, Any]]
        guild_commands: dict[int, list[dict[str, Any]]]
        requests: list[RequestRecord]
        _token_rejected: bool
        internal_errors: list[str]
        notifier: Notifier
        gateway: GatewayHub
        recommended_shards: int

        @property
        def base_url(self) -> str: ...

        @property
        def gateway_url(self) -> str: ...

        def notify(self) -> None: ...

        def bot_member(self, guild: FakeGuild) -> FakeMember: ...

        def bot_permissions(self, channel: FakeChannel) -> discord.Permissions: ...

        def dm_channel(self, user: FakeUser | FakeMember) -> FakeChannel: ...

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
        except Exception as exc:
            # A body the fake cannot digest: answer at once like a validation error (an aiohttp 500 would be
            # retried by discord.py for 25 s) and keep the traceback visible.
            log.exception("fake Discord could not handle %s %s", request.method, path)
            self.internal_errors.append(f"{request.method} {path}: {exc!r}")
            response = ApiError(400, 50035, "Invalid Form Body", extra={"fake_discord_error": repr(exc)}).response()
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
        shards = self.recommended_shards
        return json_response({"url": self.gateway_url, "shards": shards, "session_start_limit": limit})

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
