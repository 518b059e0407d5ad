"""The digest scheduler: posts each channel's daily or weekly digest at its local time, once, late within grace."""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import datetime as dt
import logging

from bot import digest as schedule
from bot.arxiv_digest import announcement_day
from bot.clock import Clock, sleep_until_or_woken
from bot.models import Delivery, DigestSettings, Paper
from bot.outbox import DeliveryResult, Outcome, Transport, claim_and_deliver, deliver, payload_to_part
from bot.render import (
    MessagePayload,
    digest_empty_text,
    digest_messages,
    digest_missed_text,
    discord_time,
    plural,
    when,
)
from bot.render.digest import arxiv_digest_messages, week_span
from bot.render.markup import long_day
from bot.services.tasks import STOP_TIMEOUT, BackgroundTasks, Ready, stop_loop
from bot.services.threads import describe_thread, effective_mode, one_card_per_message, open_digest_thread, thread_mode
from bot.store import AnyStore

log = logging.getLogger(__name__)

KIND = "digest"
FANOUT_CONCURRENCY = 50
RETRY_PASS_AFTER = dt.timedelta(minutes=1)

Due = list[tuple[DigestSettings, schedule.Occurrence]]


def describe_settings(settings: DigestSettings) -> str:
    """One line summarising a channel's digest settings."""
    days = "weekdays" if settings.weekdays_only else "every day"
    if settings.frequency == "weekly":
        days = f"weekly on {schedule.WEEKDAY_NAMES[settings.weekday]}s"
    extra = f", at least {plural(settings.min_upvotes, 'upvote')}" if settings.min_upvotes else ""
    empty = "" if settings.post_empty else ", quiet on empty days"
    source = ""
    if settings.source == "arxiv":
        narrowed = f" matching {settings.query}" if settings.query else ""
        source = f"arXiv {settings.category}{narrowed}, "
    return (
        f"{source}{settings.time:%H:%M} {settings.timezone}, {days}, top {settings.top}{extra}, "
        f"{settings.style} style{empty}"
    )


LAST_OUTCOMES = {
    "posted": "posted",
    "late": "posted late",
    "empty": "posted (no papers that day)",
    "missed": "skipped (the bot was offline too long; a short note was posted)",
    "empty, not posted": "nothing posted (no papers that day)",
}
OVERVIEW_LIMIT = 2000  # one message


def describe_last(last: Delivery) -> str:
    """How a channel's latest digest went, its time as a Discord timestamp."""
    day = _papers_day(last.key)
    if last.status == "sent":
        state = LAST_OUTCOMES.get(last.outcome or "", last.outcome or "posted")
        moment = last.updated_at or last.created_at
        return f"{state} {when(moment)}, {day}" if moment else f"{state}, {day}"
    if last.status == "pending":
        if last.error and last.next_attempt_at:
            return f"{day}: waiting to retry ({last.error}), next try {discord_time(last.next_attempt_at, 'R')}"
        return f"{day}: sending"
    return f"{day}: not posted ({last.error})" if last.error else f"{day}: not posted"


def _papers_day(key: str) -> str:
    """'papers of Fri 12 Jun 2026' for a digest delivery key (the papers day, ISO), 'week 2026-W49' for a weekly one."""
    if key.startswith(schedule.WEEK_KEY_PREFIX):
        return f"week {key.removeprefix(schedule.WEEK_KEY_PREFIX)}"
    try:
        return f"papers of {long_day(dt.date.fromisoformat(key))}"
    except ValueError:
        return key


def describe_next(occurrence: schedule.Occurrence) -> str:
    """When a digest will post, as a Discord timestamp, and which day's papers it covers."""
    if occurrence.weekly:
        return f"{when(occurrence.due)}, papers of {week_span(occurrence.first_day, occurrence.papers_day)}"
    return f"{when(occurrence.due)}, {_papers_day(occurrence.papers_day.isoformat())}"


def fit_entries(entries: list[str], limit: int = OVERVIEW_LIMIT) -> str:
    """Whole entries separated by blank lines, as many as fit in one message, then how many were left out."""
    shown: list[str] = []
    for index, entry in enumerate(entries):
        after = len(entries) - index - 1
        # Room is kept for the closing line, so it always fits once an entry does not.
        reserve = len(f"\n\n…and {plural(after, 'more digest')} not shown.") if after else 0
        if len("\n\n".join([*shown, entry])) + reserve > limit:
            shown.append(f"…and {plural(after + 1, 'more digest')} not shown.")
            break
        shown.append(entry)
    return "\n\n".join(shown)


