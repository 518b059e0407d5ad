"""/digest commands and the scheduler loop that posts each channel's digest at its local time."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import zoneinfo
from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot import digest as schedule
from bot.client import DiscordTransport, PaperBot, payload_to_part, send_ephemeral
from bot.clock import sleep_until_or_woken, stop_task
from bot.config import check_timezone, parse_hhmm
from bot.errors import UserError
from bot.models import DigestSettings, Paper
from bot.outbox import DeliveryResult, Outcome, claim_and_deliver, deliver
from bot.render import NO_MENTIONS, MessagePayload, digest_empty_text, digest_messages, digest_missed_text

log = logging.getLogger(__name__)

KIND = "digest"
FANOUT_CONCURRENCY = 50
RETRY_PASS_AFTER = dt.timedelta(minutes=1)
_ZONES = sorted(zoneinfo.available_timezones())


def require_guild_text_channel(
    interaction: discord.Interaction[PaperBot], channel: discord.TextChannel | None, *, posts: str = "digests"
) -> discord.TextChannel:
    """The channel option, or the current channel; it must be a text channel of this guild."""
    guild = interaction.guild
    if guild is None:
        raise UserError("This command only works in a server channel.")
    target = channel if channel is not None else interaction.channel
    if not isinstance(target, discord.TextChannel):
        raise UserError(f"Pick a text channel of this server: {posts} can only be posted in text channels.")
    if target.guild.id != guild.id:
        raise UserError("That channel belongs to another server: pick one of this server's channels.")
    return target


def require_manage_channels(
    interaction: discord.Interaction[PaperBot], channel: discord.TextChannel, *, change: str = "its digest"
) -> None:
    """Refuse unless the user may manage `channel`."""
    user = interaction.user
    if not isinstance(user, discord.Member) or not channel.permissions_for(user).manage_channels:
        raise UserError(f"You need the Manage Channels permission in #{channel.name} to change {change}.")


def require_bot_can_post(channel: discord.TextChannel) -> None:
    """Refuse if the bot could not post the digest in `channel`."""
    me = channel.guild.me
    if me is None:
        return
    permissions = channel.permissions_for(me)
    missing = [
        name
        for name, ok in (
            ("View Channel", permissions.view_channel),
            ("Send Messages", permissions.send_messages),
            ("Embed Links", permissions.embed_links),
        )
        if not ok
    ]
    if missing:
        raise UserError(
            f"I can't post in #{channel.name}: I need the {', '.join(missing)} permission there. "
            "Grant it in the channel's settings and try again."
        )


def describe_settings(settings: DigestSettings) -> str:
    """One line summarising a channel's digest settings."""
    days = "weekdays" if settings.weekdays_only else "every day"
    extra = f", at least {settings.min_upvotes} upvotes" if settings.min_upvotes else ""
    empty = "" if settings.post_empty else ", quiet on empty days"
    return (
        f"{settings.time:%H:%M} {settings.timezone}, {days}, top {settings.top}{extra}, "
        f"{settings.style} style{empty}"
    )


