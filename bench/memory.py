"""Memory and start of a real `paperboy run` over a synthetic cache of N papers; prints one JSON object.

Builds the cache (the search benchmark's corpus, known items planted, index not merged: as a bulk import
leaves it), starts `paperboy run` as a subprocess against the loopback Discord and Hugging Face, and measures
from outside (see bench/botrun.py): start to ready (process spawned → discord.py logs its gateway
connection), resident memory at ready, after the first scrape and the full-text index merge that follows it,
and after 100 searches made the way a member makes them (`/paper search` through the loopback Discord); the
first search right after ready against the 99 after it; and the event loop's longest hold seen through the
gateway heartbeats.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from botrun import MEMBER_QUERIES, READY_LINE, BotWorld, cached_cache, error_lines, stall_summary  # noqa: E402

log = logging.getLogger(__name__)

MERGED_LINE = r"search index merged in"
TITLE_INDEX_LINE = r"title index: \d+ titles in"
SCRAPE_LINE = r"bot\.services\.scraping: scrape:"


def _summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))], 1),
        "max_ms": round(ordered[-1], 1),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Build, start, measure, stop; the report."""
    with tempfile.TemporaryDirectory(prefix="paperboy-memory-") as tmp:
        workdir = Path(tmp)
        database = workdir / "paperboy.db"
        cache = await cached_cache(database, args.papers, keep_in=args.keep_cache)
        world = BotWorld(workdir, database)
        try:
            spawned = await world.start()
            ready = await world.logs.wait_for(READY_LINE, args.timeout)
            at_ready = world.memory()
            # The first search a member makes once the bot is up.
            first_ms = await world.search(MEMBER_QUERIES[0], within=args.timeout)
            merged = await world.logs.wait_for(MERGED_LINE, args.timeout)
            after_merge = world.memory()
            rest = [
                await world.search(MEMBER_QUERIES[i % len(MEMBER_QUERIES)], within=args.timeout)
                for i in range(1, args.searches)
            ]
            after_searches = world.memory()
            ended = time.monotonic()
            title_index = world.logs.first(TITLE_INDEX_LINE)
            scraped = world.logs.first(SCRAPE_LINE)
        finally:
            output = await world.stop()
    return {
        "benchmark": "memory",
        "papers": cache["papers"],
        "cache_build_seconds": cache["build_seconds"],
        "cache_copied_from": cache.get("copied_from"),
        "start_to_ready_seconds": round(ready - spawned, 2),
        "title_index_built_seconds_after_start": round(title_index - spawned, 2) if title_index else None,
        "first_scrape_seconds_after_start": round(scraped - spawned, 2) if scraped else None,
        "index_merged_seconds_after_start": round(merged - spawned, 2),
        "memory_mib": {
            "at_ready": at_ready,
            "after_scrape_and_merge": after_merge,
            f"after_{args.searches}_searches": after_searches,
        },
        "first_search_after_ready_ms": round(first_ms, 1),
        "other_searches": _summary(rest),
        "searches": args.searches,
        "loop_stalls_from_ready": stall_summary(world.heartbeat_delays_ms(ready, ended)),
        "measuring_process_longest_lag_ms": round(max(world.own_lag_ms, default=0.0), 1),
        "cant_keep_up_warnings": output.count("Can't keep up"),
        "tracebacks_in_log": output.count("Traceback"),
        "errors_in_log": error_lines(output),
        "method": (
            "paperboy run as a subprocess against the loopback fakes; RSS from /proc/PID/status; search times "
            "from the fake Discord sending /paper search to the bot's answer; loop stalls are gateway "
            "heartbeats (every 50 ms) arriving late: a delay d means the loop was held between d and d + 50 ms"
        ),
        "targets": {"after_scrape_merge_100_searches_mib_100k": 150, "after_mib_1m": 400, "ready_seconds_1m": 3},
    }


def main() -> None:
    """Parse arguments, run, print one JSON object."""
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--papers", type=int, default=100_000, help="papers in the synthetic cache (1M: 1000000)")
    parser.add_argument("--searches", type=int, default=100, help="member searches made (the first one timed apart)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for each step of the bot")
    parser.add_argument(
        "--keep-cache",
        type=Path,
        help="keep the built cache in this folder and start from a copy of it on later runs (same size)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print(json.dumps(asyncio.run(run(args)), indent=2))


if __name__ == "__main__":
    main()
