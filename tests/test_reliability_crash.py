"""Process faults: `kill -9` in the middle of posting, SIGTERM during a fan-out, a read-only or full database.

The crash tests run the real `paperboy run` (a subprocess on the real clock) against the loopback Discord and
Hugging Face; digests are made due at the current UTC minute by writing their settings into the database
before the process starts, and alerts fire on papers the loopback Hugging Face starts listing. What counts is
what the fake Discord recorded: one digest per channel and day, each alerted paper once per channel.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import os
import random
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot import digest as schedule
from bot.alerts import ALERT_KIND, BATCH_KIND, CURSOR_KEY, ListingCursor, check_alert_query
from bot.models import DigestSettings
from bot.store import Store
from tests.fakes.discord_fixtures import LabDiscord, make_lab_discord
from tests.fakes.discord_model import FakeChannel
from tests.fakes.discord_records import RequestRecord
from tests.fakes.harness import BotHarness, eventually, wait_until
from tests.fakes.hf_items import make_daily_item
from tests.fakes.hf_server import FakeHuggingFace
from tests.fakes.process import BotProcess, write_config
from tests.test_reliability_faults import record_faults

POSTS = r"^/channels/\d+/messages$"
SEED = 20260613
ALERT_QUERY = "crash"


@dataclasses.dataclass
class World:
    """The loopback servers, the database and config of one crash test, and the digest being made due."""

    discord: LabDiscord
    hf: FakeHuggingFace
    tmp_path: Path
    database: Path
    config: Path
    due: dt.datetime  # the UTC minute every digest is set to
    channels: list[FakeChannel] = dataclasses.field(default_factory=list)
    alert_channels: list[FakeChannel] = dataclasses.field(default_factory=list)
    alert_items: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    @property
    def papers_day(self) -> dt.date:
        return schedule.papers_day_for(self.due.date(), self.due)

    async def add_digest_channels(self, count: int) -> list[FakeChannel]:
        """Create `count` channels whose digests are due now (only while no bot process runs)."""
        store = await Store.open(self.database)
        try:
            added = []
            for _ in range(count):
                channel = self.discord.add_text_channel(self.discord.guild, f"digest-{len(self.channels)}")
                await store.save_digest_settings(
                    DigestSettings(
                        guild_id=self.discord.guild.id,
                        channel_id=channel.id,
                        time=self.due.time(),
                        timezone="UTC",
                        top=5,
                        effective_from=self.due - dt.timedelta(minutes=1),
                    )
                )
                self.channels.append(channel)
                added.append(channel)
            return added
        finally:
            await store.close()

    async def add_alert_channels(self, count: int) -> None:
        """Create `count` channels, each with the alert `crash`, as if the bot had run before."""
        store = await Store.open(self.database)
        try:
            if await store.get_meta(CURSOR_KEY) is None:
                # What the alerts' first pass records; set here so no paper races it in the first run.
                cursor = ListingCursor(at=await store.last_listed_at() or "")
                await store.set_meta(CURSOR_KEY, cursor.to_text())
            for _ in range(count):
                channel = self.discord.add_text_channel(self.discord.guild, f"alerts-{len(self.alert_channels)}")
                await store.add_subscription(
                    guild_id=self.discord.guild.id,
                    channel_id=channel.id,
                    query=ALERT_QUERY,
                    normalized=check_alert_query(ALERT_QUERY).normalized(),
                    created_by=self.discord.admin.id,
                    max_per_channel=25,
                    max_per_guild=100,
                )
                self.alert_channels.append(channel)
        finally:
            await store.close()

    def publish_alert_papers(self, count: int) -> None:
        """Put `count` new papers matching the alert on today's Daily Papers list."""
        today = dt.datetime.now(dt.UTC).date()
        for _ in range(count):
            number = 1000 + len(self.alert_items)
            self.alert_items.append(
                make_daily_item(
                    f"2606.{number:05d}",
                    f"Crash recovery study {number}",
                    day=today,
                    upvotes=number % 7,
                )
            )
        self.hf.set_day(today, self.alert_items)

    def alert_ids(self) -> list[str]:
        return [item["paper"]["id"] for item in self.alert_items]

    def alerted(self, channel: FakeChannel) -> dict[str, int]:
        """How often each alert paper was posted in a channel."""
        text = "\n".join(m.text for m in self.discord.messages_in(channel))
        return {paper_id: text.count(f"/papers/{paper_id})") for paper_id in self.alert_ids()}

    def process(self, name: str) -> BotProcess:
        return BotProcess(self.config, self.discord.token, self.tmp_path / f"{name}.log")

    def completed_posts(self) -> list[RequestRecord]:
        """Message POSTs Discord has answered with success."""
        return [r for r in self.discord.requests_to("POST", POSTS) if r.status == 200]

    def missing(self) -> list[FakeChannel]:
        """Channels without their digest yet."""
        return [c for c in self.channels if not self.discord.messages_in(c)]

    def alerts_missing(self) -> list[FakeChannel]:
        """Alert channels that have not been sent every alert paper yet."""
        return [c for c in self.alert_channels if 0 in self.alerted(c).values()]


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    discord_server = make_lab_discord()
    await discord_server.start()
    hf = FakeHuggingFace()
    await hf.start()
    now = dt.datetime.now(dt.UTC)
    due = now.replace(second=0, microsecond=0)
    database = tmp_path / "paperboy.db"
    config = write_config(
        tmp_path / "config.toml",
        discord_server,
        hf,
        database,
        scraper={"interval_minutes": 0.05, "backfill_days": 1, "max_requests_per_minute": 6000},
        alerts={"hourly_cap_per_channel": 1000},
    )
    created = World(discord_server, hf, tmp_path, database, config, due)
    hf.set_day(
        created.papers_day,
        [
            make_daily_item(
                f"2606.{i:05d}",
                f"Paper {i} on exactly-once delivery",
                day=created.papers_day,
                upvotes=10 + i,
                ai_summary=f"Summary {i}.",
            )
            for i in range(8)
        ],
    )
    try:
        yield created
    finally:
        await hf.stop()
        await discord_server.close()


