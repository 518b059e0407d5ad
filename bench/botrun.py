"""A real `paperboy run` over a synthetic cache, against the loopback Discord and Hugging Face, seen from outside.

Shared by bench/memory.py and bench/stalls.py. The bot runs unchanged as a subprocess (`python -m bot -v
--config ... run`, as the crash tests start it); everything is measured from outside it:
- its log lines, stamped with the time this process first read them (the file is polled every few ms);
- its resident memory from /proc/PID/status (VmRSS now, VmHWM the peak so far);
- a member's `/paper search` through the loopback Discord: the time from the interaction being sent to the
  bot's answer arriving;
- event-loop stalls from the gateway heartbeats (this process runs without the cyclic garbage collector
  while the bot runs: its own collections, over everything the fake Discord records, held it up to 0.2 s,
  which read as late heartbeats and slow answers): the fake Discord asks for a heartbeat every
  HEARTBEAT_SECONDS; discord.py's heartbeat thread waits that long after each one, then hands the next to
  the event loop, so the gap between two arrivals is that interval plus however long the loop took to run
  the send. A gap of interval + d means the loop was held for at least d (and at most d + interval).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import gc
import json
import logging
import re
import shutil
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from corpus import Corpus  # noqa: E402
from known_items import plant  # noqa: E402

from bot.models import Paper  # noqa: E402
from bot.store import Store  # noqa: E402
from tests.fakes.discord_fixtures import LabDiscord, make_lab_discord  # noqa: E402
from tests.fakes.discord_records import Stats  # noqa: E402
from tests.fakes.hf_items import make_daily_item  # noqa: E402
from tests.fakes.hf_server import FakeHuggingFace  # noqa: E402
from tests.fakes.process import BotProcess, write_config  # noqa: E402

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 0.05
SEED = 20260612
READY_LINE = r"discord\.gateway: Shard ID \S+ has connected to Gateway"
# The queries a member types, by kind (the search benchmark's kinds); cycled through.
MEMBER_QUERIES = (
    "diffusion",
    '"mixture of experts"',
    "title:mamba",
    '(llm OR "language model") agent',
    "robot (planning OR navigation) -simulation",
    "code:yes upvotes:>=20 reasoning",
    "lumora sparse routing for long context transformers",
    "kestel a benchmark for web navigation agents",
    "efficient reasoning",
    "video generation temporal consistency",
)


async def build_cache(path: Path, papers: int, *, listed_last: int = 0) -> dict[str, Any]:
    """Store `papers` synthetic papers (known items planted) without merging the index, as a bulk import leaves it.

    With `listed_last`, the last that many are stored at least a second after the others, and the instant in
    between is returned as `listed_after` (an alert cursor there makes the next pass read them).
    """
    started = time.perf_counter()
    store = await Store.open(path)
    try:
        generated = iter(plant(Corpus(papers, seed=SEED).papers(), papers))
        first = papers - listed_last
        stored = await store.bulk_insert_papers(_take(generated, first), batch_size=10000)
        listed_after = None
        if listed_last:
            await asyncio.sleep(1.1)  # listing times are stored to the second
            listed_after = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            await asyncio.sleep(1.1)
            stored += await store.bulk_insert_papers(generated, batch_size=10000)
        await store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        await store.close()
    return {"papers": stored, "build_seconds": round(time.perf_counter() - started, 1), "listed_after": listed_after}


async def cached_cache(path: Path, papers: int, *, listed_last: int = 0, keep_in: Path | None = None) -> dict[str, Any]:
    """`build_cache`, or with `keep_in` a copy of the cache an earlier run built and kept there.

    The kept copy is untouched by any bot (the bot writes to the copy it runs on); it is keyed by the size,
    the listed share and the newest migration of this checkout, so a change of schema builds afresh.
    """
    if keep_in is None:
        return await build_cache(path, papers, listed_last=listed_last)
    kept = _kept_path(keep_in, papers, listed_last)
    facts = kept.with_suffix(".json")
    built = _read_facts(facts)
    if built is None:
        _remove_database(kept)  # what a run stopped while building left
        built = await build_cache(kept, papers, listed_last=listed_last)
        _write_facts(facts, built)
    await asyncio.to_thread(shutil.copyfile, kept, path)
    return {**built, "copied_from": str(kept)}


def _kept_path(keep_in: Path, papers: int, listed_last: int) -> Path:
    keep_in.mkdir(parents=True, exist_ok=True)
    newest = sorted(p.name for p in (ROOT / "bot" / "store" / "migrations").glob("*.sql"))[-1].split("_")[0]
    return keep_in / f"cache-{papers}-{listed_last}-{SEED}-{newest}.db"


def _remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _read_facts(facts: Path) -> dict[str, Any] | None:
    return json.loads(facts.read_text()) if facts.exists() else None


def _write_facts(facts: Path, built: dict[str, Any]) -> None:
    facts.write_text(json.dumps(built))


def _take(papers: Iterable[Paper], count: int) -> Iterable[Paper]:
    """The first `count` papers, leaving the rest in the iterator."""
    iterator = iter(papers)
    for _ in range(count):
        paper = next(iterator, None)
        if paper is None:
            return
        yield paper


def rss_mib(pid: int) -> dict[str, float]:
    """The process's resident memory now and at its peak, in MiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = round(int(value.split()[0]) / 1024, 1)
    return {"rss_mib": fields["VmRSS"], "peak_rss_mib": fields["VmHWM"]}


