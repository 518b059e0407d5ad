"""Pytest fixtures and helpers for running a real discord.py bot against the loopback Discord server.

Import into tests/conftest.py with ``from tests.fakes.discord_fixtures import fake_discord  # noqa: F401``.

``fake_discord`` is a started :class:`LabDiscord` (a FakeDiscord) with discord.py pointed at it:

- ``fake_discord.guild``   the guild "Lab"
- ``fake_discord.papers``  text channel #papers
- ``fake_discord.general`` text channel #general
- ``fake_discord.admin``   member "admin" with Administrator
- ``fake_discord.member``  member "member" with @everyone rights only (no Manage Channels)

Run a bot inside a test with ``async with running_bot(bot, fake_discord): ...``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import discord
import pytest

from .discord_model import FakeChannel, FakeGuild, FakeMember
from .discord_records import FakeDiscordError
from .discord_server import FakeDiscord, point_discord_at

log = logging.getLogger(__name__)

__all__ = ["LabDiscord", "fake_discord", "make_lab_discord", "point_discord_at", "running_bot"]


class LabDiscord(FakeDiscord):
    """A FakeDiscord holding guild "Lab" with #papers, #general and members "admin" and "member"."""

    guild: FakeGuild
    papers: FakeChannel
    general: FakeChannel
    admin: FakeMember
    member: FakeMember


def make_lab_discord(**kwargs: Any) -> LabDiscord:
    """Build (not start) the standard test world; keyword arguments go to FakeDiscord."""
    server = LabDiscord(**kwargs)
    server.guild = server.add_guild("Lab")
    server.papers = server.add_text_channel(server.guild, "papers")
    server.general = server.add_text_channel(server.guild, "general")
    server.admin = server.add_member(server.guild, "admin", admin=True)
    server.member = server.add_member(server.guild, "member")
    return server


@pytest.fixture
async def fake_discord() -> AsyncIterator[LabDiscord]:
    """A started LabDiscord with discord.py's Route.BASE and default gateway pointed at it."""
    server = make_lab_discord()
    await server.start()
    try:
        with point_discord_at(server):
            yield server
    finally:
        await server.close()


@contextlib.asynccontextmanager
async def running_bot(
    client: discord.Client,
    server: FakeDiscord,
    *,
    token: str | None = None,
    timeout: float = 10.0,
) -> AsyncIterator[discord.Client]:
    """Log `client` in to `server`, connect the gateway, wait for on_ready; close it cleanly on exit.

    Login errors (discord.LoginFailure) propagate. Use `guild_ready_timeout=0.05` on the client to
    make startup fast. Route.BASE and the default gateway point at `server` while the block runs.
    """
    with point_discord_at(server):
        try:
            await client.login(token if token is not None else server.token)
        except BaseException:
            await client.close()
            raise
        connect_task = asyncio.create_task(client.connect(reconnect=True), name="fake-discord-bot-connect")
        ready_task = asyncio.create_task(client.wait_until_ready(), name="fake-discord-bot-ready")
        try:
            done, _ = await asyncio.wait({connect_task, ready_task}, timeout=timeout, return_when="FIRST_COMPLETED")
            if ready_task not in done:
                if connect_task in done:
                    connect_task.result()
                    raise FakeDiscordError("the bot's gateway connection ended before it became ready")
                raise FakeDiscordError(f"the bot was not ready after {timeout}s")
            yield client
        finally:
            ready_task.cancel()
            await client.close()
            finished, _ = await asyncio.wait({connect_task}, timeout=5.0)
            if not finished:
                connect_task.cancel()
            elif not connect_task.cancelled() and connect_task.exception() is not None:
                log.debug("bot connection ended with %r", connect_task.exception())
