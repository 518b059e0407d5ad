"""/digest set · off · show · preview · now, over the digest scheduler service."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot import digest as schedule
from bot.arxiv_digest import category_suggestions, checked_arxiv_settings
from bot.client import CurrentScraper, DiscordTransport, PaperBot, send_ephemeral, send_private_followups
from bot.errors import UserError
from bot.models import DigestSettings
from bot.outbox import Outcome
from bot.render import NO_MENTIONS
from bot.render.digest import week_span
from bot.render.markup import long_day
from bot.services.digests import DigestScheduler, describe_next, describe_settings
from bot.services.leader import ScheduledWork
from bot.services.threads import ThreadMode, set_thread_mode, thread_mode
from cogs.checks import require_bot_can_post, require_guild_text_channel, require_manage_channels

log = logging.getLogger(__name__)

NOW_REPLIES = {
    Outcome.ALREADY_SENT: "The digest of {day} was already posted in {channel}.",
    Outcome.SENT: "Posted the digest of {day} in {channel}.",
    Outcome.RETRY: "Discord is having trouble; the digest will be retried shortly.",
    Outcome.FAILED: "Could not post in {channel}; the digest there is now off.",
}


class DigestCog(commands.Cog):
    """Per-channel daily or weekly digests."""

    group = app_commands.Group(name="digest", description="Daily digest of top Hugging Face papers", guild_only=True)

    def __init__(self, bot: PaperBot) -> None:
        self.bot = bot
        self.scheduler = DigestScheduler(
            bot.store,
            DiscordTransport(bot),
            bot.clock,
            refresher=CurrentScraper(bot),
            grace=dt.timedelta(hours=bot.config.digest.grace_hours),
        )

    async def cog_load(self) -> None:
        """Run the scheduler once the bot is logged in, while this process leads."""
        self.bot.leadership.add(
            ScheduledWork(
                "digests",
                start=lambda: self.scheduler.start(self.bot.wait_until_ready),
                stop=self.scheduler.stop,
                settings_changed=self.scheduler.wake,
            )
        )

    async def cog_unload(self) -> None:
        """Stop the scheduler, letting digests being posted finish (bounded)."""
        await self.bot.leadership.remove("digests", self.bot.shutdown_budget())

    def _defaults(self, channel: discord.TextChannel) -> DigestSettings:
        return schedule.default_settings(self.bot.config.digest, guild_id=channel.guild.id, channel_id=channel.id)

    async def _settings_or_defaults(self, channel: discord.TextChannel) -> DigestSettings:
        return await self.bot.store.get_digest_settings(channel.id) or self._defaults(channel)

    async def _thread_note(self, channel: discord.TextChannel, style: str) -> str:
        """', with a discussion thread' (or one per paper; with what stands in the way), or nothing."""
        mode = await thread_mode(self.bot.store, channel.id)
        if mode == "none":
            return ""
        note = ", with a discussion thread"
        if mode == "papers":
            note = (
                ", with a discussion thread per paper"
                if style == "cards"
                else (", with one discussion thread per digest (a thread per paper needs style cards)")
            )
        if not channel.permissions_for(channel.guild.me).create_public_threads:
            note += " (but the bot lacks Create Public Threads there, so none will open)"
        return note

    # ------------------------------------------------------------------ commands

    @group.command(name="set", description="Post a daily or weekly digest in a channel (needs Manage Channels)")
    @app_commands.describe(
        channel="Channel to post in (default: this one)",
        time="Local time to post, 24-hour HH:MM (default from the bot's config, usually 09:00)",
        timezone="IANA time zone such as Europe/Berlin (default UTC)",
        top="How many papers, 1-25",
        min_upvotes="Leave out papers with fewer upvotes",
        weekdays_only="Skip Saturdays and Sundays",
        style="compact: one list; cards: one card per paper",
        empty_days="On days without papers: post a short line, or stay quiet",
        frequency="daily: each day's top papers; weekly: the top of the last seven days, once a week",
        weekday="The day a weekly digest posts on (weekly digests only; default Monday)",
        threads="digest: a public discussion thread on each digest; papers: one per paper card (cards style)",
        source="huggingface: Daily Papers (default); arxiv: one arXiv category's new announcements",
        category="The arXiv category of an arXiv digest, e.g. cs.CL (one the bot reads)",
        query="Only papers matching this query (arXiv digests), e.g. llm OR agents",
    )
    async def set_digest(
        self,
        interaction: discord.Interaction[PaperBot],
        channel: discord.TextChannel | None = None,
        time: str | None = None,
        timezone: str | None = None,
        top: app_commands.Range[int, 1, 25] | None = None,
        min_upvotes: app_commands.Range[int, 0, 100000] | None = None,
        weekdays_only: bool | None = None,
        style: Literal["compact", "cards"] | None = None,
        empty_days: Literal["post", "skip"] | None = None,
        frequency: Literal["daily", "weekly"] | None = None,
        weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] | None = None,
        threads: ThreadMode | None = None,
        source: Literal["huggingface", "arxiv"] | None = None,
        category: app_commands.Range[str, 1, 40] | None = None,
        query: app_commands.Range[str, 0, 300] | None = None,
    ) -> None:
        """Create or change a channel's digest."""
        target = require_guild_text_channel(interaction, channel)
        require_manage_channels(interaction, target)
        require_bot_can_post(target)
        change = schedule.SettingsChange(
            time,
            timezone,
            top,
            min_upvotes,
            weekdays_only,
            style,
            empty_days,
            frequency=frequency,
            weekday=weekday,
            source=source,
            category=category,
            query=query,
        )
        current = await self.bot.store.get_digest_settings(target.id)
        settings = schedule.apply_change(current, change, self._defaults(target), now=self.bot.clock.now())
        settings = checked_arxiv_settings(settings, self.bot.config.arxiv.categories)
        stored = await self.bot.store.save_digest_settings(settings)
        if threads is not None:
            await set_thread_mode(self.bot.store, target.id, threads)
        self.scheduler.wake()
        upcoming = await self.scheduler.next_run(stored)
        note = schedule.weekday_note(change, stored)
        await interaction.response.send_message(
            f"Digest for {target.mention}: {describe_settings(stored)}"
            f"{await self._thread_note(target, stored.style)}.\nNext one: {describe_next(upcoming)}."
            + (f"\n{note}" if note else ""),
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    @set_digest.autocomplete("category")
    async def category_autocomplete(
        self, interaction: discord.Interaction[PaperBot], current: str
    ) -> list[app_commands.Choice[str]]:
        """The arXiv categories the bot reads that contain what was typed."""
        names = category_suggestions(self.bot.config.arxiv.categories, current)
        return [app_commands.Choice(name=name, value=name) for name in names]

    @set_digest.autocomplete("timezone")
    async def timezone_autocomplete(
        self, interaction: discord.Interaction[PaperBot], current: str
    ) -> list[app_commands.Choice[str]]:
        """Zone names containing what was typed, best matches first."""
        return [app_commands.Choice(name=zone, value=zone) for zone in schedule.zone_suggestions(current)]

    @group.command(name="off", description="Stop a channel's daily digest (needs Manage Channels)")
    @app_commands.describe(channel="Channel whose digest to stop (default: this one)")
    async def off(self, interaction: discord.Interaction[PaperBot], channel: discord.TextChannel | None = None) -> None:
        """Turn a channel's digest off."""
        target = require_guild_text_channel(interaction, channel)
        require_manage_channels(interaction, target)
        removed = await self.bot.store.delete_digest_settings(target.id)
        self.scheduler.wake()
        text = f"Digest in {target.mention} turned off." if removed else f"{target.mention} has no digest."
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @group.command(name="show", description="List this server's digests with their next run and last outcome")
    async def show(self, interaction: discord.Interaction[PaperBot]) -> None:
        """Show every digest of this guild."""
        assert interaction.guild_id is not None
        overview = await self.scheduler.overview(interaction.guild_id)
        text = overview or "No digests here yet: an admin can add one with `/digest set`."
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @group.command(name="preview", description="See privately what a channel's digest would post now")
    @app_commands.describe(channel="Channel whose settings to use (default: this one)")
    async def preview(
        self, interaction: discord.Interaction[PaperBot], channel: discord.TextChannel | None = None
    ) -> None:
        """Show the digest as it would be posted now, only to the caller."""
        target = require_guild_text_channel(interaction, channel)
        await interaction.response.defer(ephemeral=True, thinking=True)
        settings = await self._settings_or_defaults(target)
        day = schedule.covered_day(settings, self.bot.clock.now())
        await send_private_followups(interaction, await self.scheduler.preview(settings, day))

    @group.command(name="now", description="Post today's digest now; it counts as today's (needs Manage Channels)")
    @app_commands.describe(channel="Channel with a digest set up (default: this one)")
    async def now(self, interaction: discord.Interaction[PaperBot], channel: discord.TextChannel | None = None) -> None:
        """Post today's digest immediately."""
        target = require_guild_text_channel(interaction, channel)
        require_manage_channels(interaction, target)
        require_bot_can_post(target)
        settings = await self.bot.store.get_digest_settings(target.id)
        if settings is None or not settings.enabled:
            raise UserError(f"{target.mention} has no digest: set one up with `/digest set` first.")
        await interaction.response.defer(ephemeral=True, thinking=True)
        day = schedule.covered_day(settings, self.bot.clock.now())
        outcome = await self.scheduler.post_now(settings, day)
        label = long_day(day)
        if settings.frequency == "weekly":
            label = f"the week {week_span(schedule.week_ending(day)[0], day)}"
        text = NOW_REPLIES[outcome].format(day=label, channel=target.mention)
        if outcome in (Outcome.SENT, Outcome.ALREADY_SENT):
            text += f"\nNext one: {describe_next(await self.scheduler.next_run(settings))}."
        await send_ephemeral(interaction, text)


async def setup(bot: PaperBot) -> None:
    """Extension entry point."""
    await bot.add_cog(DigestCog(bot))
