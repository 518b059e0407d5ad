"""Interaction answers in the loopback Discord REST API: callbacks, followups and the interaction webhook."""

from __future__ import annotations

import copy
import logging
import time
from typing import Any

from aiohttp import web

from .discord_interaction_result import InteractionResult
from .discord_limits import (
    MESSAGE_FLAG_EPHEMERAL,
    MESSAGE_FLAG_LOADING,
    FormErrors,
    validate_choices,
    validate_message,
    validate_modal,
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
    RecordedMessage,
)
from .discord_rest_http import ApiError, _Call, _form_error, _unknown, json_response
from .discord_rest_messages import _CREATE_FLAGS, MessageApi

log = logging.getLogger(__name__)

INTERACTION_TOKEN_LIFETIME = 15 * 60.0
_RESPONSE_FLAGS = _CREATE_FLAGS | MESSAGE_FLAG_EPHEMERAL
_VALID_CALLBACKS = {
    PING: (PONG,),
    APPLICATION_COMMAND: (CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, MODAL),
    MESSAGE_COMPONENT: (CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE, MODAL),
    AUTOCOMPLETE: (AUTOCOMPLETE_RESULT,),
    MODAL_SUBMIT: (CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE),
}


class CallbackApi(MessageApi):
    """Interaction callbacks and the webhook that edits and follows up on them (a mixin)."""

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
