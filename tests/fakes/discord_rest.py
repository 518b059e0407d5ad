"""REST half of the loopback Discord server: routing, auth, rate limits, faults and every endpoint."""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import discord
from aiohttp import BodyPartReader, web

from .discord_gateway import (
    INTENT_DIRECT_MESSAGES,
    INTENT_GUILD_MESSAGES,
    INTENT_MESSAGE_CONTENT,
    GatewayHub,
)
from .discord_limits import (
    MESSAGE_FLAG_COMPONENTS_V2,
    MESSAGE_FLAG_EPHEMERAL,
    MESSAGE_FLAG_LOADING,
    MESSAGE_FLAG_SUPPRESS_EMBEDS,
    MESSAGE_FLAG_SUPPRESS_NOTIFICATIONS,
    FormErrors,
    is_empty_message,
    validate_choices,
    validate_commands,
    validate_message,
    validate_modal,
)
from .discord_model import (
    EMBED_LINKS,
    MANAGE_MESSAGES,
    MENTION_EVERYONE,
    READ_MESSAGE_HISTORY,
    SEND_MESSAGES,
    VIEW_CHANNEL,
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeUser,
    SnowflakeFactory,
    channel_permissions,
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
    InteractionResult,
    Notifier,
    RecordedMessage,
    RequestRecord,
    Stats,
)

log = logging.getLogger(__name__)

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


def _ceil_ms(seconds: float) -> float:
    """Round up to whole milliseconds, so a client waiting this long never comes back early."""
    return math.ceil(seconds * 1000) / 1000


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


class Bucket:
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
        reset_after = _ceil_ms(max(0.0, self.window_start + self.per - now))
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(0, self.limit - self.count)),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": self.hash,
        }


@dataclass
class Fault:
    """An injected failure for the next `remaining` matching requests."""

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
        """Whether this fault applies to a request."""
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
    ("POST", "/channels/{channel_id}/messages/{message_id}/threads", "start_thread", "bot", "route"),
    ("GET", "/guilds/{guild_id}/threads/active", "get_active_threads", "bot", "route"),
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


class RestApi:
    """The Discord REST API as FakeDiscord serves it (a mixin; FakeDiscord owns the state)."""

    if TYPE_CHECKING:
        # State and helpers that FakeDiscord (discord_server.py) provides.
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
        stats: Stats
        rate_limits: RateLimitSettings
        _buckets: dict[str, Bucket]
        _global_bucket: Bucket | None
        _faults: list[Fault]
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

    def _too_many(self, retry_after: float, *, global_: bool, bucket: Bucket | None) -> ApiError:
        if global_:
            self.stats.rate_limited_global += 1
        else:
            self.stats.rate_limited_local += 1
        retry_after = _ceil_ms(max(retry_after, 0.001))
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
            extra={"retry_after": retry_after, "global": global_},
        )

    def _bucket_for(self, route: _Route, params: dict[str, str]) -> Bucket | None:
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
            bucket = self._buckets[key] = Bucket(name, limit, per)
        return bucket

    def _check_global(self, route: _Route) -> None:
        if route.auth != "bot" or not self.rate_limits.enabled:
            return
        if self._global_bucket is None or self._global_bucket.limit != self.rate_limits.global_per_second:
            self._global_bucket = Bucket("global", self.rate_limits.global_per_second, 1.0)
        wait = self._global_bucket.try_acquire(time.monotonic())
        if wait is not None:
            raise self._too_many(wait, global_=True, bucket=None)

    @property
    def _send_bucket_headers(self) -> bool:
        return self.rate_limits.enabled and self.rate_limits.headers

    def _take_fault(self, method: str, path: str, route: _Route) -> Fault | None:
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
        guild_id = message.channel.guild.id if message.channel.guild is not None else None
        for session in self.gateway.sessions_for(guild_id):
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
        shards = self.recommended_shards
        return json_response({"url": self.gateway_url, "shards": shards, "session_start_limit": limit})

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
        if call.request.query.get("with_response", "").lower() not in ("1", "true"):
            return web.Response(status=204)
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