def db_check(config: Path) -> subprocess.CompletedProcess[str]:
    """`paperboy db check` as an operator would run it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_")}
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "bot", "--config", str(config), "db", "check"],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=False,
    )


async def open_deliveries(database: Path) -> list[Any]:
    store = await Store.open(database, migrate=False)
    try:
        return await store.open_deliveries(["digest", BATCH_KIND])
    finally:
        await store.close()


# ================================================================ kill -9


ROUNDS = 20
DIGEST_CHANNELS_PER_ROUND = 6
ALERT_CHANNELS = 5
ALERT_PAPERS_PER_ROUND = 2


async def wait_for_kill_moment(world: World, rng: random.Random) -> str:
    """Wait for a random moment of this run: mostly in the middle of posting, sometimes in start-up."""
    discord_server = world.discord
    if rng.random() < 0.2:
        # After the n-th call to Discord: logging in, fetching the application, the gateway, command sync.
        calls = len(discord_server.requests) + rng.randint(1, 3)
        await discord_server.notifier.wait_for(
            lambda: len(discord_server.requests) >= calls, 30, lambda: "start-up requests"
        )
        return "start-up"
    # Right after Discord accepted the k-th post of this run: the bot may not have recorded it yet.
    owed = len(world.missing()) + len(world.alerts_missing())
    posts = len(world.completed_posts()) + rng.randint(1, owed)
    await discord_server.notifier.wait_for(lambda: len(world.completed_posts()) >= posts, 30, lambda: "posts")
    last = int(world.completed_posts()[-1].path.split("/")[2])
    return "alert delivery" if last in {c.id for c in world.alert_channels} else "digest fan-out"


@pytest.mark.slow
@pytest.mark.timeout(300)  # 21 process starts: over 120 s when the machine is busy
async def test_kill_9_during_digest_fan_out_and_alert_delivery_20_times_loses_and_duplicates_nothing(
    world: World,
) -> None:
    rng = random.Random(SEED)
    kills = {"digest fan-out": 0, "alert delivery": 0, "start-up": 0}
    await world.add_alert_channels(ALERT_CHANNELS)
    for round_number in range(ROUNDS):
        await world.add_digest_channels(DIGEST_CHANNELS_PER_ROUND)
        world.publish_alert_papers(ALERT_PAPERS_PER_ROUND)
        process = await world.process(f"round-{round_number}").start()
        try:
            kills[await wait_for_kill_moment(world, rng)] += 1
        finally:
            await process.stop()  # SIGKILL
        assert process.process is not None and process.process.returncode == -signal.SIGKILL
    # The last start is left alone: it finishes what every killed one left behind.
    process = await world.process("final").start()
    try:
        await world.discord.notifier.wait_for(
            lambda: not world.missing() and not world.alerts_missing(), 30, lambda: "every digest and alert"
        )

        async def settled() -> bool:
            return await open_deliveries(world.database) == []

        await eventually(settled, timeout=20, what="no open deliveries")
        process.signal(signal.SIGTERM)
        assert await process.wait(timeout=10) == 0
    finally:
        await process.stop()
    digests = {c.name: len(world.discord.messages_in(c)) for c in world.channels}
    assert set(digests.values()) == {1}, {name: n for name, n in digests.items() if n != 1}
    for channel in world.alert_channels:
        assert set(world.alerted(channel).values()) == {1}, (channel.name, world.alerted(channel))
    store = await Store.open(world.database, migrate=False)
    try:
        for channel in world.channels:
            delivery = await store.get_delivery(channel.id, "digest", world.papers_day.isoformat())
            assert delivery is not None and delivery.status == "sent"
            assert delivery.message_id == world.discord.messages_in(channel)[0].id
        for channel in world.alert_channels:
            for paper_id in world.alert_ids():
                alert = await store.get_delivery(channel.id, ALERT_KIND, paper_id)
                assert alert is not None and alert.status == "sent", (channel.name, paper_id)
        assert await store.check() == []
    finally:
        await store.close()
    check = db_check(world.config)
    assert check.returncode == 0 and "ok" in check.stdout, check.stderr
    stats = world.discord.stats
    assert stats.rate_limited_global == 0
    alerts_posted = sum(len(world.discord.messages_in(c)) for c in world.alert_channels)
    record_faults(
        "kill -9",
        ROUNDS,
        restarts=ROUNDS,
        digest_channels=len(world.channels),
        digests_posted=len(world.channels),
        alert_channels=len(world.alert_channels),
        alert_papers=len(world.alert_items),
        alerts_delivered=len(world.alert_channels) * len(world.alert_items),
        alert_messages=alerts_posted,
        duplicates=0,
        lost=0,
        nonce_dedupes=stats.nonce_dedupes,
        history_checks=len(world.discord.requests_to("GET", POSTS)),
        **{f"kills_{kind.replace(' ', '_').replace('-', '_')}": n for kind, n in kills.items()},
    )


# ================================================================ SIGTERM


@pytest.mark.slow
async def test_sigterm_during_a_fan_out_leaves_every_digest_sent_or_pending_and_the_next_start_finishes(
    world: World,
) -> None:
    await world.add_digest_channels(40)
    process = await world.process("first").start()
    try:
        await world.discord.notifier.wait_for(lambda: len(world.completed_posts()) >= 10, 30, lambda: "10 posts")
        process.signal(signal.SIGTERM)
        assert await process.wait(timeout=10) == 0
    finally:
        await process.stop()
    assert "received SIGTERM; shutting down" in process.output and "Traceback" not in process.output
    posted_at_stop = {c.id for c in world.channels if world.discord.messages_in(c)}
    assert 10 <= len(posted_at_stop) < len(world.channels), "the stop should come in the middle of the fan-out"
    store = await Store.open(world.database, migrate=False)
    try:
        states: dict[str, int] = {}
        for channel in world.channels:
            delivery = await store.get_delivery(channel.id, "digest", world.papers_day.isoformat())
            state = delivery.status if delivery else "not started"
            states[state] = states.get(state, 0) + 1
            assert state in ("sent", "pending", "not started")
            if state == "sent":
                assert delivery is not None and delivery.message_id == world.discord.messages_in(channel)[0].id
            elif channel.id in posted_at_stop:
                # Stopped between Discord's answer and the record: left pending, verified on the next start.
                assert state == "pending"
        assert await store.check() == []
    finally:
        await store.close()
    process = await world.process("second").start()
    try:
        await world.discord.notifier.wait_for(lambda: not world.missing(), 30, lambda: "every digest")

        async def settled() -> bool:
            return await open_deliveries(world.database) == []

        await eventually(settled, timeout=20, what="no open digest deliveries")
        process.signal(signal.SIGTERM)
        assert await process.wait(timeout=10) == 0
    finally:
        await process.stop()
    assert all(len(world.discord.messages_in(c)) == 1 for c in world.channels)
    assert world.discord.stats.rate_limited_global == 0
    record_faults(
        "SIGTERM during fan-out",
        1,
        restarts=1,
        channels=len(world.channels),
        sent_at_stop=states.get("sent", 0),
        pending_at_stop=states.get("pending", 0),
        not_started_at_stop=states.get("not started", 0),
        duplicates=0,
    )


# ================================================================ a read-only or full database


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Make `path` unwritable even for root: the immutable flag as root, file permissions otherwise."""
    if os.geteuid() != 0:
        path.chmod(0o444)
        try:
            yield
        finally:
            path.chmod(0o644)
        return
    chattr = shutil.which("chattr")
    if chattr is None:
        pytest.skip("running as root without chattr: cannot make a file read-only for root")
    flagged = subprocess.run([chattr, "+i", str(path)], capture_output=True, check=False)  # noqa: S603
    if flagged.returncode != 0:
        pytest.skip(f"this filesystem has no immutable flag: {flagged.stderr.decode().strip()}")
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(path)], check=True)  # noqa: S603


