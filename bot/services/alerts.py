"""The alert pipeline: after each scrape, match newly listed papers and post each channel one bundled message.

It matches the papers newly listed on Daily Papers since its last pass (a cursor kept in the database, so
papers stored while the bot was down, by a terminal scrape or before a crash are not skipped) and the papers
whose upvotes moved, then gives each channel one bundled post. Each post is recorded in the outbox before it
is sent, with one row per paper it accounts for: a paper reaches a channel at most once, and a post that
could not be sent is retried with backoff, after a restart too.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import logging
from collections.abc import Sequence

from bot import alerts
from bot.clock import Clock, sleep_until_or_woken
from bot.models import Delivery, Paper, Subscription
from bot.outbox import Outcome, Transport, deliver, make_nonce, payload_to_part
from bot.render import MessagePayload, alert_messages, plural
from bot.scrape import ScrapeSummary
from bot.services.tasks import STOP_TIMEOUT, BackgroundTasks, Ready, stop_loop
from bot.store import AnyStore
from bot.store.reader import give_way

log = logging.getLogger(__name__)

PAPERS_PER_PASS = 5000
LEARN_FROM_PAPERS = 500  # recent papers whose terms tell the matcher which words are rare
DELIVERY_CONCURRENCY = 20
RETRY_PASS_AFTER = dt.timedelta(minutes=1)


class UnrenderablePost(Exception):
    """A channel's alert post could not be rendered within Discord's limits."""


def render_batch(batch: alerts.AlertBatch) -> list[MessagePayload]:
    """A planned batch as messages; UnrenderablePost when it cannot fit Discord's limits."""
    try:
        return alert_messages(batch.listed, more=len(batch.over_cap), more_query=batch.more_query)
    except ValueError as exc:  # the renderer's limit errors (PayloadError and block overflow)
        raise UnrenderablePost(str(exc)) from exc


def batch_outcome(batch: alerts.AlertBatch) -> str:
    """What a batch posts, as recorded with its delivery."""
    outcome = plural(len(batch.listed), "paper")
    if batch.over_cap:
        outcome += f", {len(batch.over_cap)} more over the hourly cap"
    return outcome


