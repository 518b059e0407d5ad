"""Three real `paperboy run` processes, one shard each, on one Postgres against the loopback Discord.

Every process answers the interactions of its own shard's guilds; exactly one, the leader, posts digests
and alerts. Killing the leader with SIGKILL in the middle of a fan-out must lose and double nothing, and
another process must take over within 30 s.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot import digest as schedule
from bot.alerts import BATCH_KIND, CURSOR_KEY, ListingCursor, check_alert_query
from bot.models import DigestSettings
from bot.store.postgres import PostgresStore
from bot.store.postgres.leader import PostgresLeaderLock
from tests.fakes.discord_model import FakeChannel, FakeGuild, FakeMember
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.harness import eventually
from tests.fakes.hf_items import make_daily_item
from tests.fakes.hf_server import FakeHuggingFace
from tests.fakes.process import BotProcess

SHARDS = 3
CHANNELS = 300
FAILOVER_LIMIT = 30.0  # seconds from the leader's death to its successor
POSTS = r"^/channels/\d+/messages$"
ALERT_QUERY = "failover"


@dataclasses.dataclass
class Cluster:
    """The loopback servers, the database, one guild per shard, and the running processes by shard."""

    discord: FakeDiscord
    hf: FakeHuggingFace
    url: str
    tmp_path: Path
    config: Path
    due: dt.datetime
    guilds: list[FakeGuild]
    admins: list[FakeMember]
    processes: dict[int, BotProcess] = dataclasses.field(default_factory=dict)
    channels: list[FakeChannel] = dataclasses.field(default_factory=list)

    @property
    def papers_day(self) -> dt.date:
        return schedule.papers_day_for(self.due.date(), self.due)

    async def start(self, shard_id: int) -> BotProcess:
        """Start the process running one shard."""
        run_args = ("--shard-count", str(SHARDS), "--shard-ids", str(shard_id))
        process = BotProcess(self.config, self.discord.token, self.tmp_path / f"shard-{shard_id}.log", run_args)
        self.processes[shard_id] = await process.start()
        return process

    async def start_all(self) -> None:
        for shard_id in range(SHARDS):
            await self.start(shard_id)

    async def stop_all(self) -> dict[int, int | None]:
        """SIGTERM every process still running and wait for it; the exit codes by shard."""
        codes: dict[int, int | None] = {}
        for shard_id, process in self.processes.items():
            assert process.process is not None
            if process.process.returncode is None:
                process.signal(signal.SIGTERM)
                try:
                    codes[shard_id] = await process.wait(timeout=30)
                finally:
                    await process.stop()
            else:
                codes[shard_id] = process.process.returncode
        return codes

    async def leader(self) -> int | None:
        """The shard of the process holding the leader lock right now (None: nobody)."""
        leader = next((p for p in await PostgresLeaderLock(self.url).processes() if p.leader), None)
        if leader is None:
            return None
        pid = int(leader.name.rsplit(":", 1)[1])
        return next((shard for shard, p in self.processes.items() if p.process and p.process.pid == pid), None)

    async def wait_for_leader(self, timeout: float, other_than: int | None = None) -> int:
        found: list[int] = []

        async def elected() -> bool:
            shard = await self.leader()
            if shard is not None and shard != other_than:
                found.append(shard)
            return bool(found)

        await eventually(elected, timeout=timeout, what="a leader")
        return found[0]

    def completed_posts(self) -> int:
        return sum(1 for r in self.discord.requests_to("POST", POSTS) if r.status == 200)

    def missing(self) -> list[FakeChannel]:
        return [c for c in self.channels if not self.discord.messages_in(c)]

    async def open_store(self) -> PostgresStore:
        return await PostgresStore.open(self.url)

    async def open_deliveries(self) -> list[Any]:
        store = await self.open_store()
        try:
            return await store.open_deliveries(["digest", BATCH_KIND])
        finally:
            await store.close()

    def add_channels(self, count: int) -> list[FakeChannel]:
        """`count` channels spread over the guilds (so over the shards)."""
        added = [
            self.discord.add_text_channel(self.guilds[i % SHARDS], f"c{len(self.channels) + i}") for i in range(count)
        ]
        self.channels += added
        return added

    async def kill_leader_mid_fan_out(self, after_posts: int) -> tuple[int, float]:
        """SIGKILL the leader once `after_posts` posts went through; its shard and the failover time."""
        await self.discord.notifier.wait_for(
            lambda: self.completed_posts() >= after_posts, 60, lambda: f"{after_posts} posts"
        )
        leader = await self.leader()
        assert leader is not None
        await self.processes[leader].stop()  # SIGKILL
        killed_at = time.monotonic()
        assert len(self.missing()) > 0, "the kill should come in the middle of the fan-out"
        successor = await self.wait_for_leader(FAILOVER_LIMIT, other_than=leader)
        return successor, time.monotonic() - killed_at

    def process_log(self) -> str:
        return "\n".join(f"--- shard {s}\n{p.output[-3000:]}" for s, p in self.processes.items())


def write_cluster_config(path: Path, discord: FakeDiscord, hf: FakeHuggingFace, url: str) -> Path:
    path.write_text(
        "\n".join(
            [
                "[discord]",
                f'api_base = "{discord.api_base}"',
                f'gateway_url = "{discord.gateway_url}"',
                "[database]",
                f'url = "{url}"',
                "[huggingface]",
                f'base_url = "{hf.base_url}"',
                "[scraper]",
                "interval_minutes = 0.05",
                "backfill_days = 1",
                "max_requests_per_minute = 6000",
                "[alerts]",
                "hourly_cap_per_channel = 1000",
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture
async def cluster(tmp_path: Path, postgres_url: str) -> AsyncIterator[Cluster]:
    discord = FakeDiscord(interaction_deadline=10.0)
    discord.recommended_shards = SHARDS
    guilds = [discord.add_guild(f"shard {shard}", shard=(shard, SHARDS)) for shard in range(SHARDS)]
    admins = [discord.add_member(guild, f"admin{n}", admin=True) for n, guild in enumerate(guilds)]
    await discord.start()
    hf = FakeHuggingFace()
    await hf.start()
    due = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    config = write_cluster_config(tmp_path / "config.toml", discord, hf, postgres_url)
    created = Cluster(discord, hf, postgres_url, tmp_path, config, due, guilds, admins)
    hf.set_day(
        created.papers_day,
        [
            make_daily_item(f"2606.{i:05d}", f"Paper {i} on failover", day=created.papers_day, upvotes=10 + i)
            for i in range(5)
        ],
    )
    store = await created.open_store()  # creates the schema before any process starts
    await store.close()
    try:
        yield created
    finally:
        for process in created.processes.values():
            await process.stop()
        await hf.stop()
        await discord.close()


async def add_digests(cluster: Cluster, count: int) -> None:
    store = await cluster.open_store()
    try:
        for channel in cluster.add_channels(count):
            assert channel.guild is not None
            settings = DigestSettings(
                guild_id=channel.guild.id,
                channel_id=channel.id,
                time=cluster.due.time(),
                timezone="UTC",
                top=3,
                effective_from=cluster.due - dt.timedelta(minutes=1),
            )
            await store.save_digest_settings(settings)
    finally:
        await store.close()


async def add_alerts(cluster: Cluster, count: int) -> None:
    store = await cluster.open_store()
    try:
        cursor = ListingCursor(at=await store.last_listed_at() or "")
        await store.set_meta(CURSOR_KEY, cursor.to_text())
        for channel in cluster.add_channels(count):
            assert channel.guild is not None
            await store.add_subscription(
                guild_id=channel.guild.id,
                channel_id=channel.id,
                query=ALERT_QUERY,
                normalized=check_alert_query(ALERT_QUERY).normalized(),
                created_by=1,
                max_per_channel=25,
                max_per_guild=1000,
            )
    finally:
        await store.close()


async def settle(cluster: Cluster) -> None:
    await cluster.discord.notifier.wait_for(
        lambda: not cluster.missing(), 90, lambda: f"every channel served ({len(cluster.missing())} missing)"
    )

    async def nothing_open() -> bool:
        return await cluster.open_deliveries() == []

    await eventually(nothing_open, timeout=30, what="no open deliveries")


@pytest.mark.slow
@pytest.mark.timeout(300)  # three bot processes and Postgres on a shared machine
async def test_killing_the_leader_mid_digest_fan_out_loses_and_doubles_nothing(cluster: Cluster) -> None:
    await add_digests(cluster, CHANNELS)
    await cluster.start_all()
    first = await cluster.wait_for_leader(30)
    successor, failover = await cluster.kill_leader_mid_fan_out(after_posts=CHANNELS // 3)
    assert successor != first and failover < FAILOVER_LIMIT
    await settle(cluster)
    counts = [len(cluster.discord.messages_in(c)) for c in cluster.channels]
    assert counts == [1] * CHANNELS, cluster.process_log()
    assert cluster.discord.stats.rate_limited_global == 0
    # The posts the dead leader had attempted were looked up in their channels before being sent again.
    assert cluster.discord.requests_to("GET", POSTS) != []
    codes = await cluster.stop_all()
    assert codes.pop(first) == -signal.SIGKILL
    assert set(codes.values()) == {0}, cluster.process_log()


@pytest.mark.slow
@pytest.mark.timeout(300)  # three bot processes and Postgres on a shared machine
async def test_killing_the_leader_mid_alert_pass_loses_and_doubles_nothing(cluster: Cluster) -> None:
    await add_alerts(cluster, CHANNELS)
    today = dt.datetime.now(dt.UTC).date()
    items = [make_daily_item(f"2612.{i:05d}", f"Failover study {i}", day=today, upvotes=i) for i in range(2)]
    cluster.hf.set_day(today, items)
    await cluster.start_all()
    first = await cluster.wait_for_leader(30)
    successor, failover = await cluster.kill_leader_mid_fan_out(after_posts=CHANNELS // 3)
    assert successor != first and failover < FAILOVER_LIMIT
    await settle(cluster)
    for channel in cluster.channels:
        text = "\n".join(m.text for m in cluster.discord.messages_in(channel))
        assert [text.count(f"/papers/{item['paper']['id']})") for item in items] == [1, 1], channel.name
    assert cluster.discord.stats.rate_limited_global == 0
    await cluster.stop_all()


def answering_process(text: str) -> tuple[str, str]:
    """From /paperboy status: the process that answered (its name and shards) and the leader."""
    this = re.search(r"(\S+:\d+) \(this one\): (shard \d+ of \d+)", text)
    leader = re.search(r"Leader\W+(\S+:\d+)", text)
    assert this is not None and leader is not None, text
    return f"{this.group(1)} {this.group(2)}", leader.group(1)


@pytest.mark.slow
@pytest.mark.timeout(300)  # three bot processes and Postgres on a shared machine
async def test_each_process_answers_its_own_guilds_and_the_leader_acts_on_a_followers_settings(
    cluster: Cluster,
) -> None:
    await cluster.start_all()
    leader = await cluster.wait_for_leader(30)
    await cluster.discord.notifier.wait_for(
        lambda: len(cluster.discord.gateway.shards_identified) == SHARDS and cluster.discord.global_commands != [],
        60,
        lambda: "every shard connected and the commands synced",
    )
    leaders = set()
    for shard_id, guild in enumerate(cluster.guilds):
        channel = cluster.discord.add_text_channel(guild, f"status-{shard_id}")
        result = await cluster.discord.slash("paperboy", "status", as_user=cluster.admins[shard_id], channel=channel)
        process = cluster.processes[shard_id].process
        assert process is not None
        answered_by, named_leader = answering_process(result.message.text if result.message else "")
        assert answered_by.endswith(f":{process.pid} shard {shard_id} of {SHARDS}")
        leaders.add(named_leader)
    assert len(leaders) == 1 and leaders.pop().endswith(f":{cluster.processes[leader].process.pid}")  # type: ignore[union-attr]
    assert cluster.discord.internal_errors == []
    # A digest set in a follower's guild (so through the follower) is posted by the leader, now.
    follower = (leader + 1) % SHARDS
    channel = cluster.discord.add_text_channel(cluster.guilds[follower], "set-by-follower")
    while True:
        before = dt.datetime.now(dt.UTC)
        result = await cluster.discord.slash(
            "digest", "set", as_user=cluster.admins[follower], channel=channel, time=f"{before:%H:%M}"
        )
        assert result.ephemeral
        # The digest is due now only if the follower saved it within that same minute: else set it again.
        if dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) == before.replace(second=0, microsecond=0):
            break
    messages = await cluster.discord.wait_for_messages(channel, 1, timeout=15)
    assert "Paper" in messages[0].text or messages[0].embeds
    assert set((await cluster.stop_all()).values()) == {0}, cluster.process_log()


@pytest.mark.slow
@pytest.mark.timeout(300)  # three bot processes and Postgres on a shared machine
def test_the_fanout_benchmark_runs_three_processes_on_postgres_beside_sqlite() -> None:
    script = Path(__file__).resolve().parents[1] / "bench" / "fanout.py"
    args = ["--backend", "postgres", "--processes", "3", "--channels", "30", "--runs", "1", "--start-within", "0"]
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, str(script), *args], capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    for variant in ("sqlite_1_process", "postgres_3_processes", "postgres_3_processes_leader_killed"):
        assert result[variant]["every_channel_exactly_one"] and result[variant]["max_global_429"] == 0, done.stdout
    assert 0 < result["postgres_3_processes_leader_killed"]["median_failover_seconds"] < FAILOVER_LIMIT, done.stdout
