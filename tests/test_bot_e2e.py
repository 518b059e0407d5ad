"""The bot end to end: login, command sync, /paperboy status, error handling, gateway resume."""

from __future__ import annotations

from tests.fakes.harness import BotHarness


async def test_login_ready_and_sync(harness: BotHarness) -> None:
    bot = harness.running
    assert {g.id for g in bot.guilds} == {harness.guild.id, harness.other_guild.id}
    names = {c["name"] for c in harness.discord.synced_commands()}
    assert {"paperboy", "digest"} <= names


async def test_status_is_ephemeral_and_complete(harness: BotHarness) -> None:
    result = await harness.discord.slash("paperboy", "status", as_user=harness.member, channel=harness.channel)
    assert result.ephemeral
    text = result.message.text if result.message else ""
    for label in ("Version", "Uptime", "Gateway latency", "Papers cached", "Newest day cached", "Last scrape",
                  "Next scrape", "Servers", "This server"):
        assert label in text, label
