"""Interactivity of a real `paperboy run`: searches idle and during an alert pass over recently listed papers, and
the event loop's longest hold from start to the first search; prints one JSON object.

The cache holds N papers (default 300,000) of which the last `--listed` were stored (listed on Daily Papers)
a moment after the rest. The bot starts with its alert cursor past all of them and three standing alerts in
#papers. After ready, one member search is timed, the first scrape's index merge is waited for, then
`--idle-searches` searches are timed back to back (idle). Then, from outside, the alert cursor is set back
to just before the listed papers, as after a bulk import or a large backfill, and new papers are put on the
loopback Daily Papers list: the bot's next scrape runs an alert pass that reads every one of them.
Searches go on back to back until the bot logs that pass's result, or for `--pass-window` seconds after
the scrape that starts it (a pass still running then is reported as not finished); those sent after that
scrape's log line and answered before the pass ended (or the window did) are the searches "during the pass".

Event-loop holds are measured without changing the bot: by the gateway heartbeats (see bench/botrun.py),
and with `--asyncio-debug` also by asyncio's own debug mode (PYTHONASYNCIODEBUG=1 in the bot's environment),
which logs every callback or task step that held the loop over `--slow-step-ms` (asyncio's own default is
100 ms), with its name. Debug mode slows the bot, so its search figures are not comparable with a run without it.

With `--probe`, bench/probe/sitecustomize.py is loaded into the bot's interpreter (the bot's code is unchanged)
and records the garbage collector's pauses and the event loop's lateness as the bot itself sees it (a timer
every 10 ms), both on the clock the heartbeats are stamped with; the report then says how much of the
heartbeats' lateness during the pass fell inside a collection.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import os
import re
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from botrun import HEARTBEAT_SECONDS, MEMBER_QUERIES, READY_LINE, BotWorld, cached_cache, error_lines, stall_summary  # noqa: E402

from bot.alerts import CURSOR_KEY, ListingCursor, check_alert_query  # noqa: E402
from bot.alerts._cursor import CURSOR_OVERLAP  # noqa: E402
from bot.store import Store  # noqa: E402

log = logging.getLogger(__name__)

MERGED_LINE = r"search index merged in"
PASS_COUNT = re.compile(r"alerts: .* for (\d+) listed")
NEW_PAPERS_SCRAPE = r"bot\.services\.scraping: scrape: .* [1-9]\d* new"
SLOW_STEP = re.compile(r"Executing (.*) took (\d+\.\d+) seconds")
PROBE_DIR = Path(__file__).resolve().parent / "probe"
ALERTS = ("fresh diffusion agents", 'title:"gaussian splatting" upvotes:>=100', "hallucination code:yes upvotes:>=50")


def _summary(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    ordered = sorted(values)
    return {
        "count": len(ordered),
        "p50_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))], 1),
        "max_ms": round(ordered[-1], 1),
    }


def _cursor_text(instant: str) -> str:
    """An alert cursor whose next pass reads every listing from `instant` on."""
    at = dt.datetime.fromisoformat(instant) + CURSOR_OVERLAP
    return ListingCursor(at=at.isoformat(timespec="seconds")).to_text()


async def _prepare(world: BotWorld) -> None:
    """Alerts in #papers, and the cursor past every paper stored so far."""
    store = await Store.open(world.database)
    try:
        await store.set_meta(CURSOR_KEY, _cursor_text(dt.datetime.now(dt.UTC).isoformat(timespec="seconds")))
        for query in ALERTS:
            await store.add_subscription(
                guild_id=world.discord.guild.id,
                channel_id=world.discord.papers.id,
                query=query,
                normalized=check_alert_query(query).normalized(),
                created_by=world.discord.admin.id,
                max_per_channel=25,
                max_per_guild=100,
            )
    finally:
        await store.close()


async def _set_cursor(world: BotWorld, instant: str) -> None:
    store = await Store.open(world.database, migrate=False)
    try:
        await store.set_meta(CURSOR_KEY, _cursor_text(instant))
    finally:
        await store.close()


