"""Digest fan-out: N channels due at the same minute, posted through the loopback Discord with its real
rate limits (5 messages per 5 s per channel, 50 requests per second globally).

Prints one JSON object: total time, messages per second and their share of the 50/s ceiling, 429s seen,
and whether every channel got exactly one digest. By default one bot runs in this process on SQLite.
With `--backend postgres --processes N`, real `paperboy run` processes (one shard each) share a throwaway
Postgres; each run also fans out with one SQLite process (side by side), and once more on Postgres with
the leader killed a third of the way through, which measures the failover.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.client import PaperBot  # noqa: E402
from bot.config import Config, DatabaseConfig, DiscordConfig, HuggingFaceConfig, ScraperConfig  # noqa: E402
from bot.models import DigestSettings  # noqa: E402
from bot.store import Store  # noqa: E402
from tests.fakes.clock import ManualClock  # noqa: E402
from tests.fakes.discord_server import FakeDiscord, point_discord_at  # noqa: E402
from tests.fakes.hf_items import make_daily_item  # noqa: E402
from tests.fakes.hf_server import FakeHuggingFace  # noqa: E402

log = logging.getLogger(__name__)

GLOBAL_CEILING = 50.0
DAY = dt.date(2026, 6, 12)
START = dt.datetime(2026, 6, 13, 8, 59, tzinfo=dt.UTC)
DUE = dt.datetime(2026, 6, 13, 9, 0, tzinfo=dt.UTC)


async def run_once(channels: int, workdir: Path) -> dict[str, float | int | bool]:
    """One fan-out of `channels` digests; returns its measurements."""
    discord_server = await FakeDiscord(interaction_deadline=None).start()
    hf = FakeHuggingFace()
    await hf.start()
    hf.set_day(DAY, [make_daily_item(f"2606.{i:05d}", f"Paper {i}", day=DAY, upvotes=100 - i) for i in range(10)])
    guild = discord_server.add_guild("Fanout")
    targets = [discord_server.add_text_channel(guild, f"c{i}") for i in range(channels)]
    config = Config(
        discord=DiscordConfig(
            token=discord_server.token, api_base=discord_server.api_base, gateway_url=discord_server.gateway_url
        ),
        database=DatabaseConfig(path=str(workdir / f"fanout-{time.monotonic_ns()}.db")),
        huggingface=HuggingFaceConfig(base_url=hf.base_url),
        # Only the fan-out is measured: no backfill, and no pacing of requests to the loopback source.
        scraper=ScraperConfig(backfill_days=0, max_requests_per_minute=60000),
    )
    store = await Store.open(config.database.path)
    for channel in targets:
        await store.save_digest_settings(
            DigestSettings(
                guild_id=guild.id, channel_id=channel.id, time=dt.time(9), timezone="UTC", effective_from=START
            )
        )
    clock = ManualClock(START)
    http_client = httpx.AsyncClient()
    with point_discord_at(discord_server):
        bot = PaperBot(config, store, http_client, clock=clock, guild_ready_timeout=0.5)
        await bot.login(config.discord.token)
        task = asyncio.create_task(bot.connect())
        await bot.wait_until_ready()
        refresher = bot.get_cog("ScraperCog").refresher  # type: ignore[union-attr]
        while refresher.finished_runs == 0:  # noqa: ASYNC110 - waits for the bot's first scrape pass
            await asyncio.sleep(0.01)
        await bot.scraper.scrape_day(DAY)
        posts_before = len(discord_server.requests_to("POST", r"/channels/\d+/messages$"))
        started = time.perf_counter()
        clock.set(DUE)
        for channel in targets:
            await discord_server.wait_for_messages(channel, 1, timeout=max(120.0, channels / 10))
        elapsed = time.perf_counter() - started
        posts = len(discord_server.requests_to("POST", r"/channels/\d+/messages$")) - posts_before
        await bot.close()
        await task
    exactly_once = all(len(discord_server.messages_in(c)) == 1 for c in targets)
    stats = discord_server.stats
    result = {
        "seconds": round(elapsed, 3),
        "messages_per_second": round(channels / elapsed, 2),
        "share_of_ceiling": round(channels / elapsed / GLOBAL_CEILING, 3),
        "post_requests": posts,
        "global_429": stats.rate_limited_global,
        "local_429": stats.rate_limited_local,
        "exactly_one_each": exactly_once,
    }
    await store.close()
    await http_client.aclose()
    await hf.stop()
    await discord_server.close()
    return result


async def main_async(channels: int, runs: int) -> dict[str, object]:
    """Several fan-outs; medians of the timings, worst case of the counts."""
    with tempfile.TemporaryDirectory() as tmp:
        results = [await run_once(channels, Path(tmp)) for _ in range(runs)]
    return {
        "benchmark": "fanout",
        "channels": channels,
        "runs": runs,
        "median_seconds": statistics.median(float(r["seconds"]) for r in results),
        "median_messages_per_second": statistics.median(float(r["messages_per_second"]) for r in results),
        "median_share_of_ceiling": statistics.median(float(r["share_of_ceiling"]) for r in results),
        "max_global_429": max(int(r["global_429"]) for r in results),
        "max_local_429": max(int(r["local_429"]) for r in results),
        "every_channel_exactly_one": all(bool(r["exactly_one_each"]) for r in results),
        "runs_detail": results,
    }


def _medians(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians of the timings of several runs, the worst case of the counts, and each run."""
    summary: dict[str, Any] = {
        "median_seconds": statistics.median(float(r["seconds"]) for r in results),
        "median_messages_per_second": statistics.median(float(r["messages_per_second"]) for r in results),
        "median_share_of_ceiling": statistics.median(float(r["share_of_ceiling"]) for r in results),
        "max_global_429": max(int(r["global_429"]) for r in results),
        "every_channel_exactly_one": all(bool(r["exactly_one_each"]) for r in results),
    }
    for key in ("failover_seconds", "resume_seconds"):
        if key in results[0]:
            summary[f"median_{key}"] = statistics.median(float(r[key]) for r in results)
    return summary | {"runs_detail": results}