@dataclasses.dataclass
class TimedStats(Stats):
    """The fake's counters, also noting when each gateway heartbeat arrived."""

    heartbeat_times: list[float] = dataclasses.field(default_factory=list)

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "heartbeats" and "heartbeat_times" in self.__dict__:
            self.heartbeat_times.append(time.monotonic())
        super().__setattr__(name, value)


class LogWatch:
    """The bot's log file, read as it grows; each line stamped with when it was first read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines: list[tuple[float, str]] = []
        self._offset = 0
        self._partial = b""
        self._task: asyncio.Task[None] | None = None

    def start(self) -> LogWatch:
        """Start polling the file."""
        self._task = asyncio.create_task(self._poll())
        return self

    async def stop(self) -> None:
        """Stop polling (after one last read)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._read()

    def _read(self) -> None:
        if not self.path.exists():
            return
        with self.path.open("rb") as source:
            source.seek(self._offset)
            chunk = source.read()
        self._offset += len(chunk)
        now = time.monotonic()
        *complete, self._partial = (self._partial + chunk).split(b"\n")
        self.lines += [(now, line.decode(errors="replace")) for line in complete]

    async def _poll(self) -> None:
        while True:
            self._read()
            await asyncio.sleep(0.005)

    def first(self, pattern: str, after: float = 0.0) -> float | None:
        """When the first line matching `pattern` (read after `after`) was read, or None."""
        regex = re.compile(pattern)
        return next((at for at, line in self.lines if at >= after and regex.search(line)), None)

    async def wait_for(self, pattern: str, within: float, after: float = 0.0) -> float:
        """When a line matching `pattern` appears; TimeoutError with the log's tail if not `within` seconds."""
        deadline = time.monotonic() + within
        while (found := self.first(pattern, after)) is None:
            if time.monotonic() > deadline:
                tail = "\n".join(line for _, line in self.lines[-15:])
                raise TimeoutError(f"no log line /{pattern}/ within {within}s; last lines:\n{tail}")
            await asyncio.sleep(0.01)
        return found

    def matching(self, pattern: str) -> list[str]:
        """Every line matching `pattern`."""
        regex = re.compile(pattern)
        return [line for _, line in self.lines if regex.search(line)]