@pytest.mark.slow
async def test_a_read_only_database_stops_paperboy_run_with_a_clear_line_and_stays_intact(world: World) -> None:
    await world.add_digest_channels(2)  # creates the database at the current schema
    with read_only(world.database):
        process = await world.process("read-only").start()
        try:
            code = await process.wait(timeout=20)
        finally:
            await process.stop()
        check = db_check(world.config)
    record_faults("read-only database", 1)
    assert code == 1
    line = f"paperboy: the database {world.database} is read-only: check the file's permissions and the volume mount"
    assert line in process.output and "Traceback" not in process.output
    assert world.discord.requests_to("POST", POSTS) == [], "nothing may be posted without a place to record it"
    assert check.returncode == 0 and "ok" in check.stdout, check.stderr
    store = await Store.open(world.database, migrate=False)
    try:
        assert len(await store.list_digest_settings()) == 2
        assert await store.open_deliveries(["digest"]) == []
    finally:
        await store.close()


def long_item(index: int, day: dt.date) -> dict[str, Any]:
    return make_daily_item(
        f"2606.{index:05d}",
        f"Paper {index}: a long study of what happens when disks fill up",
        day=day,
        upvotes=100 - index,
        summary="A sentence about storage. " * 40,
        ai_summary="Disks fill up; " * 10,
    )


