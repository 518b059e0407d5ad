"""DiscordTransport.open_thread on the loopback Discord: opens once, finds an existing thread, classifies refusals."""

from __future__ import annotations

from collections.abc import AsyncIterator

import discord
import pytest
from discord.ext import commands

from bot.client import DiscordTransport
from bot.outbox import SendError
from tests.fakes import discord_fixtures
from tests.fakes.discord_fixtures import LabDiscord, running_bot
from tests.fakes.discord_threads import CREATE_PUBLIC_THREADS

fake_discord = discord_fixtures.fake_discord


@pytest.fixture
async def bot(fake_discord: LabDiscord) -> AsyncIterator[commands.Bot]:
    client = commands.Bot(command_prefix="!", intents=discord.Intents.default(), guild_ready_timeout=0.05)
    async with running_bot(client, fake_discord):
        yield client


def thread_starts(server: LabDiscord) -> int:
    return sum(1 for r in server.requests if r.method == "POST" and r.path.endswith("/threads"))


async def test_open_thread_opens_once_and_then_finds_it(bot: commands.Bot, fake_discord: LabDiscord) -> None:
    transport = DiscordTransport(bot)
    message_id = await transport.send(fake_discord.papers.id, {"content": "digest", "embeds": []}, "n1")
    first = await transport.open_thread(fake_discord.papers.id, message_id, "Discuss: Daily Papers, 4 Dec")
    again = await transport.open_thread(fake_discord.papers.id, message_id, "Discuss: Daily Papers, 4 Dec")
    assert first == again == message_id
    assert thread_starts(fake_discord) == 1
    thread = fake_discord.thread_of(message_id)
    assert thread is not None and thread["name"] == "Discuss: Daily Papers, 4 Dec"


async def test_open_thread_without_permission_is_a_permanent_error(bot: commands.Bot, fake_discord: LabDiscord) -> None:
    transport = DiscordTransport(bot)
    message_id = await transport.send(fake_discord.papers.id, {"content": "digest", "embeds": []}, "n2")
    papers = fake_discord.papers
    assert papers.guild is not None
    fake_discord.set_overwrite(papers, fake_discord.bot_member(papers.guild), deny=CREATE_PUBLIC_THREADS)
    with pytest.raises(SendError) as caught:
        await transport.open_thread(papers.id, message_id, "Discuss")
    assert caught.value.permanent and "Create Public Threads" in str(caught.value)
    assert fake_discord.thread_of(message_id) is None


async def test_open_thread_on_a_deleted_message_is_a_permanent_error(
    bot: commands.Bot, fake_discord: LabDiscord
) -> None:
    transport = DiscordTransport(bot)
    with pytest.raises(SendError) as caught:
        await transport.open_thread(fake_discord.papers.id, 4242, "Discuss")
    assert caught.value.permanent