async def processes_async(channels: int, runs: int, processes: int, start_within: float | None) -> dict[str, object]:
    """Each run: SQLite with one process, Postgres with `processes`, and Postgres again killing the leader."""
    from fanout_cluster import run_cluster

    from tests.fakes.postgres import start_server

    server = start_server()
    sqlite, postgres, failover = [], [], []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for _ in range(runs):
                common: dict[str, Any] = {"channels": channels, "workdir": Path(tmp), "start_within": start_within}
                sqlite.append(await run_cluster(backend="sqlite", processes=1, **common))
                url = server.create_database()
                postgres.append(await run_cluster(backend="postgres", processes=processes, url=url, **common))
                url = server.create_database()
                failover.append(
                    await run_cluster(backend="postgres", processes=processes, url=url, kill_leader=True, **common)
                )
    finally:
        server.stop()
    return {
        "benchmark": "fanout",
        "channels": channels,
        "runs": runs,
        "processes": processes,
        "due": "at once" if start_within is None else f"the first minute boundary at least {start_within:g} s away",
        "sqlite_1_process": _medians(sqlite),
        f"postgres_{processes}_processes": _medians(postgres),
        f"postgres_{processes}_processes_leader_killed": _medians(failover),
    }


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--channels", type=int, default=1000, help="channels due at the same minute")
    parser.add_argument("--runs", type=int, default=3, help="repetitions (medians are reported)")
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite", help="the database")
    parser.add_argument(
        "--processes", type=int, default=1, help="paperboy run processes, one shard each (more than 1: Postgres)"
    )
    parser.add_argument(
        "--start-within",
        type=float,
        default=20.0,
        help="with --backend postgres: seconds the processes get to start before the digests come due "
        "(the next minute boundary at least this far away; 0: due at once, as soon as the leader is up)",
    )
    args = parser.parse_args()
    if args.backend == "sqlite" and args.processes == 1:
        print(json.dumps(asyncio.run(main_async(args.channels, args.runs))))
    elif args.backend == "postgres":
        start_within = args.start_within or None
        print(json.dumps(asyncio.run(processes_async(args.channels, args.runs, args.processes, start_within))))
    else:
        parser.error("several processes need --backend postgres")


if __name__ == "__main__":
    main()
