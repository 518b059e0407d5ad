"""Background tasks that are kept (not dropped) and whose failures are logged, with a bounded drain; and
the bot process's settings of the interpreter (thread switching, the garbage collector)."""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

# How long a stopping service waits for work under way (a pass, a fan-out) before cancelling it.
STOP_TIMEOUT = 20.0

Ready = Callable[[], Awaitable[object]]

# How long a thread running Python may keep the interpreter while another waits for it. Python's default,
# 5 ms, is paid each time the event loop or a search thread takes the interpreter back after a system call
# or an SQLite step while an alert pass matches papers on another thread: dozens of times per search.
INTERPRETER_SWITCH_SECONDS = 0.0005


def favour_interactive_threads() -> None:
    """Make a thread waiting for the interpreter get it sooner (the bot's process calls this once at start)."""
    sys.setswitchinterval(INTERPRETER_SWITCH_SECONDS)


async def freeze_start_up_objects(ready: Ready, warming: Callable[[], object]) -> int:
    """Once the bot is ready and the title vocabulary read, keep every object alive then out of later garbage
    collections (the bot's process runs this once); returns how many objects that is.

    A full collection walks every object the collector tracks while it holds the interpreter, and with it the
    event loop's thread, whichever thread set it off. The modules, classes, caches and vocabulary loaded at
    start live as long as the process: walking them again at each full collection finds nothing to free.
    """
    await ready()
    task = warming()  # the engine's warming task, started once (a later call returns it), if it keeps one
    if isinstance(task, asyncio.Future):
        await asyncio.wait({task})
    # No collection first: measured at this point it freed 0 to 4 objects and held the loop 25 to 40 ms.
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info("%d objects alive at start are left out of later garbage collections", frozen)
    return frozen


class BackgroundTasks:
    """A set of running tasks: each is kept until it ends, and an exception it ends with is logged."""

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, work: Coroutine[Any, Any, T], name: str) -> asyncio.Task[T]:
        """Run `work` in a task that this set keeps until it ends."""
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            log.error("%s: task %s failed", self.owner, task.get_name(), exc_info=error)

    @property
    def running(self) -> list[asyncio.Task[Any]]:
        """The tasks not yet finished."""
        return [task for task in self._tasks if not task.done()]

    async def drain(self, grace: float = STOP_TIMEOUT) -> None:
        """Wait up to `grace` seconds for the running tasks, then cancel the rest and wait for them."""
        pending = self.running
        if pending and grace > 0:
            _, late = await asyncio.wait(pending, timeout=grace)
            pending = list(late)
        if pending:
            noun = "task" if len(pending) == 1 else "tasks"
            log.warning("%s: cancelling %d unfinished %s at shutdown", self.owner, len(pending), noun)
            for task in pending:
                task.cancel()
            await asyncio.wait(pending)


async def stop_loop(task: asyncio.Task[Any] | None) -> None:
    """Cancel a loop task and wait until it has unwound (its work is shielded and drained separately)."""
    if task is None or task.done():
        return
    task.cancel()
    await asyncio.wait({task})
