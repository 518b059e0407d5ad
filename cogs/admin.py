"""/paperboy status: what the bot knows about itself, the cache and this server."""

from __future__ import annotations

import logging
import math

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import PaperBot
from bot.render import NO_MENTIONS, plural, status_embed
from bot.render.status import StatusValue
from bot.services import status as status_report
from bot.services.status import humanize_delta
from bot.version import package_version

log = logging.getLogger(__name__)


class Admin(commands.Cog):
    """Operational commands."""

    group = app_commands.Group(name="paperboy", description="About this Paperboy bot")

    def __init__(self, bot: PaperBot) -> None:
        self.bot = bot

    @group.command(name="status", description="Version, uptime, cache and schedule of this bot (only you see it)")
    async def status(self, interaction: discord.Interaction[PaperBot]) -> None:
        """Show the bot's state privately."""
        bot = self.bot
        latency = bot.latency
        fields: dict[str, StatusValue] = {}
        problems = await status_report.source_problems(bot.store)
        if problems:
            fields["Source problems"] = problems
        fields.update(await status_report.cache_fields(bot.store, bot.next_scrape_at))
        if not bot.leadership.is_leader:
            fields["Next scrape"] = "by the leader (see Leader below)"
        if interaction.guild_id is not None:
            digests, alerts = await bot.store.guild_counts(interaction.guild_id)
            fields["This server"] = f"{plural(digests, 'digest channel')}, {plural(alerts, 'alert')}"
        fields["Version"] = package_version()
        fields["Uptime"] = humanize_delta(bot.uptime())
        fields["Gateway latency"] = (
            "unknown" if math.isnan(latency) or math.isinf(latency) else f"{latency * 1000:.0f} ms"
        )
        fields["Servers"] = f"{len(bot.guilds):,}"
        fields.update(status_report.process_fields(await bot.leadership.processes(), bot.clock.now()))
        await interaction.response.send_message(
            embed=status_embed(fields), ephemeral=True, allowed_mentions=NO_MENTIONS
        )


async def setup(bot: PaperBot) -> None:
    """Extension entry point."""
    await bot.add_cog(Admin(bot))
