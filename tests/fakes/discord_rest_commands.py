"""Application commands in the loopback Discord REST API: sync, list, fetch and delete, global or per guild."""

from __future__ import annotations

import copy
import logging
from typing import Any

from aiohttp import web

from .discord_limits import FormErrors, validate_commands
from .discord_rest import RestApi
from .discord_rest_http import _Call, _form_error, _unknown, json_response

log = logging.getLogger(__name__)


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


class CommandApi(RestApi):
    """The application command routes; commands are stored as Discord returns them (a mixin)."""

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
