"""Driver half of the loopback Discord server: who acts where, interaction delivery, clicks, selects, posts."""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any

from .discord_interaction_result import InteractionResult
from .discord_limits import (
    BUTTON,
    CHANNEL_SELECT,
    LABEL,
    LINK_BUTTON_STYLE,
    MENTIONABLE_SELECT,
    ROLE_SELECT,
    SELECT_TYPES,
    STRING_SELECT,
    TEXT_INPUT,
    USER_SELECT,
)
from .discord_model import (
    GUILD_TEXT,
    VIEW_CHANNEL,
    FakeChannel,
    FakeMember,
    FakeRole,
    FakeUser,
    channel_permissions,
)
from .discord_records import (
    MESSAGE_COMPONENT,
    MODAL_SUBMIT,
    FakeDiscordError,
    RecordedMessage,
)
from .discord_rest_commands import CommandApi
from .discord_rest_interactions import CallbackApi

log = logging.getLogger(__name__)

ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024


class InteractionDriver(CallbackApi, CommandApi):
    """What users do, as test calls: click, select, submit_modal, user_message (slash commands: SlashDriver)."""

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
        session = self.gateway.primary_session(channel.guild.id if channel.guild is not None else None)
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
