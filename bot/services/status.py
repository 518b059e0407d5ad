"""What /paperboy status reports about the cache and the scraper, as text (no Discord types)."""

from __future__ import annotations

import datetime as dt
import logging

from bot.models import ProcessStatus, ScrapeRun
from bot.render import plural
from bot.render.status import StatusValue
from bot.scrape import FAILED_OUTCOMES
from bot.store import AnyStore

log = logging.getLogger(__name__)


def humanize_delta(delta: dt.timedelta) -> str:
    """A short human duration like '3 h 5 min' or '42 s'."""
    seconds = int(abs(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{minutes} min" if minutes else ""]
    text = " ".join(p for p in parts if p)
    return text or f"{seconds} s"


OUTCOME_TEXT = {
    "markup_changed": "likely markup change on the source (no papers could be parsed)",
    "failed": "failed",
}
RECENT_RUNS = 20  # enough to cover every day of the latest scrape pass


def describe_run(run: ScrapeRun) -> str:
    """A scrape run's outcome in words, with its error."""
    text = OUTCOME_TEXT.get(run.outcome, run.outcome)
    return text + (f" ({run.error})" if run.error else "")


def failing_days(runs: list[ScrapeRun]) -> list[ScrapeRun]:
    """The days whose latest run (among `runs`, newest first) failed, newest day first."""
    latest: dict[dt.date | None, ScrapeRun] = {}
    for run in runs:
        latest.setdefault(run.day, run)
    failed = [run for run in latest.values() if run.outcome in FAILED_OUTCOMES]
    return sorted(failed, key=lambda run: str(run.day), reverse=True)


def describe_result(run: ScrapeRun) -> str:
    """How the latest scrape went: 'ok: 12 papers of 13 Jun, 3 new', or its failure."""
    if run.outcome not in ("ok", "empty") or run.day is None:
        return describe_run(run)
    day = f"{run.day.day} {run.day:%b}"
    if run.outcome == "empty":
        return f"no papers listed for {day} yet"
    return f"ok: {plural(run.fetched, 'paper')} of {day}, {run.new:,} new"


async def cache_fields(store: AnyStore, next_scrape_at: dt.datetime | None) -> dict[str, StatusValue]:
    """The cache and scraper lines of the status: papers, newest day, last and next scrape (as datetimes)."""
    counts = await store.counts()
    newest = await store.newest_day()
    last = await store.last_scrape_run()
    # Freshness first: what a member asks the status is whether today's papers are in.
    return {
        "Newest day cached": f"{newest:%a} {newest.day} {newest:%b %Y}" if newest else "none yet",
        "Last scrape": last.finished if last else "never",
        "Next scrape": next_scrape_at or "not scheduled",
        "Last scrape result": describe_result(last) if last else "—",
        "Papers cached": f"{plural(counts.papers, 'paper')} over {plural(counts.days, 'day')}",
    }


async def source_problems(store: AnyStore) -> str | None:
    """The days whose latest scrape failed (at most three), or None."""
    failing = failing_days(await store.scrape_runs(limit=RECENT_RUNS))
    if not failing:
        return None
    return "\n".join(f"{run.day}: {describe_run(run)}; cached papers kept" for run in failing[:3])


def describe_shards(process: ProcessStatus) -> str:
    """'shards 0, 1 of 4' (or 'shard 2 of 4', 'all 3 shards')."""
    if len(process.shard_ids) == process.shard_count and process.shard_count > 1:
        return f"all {process.shard_count} shards"
    noun = "shard" if len(process.shard_ids) == 1 else "shards"
    return f"{noun} {', '.join(str(shard) for shard in process.shard_ids)} of {process.shard_count}"


def process_fields(processes: list[ProcessStatus], now: dt.datetime) -> dict[str, StatusValue]:
    """The Leader and Processes lines: which process runs the scheduled work, and each one's shards."""
    leader = next((p for p in processes if p.leader), None)
    if leader is None:
        leader_text = "none right now: another process takes over within seconds"
    else:
        leader_text = leader.name + (" (this process)" if leader.this else "")
    lines = []
    for process in processes:
        role = "leader" if process.leader else "follower"
        seen = "" if process.this else f", seen {humanize_delta(now - process.seen_at)} ago"
        mark = " (this one)" if process.this else ""
        lines.append(f"{process.name}{mark}: {describe_shards(process)}, {role}{seen}")
    return {"Leader": leader_text, "Processes": "\n".join(lines)}
