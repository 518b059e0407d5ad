"""The pace of the bot's own requests to Discord: evenly spaced, and never over the global limit in any window.

Spacing the starts of requests evenly is not enough: a request reaches Discord some time after it starts,
and when the event loop stalls, requests started evenly arrive in a bunch. Discord counts arrivals in its
windows, so a request holds its slot from the moment it starts until one window after its answer came
back: every request that reaches Discord inside one window then held its slot at the same time as the
last of them to start, and at most `window_limit` slots are ever held.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable

log = logging.getLogger(__name__)


class PostLimiter:
    """At most `per_second` request starts a second, evenly spaced, and at most `window_limit` per window."""

    def __init__(
        self,
        per_second: float,
        *,
        window_limit: int,
        window_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_second <= 0 or window_limit < 1 or window_seconds <= 0:
            raise ValueError("per_second, window_limit and window_seconds must be greater than 0")
        self.interval = 1.0 / per_second
        self.window_limit = window_limit
        self.window_seconds = window_seconds
        self._clock = clock
        self._next_start = 0.0
        self._in_flight = 0
        self._releases: deque[float] = deque()  # when each finished request's slot frees, in order
        self._order = asyncio.Lock()  # callers are served first come, first served
        self._finished = asyncio.Event()

    def held(self) -> int:
        """How many slots are held now (requests in flight and those answered less than a window ago)."""
        now = self._clock()
        while self._releases and self._releases[0] <= now:
            self._releases.popleft()
        return self._in_flight + len(self._releases)

    def fill_window(self) -> None:
        """Count the coming window as full: on taking over, the last requests of a leader that died may still
        count in Discord's window, and this process cannot know how many."""
        release = self._clock() + self.window_seconds
        self._releases.extend([release] * self.window_limit)  # no earlier release can come after these

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one slot around one request to Discord (its start, its answer and one window after)."""
        async with self._order:
            await self._wait_for_window()
            delay = self._next_start - self._clock()
            if delay > 0:
                await asyncio.sleep(delay)
            now = self._clock()
            self._next_start = max(self._next_start, now - self.interval) + self.interval
            self._in_flight += 1
        try:
            yield
        finally:
            self._in_flight -= 1
            self._releases.append(self._clock() + self.window_seconds)
            self._finished.set()

    async def _wait_for_window(self) -> None:
        while self.held() >= self.window_limit:
            timeout = self._releases[0] - self._clock() if self._releases else None
            self._finished.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._finished.wait(), timeout)
