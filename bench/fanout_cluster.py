"""Digest fan-out by real `paperboy run` processes: one on SQLite, or several (one shard each) on Postgres.

Used by `bench/fanout.py --backend postgres --processes N`. The settings are saved before the processes start,
due at the next minute boundary far enough away for every process to be up by then (or, for quick checks, at
the current minute: due as soon as the leader starts, while the others may still be starting); the fan-out is
timed from the first digest Discord accepted to the last. With
`kill_leader`, the leader gets SIGKILL a third of the way through, and the run also measures how long until
another process holds the leader lock and until posting resumes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import signal
import sys
import time
from pathlib import Path
from typing import Any

from bot import digest as schedule
from bot.models import DigestSettings
from bot.store import Store
from bot.store.postgres import PostgresStore
from bot.store.postgres.leader import PostgresLeaderLock
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.hf_items import make_daily_item
from tests.fakes.hf_server import FakeHuggingFace
from tests.fakes.process import BotProcess

log = logging.getLogger(__name__)

GLOBAL_CEILING = 50.0
POSTS = r"^/channels/\d+/messages$"
TIMEOUT = 300.0


def _config_text(discord: FakeDiscord, hf: FakeHuggingFace, database: str) -> str:
    return "\n".join(
        [
            "[discord]",
            f'api_base = "{discord.api_base}"',
            f'gateway_url = "{discord.gateway_url}"',
            "[database]",
            database,
            "[huggingface]",
            f'base_url = "{hf.base_url}"',
            "[scraper]",
            "backfill_days = 0",
            "max_requests_per_minute = 60000",
        ]
    )


async def _save_settings(store: Store | PostgresStore, channels: list[tuple[int, int]], due: dt.datetime) -> None:
    for guild_id, channel_id in channels:
        await store.save_digest_settings(
            DigestSettings(
                guild_id=guild_id,
                channel_id=channel_id,
                time=due.time(),
                timezone="UTC",
                effective_from=due - dt.timedelta(minutes=1),
            )
        )


def _due_time(start_within: float | None) -> dt.datetime:
    """The current minute (due at once), or the first minute boundary at least `start_within` s away."""
    now = dt.datetime.now(dt.UTC)
    if start_within is None:
        return now.replace(second=0, microsecond=0)
    due = now.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    return due if (due - now).total_seconds() >= start_within else due + dt.timedelta(minutes=1)


async def _leader_pid(url: str) -> int | None:
    leader = next((p for p in await PostgresLeaderLock(url).processes() if p.leader), None)
    return int(leader.name.rsplit(":", 1)[1]) if leader else None


async def _wait(condition: Any, what: str, discord: FakeDiscord) -> None:
    await discord.notifier.wait_for(condition, TIMEOUT, lambda: what)


async def _kill_leader(url: str, procs: list[BotProcess], discord: FakeDiscord, after: int) -> dict[str, float]:
    """SIGKILL the leader after `after` posts; seconds until a new leader and until posting resumes."""

    def posted() -> int:
        return sum(1 for r in discord.requests_to("POST", POSTS) if r.status == 200)

    await _wait(lambda: posted() >= after, f"{after} posts", discord)
    pid = await _leader_pid(url)
    victim = next(p for p in procs if p.process is not None and p.process.pid == pid)
    await victim.stop()
    killed_at, posts_at_kill = time.monotonic(), posted()
    successor = None
    while successor in (None, pid):
        await asyncio.sleep(0.05)  # polling the database: the successor is whoever next holds the lock
        successor = await _leader_pid(url)
    elected = time.monotonic() - killed_at
    await _wait(lambda: posted() > posts_at_kill, "posting to resume", discord)
    return {"failover_seconds": round(elected, 2), "resume_seconds": round(time.monotonic() - killed_at, 2)}


async def run_cluster(
    *,
    backend: str,
    processes: int,
    channels: int,
    workdir: Path,
    url: str = "",
    kill_leader: bool = False,
    start_within: float | None = None,
) -> dict[str, Any]:
    """One fan-out of `channels` digests by `processes` real processes; returns its measurements."""
    discord = await FakeDiscord(interaction_deadline=None).start()
    discord.recommended_shards = processes
    hf = FakeHuggingFace()
    await hf.start()
    guilds = [discord.add_guild(f"shard {s}", shard=(s, processes)) for s in range(processes)]
    targets = [discord.add_text_channel(guilds[i % processes], f"c{i}") for i in range(channels)]
    due = _due_time(start_within)
    day = schedule.papers_day_for(due.date(), due)
    hf.set_day(day, [make_daily_item(f"2606.{i:05d}", f"Paper {i}", day=day, upvotes=100 - i) for i in range(10)])
    stamp = time.monotonic_ns()
    store: Store | PostgresStore
    if backend == "postgres":
        database, store = f'url = "{url}"', await PostgresStore.open(url)
    else:
        path = workdir / f"fanout-{stamp}.db"
        database, store = f'path = "{path}"', await Store.open(path)
    await _save_settings(store, [(t.guild.id, t.id) for t in targets if t.guild is not None], due)
    await store.close()
    config = workdir / f"fanout-{stamp}.toml"
    config.write_text(_config_text(discord, hf, database) + "\n", encoding="utf-8")
    procs = []
    for shard in range(processes):
        run_args = ("--shard-count", str(processes), "--shard-ids", str(shard)) if processes > 1 else ()
        procs.append(await BotProcess(config, discord.token, workdir / f"fanout-{stamp}-{shard}.log", run_args).start())
    result: dict[str, Any] = {}
    try:
        if kill_leader:
            result |= await _kill_leader(url, procs, discord, channels // 3)
        await _wait(lambda: all(discord.messages_in(c) for c in targets), "every digest", discord)
        for proc in procs:
            if proc.process is not None and proc.process.returncode is None:
                proc.signal(signal.SIGTERM)
                await proc.wait(timeout=30)
    except BaseException:
        for proc in procs:  # what each process said, to see why the run failed
            print(f"--- {proc.log_path.name}\n{proc.output[-4000:]}", file=sys.stderr)
        raise
    finally:
        for proc in procs:
            await proc.stop()
    stamps = sorted(r.at for r in discord.requests_to("POST", POSTS) if r.status == 200)
    elapsed = stamps[-1] - stamps[0] if len(stamps) > 1 else 0.0
    rate = (len(stamps) - 1) / elapsed if elapsed else 0.0
    result |= {
        "backend": backend,
        "processes": processes,
        "seconds": round(elapsed, 3),
        "messages_per_second": round(rate, 2),
        "share_of_ceiling": round(rate / GLOBAL_CEILING, 3),
        "global_429": discord.stats.rate_limited_global,
        "local_429": discord.stats.rate_limited_local,
        "exactly_one_each": all(len(discord.messages_in(c)) == 1 for c in targets),
    }
    await hf.stop()
    await discord.close()
    return result
