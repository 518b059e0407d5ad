"""The digest scheduler and the alert pipeline driven without discord.py: real store, manual clock,
in-memory transport."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import pytest

from bot import alerts
from bot.models import DigestSettings, Paper
from bot.outbox import Outcome, SendError, ShuttingDown, claim_and_deliver, deliver
from bot.scrape import ScrapeSummary
from bot.services.alerts import AlertPipeline
from bot.services.digests import KIND as DIGEST_KIND
from bot.services.digests import DigestScheduler
from bot.services.scraping import ScrapeRefresher
from bot.services.tasks import BackgroundTasks
from bot.store import Store
from tests.fakes.clock import ManualClock
from tests.fakes.harness import wait_until
from tests.fakes.transport import MemoryTransport

DAY = dt.date(2026, 6, 12)
DUE = dt.datetime(2026, 6, 13, 9, 0, tzinfo=dt.UTC)  # the digest of DAY, at 09:00 UTC
GUILD = 1


def paper(number: int, title: str, upvotes: int = 5) -> Paper:
    return Paper(
        id=f"2606.{number:05d}",
        title=title,
        authors=("Ada Lovelace",),
        summary="We study things.",
        day=DAY,
        upvotes=upvotes,
    )


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "services.db")
    yield opened
    await opened.close()


async def add_digest(store: Store, channel_id: int, *, at: dt.time = dt.time(9, 0)) -> None:
    await store.save_digest_settings(
        DigestSettings(
            guild_id=GUILD,
            channel_id=channel_id,
            time=at,
            timezone="UTC",
            top=3,
            effective_from=DUE - dt.timedelta(hours=2),
        )
    )


async def subscribe(store: Store, channel_id: int, query: str) -> None:
    await store.add_subscription(
        guild_id=GUILD,
        channel_id=channel_id,
        query=query,
        normalized=alerts.check_alert_query(query).normalized(),
        created_by=99,
        max_per_channel=25,
        max_per_guild=100,
    )


# ---------------------------------------------------------------- the digest scheduler


async def test_due_digests_are_posted_once_and_the_next_one_is_scheduled(store: Store) -> None:
    await store.upsert_papers([paper(i, f"Paper number {i}", upvotes=10 + i) for i in range(5)], day=DAY)
    await add_digest(store, 11)
    await add_digest(store, 12)
    await add_digest(store, 13, at=dt.time(18, 0))  # not due yet
    transport = MemoryTransport()
    clock = ManualClock(DUE)
    scheduler = DigestScheduler(store, transport, clock)
    next_due = await scheduler.run_due()
    assert next_due == dt.datetime(2026, 6, 13, 18, 0, tzinfo=dt.UTC)
    assert [len(transport.in_channel(c)) for c in (11, 12, 13)] == [1, 1, 0]
    text = transport.in_channel(11)[0].text
    # The top 3 of the day, most upvoted first.
    assert text.index("Paper number 4") < text.index("Paper number 3") < text.index("Paper number 2")
    assert "Paper number 1" not in text
    clock.advance(dt.timedelta(minutes=5))
    await scheduler.run_due()
    assert len(transport.posts) == 2, "a digest already sent is not posted again"
    delivery = await store.get_delivery(11, DIGEST_KIND, DAY.isoformat())
    assert delivery is not None and delivery.status == "sent" and delivery.message_id == transport.posts[0].id


async def test_a_digest_that_failed_to_send_is_resumed_when_its_retry_is_due(store: Store) -> None:
    await store.upsert_papers([paper(1, "Retried digest paper")], day=DAY)
    await add_digest(store, 11)
    transport = MemoryTransport()
    transport.failures.append(SendError("Discord answered 503", permanent=False))
    clock = ManualClock(DUE)
    scheduler = DigestScheduler(store, transport, clock)
    retry_at = await scheduler.run_due()
    assert transport.posts == []
    pending = await store.get_delivery(11, DIGEST_KIND, DAY.isoformat())
    assert pending is not None and pending.status == "pending"
    assert retry_at is not None and DUE < retry_at < DUE + dt.timedelta(minutes=1)
    clock.set(retry_at)
    await scheduler.run_due()
    await scheduler.run_due()
    assert [p.channel_id for p in transport.posts] == [11]
    assert "Retried digest paper" in transport.posts[0].text


async def test_a_digest_missed_beyond_the_grace_window_posts_one_missed_note(store: Store) -> None:
    await store.upsert_papers([paper(1, "Too late to show")], day=DAY)
    await add_digest(store, 11)
    transport = MemoryTransport()
    scheduler = DigestScheduler(store, transport, ManualClock(DUE + dt.timedelta(hours=7)), grace=dt.timedelta(hours=6))
    await scheduler.run_due()
    [post] = transport.posts
    assert "Too late to show" not in post.text and str(DAY) in post.text


async def test_the_scheduler_loop_posts_when_the_clock_reaches_the_due_time(store: Store) -> None:
    await store.upsert_papers([paper(1, "Posted by the loop")], day=DAY)
    await add_digest(store, 11)
    transport = MemoryTransport()
    clock = ManualClock(DUE - dt.timedelta(hours=1))
    scheduler = DigestScheduler(store, transport, clock)
    scheduler.start()
    try:
        await wait_until(lambda: clock.sleepers != [], what="the scheduler to sleep")
        assert transport.posts == []
        clock.set(DUE)
        await wait_until(lambda: len(transport.posts) == 1, what="the digest")
    finally:
        await scheduler.stop()
    assert "Posted by the loop" in transport.posts[0].text


async def test_a_day_posted_early_is_skipped_by_the_scheduler_and_by_the_next_run(store: Store) -> None:
    await store.upsert_papers([paper(1, "Posted early")], day=DAY)
    await add_digest(store, 11)
    settings = await store.get_digest_settings(11)
    assert settings is not None
    transport = MemoryTransport()
    clock = ManualClock(DUE - dt.timedelta(hours=3))
    scheduler = DigestScheduler(store, transport, clock)
    assert (await scheduler.next_run(settings)).due == DUE
    assert await scheduler.post_now(settings, DAY) is Outcome.SENT  # /digest now, before the 09:00 run
    # The 09:00 run would cover DAY again: both the scheduler and the next run skip it for the day after.
    tomorrow = DUE + dt.timedelta(days=1)
    assert await scheduler.run_due() == tomorrow
    upcoming = await scheduler.next_run(settings)
    assert upcoming.due == tomorrow and upcoming.papers_day == DAY + dt.timedelta(days=1)
    clock.set(DUE)
    assert await scheduler.run_due() == tomorrow
    assert len(transport.posts) == 1


async def test_the_scrape_refresher_names_the_next_run_from_the_start_and_while_one_runs(store: Store) -> None:
    release = asyncio.Event()
    runs: list[list[dt.date]] = []

    class HeldScraper:
        async def scrape_days(self, days: Iterable[dt.date]) -> ScrapeSummary:
            runs.append(list(days))
            await release.wait()
            return ScrapeSummary()

    clock = ManualClock(DUE)
    scheduled: list[dt.datetime] = []
    refresher = ScrapeRefresher(
        store,
        HeldScraper(),
        clock,
        interval=dt.timedelta(minutes=30),
        backfill=0,
        on_scraped=lambda _: None,
        on_scheduled=scheduled.append,
    )
    gate = asyncio.Event()
    refresher.start(gate.wait)
    try:
        assert scheduled == [DUE]  # before the bot is even ready: the first run is due at once
        gate.set()
        await wait_until(lambda: runs != [], what="the first run to start")
        assert scheduled[-1] == DUE + dt.timedelta(minutes=30) and refresher.finished_runs == 0
        release.set()
        await wait_until(lambda: refresher.finished_runs == 1, what="the first run to end")
        assert scheduled[-1] == DUE + dt.timedelta(minutes=30)
    finally:
        await refresher.stop()


# ---------------------------------------------------------------- the alert pipeline


async def new_pipeline(store: Store, transport: MemoryTransport, *, cap: int = 20) -> AlertPipeline:
    pipeline = AlertPipeline(store, transport, ManualClock(dt.datetime.now(dt.UTC)), hourly_cap=cap)
    await pipeline.prepare()  # papers cached before this point are not news
    return pipeline


async def test_a_channels_matches_are_bundled_into_one_post_and_never_repeated(store: Store) -> None:
    transport = MemoryTransport()
    pipeline = await new_pipeline(store, transport)
    await subscribe(store, 21, "diffusion")
    await subscribe(store, 21, "agents")
    await subscribe(store, 22, "agents")
    await store.upsert_papers(
        [
            paper(1, "Video diffusion at scale"),
            paper(2, "Agents that plan"),
            paper(3, "Unrelated optics"),
        ],
        day=DAY,
    )
    await pipeline.run_pass(())
    [bundle] = transport.in_channel(21)
    assert "Video diffusion at scale" in bundle.text and "Agents that plan" in bundle.text
    assert "Unrelated optics" not in bundle.text
    [other] = transport.in_channel(22)
    assert "Agents that plan" in other.text and "diffusion" not in other.text
    await pipeline.run_pass(())
    assert len(transport.posts) == 2
    for paper_id in ("2606.00001", "2606.00002"):
        alerted = await store.get_delivery(21, alerts.ALERT_KIND, paper_id)
        assert alerted is not None and alerted.status == "sent"


async def test_the_hourly_cap_lists_the_most_upvoted_and_sums_up_the_rest(store: Store) -> None:
    transport = MemoryTransport()
    pipeline = await new_pipeline(store, transport, cap=2)
    await subscribe(store, 21, "robot")
    await store.upsert_papers([paper(i, f"Robot study {i}", upvotes=i) for i in range(1, 6)], day=DAY)
    await pipeline.run_pass(())
    [bundle] = transport.in_channel(21)
    assert "Robot study 5" in bundle.text and "Robot study 4" in bundle.text
    assert "Robot study 3" not in bundle.text and "and 3 more" in bundle.text
    # Within the same hour the cap is spent: the next paper is only counted.
    await store.upsert_papers([paper(9, "Robot study 9", upvotes=9)], day=DAY)
    await pipeline.run_pass(())
    assert len(transport.in_channel(21)) == 2
    assert "Robot study 9" not in transport.in_channel(21)[1].text and "and 1 more" in transport.in_channel(21)[1].text


async def test_an_alert_post_left_unfinished_is_resumed_once(store: Store) -> None:
    transport = MemoryTransport()
    pipeline = await new_pipeline(store, transport)
    await subscribe(store, 21, "resume")
    await store.upsert_papers([paper(1, "Resume after failure")], day=DAY)
    transport.failures.append(SendError("could not reach Discord", permanent=False))
    await pipeline.run_pass(())
    assert transport.posts == []
    [pending] = await store.open_deliveries([alerts.BATCH_KIND])
    assert pending.channel_id == 21 and pending.next_attempt_at is not None
    # A new pipeline (as after a restart) resumes it once its retry is due, and only once.
    later = AlertPipeline(store, transport, ManualClock(pending.next_attempt_at), hourly_cap=20)
    await later.resume_due()
    await later.resume_due()
    await later.run_pass(())
    [post] = transport.posts
    assert "Resume after failure" in post.text
    assert await store.open_deliveries([alerts.BATCH_KIND]) == []


async def test_stopping_waits_for_the_alert_post_under_way(store: Store) -> None:
    transport = MemoryTransport()
    pipeline = await new_pipeline(store, transport)
    await subscribe(store, 21, "shutdown")
    await store.upsert_papers([paper(1, "Shutdown in the middle")], day=DAY)
    transport.hold = asyncio.Event()
    pipeline.after_scrape(ScrapeSummary())
    await wait_until(lambda: transport.waiting == 1, what="the post to be under way")
    stopping = asyncio.create_task(pipeline.stop(grace=5.0))
    await asyncio.sleep(0)
    assert not stopping.done(), "stop returned while a post was under way"
    transport.hold.set()
    await asyncio.wait_for(stopping, 5.0)
    [post] = transport.posts
    assert "Shutdown in the middle" in post.text
    assert await store.open_deliveries([alerts.BATCH_KIND]) == []


async def test_a_stop_past_its_grace_cancels_the_post_and_leaves_it_for_the_next_start(store: Store) -> None:
    transport = MemoryTransport()
    pipeline = await new_pipeline(store, transport)
    await subscribe(store, 21, "stuck")
    await store.upsert_papers([paper(1, "Stuck post")], day=DAY)
    transport.hold = asyncio.Event()
    pipeline.after_scrape(ScrapeSummary())
    await wait_until(lambda: transport.waiting == 1, what="the post to be under way")
    await asyncio.wait_for(pipeline.stop(grace=0.05), 5.0)
    assert transport.posts == []
    [pending] = await store.open_deliveries([alerts.BATCH_KIND])
    transport.hold = None
    later = AlertPipeline(store, transport, ManualClock(dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)), hourly_cap=20)
    await later.resume_due()
    [post] = transport.posts
    assert post.channel_id == pending.channel_id and "Stuck post" in post.text


# ---------------------------------------------------------------- shutting down


async def test_a_transport_shutting_down_leaves_the_delivery_for_the_next_start(store: Store) -> None:
    transport = MemoryTransport()
    transport.failures.append(ShuttingDown())
    now = dt.datetime.now(dt.UTC)
    result = await claim_and_deliver(
        store, transport, channel_id=7, kind="digest", key="d", parts=[{"content": "left for later"}], now=now
    )
    assert result.outcome is Outcome.RETRY
    [pending] = await store.open_deliveries(["digest"], due_by=now)
    assert pending.error is None, "a plain shutdown is not an error of the delivery"
    assert (await deliver(store, transport, pending, now=now)).outcome is Outcome.SENT
    assert [p.text for p in transport.posts] == ["left for later"]


async def test_a_shutdown_with_a_cause_records_it_and_keeps_the_delivery_due(store: Store) -> None:
    transport = MemoryTransport()
    transport.failures.append(ShuttingDown("Discord rejected the token (401 Unauthorized)"))
    now = dt.datetime.now(dt.UTC)
    await claim_and_deliver(
        store, transport, channel_id=7, kind="digest", key="d", parts=[{"content": "after the new token"}], now=now
    )
    [pending] = await store.open_deliveries(["digest"], due_by=now + dt.timedelta(seconds=1))
    assert "401" in (pending.error or "")


async def test_a_background_task_that_fails_is_logged_and_not_kept(caplog: pytest.LogCaptureFixture) -> None:
    tasks = BackgroundTasks("test")

    async def broken() -> None:
        raise RuntimeError("boom")

    task = tasks.spawn(broken(), name="broken")
    await asyncio.wait({task})
    await asyncio.sleep(0)  # the done callback runs on the next loop iteration
    assert tasks.running == []
    assert any(r.exc_info and "boom" in str(r.exc_info[1]) and "broken" in r.getMessage() for r in caplog.records)