def _heavy_pass(world: BotWorld, after: float, listed: int) -> float | None:
    """When the bot logged an alert pass over at least `listed` listed papers (after `after`), or None."""
    for at, line in world.logs.lines:
        found = PASS_COUNT.search(line)
        if at >= after and found and int(found.group(1)) >= listed:
            return at
    return None


def _light_pass(world: BotWorld, after: float, listed: int) -> bool:
    """Whether the bot logged an alert pass over fewer than `listed` papers after `after`."""
    for at, line in world.logs.lines:
        found = PASS_COUNT.search(line)
        if at >= after and found and int(found.group(1)) < listed:
            return True
    return False


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Build, start, measure idle and during the pass, stop; the report."""
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    if args.asyncio_debug:
        os.environ["PYTHONASYNCIODEBUG"] = "1"  # read by the bot's interpreter only: this loop already runs
    with tempfile.TemporaryDirectory(prefix="paperboy-stalls-") as tmp:
        workdir = Path(tmp)
        if args.probe or args.asyncio_debug:
            # Read by the bot's interpreter as it starts (see bench/probe/sitecustomize.py).
            os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROBE_DIR), os.environ.get("PYTHONPATH")]))
            os.environ["BENCH_PROBE_OUT"] = str(workdir / "probe.json")
            os.environ["BENCH_SLOW_CALLBACK"] = str(args.slow_step_ms / 1000)
        database = workdir / "paperboy.db"
        cache = await cached_cache(
            database, args.papers, listed_last=min(args.listed, args.papers), keep_in=args.keep_cache
        )
        world = BotWorld(workdir, database, interval_minutes=args.scrape_minutes)
        await _prepare(world)
        try:
            spawned = await world.start()
            ready = await world.logs.wait_for(READY_LINE, args.timeout)
            first_ms = await world.search(MEMBER_QUERIES[0], within=args.timeout)
            first_done = time.monotonic()
            merged = await world.logs.wait_for(MERGED_LINE, args.timeout)
            idle = [await world.search(MEMBER_QUERIES[i % len(MEMBER_QUERIES)]) for i in range(args.idle_searches)]
            if args.census:
                os.kill(world.pid, signal.SIGUSR1)  # a census of the collector's objects before the pass
            census_at = float("inf")
            if not args.no_pass:
                await _set_cursor(world, cache["listed_after"])
            world.publish(5)
            triggered = time.monotonic()
            timed: list[tuple[float, float]] = []
            listed = min(args.listed, args.papers)
            window_end = float("inf")
            while (passed := _heavy_pass(world, triggered, listed)) is None and time.monotonic() < window_end:
                if time.monotonic() - triggered > args.timeout:
                    raise TimeoutError("the scrape that starts the alert pass did not come in time")
                if not args.no_pass and _light_pass(world, triggered, listed):
                    # A pass under way when the cursor was set back wrote its own cursor over it: again.
                    await _set_cursor(world, cache["listed_after"])
                    world.publish(1)
                    triggered = time.monotonic()
                if window_end == float("inf") and (began := world.logs.first(NEW_PAPERS_SCRAPE, after=triggered)):
                    window_end = began + args.pass_window
                    census_at = began + args.pass_window / 2
                if args.census and time.monotonic() > census_at:
                    os.kill(world.pid, signal.SIGUSR1)  # and halfway through the pass's window
                    census_at = float("inf")
                started = time.monotonic()
                timed.append((started, await world.search(MEMBER_QUERIES[len(timed) % len(MEMBER_QUERIES)])))
            finished = passed is not None
            # The pass starts after the scrape that stores the new papers (or at the trigger, if that came later).
            scraped = max(triggered, world.logs.first(NEW_PAPERS_SCRAPE, after=triggered) or triggered)
            passed = passed if passed is not None else time.monotonic()
            during = [ms for started, ms in timed if started >= scraped and started + ms / 1000 <= passed]
            ended = time.monotonic()
        finally:
            output = await world.stop()
        probe_path = workdir / "probe.json"
        probe = json.loads(probe_path.read_text()) if probe_path.exists() else None
        if probe is not None and args.probe_record is not None:
            args.probe_record.write_text(json.dumps({**probe, "heartbeats": world.stats.heartbeat_times}))
    idle_summary, during_summary = _summary(idle), _summary(during)
    slow_steps = sorted(((float(s), name[:160]) for name, s in SLOW_STEP.findall(output)), reverse=True)
    report: dict[str, Any] = {
        "benchmark": "stalls",
        "papers": cache["papers"],
        "listed_papers_read_by_the_pass": min(args.listed, args.papers),
        "load_average_at_start_and_end": [load_at_start, [round(x, 2) for x in os.getloadavg()]],
        "control_run_without_a_pass": args.no_pass,
        "cache_build_seconds": cache["build_seconds"],
        "cache_copied_from": cache.get("copied_from"),
        "start_to_ready_seconds": round(ready - spawned, 2),
        "first_search_after_ready_ms": round(first_ms, 1),
        "longest_loop_hold_start_to_first_search": stall_summary(world.heartbeat_delays_ms(spawned, first_done)),
        "longest_loop_hold_start_to_index_merged": stall_summary(world.heartbeat_delays_ms(spawned, merged)),
        "idle_searches": idle_summary,
        "searches_during_alert_pass": during_summary,
        "alert_pass_finished": finished,
        "alert_pass_seconds": round(passed - scraped, 2),
        "p95_during_over_idle": (
            round(during_summary["p95_ms"] / idle_summary["p95_ms"], 2) if during_summary and idle_summary else None
        ),
        "longest_loop_hold_during_pass": stall_summary(world.heartbeat_delays_ms(scraped, passed)),
        "longest_loop_hold_whole_run": stall_summary(world.heartbeat_delays_ms(spawned, ended)),
        "measuring_process_longest_lag_ms": round(max(world.own_lag_ms, default=0.0), 1),
        "cant_keep_up_warnings": output.count("Can't keep up"),
        "tracebacks_in_log": output.count("Traceback"),
        "errors_in_log": error_lines(output),
        "method": (
            "paperboy run as a subprocess against the loopback fakes; search times from the fake Discord sending "
            "/paper search to the bot's answer; loop holds are gateway heartbeats (every 50 ms) arriving late: a "
            "delay d means the loop was held between d and d + 50 ms (from the gateway connection on; the "
            "process's start before it is in start_to_ready_seconds)"
        ),
        "targets": {"p95_during_over_idle": 2.0, "longest_loop_hold_ms": 100},
    }
    if args.probe:
        report["probe"] = (
            probe_summary(probe, world.stats.heartbeat_times, scraped, passed) if probe else "no record written"
        )
    if args.asyncio_debug:
        report["asyncio_debug_slow_steps"] = {
            "threshold_ms": args.slow_step_ms,
            "count_over_threshold": len(slow_steps),
            "longest": [{"seconds": s, "step": name} for s, name in slow_steps[:8]],
        }
    return report


def probe_summary(probe: dict[str, Any], heartbeats: list[float], start: float, end: float) -> dict[str, Any]:
    """The bot's own record during [start, end]: its collections, its loop's late ticks, and how much of the
    heartbeats' lateness (beyond 50 ms late) fell inside a collection."""
    pauses = [(c["at"], c["at"] + c["ms"] / 1000, c) for c in probe["collections"] if start <= c["at"] <= end]
    late = sorted(ms for at, ms, *_ in probe["late_ticks"] if start <= at <= end)
    held_ms = in_gc_ms = 0.0
    late_beats = explained = 0
    for earlier, later in zip(heartbeats, heartbeats[1:], strict=False):
        delay = later - earlier - HEARTBEAT_SECONDS
        if not start <= later <= end or delay <= 0.05:
            continue
        late_beats += 1
        window = (earlier + HEARTBEAT_SECONDS, later)  # when the heartbeat was due until it came
        overlap = sum(max(0.0, min(b, window[1]) - max(a, window[0])) for a, b, _ in pauses)
        held_ms += delay * 1000
        in_gc_ms += overlap * 1000
        explained += overlap >= delay / 2
    full = [c for _, _, c in pauses if c["generation"] == 2]
    late_ticks = [(at, ms, waits) for at, ms, *waits in probe["late_ticks"] if start <= at <= end and ms > 50]
    # A tick `ms` late ran at `at`: the loop was held in the `ms` before it.
    in_gc = [
        sum(max(0.0, min(b, at) - max(a, at - ms / 1000)) for a, b, _ in pauses) >= ms / 2000
        for at, ms, _ in late_ticks
    ]
    # Not in a collection, but some thread of the bot waited, runnable, for a processor for half the time or more.
    waiting = [not gc_held and max(waits) >= ms / 2 for (_, ms, waits), gc_held in zip(late_ticks, in_gc, strict=True)]
    return {
        "collections_1ms_or_more": len(pauses),
        "collection_ms_total": round(sum(c["ms"] for _, _, c in pauses), 1),
        "longest_collection_ms": max((c["ms"] for _, _, c in pauses), default=0.0),
        "full_collections": [
            {"after_s": round(c["at"] - start, 2), "ms": c["ms"], "thread": c["thread"]} for c in full[:12]
        ],
        "full_collection_count": len(full),
        "whole_run_totals_by_generation": probe["totals"],
        "thresholds_at_exit": probe["thresholds"],
        "frozen_objects_at_exit": probe["frozen_at_exit"],
        "censuses": [
            {**{k: v for k, v in c.items() if k != "at"}, "after_s": round(c["at"] - start, 1)}
            for c in probe["censuses"]
        ],
        "loop_late_ticks": {
            "longest_ms": late[-1] if late else 0.0,
            "over_50_ms": sum(ms > 50 for ms in late),
            "over_100_ms": sum(ms > 100 for ms in late),
            "over_50_ms_half_or_more_inside_a_collection": sum(in_gc),
            "over_50_ms_else_half_or_more_waiting_for_a_processor": sum(waiting),
            "over_50_ms_neither": len(late_ticks) - sum(in_gc) - sum(waiting),
        },
        "heartbeats_over_50_ms_late": late_beats,
        "of_them_half_or_more_inside_a_collection": explained,
        "their_lateness_ms": round(held_ms, 1),
        "of_it_inside_a_collection_ms": round(in_gc_ms, 1),
    }


