"""HTTP pieces of the loopback Discord REST API: JSON answers, Discord-shaped errors and the route table."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .discord_limits import FormErrors
from .discord_records import RequestRecord

log = logging.getLogger(__name__)

API_PREFIX = "/api/v10"


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
