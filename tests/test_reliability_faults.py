"""The fault matrix through the running bot: a misbehaving Hugging Face, a misbehaving Discord.

Every test drives the real PaperBot (harness) or the real `paperboy run` process against the loopback fakes,
injects one kind of fault, and checks what a user would see: what was posted (once), what
`/paperboy status` and `/digest show` say, and that the cache kept its papers.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import discord
import httpx
import pytest

from bot.config import Config, HuggingFaceConfig
from bot.models import DigestSettings
from bot.scrape import Scraper
from bot.sources.http import make_http_client
from bot.sources.huggingface import HuggingFaceSource
from bot.store import Store
from tests.fakes.discord_fixtures import LabDiscord
from tests.fakes.harness import BotHarness, eventually, wait_until
from tests.fakes.hf_server import FakeHuggingFace
from tests.fakes.process import BotProcess, write_config
from tests.test_digest_e2e import DAY, at, serve_day

DAILY_API = "/api/daily_papers"
PAGE = "/papers/date/"


FAULT_LOG_ENV = "PAPERBOY_FAULT_LOG"


def record_faults(fault: str, count: int, **extra: int) -> None:
    """Append what a test injected to $PAPERBOY_FAULT_LOG (JSON lines) for the counts in docs/reliability.md."""
    path = os.environ.get(FAULT_LOG_ENV)
    if not path:
        return
    test = os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0]
    with open(path, "a", encoding="utf-8") as sink:
        sink.write(json.dumps({"test": test, "fault": fault, "count": count, **extra}) + "\n")


def hf_hits(harness: BotHarness, since: int, *prefixes: str) -> int:
    """Requests the loopback Hugging Face received since index `since` on paths starting with `prefixes`."""
    return sum(1 for r in harness.hf.requests[since:] if r.path.startswith(prefixes))


async def set_digest(harness: BotHarness, channel: Any = None, **options: Any) -> None:
    options.setdefault("time", "09:00")
    options.setdefault("timezone", "UTC")
    target = channel or harness.channel
    result = await harness.discord.slash("digest", "set", as_user=harness.admin, channel=target, **options)
    assert result.ephemeral and "Next one" in (result.content or ""), result.content


async def status_text(harness: BotHarness) -> str:
    result = await harness.discord.slash("paperboy", "status", as_user=harness.member, channel=harness.channel)
    assert result.ephemeral and result.message is not None
    return result.message.text


async def digest_show(harness: BotHarness) -> str:
    result = await harness.discord.slash("digest", "show", as_user=harness.member, channel=harness.channel)
    assert result.ephemeral
    return result.content or ""


def paper_ids(papers: list[Any]) -> list[str]:
    return sorted(p.id for p in papers)


def use_configured_source(harness: BotHarness, http: httpx.AsyncClient, **options: Any) -> None:
    """Give the running bot the scraper `paperboy run` builds (configured rate limit), with quick retries."""
    source = HuggingFaceSource.from_config(http, harness.config, **options)
    harness.running.scraper = Scraper(harness.store, source, clock=harness.clock.now)


async def scheduler_idle(harness: BotHarness) -> None:
    await wait_until(lambda: harness.clock.sleepers != [], what="the scheduler to go back to sleep")


# ================================================================ source faults


@pytest.fixture
async def rated(tmp_path: Path) -> AsyncIterator[BotHarness]:
    """A bot whose [scraper] max_requests_per_minute is 600: one request every 0.1 s at most."""
    running = await BotHarness.create(
        tmp_path, scraper={"max_requests_per_minute": 600, "interval_minutes": 30, "backfill_days": 1}
    )
    try:
        yield running
    finally:
        await running.close()


async def test_a_429_storm_is_backed_off_under_the_configured_rate(rated: BotHarness) -> None:
    harness = rated
    async with make_http_client(harness.config) as http:
        use_configured_source(harness, http, backoff_base=0.05, backoff_max=1.0)
        serve_day(harness)
        harness.hf.requests.clear()
        storm = 6
        harness.hf.fail(429, path=DAILY_API, times=storm)  # no Retry-After: the client must back off itself
        summary = await harness.scrape()
    assert harness.hf.faults[-1].times == 0, "the storm was not used up"
    record_faults("hf 429", storm)
    times = [r.time for r in harness.hf.requests]
    gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    interval = 60 / harness.config.scraper.max_requests_per_minute
    # Arrival times carry a little scheduling jitter; a missing limit would show gaps of a few milliseconds.
    assert min(gaps) >= interval * 0.75, f"requests closer than the configured rate allows: {gaps}"
    assert (len(times) - 1) / (times[-1] - times[0]) <= 1 / interval
    # Yesterday's five attempts at the API were refused: the waits between them grow.
    storm_gaps = gaps[:4]
    assert storm_gaps[-1] >= 3 * interval and storm_gaps[-1] > storm_gaps[0]
    assert summary.failed == 0
    assert paper_ids(await harness.store.papers_of_day(DAY)) == [f"2606.{i:05d}" for i in range(5)]
    assert "Source problems" not in await status_text(harness)


async def test_5xx_bursts_are_retried_and_an_outage_keeps_the_cache_and_the_digest(harness: BotHarness) -> None:
    serve_day(harness)
    harness.hf.fail(503, path="/", times=2)
    first = await harness.scrape()
    assert first.failed == 0 and len(await harness.store.papers_of_day(DAY)) == 5
    # Now Hugging Face is down for good: API and page answer 500 to every retry.
    harness.hf.fail(500, path="/", times=None)
    before = len(harness.hf.requests)
    outage = await harness.scrape()
    record_faults("hf 5xx", 2 + hf_hits(harness, before, "/"))
    assert outage.failed == 2
    assert len(await harness.store.papers_of_day(DAY)) == 5, "a failed scrape must not touch the cache"
    status = await status_text(harness)
    assert "Source problems" in status and "HTTP 500" in status and "cached papers kept" in status
    # The digest due during the outage still goes out, from the cache.
    await set_digest(harness, top=3)
    harness.clock.set(at(9))
    (posted,) = await harness.discord.wait_for_messages(harness.channel, 1)
    assert "Top 3 of 5" in posted.text and "Paper 1 " in posted.text


@pytest.fixture
async def short_http() -> AsyncIterator[httpx.AsyncClient]:
    config = Config(huggingface=HuggingFaceConfig(user_agent="paperboy-test"))
    async with make_http_client(config, read_timeout=0.3, connect_timeout=0.5) as http:
        yield http


async def test_an_api_that_never_answers_times_out_and_the_page_serves_the_day(
    harness: BotHarness, short_http: httpx.AsyncClient
) -> None:
    use_configured_source(harness, short_http, max_attempts=2, backoff_base=0.01, backoff_max=0.02)
    serve_day(harness)
    harness.hf.slow(5.0, path=DAILY_API, times=None)
    before = len(harness.hf.requests)
    started = time.monotonic()
    summary = await harness.scrape()
    record_faults("hf timeout", hf_hits(harness, before, DAILY_API))
    assert time.monotonic() - started < 3.0
    assert summary.failed == 0 and summary.reports[0].via == "page"
    assert "timed out" in (summary.reports[0].note or "")
    assert len(await harness.store.papers_of_day(DAY)) == 5


async def test_a_slow_loris_answer_is_cut_off_by_the_total_deadline(
    harness: BotHarness, short_http: httpx.AsyncClient
) -> None:
    # One byte every 0.05 s never trips the 0.3 s read timeout; only the total deadline stops it.
    use_configured_source(harness, short_http, max_attempts=2, backoff_base=0.01, backoff_max=0.02, total_timeout=0.5)
    serve_day(harness)
    harness.hf.trickle(0.05, path=DAILY_API, times=None)
    before = len(harness.hf.requests)
    started = time.monotonic()
    # Without a deadline the 1 MB answer would take 14 hours; fail after 10 s instead of hanging.
    summary = await asyncio.wait_for(harness.scrape(), timeout=10)
    elapsed = time.monotonic() - started
    record_faults("hf slow-loris", hf_hits(harness, before, DAILY_API))
    assert elapsed < 4.0, f"the scraper hung on a trickling answer for {elapsed:.1f} s"
    report = summary.reports[0]
    assert report.outcome == "ok" and report.via == "page"
    assert "no complete answer within 0.5 s" in (report.note or "")
    assert len(await harness.store.papers_of_day(DAY)) == 5


@pytest.mark.parametrize(
    ("fault", "needle"),
    [("truncated", "not valid JSON"), ("object", "expected a JSON list")],
)
async def test_invalid_or_truncated_json_falls_back_to_the_page(harness: BotHarness, fault: str, needle: str) -> None:
    serve_day(harness)
    if fault == "truncated":
        harness.hf.truncate(path=DAILY_API, times=None)
    else:
        harness.hf.respond(json.dumps({"error": "Invalid date"}), path=DAILY_API, times=None)
    before = len(harness.hf.requests)
    summary = await harness.scrape()
    record_faults(f"hf {fault} json", hf_hits(harness, before, DAILY_API))
    report = summary.reports[0]
    assert report.outcome == "ok" and report.via == "page" and needle in (report.note or "")
    assert len(await harness.store.papers_of_day(DAY)) == 5
    assert "Source problems" not in await status_text(harness)


async def test_a_markup_change_is_reported_in_status_and_logs_and_the_cache_is_kept(
    harness: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    items = serve_day(harness)
    await harness.scrape()
    # Both the API items and the page's items come in a shape nobody can read any more.
    changed = [{"article": item["paper"], "meta": {"thumb": item["thumbnail"]}} for item in items]
    harness.hf.respond(json.dumps(changed), path=DAILY_API, times=None)
    harness.hf.page_mode(DAY, "changed_items")
    before = len(harness.hf.requests)
    with caplog.at_level(logging.WARNING, logger="bot.scrape"):
        summary = await harness.scrape()
    record_faults("hf markup change", hf_hits(harness, before, DAILY_API, PAGE + DAY.isoformat()))
    assert summary.reports[0].outcome == "markup_changed"
    assert any("likely a markup change" in r.getMessage() and r.levelno == logging.ERROR for r in caplog.records)
    status = await status_text(harness)
    assert "Source problems" in status and "2026-06-12: likely markup change" in status
    assert "cached papers kept" in status
    assert len(await harness.store.papers_of_day(DAY)) == 5
    assert (await harness.store.last_scrape_run(DAY)).outcome == "markup_changed"  # type: ignore[union-attr]


async def test_a_50_mb_answer_is_rejected_by_the_size_cap_and_the_cache_is_kept(harness: BotHarness) -> None:
    serve_day(harness)
    await harness.scrape()
    harness.hf.oversize(50 * 1024 * 1024, path=DAILY_API, times=None)
    harness.hf.oversize(50 * 1024 * 1024, path=PAGE + DAY.isoformat(), times=None)
    before = len(harness.hf.requests)
    started = time.monotonic()
    summary = await harness.scrape()
    record_faults("hf 50 MB answer", hf_hits(harness, before, DAILY_API, PAGE + DAY.isoformat()))
    assert time.monotonic() - started < 10
    report = summary.reports[0]
    assert report.outcome == "failed" and "response too large" in (report.error or "")
    assert "the limit is 20971520 bytes" in (report.error or "")
    assert len(await harness.store.papers_of_day(DAY)) == 5
    assert "response too large" in await status_text(harness)


async def test_a_day_that_later_disappears_keeps_its_papers(harness: BotHarness) -> None:
    items = serve_day(harness)
    await harness.scrape()
    harness.hf.set_day(DAY, items[:2])  # the source drops papers from the day...
    await harness.scrape()
    harness.hf.set_day(DAY, [])  # ...then the whole day
    summary = await harness.scrape()
    record_faults("hf day disappears", 2)
    assert summary.reports[0].outcome == "empty"
    assert paper_ids(await harness.store.papers_of_day(DAY)) == [f"2606.{i:05d}" for i in range(5)]
    assert "Newest day cached: Fri 12 Jun 2026" in (await status_text(harness)).replace("\n", ": ")
    await set_digest(harness)
    harness.clock.set(at(9))
    (posted,) = await harness.discord.wait_for_messages(harness.channel, 1)
    assert "All 5 papers that day" in posted.text
    assert all(f"Paper {i} " in posted.text for i in range(5))


# ================================================================ Discord faults


async def test_a_global_429_is_waited_out_and_the_digest_arrives_once(harness: BotHarness) -> None:
    serve_day(harness)
    await harness.scrape()
    await set_digest(harness)
    harness.discord.rate_limit_next_post(retry_after=0.3, global_=True)
    harness.clock.set(at(9))
    await harness.discord.wait_for_messages(harness.channel, 1)
    record_faults("discord 429 global", harness.discord.stats.rate_limited_global)
    assert harness.discord.stats.rate_limited_global == 1
    await scheduler_idle(harness)
    assert len(harness.discord.messages_in(harness.channel)) == 1


async def test_a_5xx_burst_delays_the_digest_which_arrives_once_after_recovery(harness: BotHarness) -> None:
    serve_day(harness)
    await harness.scrape()
    await set_digest(harness)
    store, key = harness.store, DAY.isoformat()
    harness.discord.fail_next_posts(3, status=503)  # discord.py gives up on a 503 at once: the outbox retries
    harness.discord.fail_next_posts(1, status=500)  # discord.py retries a 500 itself after a second
    harness.clock.set(at(9))
    for attempt in (1, 2, 3):

        async def retry_scheduled(attempt: int = attempt) -> bool:
            delivery = await store.get_delivery(harness.channel.id, "digest", key)
            return (
                delivery is not None
                and delivery.attempts == attempt
                and delivery.next_attempt_at is not None
                and delivery.next_attempt_at > harness.clock.now()
            )

        await eventually(retry_scheduled, what=f"retry {attempt} to be scheduled")
        assert harness.discord.messages_in(harness.channel) == []
        shown = await digest_show(harness)
        assert "waiting to retry (Discord answered 503" in shown
        harness.clock.advance(dt.timedelta(minutes=1))
    await harness.discord.wait_for_messages(harness.channel, 1, timeout=10)
    record_faults("discord 5xx", harness.discord.stats.injected_failures)
    assert harness.discord.stats.injected_failures == 4
    await scheduler_idle(harness)
    harness.clock.advance(dt.timedelta(minutes=30))
    await scheduler_idle(harness)
    assert len(harness.discord.messages_in(harness.channel)) == 1
    delivery = await store.get_delivery(harness.channel.id, "digest", key)
    assert delivery is not None and delivery.status == "sent" and delivery.attempts == 4
    assert "Last: posted <t:" in await digest_show(harness)


async def test_a_5xx_burst_delays_an_alert_which_arrives_once_after_recovery(harness: BotHarness) -> None:
    added = await harness.discord.slash(
        "alerts", "add", as_user=harness.admin, channel=harness.channel, query="sparse routing"
    )
    await added.wait_final()
    assert "added" in added.text, added.text
    serve_day(harness)
    harness.discord.fail_next_posts(3, status=503)
    await harness.scrape()
    store = harness.store
    for attempt in (1, 2, 3):

        async def retry_scheduled(attempt: int = attempt) -> bool:
            batch = await store.latest_delivery(harness.channel.id, "alert_batch")
            return (
                batch is not None
                and batch.attempts == attempt
                and batch.next_attempt_at is not None
                and batch.next_attempt_at > harness.clock.now()
            )

        await eventually(retry_scheduled, what=f"alert retry {attempt} to be scheduled")
        assert harness.discord.messages_in(harness.channel) == []
        harness.clock.advance(dt.timedelta(minutes=1))
    (posted,) = await harness.discord.wait_for_messages(harness.channel, 1)
    record_faults("discord 5xx (alert)", harness.discord.stats.injected_failures)
    assert all(posted.text.count(f"/papers/2606.{i:05d})") == 1 for i in range(5))
    await harness.scrape()  # the same papers again: nothing new to say
    harness.clock.advance(dt.timedelta(minutes=30))
    await scheduler_idle(harness)
    assert len(harness.discord.messages_in(harness.channel)) == 1
    batch = await store.latest_delivery(harness.channel.id, "alert_batch")
    assert batch is not None and batch.status == "sent" and batch.attempts == 4


@pytest.mark.parametrize(("code", "reconnects_by"), [(1000, "resume"), (4009, "identify")])
async def test_gateway_closes_are_survived_and_commands_still_answered(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch, code: int, reconnects_by: str
) -> None:
    # discord.py waits 5 s before a second IDENTIFY (a courtesy to Discord); the fake needs no courtesy.
    async def identify_at_once(shard_id: int | None, *, initial: bool = False) -> None:
        return None

    monkeypatch.setattr(harness.running, "before_identify_hook", identify_at_once)
    stats = harness.discord.stats
    identifies, resumes = stats.identifies, stats.resumes
    await harness.discord.close_gateway(code)
    if reconnects_by == "resume":
        await harness.discord.wait_for_op(6, count=harness.discord.gateway_ops.count(6) + 1)
        await wait_until(lambda: stats.resumes == resumes + 1, what="the resumed session")
        assert stats.identifies == identifies
    else:
        await wait_until(lambda: stats.identifies == identifies + 1, what="a new IDENTIFY", timeout=10)
        assert stats.invalid_sessions >= 1
    await harness.discord.wait_until_connected()
    record_faults(f"gateway close {code}", 1)
    assert "Version" in await status_text(harness)


async def test_a_token_revoked_while_running_stops_the_bot_and_keeps_the_digest(harness: BotHarness) -> None:
    serve_day(harness)
    await harness.scrape()
    await set_digest(harness)
    bot = harness.running
    harness.discord.reject_token()
    harness.clock.set(at(9))
    await wait_until(lambda: bot.is_closed(), what="the bot to stop")
    record_faults("discord 401 while running", 1)
    assert isinstance(bot.fatal_error, discord.LoginFailure)
    assert "401" in str(bot.fatal_error)
    settings = await harness.store.get_digest_settings(harness.channel.id)
    assert settings is not None and settings.enabled, "a revoked token is not the channel's fault"
    delivery = await harness.store.get_delivery(harness.channel.id, "digest", DAY.isoformat())
    assert delivery is not None and delivery.status == "pending"
    # A new token (here: the same one accepted again) and a restart deliver it, once.
    harness.discord.accept_token()
    await harness.restart()
    await harness.discord.wait_for_messages(harness.channel, 1)
    await scheduler_idle(harness)
    assert len(harness.discord.messages_in(harness.channel)) == 1


async def test_a_deleted_channel_and_a_lost_permission_disable_only_their_own_digests(harness: BotHarness) -> None:
    serve_day(harness)
    await harness.scrape()
    doomed = harness.discord.add_text_channel(harness.guild, "doomed")
    locked = harness.discord.add_text_channel(harness.guild, "locked")
    for channel in (harness.channel, doomed, locked):
        await set_digest(harness, channel)
    harness.discord.delete_channel(doomed)
    harness.discord.deny_bot(locked, send=True, embed=True)
    harness.clock.set(at(9))
    await harness.discord.wait_for_messages(harness.channel, 1)

    async def both_disabled() -> bool:
        settings = await harness.store.list_digest_settings(enabled_only=True)
        return [s.channel_id for s in settings] == [harness.channel.id]

    await eventually(both_disabled, what="the two broken digests to be disabled")
    record_faults("discord deleted channel / lost permission", 2)
    shown = await digest_show(harness)
    doomed_line = next(part for part in shown.split("\n<#") if str(doomed.id) in part)
    locked_line = next(part for part in shown.split("\n<#") if str(locked.id) in part)
    assert "**off**: the channel no longer exists" in doomed_line
    assert "**off**: the bot may not post there" in locked_line and "Send Messages" in locked_line
    assert len(harness.discord.messages_in(harness.channel)) == 1


# ================================================================ revocation with the real process


async def start_process(tmp_path: Path, discord_server: LabDiscord, hf: FakeHuggingFace) -> BotProcess:
    config = write_config(
        tmp_path / "config.toml", discord_server, hf, tmp_path / "paperboy.db", scraper={"backfill_days": 1}
    )
    process = await BotProcess(config, discord_server.token, tmp_path / "bot.log").start()
    await discord_server.wait_until_connected(timeout=20)
    await wait_until(lambda: bool(discord_server.synced_commands()), timeout=20, what="command sync")
    return process


CLEAR_LINE = "paperboy: Discord rejected the token (401 Unauthorized): check DISCORD_TOKEN"


@pytest.mark.slow
async def test_paperboy_run_exits_1_when_the_gateway_refuses_a_revoked_token(
    world: tuple[LabDiscord, FakeHuggingFace], tmp_path: Path
) -> None:
    discord_server, hf = world
    process = await start_process(tmp_path, discord_server, hf)
    try:
        discord_server.reject_token()
        await discord_server.close_gateway(4000)  # the RESUME that follows is refused with 4004
        code = await process.wait(timeout=20)
    finally:
        await process.stop()
    record_faults("revoked token (gateway 4004), process", 1)
    assert code == 1
    assert CLEAR_LINE in process.output
    assert "Traceback" not in process.output and discord_server.token not in process.output


@pytest.mark.slow
async def test_paperboy_run_exits_1_on_a_401_mid_run_and_keeps_the_digest_open(
    world: tuple[LabDiscord, FakeHuggingFace], tmp_path: Path
) -> None:
    discord_server, hf = world
    channel = discord_server.papers
    store = await Store.open(tmp_path / "paperboy.db")
    now = dt.datetime.now(dt.UTC)
    await store.save_digest_settings(
        DigestSettings(
            guild_id=discord_server.guild.id,
            channel_id=channel.id,
            time=(now + dt.timedelta(hours=12)).time().replace(second=0, microsecond=0),
            timezone="UTC",
        )
    )
    await store.close()
    process = await start_process(tmp_path, discord_server, hf)
    try:
        discord_server.reject_token()
        await discord_server.slash("digest", "now", as_user=discord_server.admin, channel=channel, timeout=10)
        code = await process.wait(timeout=20)
    finally:
        await process.stop()
    record_faults("revoked token (REST 401), process", 1)
    assert code == 1 and CLEAR_LINE in process.output
    assert "Traceback" not in process.output and discord_server.token not in process.output
    assert discord_server.messages_in(channel) == []
    store = await Store.open(tmp_path / "paperboy.db")
    try:
        (delivery,) = await store.open_deliveries(["digest"])
        assert delivery.channel_id == channel.id and "401" in (delivery.error or "")
        settings = await store.get_digest_settings(channel.id)
        assert settings is not None and settings.enabled
    finally:
        await store.close()
