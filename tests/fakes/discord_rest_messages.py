"""Messages in the loopback Discord REST API: the message store, its gateway events and the channel routes."""

from __future__ import annotations

import copy
import logging
import time
from typing import Any

from aiohttp import web

from .discord_gateway import (
    INTENT_DIRECT_MESSAGES,
    INTENT_GUILD_MESSAGES,
    INTENT_MESSAGE_CONTENT,
)
from .discord_limits import (
    MESSAGE_FLAG_COMPONENTS_V2,
    MESSAGE_FLAG_LOADING,
    MESSAGE_FLAG_SUPPRESS_EMBEDS,
    MESSAGE_FLAG_SUPPRESS_NOTIFICATIONS,
    FormErrors,
    is_empty_message,
    validate_message,
)
from .discord_model import (
    EMBED_LINKS,
    MANAGE_MESSAGES,
    MENTION_EVERYONE,
    READ_MESSAGE_HISTORY,
    SEND_MESSAGES,
    FakeChannel,
    FakeUser,
    channel_permissions,
    utcnow,
)
from .discord_records import RecordedMessage
from .discord_rest import RestApi
from .discord_rest_http import ApiError, _Call, _empty_message, _form_error, json_response

log = logging.getLogger(__name__)

_CREATE_FLAGS = MESSAGE_FLAG_SUPPRESS_EMBEDS | MESSAGE_FLAG_SUPPRESS_NOTIFICATIONS | MESSAGE_FLAG_COMPONENTS_V2


def _normalize_embeds(embeds: list[Any]) -> list[dict[str, Any]]:
    out = []
    for embed in embeds:
        item = copy.deepcopy(embed)
        item.setdefault("type", "rich")
        out.append(item)
    return out


class MessageApi(RestApi):
    """Messages the bot posts, edits and deletes, stored and dispatched as gateway events (a mixin)."""

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