def main() -> None:
    """Parse arguments, run, print one JSON object."""
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--papers", type=int, default=300_000, help="papers in the synthetic cache (1M: 1000000)")
    parser.add_argument("--listed", type=int, default=300_000, help="recently listed papers the alert pass reads")
    parser.add_argument("--idle-searches", type=int, default=40, help="searches timed before the pass")
    parser.add_argument(
        "--pass-window",
        type=float,
        default=120.0,
        help="seconds of searching during the alert pass at most (a pass still running then is reported so)",
    )
    parser.add_argument("--scrape-minutes", type=float, default=0.5, help="the bot's scrape interval")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for each step of the bot")
    parser.add_argument(
        "--asyncio-debug", action="store_true", help="also run the bot in asyncio debug mode and list its slow steps"
    )
    parser.add_argument(
        "--slow-step-ms", type=float, default=50.0, help="with --asyncio-debug: log the bot's steps longer than this"
    )
    parser.add_argument(
        "--probe", action="store_true", help="record the bot's garbage collections and loop lateness from inside"
    )
    parser.add_argument(
        "--census",
        action="store_true",
        help="with --probe: count the collector's objects by type before and halfway through the pass (this "
        "holds the bot's loop for a moment, seen as one late heartbeat)",
    )
    parser.add_argument(
        "--no-pass",
        action="store_true",
        help="a control run: the same searches for the same window, without setting the alert cursor back (no pass)",
    )
    parser.add_argument("--probe-record", type=Path, help="with --probe: also keep its whole record (JSON) here")
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
