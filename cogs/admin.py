"""/paperboy status: what the bot knows about itself, the cache and this server."""

from __future__ import annotations

import datetime as dt
import logging
import math

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import PaperBot
from bot.models import ScrapeRun
from bot.render import NO_MENTIONS, status_embed
from bot.scrape import FAILED_OUTCOMES
from bot.version import package_version

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


OUTCOME_TEXT = {
    "markup_changed": "likely markup change on the source (no papers could be parsed)",
    "failed": "failed",
}
RECENT_RUNS = 20  # enough to cover every day of the latest scrape pass


def describe_run(run: ScrapeRun) -> str:
    """A scrape run's outcome in words, with its error."""
    text = OUTCOME_TEXT.get(run.outcome, run.outcome)
    return text + (f" ({run.error})" if run.error else "")


def failing_days(runs: list[ScrapeRun]) -> list[ScrapeRun]:
    """The days whose latest run (among `runs`, newest first) failed, newest day first."""
    latest: dict[dt.date | None, ScrapeRun] = {}
    for run in runs:
        latest.setdefault(run.day, run)
    failed = [run for run in latest.values() if run.outcome in FAILED_OUTCOMES]
    return sorted(failed, key=lambda run: str(run.day), reverse=True)


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
            "Last scrape": f"{describe_instant(last.finished, now)}: {describe_run(last)}" if last else "never",
            "Next scrape": describe_instant(bot.next_scrape_at, now) if bot.next_scrape_at else "not scheduled",
            "Servers": f"{len(bot.guilds):,}",
        }
        failing = failing_days(await bot.store.scrape_runs(limit=RECENT_RUNS))
        if failing:
            fields["Source problems"] = "\n".join(
                f"{run.day}: {describe_run(run)}; cached papers kept" for run in failing[:3]
            )
        if interaction.guild_id is not None:
            digests, alerts = await bot.store.guild_counts(interaction.guild_id)
            fields["This server"] = f"{digests} digest channel(s), {alerts} alert(s)"
        await interaction.response.send_message(
            embed=status_embed(fields), ephemeral=True, allowed_mentions=NO_MENTIONS
        )


async def setup(bot: PaperBot) -> None:
    """Extension entry point."""
    await bot.add_cog(Admin(bot))
