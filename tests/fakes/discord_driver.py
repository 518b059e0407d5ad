"""Driver half of the loopback Discord server: users typing slash commands, clicking and posting."""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any

import discord

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
    ADMINISTRATOR,
    GUILD_TEXT,
    VIEW_CHANNEL,
    FakeChannel,
    FakeMember,
    FakeRole,
    FakeUser,
    base_permissions,
    channel_permissions,
)
from .discord_records import (
    APPLICATION_COMMAND,
    AUTOCOMPLETE,
    MESSAGE_COMPONENT,
    MODAL_SUBMIT,
    FakeDiscordError,
    InteractionResult,
    RecordedMessage,
)
from .discord_rest import ATTACHMENT_SIZE_LIMIT, RestApi

log = logging.getLogger(__name__)

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


class InteractionDriver(RestApi):
    """What users do, as test calls: slash, autocomplete, click, select, submit_modal, user_message."""

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
