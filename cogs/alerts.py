"""/alerts add · remove · list · test, over the alert pipeline service that posts matching new papers."""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot import alerts
from bot.client import DiscordTransport, PaperBot, send_ephemeral
from bot.render import NO_MENTIONS, TITLE_LIMIT, escape_text, plural, results_page
from bot.scrape import ScrapeSummary
from bot.services import subscriptions
from bot.services.alerts import AlertPipeline
from bot.services.leader import ScheduledWork
from bot.services.subscriptions import inline_query
from cogs.checks import (
    require_bot_can_post,
    require_guild,
    require_guild_text_channel,
    require_manage_channel_id,
    require_manage_channels,
)

log = logging.getLogger(__name__)

PREVIEW_DAYS = 7
PREVIEW_PAPERS = 10


def preview_embed(results: alerts.Backtest, *, query: str) -> discord.Embed:
    """The newest matching papers of a backtest as one embed (the message's text says how many match)."""
    shown = results.papers[:PREVIEW_PAPERS]
    embed = results_page(shown, query=query, page=1, pages=1, total=results.total)
    embed.title = escape_text(f"Alert test: {query}", TITLE_LIMIT)
    if results.total > len(shown):
        embed.set_footer(text=f"The {len(shown)} newest are shown.")
    else:
        embed.remove_footer()
    return embed


