"""Threads in the loopback Discord, driven through discord.py's own HTTP client and Message.create_thread."""

from __future__ import annotations

from collections.abc import AsyncIterator

import discord
import pytest
from discord.ext import commands

from tests.fakes import discord_fixtures
from tests.fakes.discord_fixtures import LabDiscord, running_bot
from tests.fakes.discord_threads import CREATE_PUBLIC_THREADS, PUBLIC_THREAD

fake_discord = discord_fixtures.fake_discord


@pytest.fixture
async def bot(fake_discord: LabDiscord) -> AsyncIterator[commands.Bot]:
    client = commands.Bot(command_prefix="!", intents=discord.Intents.default(), guild_ready_timeout=0.05)
    async with running_bot(client, fake_discord):
        yield client


def papers_channel(bot: commands.Bot) -> discord.TextChannel:
    channel = discord.utils.get(bot.get_all_channels(), name="papers")
    assert isinstance(channel, discord.TextChannel)
    return channel


async def test_a_thread_started_from_a_message_has_the_messages_id(bot: commands.Bot, fake_discord: LabDiscord) -> None:
    message = await papers_channel(bot).send("digest")
    thread = await message.create_thread(name="Discuss: Daily Papers, 4 Dec")
    assert thread.id == message.id and thread.name == "Discuss: Daily Papers, 4 Dec"
    assert thread.parent_id == fake_discord.papers.id and thread.type is discord.ChannelType.public_thread
    fetched = await bot.http.get_channel(message.id)
    assert fetched["type"] == PUBLIC_THREAD and fetched["name"] == "Discuss: Daily Papers, 4 Dec"
    starter = await bot.http.get_message(fake_discord.papers.id, message.id)
    assert starter["thread"]["id"] == str(message.id)
    active = await bot.http.get_active_threads(fake_discord.guild.id)
    assert [t["id"] for t in active["threads"]] == [str(message.id)]


async def test_a_second_thread_on_the_same_message_is_refused(bot: commands.Bot) -> None:
    message = await papers_channel(bot).send("digest")
    await message.create_thread(name="first")
    with pytest.raises(discord.HTTPException) as caught:
        await message.create_thread(name="second")
    assert caught.value.status == 400 and caught.value.code == 160004


async def test_without_create_public_threads_the_start_is_forbidden(
    bot: commands.Bot, fake_discord: LabDiscord
) -> None:
    message = await papers_channel(bot).send("digest")
    papers = fake_discord.papers
    assert papers.guild is not None
    fake_discord.set_overwrite(papers, fake_discord.bot_member(papers.guild), deny=CREATE_PUBLIC_THREADS)
    with pytest.raises(discord.Forbidden) as caught:
        await message.create_thread(name="no")
    assert caught.value.code == 50013
    with pytest.raises(discord.NotFound):
        await bot.http.get_channel(message.id)  # no thread was made


@pytest.mark.parametrize("name", ["", " ", "x" * 101])
async def test_a_thread_name_must_be_1_to_100_characters(
    bot: commands.Bot, fake_discord: LabDiscord, name: str
) -> None:
    message = await papers_channel(bot).send("digest")
    with pytest.raises(discord.HTTPException) as caught:
        await bot.http.start_thread_with_message(
            fake_discord.papers.id, message.id, name=name, auto_archive_duration=1440
        )
    assert caught.value.status == 400 and caught.value.code == 50035
    assert fake_discord.thread_of(message.id) is None