async def test_a_full_disk_is_reported_clearly_loses_nothing_and_the_digest_posts_once_space_is_back(
    harness: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    day = dt.date(2026, 6, 12)
    harness.hf.set_day(day, [long_item(i, day) for i in range(25)])
    await harness.scrape()
    sqlite_store = harness.store
    assert isinstance(sqlite_store, Store)  # the harness's default backend
    db = sqlite_store._db  # the bot's own connection: what it can write is what the test limits
    await db.execute("VACUUM")  # no free pages left to reuse (run while the bot's loops are asleep)
    result = await harness.discord.slash(
        "digest",
        "set",
        as_user=harness.admin,
        channel=harness.channel,
        time="09:00",
        timezone="UTC",
        top=25,
        style="cards",
    )
    assert result.ephemeral
    async with db.execute("PRAGMA page_count") as cursor:
        (pages,) = await cursor.fetchone()  # type: ignore[misc]
    await db.execute(f"PRAGMA max_page_count = {pages:d}")
    async with db.execute("PRAGMA freelist_count") as cursor:
        assert tuple(await cursor.fetchone() or ()) == (0,), "free pages would let the writes below succeed"
    # The database cannot grow now: the next day's papers and the digest intent do not fit.
    next_day = day + dt.timedelta(days=1)
    harness.hf.set_day(next_day, [long_item(100 + i, next_day) for i in range(25)])
    with caplog.at_level(logging.WARNING):
        harness.clock.set(dt.datetime(2026, 6, 13, 9, 0, tzinfo=dt.UTC))

        async def refused() -> bool:
            return any(
                "is full" in r.getMessage() or "is full" in str(r.exc_info and r.exc_info[1]) for r in caplog.records
            )

        await eventually(refused, what="the full disk to be reported")
        await wait_until(lambda: harness.clock.sleepers != [], what="the scheduler to go back to sleep")
    full = f"the disk holding {harness.store.path} is full: free space, then try again (no data was lost)"
    assert any(full in str(r.exc_info[1]) for r in caplog.records if r.exc_info), caplog.text
    assert "cannot rollback" not in caplog.text
    assert harness.discord.messages_in(harness.channel) == []
    assert await harness.store.get_delivery(harness.channel.id, "digest", day.isoformat()) is None
    assert await harness.store.check() == []
    # Space comes back; within a minute the scheduler looks again and posts the digest, once.
    await db.execute("PRAGMA max_page_count = 1073741823")
    harness.clock.advance(dt.timedelta(minutes=1))

    async def sent() -> bool:
        delivery = await harness.store.get_delivery(harness.channel.id, "digest", day.isoformat())
        return delivery is not None and delivery.status == "sent"

    await eventually(sent, what="the digest to be posted")
    delivery = await harness.store.get_delivery(harness.channel.id, "digest", day.isoformat())
    assert delivery is not None
    messages = harness.discord.messages_in(harness.channel)
    assert len(messages) == len(delivery.parts) and len({m.nonce for m in messages}) == len(messages)
    refused_writes = sum(1 for r in caplog.records if r.exc_info and "is full" in str(r.exc_info[1]))
    record_faults("full disk (refused writes)", refused_writes)
    check = db_check(write_db_config(harness))
    assert check.returncode == 0 and "ok" in check.stdout, check.stderr


def write_db_config(harness: BotHarness) -> Path:
    path = Path(harness.store.path).with_name("db-check.toml")
    path.write_text(f'[database]\npath = "{harness.store.path}"\n', encoding="utf-8")
    return path
