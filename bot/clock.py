"""Time as the scheduler sees it: the system clock in production, a manual one in tests."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Protocol

log = logging.getLogger(__name__)


class Clock(Protocol):
    """Where loops get the time and wait for it."""

    def now(self) -> dt.datetime:
        """The current instant, timezone-aware in UTC."""
        ...

    async def sleep_until(self, when: dt.datetime) -> None:
        """Return once `when` has passed."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> dt.datetime:
        """The current instant, timezone-aware in UTC."""
        return dt.datetime.now(dt.UTC)

    async def sleep_until(self, when: dt.datetime) -> None:
        """Sleep until `when`, re-checking in case the system clock jumps."""
        remaining = (when - self.now()).total_seconds()
        while remaining > 0:
            await asyncio.sleep(min(remaining, 300.0))
            remaining = (when - self.now()).total_seconds()


async def sleep_until_or_woken(clock: Clock, when: dt.datetime | None, wake: asyncio.Event) -> None:
    """Return once `when` has passed (never, if None) or as soon as `wake` is set; `wake` starts cleared."""
    wake.clear()
    waiters: list[asyncio.Future[object]] = [asyncio.ensure_future(wake.wait())]
    if when is not None:
        waiters.append(asyncio.ensure_future(clock.sleep_until(when)))
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