class DigestCog(commands.Cog):
    """Per-channel daily digests."""

    group = app_commands.Group(
        name="digest", description="Daily digest of top Hugging Face papers", guild_only=True
    )

    def __init__(self, bot: PaperBot) -> None:
        self.bot = bot
        self.transport = DiscordTransport(bot)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # One delivery at a time per channel: the scheduler, retries and /digest now may meet.
        self._channel_locks: dict[int, asyncio.Lock] = {}

    async def cog_load(self) -> None:
        """Start the scheduler."""
        self._task = asyncio.create_task(self._run(), name="digest-scheduler")

    async def cog_unload(self) -> None:
        """Stop the scheduler."""
        await stop_task(self._task)

    # ------------------------------------------------------------------ scheduler

    def wake(self) -> None:
        """Make the scheduler recompute (settings changed)."""
        self._wake.set()

    async def _run(self) -> None:
        await self.bot.wait_until_ready()
        while True:
            try:
                next_due = await self.run_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("digest scheduler pass failed; retrying in a minute")
                next_due = self.bot.clock.now() + dt.timedelta(minutes=1)
            await sleep_until_or_woken(self.bot.clock, next_due, self._wake)

    async def run_due(self) -> dt.datetime | None:
        """Post every digest that is due and not yet delivered; return when the next one is due."""
        now = self.bot.clock.now()
        store = self.bot.store
        # Finish (or verify) digests left open by a crash or a transient Discord failure first.
        for delivery in await store.open_deliveries([KIND], due_by=now):
            async with self._channel_locks.setdefault(delivery.channel_id, asyncio.Lock()):
                fresh = await store.get_delivery(delivery.channel_id, KIND, delivery.key)
                if fresh is not None:
                    await self._finish(delivery.channel_id, await deliver(store, self.transport, fresh, now=now))
        everyone = await store.list_digest_settings(enabled_only=True)
        due: list[tuple[DigestSettings, schedule.Occurrence]] = []
        next_due: dt.datetime | None = None
        for settings in everyone:
            latest = schedule.latest_occurrence(settings, now)
            since = settings.effective_from or now
            if latest is not None and latest.due >= since.replace(second=0):
                due.append((settings, latest))
            upcoming = schedule.next_occurrence(settings, now).due
            next_due = upcoming if next_due is None else min(next_due, upcoming)
        delivered = await store.delivered_pairs(KIND, sorted({o.papers_day.isoformat() for _, o in due}))
        due = [(s, o) for s, o in due if (s.channel_id, o.papers_day.isoformat()) not in delivered]
        if due and not await self._post_many(due, now):
            # Something other than Discord failed (e.g. the database): look again in a minute.
            next_due = min(filter(None, (next_due, now + RETRY_PASS_AFTER)))
        # Read after posting: a post that failed just now has scheduled its retry.
        retry_at = await store.next_retry_at([KIND])
        return min(filter(None, (next_due, retry_at)), default=None)

    async def _post_many(self, due: list[tuple[DigestSettings, schedule.Occurrence]], now: dt.datetime) -> bool:
        """Post the due digests concurrently; False if any of them raised."""
        papers_by_day: dict[dt.date, list[Paper]] = {}
        for day in sorted({o.papers_day for _, o in due}):
            await schedule.ensure_fresh(self.bot.store, self.bot.scraper, day, now)
            papers_by_day[day] = await self.bot.store.papers_of_day(day)
        limit = asyncio.Semaphore(FANOUT_CONCURRENCY)

        async def post(settings: DigestSettings, occurrence: schedule.Occurrence) -> bool:
            async with limit:
                try:
                    await self.post_scheduled(settings, occurrence, now, papers_by_day[occurrence.papers_day])
                except Exception:
                    log.exception("digest for channel %s failed", settings.channel_id)
                    return False
                return True

        return all(await asyncio.gather(*(post(s, o) for s, o in due)))

    async def post_scheduled(
        self,
        settings: DigestSettings,
        occurrence: schedule.Occurrence,
        now: dt.datetime,
        papers: list[Paper] | None = None,
    ) -> None:
        """Post (late, or as a missed note) the digest of one occurrence."""
        grace = dt.timedelta(hours=self.bot.config.digest.grace_hours)
        timing = schedule.lateness(occurrence.due, now, grace)
        if timing.missed:
            payloads = [MessagePayload(content=digest_missed_text(occurrence.papers_day), embeds=[])]
            await self._deliver(settings.channel_id, occurrence.papers_day, payloads, now, outcome="missed")
            return
        await self.post_digest(settings, occurrence.papers_day, now, late_note=timing.note, papers=papers)

    async def post_digest(
        self,
        settings: DigestSettings,
        day: dt.date,
        now: dt.datetime,
        *,
        late_note: str | None = None,
        papers: list[Paper] | None = None,
    ) -> Outcome:
        """Render and deliver a channel's digest of `day`, exactly once."""
        plan = await schedule.plan_digest(self.bot.store, settings, day, papers=papers)
        payloads = self.render(settings, plan, late_note)
        if not payloads:
            await self.bot.store.claim_delivery(
                settings.channel_id, KIND, day.isoformat(), nonce="", parts=[], outcome="empty, not posted"
            )
            await self.bot.store.mark_delivered(settings.channel_id, KIND, day.isoformat(), None)
            return Outcome.SENT
        outcome = "late" if late_note else ("empty" if not plan.papers else "posted")
        return await self._deliver(settings.channel_id, day, payloads, now, outcome=outcome)

    @staticmethod
    def render(settings: DigestSettings, plan: schedule.DigestPlan, late_note: str | None) -> list[MessagePayload]:
        """The messages of one digest (none for a quiet empty day)."""
        if not plan.papers:
            if not settings.post_empty:
                return []
            text = digest_empty_text(plan.day)
            return [MessagePayload(content=f"{late_note}\n{text}" if late_note else text, embeds=[])]
        return digest_messages(
            plan.papers, day=plan.day, total_that_day=plan.total, style=settings.style, late_note=late_note
        )

    async def _deliver(
        self, channel_id: int, day: dt.date, payloads: list[MessagePayload], now: dt.datetime, *, outcome: str
    ) -> Outcome:
        parts = [payload_to_part(p.content, list(p.embeds)) for p in payloads]
        async with self._channel_locks.setdefault(channel_id, asyncio.Lock()):
            result = await claim_and_deliver(
                self.bot.store, self.transport, channel_id=channel_id, kind=KIND, key=day.isoformat(),
                parts=parts, now=now, outcome=outcome,
            )
        await self._finish(channel_id, result)
        if result.outcome is Outcome.RETRY:
            self.wake()  # the scheduler must sleep no longer than the retry (e.g. after /digest now)
        return result.outcome

    async def _finish(self, channel_id: int, result: DeliveryResult) -> None:
        if result.outcome is Outcome.FAILED and result.error:
            log.warning("disabling the digest of channel %s: %s", channel_id, result.error)
            await self.bot.store.disable_digest(channel_id, result.error)

    # ------------------------------------------------------------------ commands

    @group.command(name="set", description="Post a daily digest in a channel (needs Manage Channels)")
    @app_commands.describe(
        channel="Channel to post in (default: this one)",
        time="Local time to post, 24-hour HH:MM (default from the bot's config, usually 09:00)",
        timezone="IANA time zone such as Europe/Berlin (default UTC)",
        top="How many papers, 1-25",
        min_upvotes="Leave out papers with fewer upvotes",
        weekdays_only="Skip Saturdays and Sundays",
        style="compact: one list; cards: one card per paper",
        empty_days="On days without papers: post a short line, or stay quiet",
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
    ) -> None:
        """Create or change a channel's digest."""
        target = require_guild_text_channel(interaction, channel)
        require_manage_channels(interaction, target)
        require_bot_can_post(target)
        store, defaults = self.bot.store, self.bot.config.digest
        current = await store.get_digest_settings(target.id)
        try:
            if time is not None:
                at = parse_hhmm(time)
            else:
                at = current.time if current else parse_hhmm(defaults.default_time)
        except ValueError as exc:
            raise UserError(f"Time: {exc}.") from exc
        zone = timezone if timezone is not None else (current.timezone if current else defaults.default_timezone)
        try:
            check_timezone(zone)
        except ValueError as exc:
            raise UserError(f"Time zone: {exc}; start typing to pick one from the list.") from exc
        assert interaction.guild_id is not None
        settings = DigestSettings(
            guild_id=interaction.guild_id,
            channel_id=target.id,
            time=at,
            timezone=zone,
            top=top if top is not None else (current.top if current else defaults.default_top),
            min_upvotes=min_upvotes if min_upvotes is not None else (current.min_upvotes if current else 0),
            weekdays_only=weekdays_only if weekdays_only is not None else bool(current and current.weekdays_only),
            style=style or (current.style if current else "compact"),
            post_empty=(empty_days == "post") if empty_days else (current.post_empty if current else True),
            effective_from=self.bot.clock.now(),
        )
        stored = await store.save_digest_settings(settings)
        self.wake()
        upcoming = schedule.next_occurrence(stored, self.bot.clock.now())
        local = upcoming.due.astimezone(zoneinfo.ZoneInfo(stored.timezone))
        await interaction.response.send_message(
            f"Digest for {target.mention}: {describe_settings(stored)}.\n"
            f"Next one: {local:%a %Y-%m-%d %H:%M} {stored.timezone} (<t:{int(upcoming.due.timestamp())}:R>).",
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    @set_digest.autocomplete("timezone")
    async def timezone_autocomplete(
        self, interaction: discord.Interaction[PaperBot], current: str
    ) -> list[app_commands.Choice[str]]:
        """Zone names containing what was typed, best matches first."""
        needle = current.strip().lower().replace(" ", "_")
        starts = [z for z in _ZONES if z.lower().startswith(needle)]
        contains = [z for z in _ZONES if needle in z.lower() and z not in starts]
        return [app_commands.Choice(name=z, value=z) for z in (starts + contains)[:25]]

    @group.command(name="off", description="Stop a channel's daily digest (needs Manage Channels)")
    @app_commands.describe(channel="Channel whose digest to stop (default: this one)")
    async def off(self, interaction: discord.Interaction[PaperBot], channel: discord.TextChannel | None = None) -> None:
        """Turn a channel's digest off."""
        target = require_guild_text_channel(interaction, channel)
        require_manage_channels(interaction, target)
        removed = await self.bot.store.delete_digest_settings(target.id)
        self.wake()
        text = f"Digest in {target.mention} turned off." if removed else f"{target.mention} has no digest."
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @group.command(name="show", description="List this server's digests with their next run and last outcome")
    async def show(self, interaction: discord.Interaction[PaperBot]) -> None:
        """Show every digest of this guild."""
        assert interaction.guild_id is not None
        store, now = self.bot.store, self.bot.clock.now()
        everything = await store.list_digest_settings(interaction.guild_id)
        if not everything:
            await interaction.response.send_message(
                "No digests here yet: an admin can add one with `/digest set`.",
                ephemeral=True, allowed_mentions=NO_MENTIONS,
            )
            return
        lines = []
        for settings in everything:
            line = f"<#{settings.channel_id}>: {describe_settings(settings)}"
            if settings.enabled:
                upcoming = schedule.next_occurrence(settings, now)
                local = upcoming.due.astimezone(zoneinfo.ZoneInfo(settings.timezone))
                line += f"\n  next: {local:%a %Y-%m-%d %H:%M} {settings.timezone}"
            else:
                line += f"\n  **off**: {settings.disabled_reason or 'disabled'}"
            last = await store.latest_delivery(settings.channel_id, KIND)
            if last is not None:
                state = last.outcome or last.status
                if last.status == "pending":
                    state = f"waiting to retry ({last.error})" if last.error else "sending"
                elif last.status == "failed":
                    state = f"failed: {last.error}"
                line += f"\n  last: {last.key} {state}"
            lines.append(line)
        await interaction.response.send_message(
            "\n".join(lines)[:2000], ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    @group.command(name="preview", description="See privately what a channel's digest would post now")
    @app_commands.describe(channel="Channel whose settings to use (default: this one)")
    async def preview(
        self, interaction: discord.Interaction[PaperBot], channel: discord.TextChannel | None = None
    ) -> None:
        """Show the digest as it would be posted now, only to the caller."""
        target = require_guild_text_channel(interaction, channel)
        await interaction.response.defer(ephemeral=True, thinking=True)
        settings, day, now = await self._today(target)
        await schedule.ensure_fresh(self.bot.store, self.bot.scraper, day, now)
        plan = await schedule.plan_digest(self.bot.store, settings, day)
        payloads = self.render(settings, plan, None) or [
            MessagePayload(content=f"{digest_empty_text(day)} (this channel stays quiet on such days)", embeds=[])
        ]
        for payload in payloads:
            await interaction.followup.send(
                content=payload.content or discord.utils.MISSING,
                embeds=list(payload.embeds),
                ephemeral=True,
                allowed_mentions=NO_MENTIONS,
            )

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
        _, day, now = await self._today(target)
        already = f"Today's digest ({day}) was already posted in {target.mention}."
        existing = await self.bot.store.get_delivery(target.id, KIND, day.isoformat())
        if existing is not None and existing.status == "sent":
            await send_ephemeral(interaction, already)
            return
        await schedule.ensure_fresh(self.bot.store, self.bot.scraper, day, now)
        outcome = await self.post_digest(settings, day, now)
        if outcome is Outcome.ALREADY_SENT:
            await send_ephemeral(interaction, already)
        elif outcome is Outcome.SENT:
            await send_ephemeral(interaction, f"Posted the digest of {day} in {target.mention}.")
        elif outcome is Outcome.RETRY:
            await send_ephemeral(interaction, "Discord is having trouble; the digest will be retried shortly.")
        else:
            await send_ephemeral(interaction, f"Could not post in {target.mention}; the digest there is now off.")

    async def _today(self, channel: discord.TextChannel) -> tuple[DigestSettings, dt.date, dt.datetime]:
        """The channel's settings (or the defaults) and the papers day its digest would cover now."""
        now = self.bot.clock.now()
        settings = await self.bot.store.get_digest_settings(channel.id)
        if settings is None:
            defaults = self.bot.config.digest
            settings = DigestSettings(
                guild_id=channel.guild.id, channel_id=channel.id, time=parse_hhmm(defaults.default_time),
                timezone=defaults.default_timezone, top=defaults.default_top,
            )
        today = schedule.local_today(now, settings.timezone)
        return settings, schedule.papers_day_for(today, now), now


async def setup(bot: PaperBot) -> None:
    """Extension entry point."""
    await bot.add_cog(DigestCog(bot))