async def delivered_keys(store: AnyStore, views: dict[int, schedule.Outlook]) -> dict[int, set[str]]:
    """Per channel, which of the keys in its outlook (latest and next digests) already have a delivery."""
    keys = sorted({key for view in views.values() for key in view.delivery_keys()})
    found: dict[int, set[str]] = collections.defaultdict(set)
    for channel_id, key in await store.delivered_pairs(KIND, keys):
        if channel_id in views:
            found[channel_id].add(key)
    return found


async def channel_next_run(store: AnyStore, settings: DigestSettings, now: dt.datetime) -> schedule.Occurrence:
    """The channel's next digest that will really post, its deliveries read row by row (cheap for one)."""
    view = schedule.outlook(settings, now)
    delivered = {
        key for key in view.delivery_keys() if await store.get_delivery(settings.channel_id, KIND, key) is not None
    }
    return schedule.next_run(view, delivered)


def render(settings: DigestSettings, plan: schedule.DigestPlan, late_note: str | None) -> list[MessagePayload]:
    """The messages of one digest (none for a quiet empty day)."""
    if settings.source == "arxiv":
        return arxiv_digest_messages(
            plan.papers,
            category=settings.category or "",
            day=announcement_day(plan.day),
            first_day=announcement_day(plan.first_day) if plan.first_day else None,
            total=plan.total,
            style=settings.style,
            late_note=late_note,
            post_empty=settings.post_empty,
        )
    if not plan.papers:
        if not settings.post_empty:
            return []
        text = digest_empty_text(plan.day, plan.first_day)
        return [MessagePayload(content=f"{late_note}\n{text}" if late_note else text, embeds=[])]
    return digest_messages(
        plan.papers,
        day=plan.day,
        total_that_day=plan.total,
        style=settings.style,
        late_note=late_note,
        first_day=plan.first_day,
    )


