"""/paperboy status: what the bot knows about itself, the cache and this server."""

from __future__ import annotations

import datetime as dt
import logging
import math

import discord
from discord import app_commands
from discord.ext import commands

from bot.cli import package_version
from bot.client import PaperBot
from bot.render import NO_MENTIONS, status_embed

log = logging.getLogger(__name__)


def humanize_delta(delta: dt.timedelta) -> str:
    """A short human duration like '3 h 5 min' or '42 s'."""
    seconds = int(abs(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{minutes} min" if minutes else ""]
    text = " ".join(p for p in parts if p)
    return text or f"{seconds} s"


def describe_instant(instant: dt.datetime | None, now: dt.datetime) -> str:
    """'2026-06-12 09:00 UTC (3 min ago)' or 'never'."""
    if instant is None:
        return "never"
    stamp = instant.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    relation = "ago" if instant <= now else "from now"
    return f"{stamp} ({humanize_delta(now - instant)} {relation})"


class Admin(commands.Cog):
    """Operational commands."""

    group = app_commands.Group(name="paperboy", description="About this Paperboy bot")

    def __init__(self, bot: PaperBot) -> None:
        self.bot = bot

    @group.command(name="status", description="Version, uptime, cache and schedule of this bot (only you see it)")
    async def status(self, interaction: discord.Interaction[PaperBot]) -> None:
        """Show the bot's state privately."""
        bot = self.bot
        now = bot.clock.now()
        counts = await bot.store.counts()
        newest = await bot.store.newest_day()
        last = await bot.store.last_scrape_run()
        latency = bot.latency
        fields = {
            "Version": package_version(),
            "Uptime": humanize_delta(bot.uptime()),
            "Gateway latency": "unknown" if math.isnan(latency) or math.isinf(latency) else f"{latency * 1000:.0f} ms",
            "Papers cached": f"{counts.papers:,} over {counts.days:,} days",
            "Newest day cached": newest.isoformat() if newest else "none yet",
            "Last scrape": (
                f"{describe_instant(last.finished, now)}: {last.outcome}"
                + (f" ({last.error})" if last.error else "")
                if last
                else "never"
            ),
            "Next scrape": describe_instant(bot.next_scrape_at, now) if bot.next_scrape_at else "not scheduled",
            "Servers": f"{len(bot.guilds):,}",
        }
        if interaction.guild_id is not None:
            digests, alerts = await bot.store.guild_counts(interaction.guild_id)
            fields["This server"] = f"{digests} digest channel(s), {alerts} alert(s)"
        await interaction.response.send_message(
            embed=status_embed(fields), ephemeral=True, allowed_mentions=NO_MENTIONS
        )


async def setup(bot: PaperBot) -> None:
    """Extension entry point."""
    await bot.add_cog(Admin(bot))