class AlertsCog(commands.Cog):
    """Standing queries per channel; new matching papers posted once."""

    group = app_commands.Group(
        name="alerts",
        description="Keyword alerts: new papers matching a query, posted in a channel",
        guild_only=True,
    )

    def __init__(self, bot: PaperBot) -> None:
        self.bot = bot
        self.pipeline = AlertPipeline(
            bot.store, DiscordTransport(bot), bot.clock, hourly_cap=bot.config.alerts.hourly_cap_per_channel
        )

    @property
    def caught_up(self) -> bool:
        """Whether the catch-up pass at start has run."""
        return self.pipeline.caught_up

    @property
    def handled(self) -> list[ScrapeSummary]:
        """The latest scrapes whose alerts pass has run."""
        return list(self.pipeline.handled)

    async def cog_load(self) -> None:
        """Mark where new papers start (first run only); run the catch-up and retry loop while this process leads."""
        await self.pipeline.prepare()
        start = lambda: self.pipeline.start(self.bot.wait_until_ready)  # noqa: E731 - named for the line's sake
        self.bot.leadership.add(ScheduledWork("alerts", start=start, stop=self.pipeline.stop))

    async def cog_unload(self) -> None:
        """Stop the pipeline, letting a pass under way finish (bounded)."""
        await self.bot.leadership.remove("alerts", self.bot.shutdown_budget())

    @commands.Cog.listener()
    async def on_papers_scraped(self, summary: ScrapeSummary) -> None:
        """Alert the channels about what the scrape brought."""
        self.pipeline.after_scrape(summary)

    # ------------------------------------------------------------------ commands

    @group.command(name="add", description="Post new papers matching a query in a channel (needs Manage Channels)")
    @app_commands.describe(
        query='What to watch for, e.g. diffusion video, "mixture of experts", author:"Tri Dao", upvotes:>=50',
        channel="Channel to post in (default: this one)",
        skip_digest_papers="Leave out papers this channel's daily digest already posted",
    )
    async def add(
        self,
        interaction: discord.Interaction[PaperBot],
        query: app_commands.Range[str, 1, 300],
        channel: discord.TextChannel | None = None,
        skip_digest_papers: bool = False,
    ) -> None:
        """Add a standing query to a channel and show what it would have matched lately."""
        target = require_guild_text_channel(interaction, channel, posts="alerts")
        require_manage_channels(interaction, target, change="its alerts")
        require_bot_can_post(target)
        parsed = alerts.check_alert_query(query)
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        subscription = await subscriptions.add_subscription(
            self.bot.store,
            self.bot.config.alerts,
            guild_id=interaction.guild_id,
            channel_id=target.id,
            mention=target.mention,
            query=query,
            normalized=parsed.normalized(),
            created_by=interaction.user.id,
            skip_digest_papers=skip_digest_papers,
        )
        results = await alerts.backtest(
            self.bot.store,
            subscription.query,
            days=PREVIEW_DAYS,
            today=self.bot.clock.now().date(),
            limit=PREVIEW_PAPERS,
        )
        text = (
            f"Alert **#{subscription.id}** added in {target.mention}: {inline_query(subscription.query)}. "
            "New papers that match will be posted there once each."
        )
        if results.total:
            text += f"\nIn the last {PREVIEW_DAYS} days it would have matched {plural(results.total, 'paper')}:"
            embeds = [preview_embed(results, query=subscription.query)]
        else:
            text += f"\nNo cached paper of the last {PREVIEW_DAYS} days matches it yet."
            embeds = []
        await interaction.followup.send(text, embeds=embeds, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @group.command(name="remove", description="Remove one of this server's alerts (needs Manage Channels)")
    @app_commands.describe(id="The alert's number, as /alerts list shows it (start typing to pick one)")
    async def remove(self, interaction: discord.Interaction[PaperBot], id: app_commands.Range[int, 1]) -> None:
        """Delete a subscription of this guild."""
        guild = require_guild(interaction)
        subscription = await subscriptions.removable(self.bot.store, id, guild.id)
        require_manage_channel_id(interaction, guild, subscription.channel_id)
        removed = await subscriptions.remove_subscription(self.bot.store, id, guild.id)
        await interaction.response.send_message(
            f"Removed alert **#{id}** from <#{removed.channel_id}>: {inline_query(removed.query)}.",
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    @remove.autocomplete("id")
    async def remove_autocomplete(
        self, interaction: discord.Interaction[PaperBot], current: str
    ) -> list[app_commands.Choice[int]]:
        """This server's alerts whose number, channel or query contains what was typed."""
        guild = interaction.guild
        if guild is None:
            return []

        def channel_name(channel_id: int) -> str | None:
            channel = guild.get_channel(channel_id)
            return channel.name if channel is not None else None

        found = await self.bot.store.list_subscriptions(guild_id=guild.id)
        choices = subscriptions.subscription_choices(found, str(current or ""), channel_name)
        return [app_commands.Choice(name=name, value=value) for name, value in choices]

    @group.command(name="list", description="Show a channel's alerts")
    @app_commands.describe(channel="Channel whose alerts to show (default: this one)")
    async def list_alerts(
        self, interaction: discord.Interaction[PaperBot], channel: discord.TextChannel | None = None
    ) -> None:
        """List the subscriptions of one channel."""
        target = require_guild_text_channel(interaction, channel, posts="alerts")
        text = await subscriptions.channel_listing(
            self.bot.store, target.id, target.mention, self.bot.config.alerts.max_per_channel
        )
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @group.command(name="test", description="See privately which recent papers a query would have alerted")
    @app_commands.describe(
        query='A query as /alerts add takes it, e.g. "state space" mamba -survey',
        days="How many days back to look, today included (1-30, default 7)",
    )
    async def test(
        self,
        interaction: discord.Interaction[PaperBot],
        query: app_commands.Range[str, 1, 300],
        days: app_commands.Range[int, 1, 30] = PREVIEW_DAYS,
    ) -> None:
        """Run a query over the cached papers of the last days."""
        alerts.check_alert_query(query)
        await interaction.response.defer(ephemeral=True, thinking=True)
        results = await alerts.backtest(
            self.bot.store, query, days=days, today=self.bot.clock.now().date(), limit=PREVIEW_PAPERS
        )
        period = "today" if days == 1 else f"the last {days} days"
        if not results.total:
            await send_ephemeral(interaction, f"No cached paper of {period} matches {inline_query(query)}.")
            return
        verb = "matches" if results.total == 1 else "match"
        text = f"{plural(results.total, 'cached paper')} of {period} {verb} {inline_query(query)}."
        await send_ephemeral(interaction, text, embed=preview_embed(results, query=query))


async def setup(bot: PaperBot) -> None:
    """Extension entry point."""
    await bot.add_cog(AlertsCog(bot))
