"""Users typing slash commands in the loopback Discord: options checked against the synced commands."""

from __future__ import annotations

import logging
from typing import Any

import discord

from .discord_driver import InteractionDriver
from .discord_interaction_result import InteractionResult
from .discord_model import (
    ADMINISTRATOR,
    FakeChannel,
    FakeMember,
    FakeRole,
    FakeUser,
    base_permissions,
)
from .discord_records import (
    APPLICATION_COMMAND,
    AUTOCOMPLETE,
    FakeDiscordError,
)

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


class SlashDriver(InteractionDriver):
    """Slash commands and autocomplete as test calls: slash, autocomplete."""

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
