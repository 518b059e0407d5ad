"""A clock that only moves when a test says so; loops sleeping on it wake as it passes their time."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

log = logging.getLogger(__name__)


class ManualClock:
    """Implements bot.clock.Clock; `advance` and `set` move time and wake the sleepers that are due."""

    def __init__(self, start: dt.datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start")
        self._now = start
        self._sleepers: list[tuple[dt.datetime, asyncio.Future[None]]] = []

    def now(self) -> dt.datetime:
        """The current manual time."""
        return self._now

    async def sleep_until(self, when: dt.datetime) -> None:
        """Wait until the clock has been moved to `when` or later."""
        if when <= self._now:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((when, future))
        try:
            await future
        finally:
            self._sleepers = [(w, f) for w, f in self._sleepers if f is not future]

    def set(self, moment: dt.datetime) -> None:
        """Jump to `moment` (never backwards) and wake everyone now due."""
        if moment < self._now:
            raise ValueError("the clock does not go backwards")
        self._now = moment
        for when, future in list(self._sleepers):
            if when <= moment and not future.done():
                future.set_result(None)

    def advance(self, delta: dt.timedelta) -> None:
        """Move forward by `delta`."""
        self.set(self._now + delta)

    @property
    def sleepers(self) -> list[dt.datetime]:
        """When each waiting loop wants to wake, earliest first."""
        return sorted(when for when, future in self._sleepers if not future.done())