class AlertPipeline:
    """Matches new papers against every subscription and delivers each channel's bundled post once."""

    def __init__(
        self,
        store: AnyStore,
        transport: Transport,
        clock: Clock,
        *,
        hourly_cap: int,
        matcher: alerts.AlertMatcher | None = None,
    ) -> None:
        self.store = store
        self.transport = transport
        self.clock = clock
        self.hourly_cap = hourly_cap
        self.matcher = matcher or alerts.AlertMatcher()
        self.tasks = BackgroundTasks("alerts")
        self._learned = False
        self._pass_lock = asyncio.Lock()  # one matching pass at a time (the matcher is not shared safely)
        self._sending: set[tuple[int, str]] = set()  # batches being delivered right now
        self._wake = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None
        # What has been handled: the catch-up pass at start, and the latest scrapes (for status and tests).
        self.caught_up = False
        self.handled: collections.deque[ScrapeSummary] = collections.deque(maxlen=8)

    # ------------------------------------------------------------------ lifecycle

    async def prepare(self) -> None:
        """Mark where new papers start (the first time only)."""
        await self.cursor()

    def start(self, ready: Ready | None = None) -> None:
        """Start the catch-up pass and the retry loop (after `ready` has completed)."""
        self._loop = self.tasks.spawn(self._run(ready), name="alerts")

    async def stop(self, grace: float = STOP_TIMEOUT) -> None:
        """Stop the loop; wait up to `grace` seconds for a pass or posts under way, then cancel them."""
        await stop_loop(self._loop)
        await self.tasks.drain(grace)

    def after_scrape(self, summary: ScrapeSummary) -> None:
        """Alert the channels about what a scrape brought (in a task that a stop waits for)."""
        self.tasks.spawn(self._after_scrape(summary), name="alerts-pass")

    async def _after_scrape(self, summary: ScrapeSummary) -> None:
        try:
            await self.run_pass(summary.changed_papers)
        except Exception:
            log.exception("alerts pass after a scrape failed; its papers are picked up by the next one")
        self.handled.append(summary)

    async def _run(self, ready: Ready | None) -> None:
        if ready is not None:
            await ready()
        # Papers stored while the bot was down (or before a crash) that no pass has looked at yet.
        await asyncio.shield(self.tasks.spawn(self._catch_up(), name="alerts-catch-up"))
        while True:
            self._wake.clear()  # a wake during the pass (a post needing a retry) means another pass
            next_at = await asyncio.shield(self.tasks.spawn(self._retry_pass(), name="alerts-retry"))
            if not self._wake.is_set():
                await sleep_until_or_woken(self.clock, next_at, self._wake)

    async def _catch_up(self) -> None:
        try:
            await self.run_pass(())
        except Exception:
            log.exception("alerts catch-up pass failed; the next scrape tries again")
        self.caught_up = True

    async def _retry_pass(self) -> dt.datetime | None:
        try:
            await self.resume_due()
            return await self.store.next_retry_at([alerts.BATCH_KIND])
        except Exception:
            log.exception("alerts retry pass failed; trying again in a minute")
            return self.clock.now() + RETRY_PASS_AFTER

    async def resume_due(self) -> None:
        """Deliver the alert posts left open (a crash, or Discord failing) whose retry is due."""
        now = self.clock.now()
        due = await self.store.open_deliveries([alerts.BATCH_KIND], due_by=now)
        await self.deliver_all(due, now)

    # ------------------------------------------------------------------ one pass

    async def run_pass(self, changed: Sequence[Paper]) -> None:
        """Match the papers newly listed on Daily Papers since the last pass (and `changed` ones whose
        upvotes moved), record each channel's post, then send the posts."""
        async with self._pass_lock:
            now = self.clock.now()
            claimed, new_count = await self._claim_new(changed, now)
        if claimed:
            log.info(
                "alerts: %s for %d listed and %d changed papers",
                plural(len(claimed), "channel post"),
                new_count,
                len(changed),
            )
        await self.deliver_all(claimed, now)

    async def _claim_new(self, changed: Sequence[Paper], now: dt.datetime) -> tuple[list[Delivery], int]:
        """Read the listings past the cursor page by page, claim the channels' posts, advance the cursor."""
        cursor = await self.cursor()
        moved = await self.store.get_papers([p.id for p in changed]) if changed else []
        claimed: list[Delivery] = []
        looked_at: list[tuple[str, str]] = []
        new_count = 0
        after = ("", "")
        # With no alert anywhere, nothing can match: a page's listing keys are enough to advance the cursor.
        listening = bool(await self.store.list_subscriptions())
        while True:
            rows: list[tuple[str, Paper]] | None = None
            fresh_keys = 0
            if not listening:
                keys = await self.store.first_listed_keys_since(cursor.reread_from, after=after, limit=PAPERS_PER_PASS)
                fresh_keys = sum(paper_id not in cursor.seen for _, paper_id in keys)
                # Asked after the read, as `_claim_all` asks: an alert added later finds these papers listed before it.
                listening = bool((fresh_keys or moved) and await self.store.list_subscriptions())
            if listening:
                rows = await self.store.first_listed_since(cursor.reread_from, after=after, limit=PAPERS_PER_PASS)
                keys = [(first, paper.id) for first, paper in rows]
            looked_at = alerts.ListingCursor.keep_for_advance(looked_at + keys)
            if rows is None:
                new_count += fresh_keys
            else:
                fresh = [paper for _, paper in rows if paper.id not in cursor.seen]
                listed_at = {paper.id: dt.datetime.fromisoformat(first) for first, paper in rows}
                new_count += len(fresh)
                if fresh or moved:
                    found = await self._claim_all(fresh, moved, listed_at, now)
                    listening = found is not None
                    claimed += found or []
            moved = []
            if len(keys) < PAPERS_PER_PASS:
                break
            after = keys[-1]
        # After a bulk import the cursor may hold many thousands of papers: worked out off the event loop.
        advanced = await asyncio.to_thread(cursor.advance, looked_at)
        if advanced != cursor:
            await self.store.set_meta(alerts.CURSOR_KEY, await asyncio.to_thread(advanced.to_text))
        return claimed, new_count

    async def _claim_all(
        self, fresh: list[Paper], moved: list[Paper], listed_at: dict[str, dt.datetime], now: dt.datetime
    ) -> list[Delivery] | None:
        """Match papers against every subscription and record one post per channel; None when there is no
        subscription at all."""
        subscriptions = await self.store.list_subscriptions()
        if not subscriptions:
            return None
        claimed: list[Delivery] = []
        for channel_id, matches in (await self._match(subscriptions, fresh, moved, listed_at)).items():
            try:
                delivery = await self._claim(channel_id, matches, now)
            except UnrenderablePost:
                # A post that cannot be rendered must not hold back the other channels (or every later
                # pass); database errors do stop the pass, which the next one repeats.
                log.exception("could not prepare the alert post for channel %s", channel_id)
                continue
            if delivery is not None:
                claimed.append(delivery)
        return claimed

    async def cursor(self) -> alerts.ListingCursor:
        """How far the alerts have looked. The first time, up to the newest listing in the cache: papers
        cached before alerts existed are not news."""
        stored = await self.store.get_meta(alerts.CURSOR_KEY)
        if stored is not None:
            return await asyncio.to_thread(alerts.ListingCursor.from_text, stored)
        start = alerts.ListingCursor(await self.store.last_listed_at() or "")
        cursor = start.advance(await self.store.first_listed_keys_since(start.reread_from))
        await self.store.set_meta(alerts.CURSOR_KEY, cursor.to_text())
        return cursor

    async def _match(
        self,
        subscriptions: list[Subscription],
        fresh: list[Paper],
        moved: list[Paper],
        listed_at: dict[str, dt.datetime],
    ) -> dict[int, alerts.ChannelMatches]:
        """Each channel's matches, computed off the event loop."""
        if not self._learned:
            recent = await self.store.recent_papers(LEARN_FROM_PAPERS)
            await asyncio.to_thread(self.matcher.learn, recent)
            self._learned = True

        def work() -> dict[int, alerts.ChannelMatches]:
            self.matcher.sync(subscriptions)
            # Learning the new papers keeps the word counts current for queries added later; between
            # small batches the thread pauses while a search runs (see bot.store.reader.give_way).
            return alerts.group_by_channel(self.matcher.match(fresh, moved, learn=True, pause=give_way), listed_at)

        return await asyncio.to_thread(work)

    async def _claim(self, channel_id: int, matches: alerts.ChannelMatches, now: dt.datetime) -> Delivery | None:
        """Plan and record one channel's post (with a row per paper); None when there is nothing to post."""
        batch = await self.plan(channel_id, matches, now)
        if batch is None:
            return None
        parts = [payload_to_part(p) for p in render_batch(batch)]
        delivery, _ = await self.store.claim_delivery(
            channel_id,
            alerts.BATCH_KIND,
            batch.key,
            nonce=make_nonce(channel_id, alerts.BATCH_KIND, batch.key),
            parts=parts,
            outcome=batch_outcome(batch),
            members=[(alerts.ALERT_KIND, paper_id) for paper_id in batch.paper_ids],
        )
        return delivery

    async def plan(self, channel_id: int, matches: alerts.ChannelMatches, now: dt.datetime) -> alerts.AlertBatch | None:
        """One channel's batch: papers not yet alerted nor (when asked) in its digest, within the hourly cap."""
        paper_ids = [paper.id for paper, _ in matches]
        already = await self.store.delivered_keys(channel_id, alerts.ALERT_KIND, paper_ids)
        digested: set[str] = set()
        skipping = [paper for paper, subs in matches if any(s.skip_digest_papers for s in subs)]
        if skipping:
            payloads = await self.store.digest_payloads_for(channel_id, [p.id for p in skipping])
            digested = alerts.papers_in_digest(skipping, payloads)
        sent = await self.store.alerts_in_batches_from(
            channel_id, alerts.window_start_key(now), kind=alerts.ALERT_KIND, batch_kind=alerts.BATCH_KIND
        )
        return alerts.plan_batch(
            channel_id,
            matches,
            already_alerted=already,
            in_digest=digested,
            sent_this_hour=sent,
            hourly_cap=self.hourly_cap,
            now=now,
        )

    # ------------------------------------------------------------------ delivery

    async def deliver_all(self, deliveries: list[Delivery], now: dt.datetime) -> None:
        """Send the posts, a few channels at a time; a post already being sent is left to that sender."""
        limit = asyncio.Semaphore(DELIVERY_CONCURRENCY)
        outcomes = await asyncio.gather(*(self._deliver_one(d, now, limit) for d in deliveries))
        if any(outcomes):
            self._wake.set()  # the loop reads the new retry time

    async def _deliver_one(self, delivery: Delivery, now: dt.datetime, limit: asyncio.Semaphore) -> bool:
        """Send one post unless another sender has it; True when it needs a retry."""
        ident = (delivery.channel_id, delivery.key)
        if ident in self._sending:
            return False
        self._sending.add(ident)
        try:
            async with limit:
                # Read again: another pass may have finished it since it was listed.
                fresh = await self.store.get_delivery(delivery.channel_id, alerts.BATCH_KIND, delivery.key)
                if fresh is None or fresh.status != "pending":
                    return False
                result = await deliver(self.store, self.transport, fresh, now=now)
        except Exception:
            log.exception("alert post %s/%s failed", delivery.channel_id, delivery.key)
            return True
        finally:
            self._sending.discard(ident)
        if result.outcome is Outcome.FAILED:
            log.warning("alerts for channel %s could not be posted: %s", delivery.channel_id, result.error)
        return result.outcome is Outcome.RETRY
