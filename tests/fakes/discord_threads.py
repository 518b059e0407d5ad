"""Threads in the loopback Discord: start a public thread from a message, read it back as a channel.

Discord gives a thread started from a message the message's own id, and adds a `thread` object to the
starter message; a second start answers 400 with code 160004. A test may hold thread starts at an
unset `thread_start_gate` to catch the bot in the middle of opening a thread.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .discord_limits import FormErrors
from .discord_model import VIEW_CHANNEL, channel_permissions, iso
from .discord_rest_http import ApiError, json_response

if TYPE_CHECKING:
    from .discord_model import FakeChannel, FakeMember, FakeUser
    from .discord_records import RecordedMessage
    from .discord_rest_http import _Call

log = logging.getLogger(__name__)

PUBLIC_THREAD = 11
CREATE_PUBLIC_THREADS = 1 << 35
SEND_MESSAGES_IN_THREADS = 1 << 38
ARCHIVE_DURATIONS = (60, 1440, 4320, 10080)
THREAD_NAME_MAX = 100


class ThreadApi:
    """The thread routes, mixed into FakeDiscord: `threads` holds every thread's channel object by id."""

    # While an unset Event, each thread start waits for it before being served (counted in `thread_starts_held`).
    thread_start_gate: asyncio.Event | None = None
    thread_starts_held = 0

    if TYPE_CHECKING:
        threads: dict[int, dict[str, Any]]
        bot_user: FakeUser

        def notify(self) -> None: ...

        def _channel(self, channel_id: int) -> FakeChannel: ...

        def _channel_message(self, channel: FakeChannel, message_id: int) -> RecordedMessage: ...

        def bot_member(self, guild: Any) -> FakeMember: ...

    def thread_of(self, message_id: int) -> dict[str, Any] | None:
        """The thread started from a message, if one was."""
        return self.threads.get(message_id)

    async def _rest_start_thread(self, call: _Call) -> web.Response:
        gate = self.thread_start_gate
        if gate is not None and not gate.is_set():
            self.thread_starts_held += 1
            self.notify()
            await gate.wait()  # served afterwards even if the caller went away, as Discord would
        channel = self._channel(call.param_id("channel_id"))
        message = self._channel_message(channel, call.param_id("message_id"))
        bits = channel_permissions(channel, self.bot_member(channel.guild) if channel.guild else None)
        if channel.guild is None or not bits & CREATE_PUBLIC_THREADS:
            raise ApiError(403, 50013, "Missing Permissions")
        body = call.body if isinstance(call.body, dict) else {}
        errors = FormErrors()
        name = body.get("name")
        if not isinstance(name, str) or not 1 <= len(name.strip()) <= THREAD_NAME_MAX:
            errors.add(("name",), "BASE_TYPE_BAD_LENGTH", f"Must be between 1 and {THREAD_NAME_MAX} in length.")
        duration = body.get("auto_archive_duration") or 4320
        if duration not in ARCHIVE_DURATIONS:
            errors.add(("auto_archive_duration",), "BASE_TYPE_CHOICES", f"Value must be one of {ARCHIVE_DURATIONS}.")
        if errors:
            raise ApiError(400, 50035, "Invalid Form Body", errors=errors.tree)
        if message.id in self.threads:
            raise ApiError(400, 160004, "A thread has already been created for this message")
        thread = self._thread_payload(channel, message.id, str(name).strip(), int(duration))
        self.threads[message.id] = thread
        message.thread = thread
        return json_response(thread, status=201)

    def _thread_payload(self, parent: FakeChannel, thread_id: int, name: str, duration: int) -> dict[str, Any]:
        assert parent.guild is not None
        now = iso(dt.datetime.now(dt.UTC))
        return {
            "id": str(thread_id),
            "type": PUBLIC_THREAD,
            "guild_id": str(parent.guild.id),
            "parent_id": str(parent.id),
            "owner_id": str(self.bot_user.id),
            "name": name,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "message_count": 0,
            "member_count": 1,
            "total_message_sent": 0,
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": duration,
                "archive_timestamp": now,
                "locked": False,
                "create_timestamp": now,
            },
            "member": {"id": str(thread_id), "user_id": str(self.bot_user.id), "join_timestamp": now, "flags": 1},
        }

    async def _rest_get_channel(self, call: _Call) -> web.Response:
        thread = self.thread_of(call.param_id("channel_id"))
        if thread is None:
            # The next class in FakeDiscord's order serves plain channels; this mixin cannot name it.
            channel_response: web.Response = await super()._rest_get_channel(call)  # type: ignore[misc]
            return channel_response
        parent = self._channel(int(thread["parent_id"]))
        bits = channel_permissions(parent, self.bot_member(parent.guild))
        if not bits & VIEW_CHANNEL:
            raise ApiError(403, 50001, "Missing Access")
        return json_response({k: v for k, v in thread.items() if k != "member"})

    async def _rest_get_active_threads(self, call: _Call) -> web.Response:
        guild_id = str(call.param_id("guild_id"))
        active = [
            {k: v for k, v in thread.items() if k != "member"}
            for thread in self.threads.values()
            if thread["guild_id"] == guild_id and not thread["thread_metadata"]["archived"]
        ]
        members = [thread["member"] for thread in self.threads.values() if thread["guild_id"] == guild_id]
        return json_response({"threads": active, "members": members})
