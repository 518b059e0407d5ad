"""Measurements inside the bot's own interpreter, for bench/stalls.py --probe; the bot's code is unchanged.

bench/stalls.py puts this folder first on the bot's PYTHONPATH, so Python imports this module at start
(`sitecustomize`), and names a file in BENCH_PROBE_OUT. It records, stamped with time.monotonic() (the
system-wide clock the measuring process stamps heartbeats with):
- every cyclic garbage collection of 1 ms or more, and every full one: start, duration, generation, the
  objects collected, the thread that triggered it (a collection holds the interpreter, so no other thread,
  the event loop's included, runs meanwhile); and counts and total time per generation;
- the event loop's lateness, from a timer the loop runs every TICK_SECONDS: each tick later than
  LATE_SECONDS is noted with how late it ran and how long, meanwhile, the process's threads waited for a
  processor (the kernel's run-queue wait, /proc/self/task/*/schedstat): the loop's thread itself, and the
  longest of the others (a thread holding the interpreter while it waits keeps the loop waiting too);
- on SIGUSR1, a census of the objects the collector tracks: how many in each generation (and frozen), and
  the commonest types (the signal is handled on the main thread, the event loop's, which it holds meanwhile);
- with BENCH_GC_THRESHOLD ("700,10,100"), the collector's thresholds are set so at start (to try others);
- with BENCH_SLOW_CALLBACK (seconds) and asyncio debug mode, asyncio's threshold for logging slow steps.
At exit the whole record is written to BENCH_PROBE_OUT as one JSON object.
"""

from __future__ import annotations

import asyncio
import atexit
import gc
import json
import logging
import os
import signal
import threading
import time
from collections import Counter
from typing import Any

log = logging.getLogger(__name__)

TICK_SECONDS = 0.01
LATE_SECONDS = 0.02
RECORDED_PAUSE_SECONDS = 0.001


class _Record:
    def __init__(self, out: str) -> None:
        self.out = out
        self.collections: list[dict[str, Any]] = []
        self.totals = {str(gen): {"count": 0, "seconds": 0.0, "longest_ms": 0.0} for gen in range(3)}
        # (when, how late ms, the loop thread's run-queue wait ms, the longest other thread's wait ms)
        self.late_ticks: list[tuple[float, float, float, float]] = []
        self.ticks = 0
        self.censuses: list[dict[str, Any]] = []
        self._started = 0.0
        self._waits: dict[int, int] = {}

    def census(self, *_: object) -> None:
        started = time.monotonic()
        by_type: Counter[str] = Counter()
        sizes = []
        for generation in range(3):
            objects = gc.get_objects(generation)
            sizes.append(len(objects))
            by_type.update(type(o).__qualname__ for o in objects)
            del objects
        self.censuses.append(
            {
                "at": started,
                "by_generation": sizes,
                "frozen": gc.get_freeze_count(),
                "commonest": by_type.most_common(25),
                "took_ms": round((time.monotonic() - started) * 1000, 1),
            }
        )

    def on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.monotonic()
            return
        took = time.monotonic() - self._started
        generation = info["generation"]
        total = self.totals[str(generation)]
        total["count"] += 1
        total["seconds"] += took
        total["longest_ms"] = max(total["longest_ms"], took * 1000)
        if took >= RECORDED_PAUSE_SECONDS or generation == 2:
            self.collections.append(
                {
                    "at": self._started,
                    "ms": round(took * 1000, 2),
                    "generation": generation,
                    "collected": info["collected"],
                    "thread": threading.current_thread().name,
                }
            )

    def tick(self, loop: asyncio.AbstractEventLoop, due: float) -> None:
        now = loop.time()
        self.ticks += 1
        waits = _run_queue_waits()
        if now - due > LATE_SECONDS:
            main = threading.main_thread().native_id
            waited = {tid: (ns - self._waits.get(tid, 0)) / 1e6 for tid, ns in waits.items()}
            others = max((ms for tid, ms in waited.items() if tid != main), default=0.0)
            main_ms = round(waited.get(main, 0.0), 1) if main is not None else 0.0
            late_ms = round((now - due) * 1000, 1)
            self.late_ticks.append((round(time.monotonic(), 4), late_ms, main_ms, round(others, 1)))
        self._waits = waits
        loop.call_at(now + TICK_SECONDS, self.tick, loop, now + TICK_SECONDS)

    def write(self) -> None:
        report = {
            "collections": self.collections,
            "totals": self.totals,
            "thresholds": gc.get_threshold(),
            "frozen_at_exit": gc.get_freeze_count(),
            "ticks": self.ticks,
            "tick_seconds": TICK_SECONDS,
            "late_ticks": self.late_ticks,
            "censuses": self.censuses,
        }
        with open(self.out, "w", encoding="utf-8") as sink:
            json.dump(report, sink)


def _run_queue_waits() -> dict[int, int]:
    """Each thread of this process: nanoseconds it has waited, runnable, for a processor."""
    waits = {}
    for task in os.scandir("/proc/self/task"):
        try:
            with open(f"{task.path}/schedstat", encoding="ascii") as source:
                waits[int(task.name)] = int(source.read().split()[1])
        except (OSError, IndexError, ValueError):
            continue  # a thread that ended meanwhile
    return waits


def _install(out: str) -> None:
    record = _Record(out)
    gc.callbacks.append(record.on_gc)
    if os.environ.get("BENCH_GC_THRESHOLD"):
        gc.set_threshold(*map(int, os.environ["BENCH_GC_THRESHOLD"].split(",")))
    atexit.register(record.write)
    signal.signal(signal.SIGUSR1, record.census)
    slow = os.environ.get("BENCH_SLOW_CALLBACK")
    base = asyncio.base_events.BaseEventLoop
    original_init = base.__init__
    original_run_forever = base.run_forever

    def init(self: asyncio.base_events.BaseEventLoop) -> None:
        original_init(self)
        if slow:
            self.slow_callback_duration = float(slow)

    def run_forever(self: asyncio.base_events.BaseEventLoop) -> None:
        if not getattr(self, "_bench_probe_ticking", False):  # asyncio.run runs the loop more than once
            self._bench_probe_ticking = True  # type: ignore[attr-defined]
            self.call_soon(record.tick, self, self.time())
        original_run_forever(self)

    base.__init__ = init  # type: ignore[method-assign, assignment]
    base.run_forever = run_forever  # type: ignore[method-assign]


if os.environ.get("BENCH_PROBE_OUT"):
    _install(os.environ["BENCH_PROBE_OUT"])
