"""The bot end to end: login, command sync, /paperboy status, error handling, rate limits, gateway resume,
and the real `paperboy run` process (bad token, SIGTERM)."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.version import package_version
from tests.fakes.discord_fixtures import LabDiscord
from tests.fakes.discord_records import RecordedMessage, RequestRecord
from tests.fakes.harness import BotHarness, wait_until
from tests.fakes.hf_items import make_daily_item
from tests.fakes.hf_server import FakeHuggingFace
from tests.fakes.process import BotProcess, write_config

DAY = dt.date(2026, 6, 12)


def option_names(command: dict[str, Any], sub: str) -> list[str]:
    for option in command.get("options", []):
        if option["name"] == sub:
            return [o["name"] for o in option.get("options", [])]
    raise AssertionError(f"no subcommand {sub}")


async def test_login_ready_and_sync_with_option_schemas(harness: BotHarness) -> None:
    bot = harness.running
    assert {g.id for g in bot.guilds} == {harness.guild.id, harness.other_guild.id}
    assert bot.get_guild(harness.guild.id).get_channel(harness.channel.id) is not None  # type: ignore[union-attr]
    synced = {c["name"]: c for c in harness.discord.synced_commands()}
    assert {"paperboy", "digest"} <= set(synced)
    assert option_names(synced["digest"], "set") == [
        "channel",
        "time",
        "timezone",
        "top",
        "min_upvotes",
        "weekdays_only",
        "style",
        "empty_days",
        "frequency",
        "weekday",
        "threads",
        "source",
        "category",
        "query",
    ]
    for command in synced.values():
        for sub in command.get("options", []):
            assert sub["description"], f"/{command['name']} {sub['name']} has no description"
            for option in sub.get("options", []):
                assert option["description"], f"/{command['name']} {sub['name']} {option['name']}"


async def test_commands_are_synced_globally_only_when_changed(harness: BotHarness) -> None:
    def puts() -> list[RequestRecord]:
        return harness.discord.requests_to("PUT", r"/applications/\d+/commands$")

    assert len(puts()) == 1
    await harness.restart()
    assert len(puts()) == 1, "unchanged commands must not be synced again"


async def test_dev_guilds_get_commands_at_start(harness: BotHarness) -> None:
    discord_config = dataclasses.replace(harness.config.discord, dev_guild_ids=(harness.guild.id,))
    harness.config = dataclasses.replace(harness.config, discord=discord_config)
    await harness.restart()
    names = {c["name"] for c in harness.discord.synced_commands(harness.guild)}
    assert {"paperboy", "digest"} <= names


async def test_status_is_ephemeral_and_complete(harness: BotHarness) -> None:
    harness.hf.set_day(DAY, [make_daily_item("2606.00001", "A paper", day=DAY, upvotes=3)])
    await harness.scrape()
    result = await harness.discord.slash("paperboy", "status", as_user=harness.member, channel=harness.channel)
    assert result.ephemeral and result.elapsed is not None and result.elapsed < 3
    text = result.message.text if result.message else ""
    for label in (
        "Version",
        "Uptime",
        "Gateway latency",
        "Papers cached",
        "Newest day cached",
        "Last scrape",
        "Next scrape",
        "Servers",
        "This server",
    ):
        assert label in text, label
    assert package_version() in text
    assert "1 paper over 1 day" in text and "Fri 12 Jun 2026" in text
    assert "0 digest channels, 0 alerts" in text
    assert harness.discord.token not in text


def field_value(message: RecordedMessage | None, name: str) -> str:
    assert message is not None and message.embeds
    value: str = next(f["value"] for f in message.embeds[0]["fields"] if f["name"] == name)
    return value


def stamps(moment: dt.datetime) -> str:
    return f"<t:{int(moment.timestamp())}:f> (<t:{int(moment.timestamp())}:R>)"


async def test_status_shows_scrape_times_as_discord_timestamps(harness: BotHarness) -> None:
    start = harness.clock.now()
    result = await harness.discord.slash("paperboy", "status", as_user=harness.member, channel=harness.channel)
    # The first scrape ran at start; the next is due an interval after it began.
    assert field_value(result.message, "Next scrape") == stamps(start + dt.timedelta(minutes=30))
    assert field_value(result.message, "Last scrape") == stamps(start)
    assert field_value(result.message, "Last scrape result").startswith("no papers listed for 13 Jun")


@pytest.fixture
async def failing_harness(tmp_path: Path) -> AsyncIterator[BotHarness]:
    running = await BotHarness.create(tmp_path, extra_extensions=("tests.fakes.failing_cog",))
    try:
        yield running
    finally:
        await running.close()


async def test_tree_error_handler_answers_instead_of_silence(
    failing_harness: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    harness = failing_harness
    with caplog.at_level(logging.ERROR, logger="bot.client"):
        boom = await harness.discord.slash("boom", as_user=harness.member, channel=harness.channel)
    assert boom.ephemeral and "Something went wrong" in (boom.content or "")
    assert "kaboom" not in (boom.content or "") and "Traceback" not in (boom.content or "")
    assert any("boom" in r.getMessage() and r.exc_info for r in caplog.records)
    oops = await harness.discord.slash("oops", as_user=harness.member, channel=harness.channel)
    assert oops.ephemeral and oops.content == "That is not how this works: try again with a number."


async def test_a_429_on_a_post_is_waited_out_and_the_message_arrives_once(harness: BotHarness) -> None:
    harness.hf.set_day(DAY, [make_daily_item("2606.00001", "A paper", day=DAY, upvotes=3)])
    await harness.scrape()
    await harness.discord.slash("digest", "set", as_user=harness.admin, channel=harness.channel, time="09:00")
    harness.discord.rate_limit_next_post(retry_after=0.3)
    harness.clock.set(dt.datetime(2026, 6, 13, 9, tzinfo=dt.UTC))
    await harness.discord.wait_for_messages(harness.channel, 1)
    assert harness.discord.stats.rate_limited_local == 1
    await wait_until(lambda: harness.clock.sleepers != [], what="scheduler asleep")
    assert len(harness.discord.messages_in(harness.channel)) == 1


async def test_gateway_closed_with_4000_resumes_and_still_answers(harness: BotHarness) -> None:
    identifies = harness.discord.stats.identifies
    await harness.discord.close_gateway(4000)
    await harness.discord.wait_for_op(6)  # RESUME
    assert harness.discord.stats.identifies == identifies
    result = await harness.discord.slash("paperboy", "status", as_user=harness.member, channel=harness.channel)
    assert result.ephemeral and "Version" in (result.message.text if result.message else "")


# ---------------------------------------------------------------- the real process


@pytest.mark.slow
async def test_paperboy_run_answers_status_and_stops_cleanly_on_sigterm(
    world: tuple[LabDiscord, FakeHuggingFace], tmp_path: Path
) -> None:
    discord_server, hf = world
    database = tmp_path / "paperboy.db"
    config = write_config(tmp_path / "config.toml", discord_server, hf, database)
    process = await BotProcess(config, discord_server.token, tmp_path / "bot.log").start()
    try:
        await discord_server.wait_until_connected(timeout=20)
        await wait_until(lambda: bool(discord_server.synced_commands()), timeout=20, what="command sync")
        result = await discord_server.slash(
            "paperboy", "status", as_user=discord_server.member, channel=discord_server.papers, timeout=10
        )
        assert result.ephemeral and "Version" in (result.message.text if result.message else "")
        process.signal(signal.SIGTERM)
        assert await process.wait(timeout=5) == 0
    finally:
        await process.stop()
    assert not Path(f"{database}-wal").exists(), "the database was not closed"
    assert discord_server.token not in process.output


@pytest.mark.slow
async def test_paperboy_run_with_a_rejected_token_exits_1_with_one_clear_line(
    world: tuple[LabDiscord, FakeHuggingFace], tmp_path: Path
) -> None:
    discord_server, hf = world
    discord_server.reject_token()
    config = write_config(tmp_path / "config.toml", discord_server, hf, tmp_path / "paperboy.db")
    process = await BotProcess(config, discord_server.token, tmp_path / "bot.log").start()
    try:
        code = await process.wait(timeout=20)
    finally:
        await process.stop()
    assert code == 1
    assert "paperboy: Discord rejected the token (401 Unauthorized): check DISCORD_TOKEN" in process.output
    assert "Traceback" not in process.output and discord_server.token not in process.output


@pytest.mark.slow
async def test_paperboy_run_without_a_token_exits_1(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=tmp_path,
        env=env,
        stderr=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    _, err = await process.communicate()
    assert process.returncode == 1
    assert b"no Discord token" in err