class BotWorld:
    """The fakes, the config and the bot process of one benchmark run."""

    def __init__(self, workdir: Path, database: Path, *, interval_minutes: float = 60.0) -> None:
        self.workdir = workdir
        self.database = database
        self.interval_minutes = interval_minutes
        self.discord: LabDiscord = make_lab_discord(interaction_deadline=None, heartbeat_interval=HEARTBEAT_SECONDS)
        self.stats = TimedStats()
        self.discord.stats = self.stats
        self.hf = FakeHuggingFace()
        self.process: BotProcess | None = None
        self.logs = LogWatch(workdir / "bot.log")
        self.spawned_at = 0.0
        self.today = dt.datetime.now(dt.UTC).date()
        self._published = 0
        # This process's own event-loop lag: heartbeats are stamped here, so its lag would read as the bot's.
        self.own_lag_ms: list[float] = []
        self._lag_task: asyncio.Task[None] | None = None

    async def start(self) -> float:
        """Start the fakes and the bot; returns when it was spawned (time.monotonic)."""
        await self.discord.start()
        await self.hf.start()
        self.publish(20)
        config = write_config(
            self.workdir / "config.toml",
            self.discord,
            self.hf,
            self.database,
            scraper={"interval_minutes": self.interval_minutes, "backfill_days": 1, "max_requests_per_minute": 6000},
        )
        self.logs.start()
        gc.disable()  # see the module's docstring; enabled again by `stop`
        self._lag_task = asyncio.create_task(self._watch_own_lag())
        self.spawned_at = time.monotonic()
        self.process = await BotProcess(config, self.discord.token, self.logs.path).start()
        return self.spawned_at

    async def _watch_own_lag(self) -> None:
        while True:
            started = time.monotonic()
            await asyncio.sleep(0.01)
            self.own_lag_ms.append((time.monotonic() - started - 0.01) * 1000)

    def publish(self, count: int) -> None:
        """Put `count` more new papers on today's Daily Papers list (the next scrape stores them)."""
        items = []
        for number in range(self._published, self._published + count):
            items.append(
                make_daily_item(
                    f"2612.{80000 + number:05d}",
                    f"Fresh diffusion agents paper {number}",
                    day=self.today,
                    upvotes=number % 9,
                    summary="We study diffusion agents for planning and report results on new benchmarks.",
                )
            )
        self._published += count
        self.hf.set_day(self.today, [*self.hf.days.get(self.today.isoformat(), []), *items])

    @property
    def pid(self) -> int:
        """The bot's process id."""
        assert self.process is not None and self.process.process is not None
        return self.process.process.pid

    def memory(self) -> dict[str, float]:
        """The bot's resident memory (MiB)."""
        return rss_mib(self.pid)

    async def search(self, query: str, within: float = 120.0) -> float:
        """A member's `/paper search query` through the loopback Discord; milliseconds until the answer."""
        started = time.monotonic()
        result = await self.discord.slash("paper", "search", query=query, as_user=self.discord.member, wait=False)
        await result.wait_response(within)
        return (time.monotonic() - started) * 1000

    def heartbeat_delays_ms(self, start: float = 0.0, end: float = float("inf")) -> list[float]:
        """For each heartbeat arriving in [start, end]: how late it came beyond the interval (ms)."""
        times = self.stats.heartbeat_times
        return [
            max(0.0, (later - earlier - HEARTBEAT_SECONDS) * 1000)
            for earlier, later in zip(times, times[1:], strict=False)
            if start <= later <= end
        ]

    async def stop(self) -> str:
        """Stop the bot (SIGTERM, then kill) and the fakes; returns the bot's log."""
        running = self.process.process if self.process is not None else None
        if self.process is not None and running is not None and running.returncode is None:
            running.terminate()
            try:
                await self.process.wait(30)
            except TimeoutError:
                await self.process.stop()
        await self.logs.stop()
        if self._lag_task is not None:
            self._lag_task.cancel()
            await asyncio.gather(self._lag_task, return_exceptions=True)
        await self.hf.stop()
        await self.discord.close()
        gc.enable()
        return self.process.output if self.process else ""


def error_lines(output: str, limit: int = 8) -> list[str]:
    """The bot's ERROR log lines and, for each traceback, its exception line: what went wrong, first ones."""
    found = []
    in_traceback = False
    for line in output.splitlines():
        if " ERROR " in line:
            found.append(line[:240])
        elif line.startswith("Traceback (most recent call last)"):
            in_traceback = True
        elif in_traceback and line and not line.startswith(" "):
            found.append(line[:240])
            in_traceback = False
    return found[:limit]


def stall_summary(delays_ms: list[float]) -> dict[str, Any]:
    """The longest heartbeat delays, and how many passed 50 and 100 ms."""
    ordered = sorted(delays_ms, reverse=True)
    return {
        "heartbeats": len(delays_ms),
        "longest_ms": round(ordered[0], 1) if ordered else None,
        "top5_ms": [round(d, 1) for d in ordered[:5]],
        "over_50_ms": sum(d > 50 for d in ordered),
        "over_100_ms": sum(d > 100 for d in ordered),
    }
