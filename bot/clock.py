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
