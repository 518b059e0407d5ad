"""/alerts add · remove · list · test, and the posting of new papers that match a channel's alerts.

After each scrape the cog matches the papers newly listed on Daily Papers since its last pass (a cursor
kept in the database, so papers stored while the bot was down, by a terminal scrape or before a crash are
not skipped) and the papers whose upvotes moved, then gives each channel one bundled post. Each post is
recorded in the outbox before it is sent, with one row per paper it accounts for: a paper reaches a
channel at most once, and a post that could not be sent is retried with backoff, after a restart too.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot import alerts
from bot.client import DiscordTransport, PaperBot, payload_to_part, send_ephemeral
from bot.clock import sleep_until_or_woken, stop_task
from bot.errors import UserError
from bot.models import Delivery, Paper, Subscription
from bot.outbox import Outcome, deliver, make_nonce
from bot.render import NO_MENTIONS, TITLE_LIMIT, alert_messages, escape_plain, escape_text, results_page
from bot.scrape import ScrapeSummary
from bot.store import DuplicateSubscription, LimitReached
from cogs.digest import require_bot_can_post, require_guild_text_channel, require_manage_channels

log = logging.getLogger(__name__)

PAPERS_PER_PASS = 5000
LEARN_FROM_PAPERS = 500  # recent papers whose terms tell the matcher which words are rare
DELIVERY_CONCURRENCY = 20
PREVIEW_DAYS = 7
PREVIEW_PAPERS = 10
CHOICE_LIMIT = 100
RETRY_PASS_AFTER = dt.timedelta(minutes=1)


def inline_query(text: str, limit: int = 200) -> str:
    """A query shown to users: in a code span (where markdown is inert), cut to `limit`, mentions defused."""
    # Nothing is escaped inside a code span, so a backtick is replaced rather than escaped.
    shown = escape_plain(" ".join(text.replace("`", "ˋ").split()), max(1, limit - 2))
    return f"`{shown or ' '}`"


def describe_subscription(subscription: Subscription) -> str:
    """One line about a subscription for /alerts list."""
    line = f"**#{subscription.id}** {inline_query(subscription.query)}"
    if subscription.skip_digest_papers:
        line += " · skips papers its digest posted"
    return line


def describe_batch(delivery: Delivery) -> str:
    """How the latest alert post of a channel went."""
    if delivery.status == "sent":
        return f"last post: {delivery.outcome or 'sent'}"
    if delivery.status == "pending":
        return f"last post: waiting to retry ({delivery.error})" if delivery.error else "last post: sending"
    return f"last post failed: {delivery.error or delivery.status}"


def preview_embed(results: alerts.Backtest, *, query: str, days: int) -> discord.Embed:
    """The newest matching papers of a backtest as one embed."""
    shown = results.papers[:PREVIEW_PAPERS]
    embed = results_page(shown, query=query, page=1, pages=1, total=results.total)
    embed.title = escape_text(f"Alert test: {query}", TITLE_LIMIT)
    if results.total:
        embed.set_footer(
            text=f"{len(shown)} newest of {results.total} matching papers from the last {days} days"
        )
    else:
        embed.description = f"No cached paper of the last {days} days matches."
        embed.remove_footer()
    return embed


class AlertsCog(commands.Cog):
    """Standing queries per channel; new matching papers posted once."""

    group = app_commands.Group(
        name="alerts", description="Keyword alerts: new papers matching a query, posted in a channel",
        guild_only=True,
    )

    def __init__(self, bot: PaperBot) -> None:
        self.bot = bot
        self.transport = DiscordTransport(bot)
        self.matcher = alerts.AlertMatcher()
        self._learned = False
        self._pass_lock = asyncio.Lock()  # one matching pass at a time (the matcher is not shared safely)
        self._sending: set[tuple[int, str]] = set()  # batches being delivered right now
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # What has been handled: the catch-up pass at start, and the latest scrapes (for status and tests).
        self.caught_up = False
        self.handled: collections.deque[ScrapeSummary] = collections.deque(maxlen=8)

    async def cog_load(self) -> None:
        """Mark where new papers start (first run only), then start the catch-up and retry loop."""
        await self._cursor()
        self._task = asyncio.create_task(self._run(), name="alerts")

    async def cog_unload(self) -> None:
        """Stop the loop."""
        await stop_task(self._task)

    # ------------------------------------------------------------------ the loop

    async def _run(self) -> None:
        await self.bot.wait_until_ready()
        try:
            # Papers stored while the bot was down (or before a crash) that no pass has looked at yet.
            await self.run_pass(())
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("alerts catch-up pass failed; the next scrape tries again")
        self.caught_up = True
        while True:
            try:
                await self.resume_due()
                next_at = await self.bot.store.next_retry_at([alerts.BATCH_KIND])
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("alerts retry pass failed; trying again in a minute")
                next_at = self.bot.clock.now() + RETRY_PASS_AFTER
            await sleep_until_or_woken(self.bot.clock, next_at, self._wake)

    async def resume_due(self) -> None:
        """Deliver the alert posts left open (a crash, or Discord failing) whose retry is due."""
        now = self.bot.clock.now()
        due = await self.bot.store.open_deliveries([alerts.BATCH_KIND], due_by=now)
        await self._deliver_all(due, now)

    @commands.Cog.listener()
    async def on_papers_scraped(self, summary: ScrapeSummary) -> None:
        """Alert the channels about what the scrape brought."""
        try:
            await self.run_pass(summary.changed_papers)
        except Exception:
            log.exception("alerts pass after a scrape failed; its papers are picked up by the next one")
        self.handled.append(summary)

    # ------------------------------------------------------------------ one pass

    async def run_pass(self, changed: list[Paper] | tuple[Paper, ...]) -> None:
        """Match the papers newly listed on Daily Papers since the last pass (and `changed` ones whose
        upvotes moved), record each channel's post, then send the posts."""
        store = self.bot.store
        claimed: list[Delivery] = []
        new_count = 0
        async with self._pass_lock:
            now = self.bot.clock.now()
            cursor = await self._cursor()
            moved = await store.get_papers([p.id for p in changed]) if changed else []
            looked_at: list[tuple[str, str]] = []
            after = ("", "")
            while True:
                rows = await store.first_listed_since(cursor.reread_from, after=after, limit=PAPERS_PER_PASS)
                looked_at += [(first, paper.id) for first, paper in rows]
                fresh = [paper for _, paper in rows if paper.id not in cursor.seen]
                listed_at = {paper.id: dt.datetime.fromisoformat(first) for first, paper in rows}
                new_count += len(fresh)
                if fresh or moved:
                    claimed += await self._claim_all(fresh, moved, listed_at, now)
                moved = []
                if len(rows) < PAPERS_PER_PASS:
                    break
                after = (rows[-1][0], rows[-1][1].id)
            advanced = cursor.advance(looked_at)
            if advanced != cursor:
                await store.set_meta(alerts.CURSOR_KEY, advanced.to_text())
        if claimed:
            log.info("alerts: %d channel post(s) for %d listed and %d changed papers", len(claimed), new_count,
                     len(changed))
        await self._deliver_all(claimed, now)

    async def _claim_all(
        self, fresh: list[Paper], moved: list[Paper], listed_at: dict[str, dt.datetime], now: dt.datetime
    ) -> list[Delivery]:
        """Match papers against every subscription and record one post per channel."""
        subscriptions = await self.bot.store.list_subscriptions()
        if not subscriptions:
            return []
        claimed: list[Delivery] = []
        for channel_id, matches in (await self._match(subscriptions, fresh, moved, listed_at)).items():
            try:
                delivery = await self._claim(channel_id, matches, now)
            except ValueError:
                # A post that cannot be rendered must not hold back the other channels (or every later
                # pass); database errors do stop the pass, which the next one repeats.
                log.exception("could not prepare the alert post for channel %s", channel_id)
                continue
            if delivery is not None:
                claimed.append(delivery)
        return claimed

    async def _cursor(self) -> alerts.ListingCursor:
        """How far the alerts have looked. The first time, up to the newest listing in the cache: papers
        cached before alerts existed are not news."""
        stored = await self.bot.store.get_meta(alerts.CURSOR_KEY)
        if stored is not None:
            return alerts.ListingCursor.from_text(stored)
        start = alerts.ListingCursor(await self.bot.store.last_listed_at() or "")
        recent = await self.bot.store.first_listed_since(start.reread_from)
        cursor = start.advance((first, paper.id) for first, paper in recent)
        await self.bot.store.set_meta(alerts.CURSOR_KEY, cursor.to_text())
        return cursor

    async def _match(
        self, subscriptions: list[Subscription], fresh: list[Paper], moved: list[Paper],
        listed_at: dict[str, dt.datetime],
    ) -> dict[int, alerts.ChannelMatches]:
        """Each channel's matches, computed off the event loop."""
        if not self._learned:
            recent = await self.bot.store.recent_papers(LEARN_FROM_PAPERS)
            await asyncio.to_thread(self.matcher.learn, recent)
            self._learned = True

        def work() -> dict[int, alerts.ChannelMatches]:
            self.matcher.sync(subscriptions)
            grouped = alerts.group_by_channel(self.matcher.match(fresh, moved), listed_at)
            self.matcher.learn(fresh)  # keeps the word counts current for queries added later
            return grouped

        return await asyncio.to_thread(work)

    async def _claim(self, channel_id: int, matches: alerts.ChannelMatches, now: dt.datetime) -> Delivery | None:
        """Plan and record one channel's post (with a row per paper); None when there is nothing to post."""
        store = self.bot.store
        paper_ids = [paper.id for paper, _ in matches]
        already = await store.delivered_keys(channel_id, alerts.ALERT_KIND, paper_ids)
        digested: set[str] = set()
        skipping = [paper for paper, subs in matches if any(s.skip_digest_papers for s in subs)]
        if skipping:
            payloads = await store.digest_payloads_for(channel_id, [p.id for p in skipping])
            digested = alerts.papers_in_digest(skipping, payloads)
        sent = await store.alerts_in_batches_from(
            channel_id, alerts.window_start_key(now), kind=alerts.ALERT_KIND, batch_kind=alerts.BATCH_KIND
        )
        batch = alerts.plan_batch(
            channel_id, matches, already_alerted=already, in_digest=digested, sent_this_hour=sent,
            hourly_cap=self.bot.config.alerts.hourly_cap_per_channel, now=now,
        )
        if batch is None:
            return None
        payloads_out = alert_messages(batch.listed, more=len(batch.over_cap), more_query=batch.more_query)
        parts = [payload_to_part(p.content, list(p.embeds)) for p in payloads_out]
        outcome = f"{len(batch.listed)} paper{'s' if len(batch.listed) != 1 else ''}"
        if batch.over_cap:
            outcome += f", {len(batch.over_cap)} more over the hourly cap"
        delivery, _ = await store.claim_delivery(
            channel_id, alerts.BATCH_KIND, batch.key,
            nonce=make_nonce(channel_id, alerts.BATCH_KIND, batch.key), parts=parts, outcome=outcome,
            members=[(alerts.ALERT_KIND, paper_id) for paper_id in batch.paper_ids],
        )
        return delivery

    async def _deliver_all(self, deliveries: list[Delivery], now: dt.datetime) -> None:
        """Send the posts, a few channels at a time; a post already being sent is left to that sender."""
        limit = asyncio.Semaphore(DELIVERY_CONCURRENCY)
        retry = False

        async def one(delivery: Delivery) -> None:
            nonlocal retry
            ident = (delivery.channel_id, delivery.key)
            if ident in self._sending:
                return
            self._sending.add(ident)
            try:
                async with limit:
                    # Read again: another pass may have finished it since it was listed.
                    fresh = await self.bot.store.get_delivery(delivery.channel_id, alerts.BATCH_KIND, delivery.key)
                    if fresh is None or fresh.status != "pending":
                        return
                    result = await deliver(self.bot.store, self.transport, fresh, now=now)
                if result.outcome is Outcome.RETRY:
                    retry = True
                elif result.outcome is Outcome.FAILED:
                    log.warning("alerts for channel %s could not be posted: %s", delivery.channel_id, result.error)
            except Exception:
                log.exception("alert post %s/%s failed", delivery.channel_id, delivery.key)
                retry = True
            finally:
                self._sending.discard(ident)

        await asyncio.gather(*(one(d) for d in deliveries))
        if retry:
            self._wake.set()  # the loop reads the new retry time

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
        limits = self.bot.config.alerts
        try:
            subscription = await self.bot.store.add_subscription(
                guild_id=interaction.guild_id, channel_id=target.id, query=query.strip(),
                normalized=parsed.normalized(), created_by=interaction.user.id,
                skip_digest_papers=skip_digest_papers, max_per_channel=limits.max_per_channel,
                max_per_guild=limits.max_per_guild,
            )
        except DuplicateSubscription as exc:
            existing = next(
                (s for s in await self.bot.store.list_subscriptions(channel_id=target.id)
                 if s.normalized == parsed.normalized()),
                None,
            )
            name = f" as #{existing.id} ({inline_query(existing.query)})" if existing else ""
            raise UserError(f"{target.mention} already has this alert{name}; nothing was added.") from exc
        except LimitReached as exc:
            if exc.scope == "channel":
                raise UserError(
                    f"{target.mention} already has {exc.limit} alerts, the most a channel may have. "
                    "Remove one with `/alerts remove`, or combine queries with OR."
                ) from exc
            raise UserError(
                f"This server already has {exc.limit} alerts, the most a server may have. "
                "Remove one with `/alerts remove` first."
            ) from exc
        log.info("alert #%s added in channel %s: %r", subscription.id, target.id, subscription.query)
        results = await alerts.backtest(
            self.bot.store, subscription.query, days=PREVIEW_DAYS, today=self.bot.clock.now().date(),
            limit=PREVIEW_PAPERS,
        )
        text = (
            f"Alert **#{subscription.id}** added in {target.mention}: {inline_query(subscription.query)}. "
            "New papers that match will be posted there once each."
        )
        if results.total:
            text += f"\nIn the last {PREVIEW_DAYS} days it would have matched {results.total} paper(s):"
            embeds = [preview_embed(results, query=subscription.query, days=PREVIEW_DAYS)]
        else:
            text += f"\nNo cached paper of the last {PREVIEW_DAYS} days matches it yet."
            embeds = []
        await interaction.followup.send(text, embeds=embeds, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @group.command(name="remove", description="Remove one of this server's alerts (needs Manage Channels)")
    @app_commands.describe(id="The alert's number, as /alerts list shows it (start typing to pick one)")
    async def remove(self, interaction: discord.Interaction[PaperBot], id: app_commands.Range[int, 1]) -> None:
        """Delete a subscription of this guild."""
        guild = interaction.guild
        if guild is None:
            raise UserError("This command only works in a server channel.")
        subscription = await self.bot.store.get_subscription(id)
        if subscription is None or subscription.guild_id != guild.id:
            raise UserError(f"There is no alert #{id} in this server: `/alerts list` shows the numbers.")
        channel = guild.get_channel(subscription.channel_id)
        if isinstance(channel, discord.TextChannel):
            require_manage_channels(interaction, channel, change="its alerts")
        elif not interaction.permissions.manage_channels:
            raise UserError("You need the Manage Channels permission to remove this alert.")
        removed = await self.bot.store.remove_subscription(id, guild_id=guild.id)
        if removed is None:
            raise UserError(f"Alert #{id} was already removed.")
        log.info("alert #%s removed from channel %s", id, removed.channel_id)
        await interaction.response.send_message(
            f"Removed alert **#{id}** from <#{removed.channel_id}>: {inline_query(removed.query)}.",
            ephemeral=True, allowed_mentions=NO_MENTIONS,
        )

    @remove.autocomplete("id")
    async def remove_autocomplete(
        self, interaction: discord.Interaction[PaperBot], current: str
    ) -> list[app_commands.Choice[int]]:
        """This server's alerts whose number, channel or query contains what was typed."""
        if interaction.guild is None:
            return []
        needle = str(current or "").strip().lower().lstrip("#")
        choices: list[app_commands.Choice[int]] = []
        for subscription in await self.bot.store.list_subscriptions(guild_id=interaction.guild.id):
            channel = interaction.guild.get_channel(subscription.channel_id)
            where = f"#{channel.name}" if channel is not None else "deleted channel"
            name = f"#{subscription.id} in {where}: {subscription.query}"
            if needle and needle not in name.lower():
                continue
            shown = name if len(name) <= CHOICE_LIMIT else name[: CHOICE_LIMIT - 1] + "…"
            choices.append(app_commands.Choice(name=shown, value=subscription.id))
            if len(choices) == 25:
                break
        return choices

    @group.command(name="list", description="Show a channel's alerts")
    @app_commands.describe(channel="Channel whose alerts to show (default: this one)")
    async def list_alerts(
        self, interaction: discord.Interaction[PaperBot], channel: discord.TextChannel | None = None
    ) -> None:
        """List the subscriptions of one channel."""
        target = require_guild_text_channel(interaction, channel, posts="alerts")
        subscriptions = await self.bot.store.list_subscriptions(channel_id=target.id)
        limit = self.bot.config.alerts.max_per_channel
        if not subscriptions:
            text = (
                f"{target.mention} has no alerts. Someone with Manage Channels can add one with "
                "`/alerts add`; try a query first with `/alerts test`."
            )
        else:
            lines = [f"Alerts in {target.mention} ({len(subscriptions)} of {limit}):"]
            lines.extend(describe_subscription(s) for s in subscriptions)
            last = await self.bot.store.latest_delivery(target.id, alerts.BATCH_KIND)
            if last is not None:
                lines.append(describe_batch(last))
            text = "\n".join(lines)
            if len(text) > 2000:
                text = text[:1999] + "…"
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
        noun = "paper" if results.total == 1 else "papers"
        text = f"{results.total} cached {noun} of the last {days} days match {inline_query(query)}."
        await send_ephemeral(interaction, text, embed=preview_embed(results, query=query, days=days))


async def setup(bot: PaperBot) -> None:
    """Extension entry point."""
    await bot.add_cog(AlertsCog(bot))
