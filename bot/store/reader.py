"""Read-only connections beside the writer, each on its own thread: searches never queue behind writes.

WAL lets readers run while a write transaction is open, so a search or an autocomplete reads on one of
these instead of the store's single writing connection. Whoever reads hands over one synchronous
function that runs whole on the connection's thread (one hop from the event loop per search).

Python runs one thread at a time (the GIL): a background thread turning thousands of rows into objects
slows every search running beside it, however many connections there are. So interactive readers count
their calls in flight, and background work calls `give_way()` between small batches: it pauses while a
search or an autocomplete is under way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from bot.store.errors import classify

log = logging.getLogger(__name__)

T = TypeVar("T")
# Page cache of each interactive reading connection. Pages missing from it come from the operating system's
# file cache at a few microseconds each: searches at 100,000 papers were measured as fast with 2 MiB as with 16.
READ_CACHE_KIB = 4 * 1024
BACKGROUND_CACHE_KIB = 2 * 1024  # a background pass reads each page about once: a large cache keeps nothing useful
GIVE_WAY_LONGEST = 0.05  # seconds: a search or two; waiting longer would starve background work under steady use
_GIVE_WAY_STEP = 0.002


class _InteractiveReads:
    """How many interactive reads are under way in this process (the GIL is the process's, so is this)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.in_flight = 0

    def begin(self) -> None:
        with self._lock:
            self.in_flight += 1

    def end(self) -> None:
        with self._lock:
            self.in_flight -= 1


INTERACTIVE_READS = _InteractiveReads()


def give_way(longest: float = GIVE_WAY_LONGEST) -> float:
    """In background work on a worker thread: sleep while interactive reads are under way, at most `longest`
    seconds, so they have the interpreter to themselves; returns the seconds waited."""
    if INTERACTIVE_READS.in_flight <= 0:
        return 0.0
    started = time.monotonic()
    while INTERACTIVE_READS.in_flight > 0 and time.monotonic() - started < longest:
        time.sleep(_GIVE_WAY_STEP)
    return time.monotonic() - started


class _Slot:
    """One connection and the one thread that uses it."""

    def __init__(self, path: str, name: str, cache_kib: int) -> None:
        self.path = path
        self.cache_kib = cache_kib
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self.connection: sqlite3.Connection | None = None

    def open(self) -> sqlite3.Connection:
        """The connection, opened on first use (on this slot's thread)."""
        if self.connection is None:
            connection = sqlite3.connect(
                f"file:{self.path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
            )
            connection.execute("PRAGMA busy_timeout = 5000")
            connection.execute(f"PRAGMA cache_size = -{self.cache_kib:d}")
            self.connection = connection
        return self.connection

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


class Reader:
    """A few read-only connections to one database file, handed out one call at a time.

    An interactive reader (searches) counts its calls in INTERACTIVE_READS; a background one (alert passes)
    does not, and keeps a small page cache.
    """

    def __init__(self, path: str, size: int = 2, *, background: bool = False) -> None:
        self.path = path
        self.background = background
        name, cache_kib = (
            ("paperboy-background", BACKGROUND_CACHE_KIB) if background else ("paperboy-read", READ_CACHE_KIB)
        )
        self._slots = [_Slot(path, f"{name}-{n}", cache_kib) for n in range(size)]
        self._free: asyncio.Queue[_Slot] | None = None
        self._closed = False

    def _queue(self) -> asyncio.Queue[_Slot]:
        if self._free is None:
            self._free = asyncio.Queue()
            for slot in self._slots:
                self._free.put_nowait(slot)
        return self._free

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work(connection)` on a free reading connection's thread inside one read transaction."""
        if self._closed:
            raise RuntimeError("the reader is closed")
        counted = not self.background
        if counted:
            INTERACTIVE_READS.begin()  # waiting for a free connection counts: background work gives way then too
        try:
            free = self._queue()
            slot = await free.get()
            try:
                loop = asyncio.get_running_loop()
                return await asyncio.shield(loop.run_in_executor(slot.executor, _in_snapshot, slot, work))
            finally:
                free.put_nowait(slot)
        finally:
            if counted:
                INTERACTIVE_READS.end()

    def close(self) -> None:
        """Close every connection once the calls under way are done."""
        self._closed = True
        for slot in self._slots:
            slot.executor.submit(slot.close)
            slot.executor.shutdown(wait=True)


def _in_snapshot(slot: _Slot, work: Callable[[sqlite3.Connection], T]) -> T:
    """`work` in one read transaction, so that all its statements see the same state of the database."""
    try:
        connection = slot.open()
    except sqlite3.Error as exc:
        raise classify(exc, slot.path) from exc
    with _classified(slot.path):
        connection.execute("BEGIN")
        try:
            return work(connection)
        finally:
            connection.execute("COMMIT")


@contextlib.contextmanager
def _classified(path: str) -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as exc:
        raise classify(exc, path) from exc