class DigestScheduler:
    """Posts every due digest once: on time, late with a note within the grace window, else a missed note."""

    def __init__(
        self,
        store: AnyStore,
        transport: Transport,
        clock: Clock,
        *,
        refresher: schedule.DayRefresher | None = None,
        grace: dt.timedelta = dt.timedelta(hours=6),
    ) -> None:
        self.store = store
        self.transport = transport
        self.clock = clock
        self.refresher = refresher
        self.grace = grace
        self.tasks = BackgroundTasks("digest scheduler")
        self._wake = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None
        # One delivery at a time per channel: the scheduler, retries and /digest now may meet.
        self._channel_locks: dict[int, asyncio.Lock] = {}

    # ------------------------------------------------------------------ lifecycle

    def start(self, ready: Ready | None = None) -> None:
        """Start the scheduling loop (after `ready`, e.g. the bot's login, has completed)."""
        self._loop = self.tasks.spawn(self._run(ready), name="digest-scheduler")

    async def stop(self, grace: float = STOP_TIMEOUT) -> None:
        """Stop scheduling; wait up to `grace` seconds for digests being posted, then cancel them."""
        await stop_loop(self._loop)
        await self.tasks.drain(grace)

    def wake(self) -> None:
        """Make the scheduler recompute (settings changed, or a retry was scheduled)."""
        self._wake.set()

    async def _run(self, ready: Ready | None) -> None:
        if ready is not None:
            await ready()
        while True:
            # A wake during the pass (settings changed meanwhile, e.g. by another process) means another pass.
            self._wake.clear()
            # Shielded: a stop cancels the wait, not a pass under way, which the stop drains.
            next_due = await asyncio.shield(self.tasks.spawn(self._pass(), name="digest-pass"))
            if not self._wake.is_set():
                await sleep_until_or_woken(self.clock, next_due, self._wake)

    async def _pass(self) -> dt.datetime | None:
        try:
            return await self.run_due()
        except Exception:
            log.exception("digest scheduler pass failed; retrying in a minute")
            return self.clock.now() + RETRY_PASS_AFTER

    # ------------------------------------------------------------------ one pass

    async def run_due(self) -> dt.datetime | None:
        """Post every digest that is due and not yet delivered; return when the next one is due."""
        now = self.clock.now()
        await self.resume_open(now)
        due, next_due = await self.due_now(now)
        if due and not await self._post_many(due, now):
            # Something other than Discord failed (e.g. the database): look again in a minute.
            next_due = min(filter(None, (next_due, now + RETRY_PASS_AFTER)))
        # Read after posting: a post that failed just now has scheduled its retry.
        retry_at = await self.store.next_retry_at([KIND])
        return min(filter(None, (next_due, retry_at)), default=None)

    async def resume_open(self, now: dt.datetime) -> None:
        """Finish (or verify) digests left open by a crash or a transient Discord failure."""
        for delivery in await self.store.open_deliveries([KIND], due_by=now):
            async with self._lock(delivery.channel_id):
                fresh = await self.store.get_delivery(delivery.channel_id, KIND, delivery.key)
                if fresh is not None:
                    await self._finish(delivery.channel_id, await deliver(self.store, self.transport, fresh, now=now))
        await self._open_missing_threads()

    async def due_now(self, now: dt.datetime) -> tuple[Due, dt.datetime | None]:
        """The digests due and not yet delivered at `now`, and when the next one that will post comes due."""
        due: Due = []
        next_due: dt.datetime | None = None
        every = await self.store.list_digest_settings(enabled_only=True)
        views = {settings.channel_id: schedule.outlook(settings, now) for settings in every}
        delivered = await delivered_keys(self.store, views)
        for settings in every:
            view, done = views[settings.channel_id], delivered.get(settings.channel_id, set())
            latest = view.latest
            since = settings.effective_from or now
            if latest is not None and latest.due >= since.replace(second=0) and schedule.still_to_post(latest, done):
                due.append((settings, latest))
            upcoming = schedule.next_run(view, done).due
            next_due = upcoming if next_due is None else min(next_due, upcoming)
        return due, next_due

    async def next_run(self, settings: DigestSettings) -> schedule.Occurrence:
        """The channel's next digest that will really post (as the scheduler will see it)."""
        return await channel_next_run(self.store, settings, self.clock.now())

    async def _post_many(self, due: Due, now: dt.datetime) -> bool:
        """Post the due digests concurrently; False if any of them raised."""
        papers_by_day: dict[dt.date, list[Paper]] = {}
        for day in sorted({o.papers_day for _, o in due}):
            await schedule.ensure_fresh(self.store, self.refresher, day, now)  # earlier days of a week are settled
        for day in sorted({day for _, o in due for day in o.days}):
            papers_by_day[day] = await self.store.papers_of_day(day)
        limit = asyncio.Semaphore(FANOUT_CONCURRENCY)

        async def post(settings: DigestSettings, occurrence: schedule.Occurrence) -> bool:
            async with limit:
                try:
                    papers = (
                        None  # an arXiv digest reads its category's listing
                        if settings.source == "arxiv"
                        else [paper for day in occurrence.days for paper in papers_by_day[day]]
                    )
                    await self.post_scheduled(settings, occurrence, now, papers)
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
        timing = schedule.lateness(occurrence.due, now, self.grace)
        if timing.missed:
            first_day = occurrence.first_day if occurrence.weekly else None
            payloads = [MessagePayload(content=digest_missed_text(occurrence.papers_day, first_day), embeds=[])]
            await self._deliver(settings.channel_id, occurrence.key, payloads, now, outcome="missed")
            return
        await self.post_digest(
            settings, occurrence.papers_day, now, late_note=timing.note, papers=papers, key=occurrence.key
        )

    async def post_digest(
        self,
        settings: DigestSettings,
        day: dt.date,
        now: dt.datetime,
        *,
        late_note: str | None = None,
        papers: list[Paper] | None = None,
        key: str | None = None,
    ) -> Outcome:
        """Render and deliver a channel's digest of `day` (a weekly one's last day), exactly once per `key`."""
        key = key or day.isoformat()
        plan = await schedule.plan_digest(self.store, settings, day, papers=papers)
        payloads = render(settings, plan, late_note)
        if effective_mode(await thread_mode(self.store, settings.channel_id), settings.style) == "papers":
            payloads = one_card_per_message(payloads)  # a thread per paper needs a message per card
        if not payloads:
            await self.store.claim_delivery(
                settings.channel_id, KIND, key, nonce="", parts=[], outcome="empty, not posted"
            )
            await self.store.mark_delivered(settings.channel_id, KIND, key, None)
            return Outcome.SENT
        outcome = "late" if late_note else ("empty" if not plan.papers else "posted")
        return await self._deliver(settings.channel_id, key, payloads, now, outcome=outcome)

    async def post_now(self, settings: DigestSettings, day: dt.date) -> Outcome:
        """Post a channel's digest of `day` now (it counts as that day's, or this week's); ALREADY_SENT if it was."""
        now = self.clock.now()
        key = schedule.key_now(settings, day, now)
        existing = await self.store.get_delivery(settings.channel_id, KIND, key)
        if existing is not None and existing.status == "sent":
            return Outcome.ALREADY_SENT
        await schedule.ensure_fresh(self.store, self.refresher, day, now)
        return await self.post_digest(settings, day, now, key=key)

    async def preview(self, settings: DigestSettings, day: dt.date) -> list[MessagePayload]:
        """What the channel's digest of `day` would post now (a note when it would stay quiet)."""
        plan = await schedule.prepare_digest(self.store, self.refresher, settings, day, self.clock.now())
        return render(settings, plan, None) or [
            MessagePayload(
                content=f"{digest_empty_text(day, plan.first_day)} (this channel stays quiet on such days)", embeds=[]
            )
        ]

    async def overview(self, guild_id: int) -> str | None:
        """/digest show: per digest of a guild its settings, next run (or why it is off) and last outcome."""
        now = self.clock.now()
        every = await self.store.list_digest_settings(guild_id)
        if not every:
            return None
        entries = []
        for settings in every:
            lines = [f"<#{settings.channel_id}>: {describe_settings(settings)}"]
            if settings.enabled:
                upcoming = await channel_next_run(self.store, settings, now)
                lines.append(f"Next: {describe_next(upcoming)}")
            else:
                lines.append(f"**off**: {settings.disabled_reason or 'turned off'}")
            last = await self.store.latest_delivery(settings.channel_id, KIND)
            if last is not None and last.error and last.error == settings.disabled_reason:
                last = dataclasses.replace(last, error=None)  # said once, on the line above
            if last is not None:
                lines.append(f"Last: {describe_last(last)}")
                thread_line = await describe_thread(self.store, last)
                if thread_line:
                    lines.append(thread_line)
            entries.append("\n".join(lines))
        return fit_entries(entries)

    # ------------------------------------------------------------------ delivery

    def _lock(self, channel_id: int) -> asyncio.Lock:
        return self._channel_locks.setdefault(channel_id, asyncio.Lock())

    async def _deliver(
        self, channel_id: int, key: str, payloads: list[MessagePayload], now: dt.datetime, *, outcome: str
    ) -> Outcome:
        parts = [payload_to_part(p) for p in payloads]
        async with self._lock(channel_id):
            result = await claim_and_deliver(
                self.store,
                self.transport,
                channel_id=channel_id,
                kind=KIND,
                key=key,
                parts=parts,
                now=now,
                outcome=outcome,
            )
        await self._finish(channel_id, result)
        if result.outcome in (Outcome.SENT, Outcome.ALREADY_SENT):
            # Only a posted digest gets a thread; a refused or failed send may mean the bot is closing.
            await self._open_thread(channel_id, key)
        if result.outcome is Outcome.RETRY:
            self.wake()  # the scheduler must sleep no longer than the retry (e.g. after /digest now)
        return result.outcome

    async def _open_thread(self, channel_id: int, key: str) -> None:
        """The thread step of a delivery: after the post, open its discussion thread if the channel wants one."""
        async with self._lock(channel_id):
            delivery = await self.store.get_delivery(channel_id, KIND, key)
            if delivery is not None:
                await open_digest_thread(self.store, self.transport, delivery)

    async def _open_missing_threads(self) -> None:
        """After a restart: a digest posted but whose thread was neither opened nor refused gets it now."""
        for settings in await self.store.list_digest_settings(enabled_only=True):
            last = await self.store.latest_delivery(settings.channel_id, KIND)
            if last is not None and last.status == "sent":
                await self._open_thread(settings.channel_id, last.key)

    async def _finish(self, channel_id: int, result: DeliveryResult) -> None:
        if result.outcome is Outcome.FAILED and result.error:
            log.warning("disabling the digest of channel %s: %s", channel_id, result.error)
            await self.store.disable_digest(channel_id, result.error)
