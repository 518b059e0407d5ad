"""The scraper refresh policy: backfill missing days on start, then yesterday and today every interval."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Iterable
from typing import Protocol

from bot.clock import Clock
from bot.scrape import ScrapeSummary, days_to_scrape
from bot.services.tasks import BackgroundTasks, Ready, stop_loop
from bot.sources.huggingface import SOURCE_NAME as HUGGING_FACE
from bot.store import AnyStore

log = logging.getLogger(__name__)

SETTLED_OUTCOMES = ("ok", "empty")  # a day scraped with one of these needs no backfill


class DaysScraper(Protocol):
    """What the refresher needs from the scraper (bot.scrape.Scraper)."""

    async def scrape_days(self, days: Iterable[dt.date]) -> ScrapeSummary:
        """Scrape each day in turn into the store."""
        ...


def backfill_days(today: dt.date, count: int) -> list[dt.date]:
    """The `count` days before today, oldest first."""
    return [today - dt.timedelta(days=offset) for offset in range(count, 0, -1)]


class ScrapeRefresher:
    """Runs the scraper on a schedule and hands each summary to `on_scraped`."""

    def __init__(
        self,
        store: AnyStore,
        scraper: DaysScraper,
        clock: Clock,
        *,
        interval: dt.timedelta,
        backfill: int,
        on_scraped: Callable[[ScrapeSummary], None],
        on_scheduled: Callable[[dt.datetime], None] = lambda _: None,
    ) -> None:
        self.store = store
        self.scraper = scraper
        self.clock = clock
        self.interval = interval
        self.backfill = backfill
        self.on_scraped = on_scraped
        self.on_scheduled = on_scheduled  # told when the next run is due, from the start on
        self.finished_runs = 0  # runs of the loop that have ended, well or not
        self.tasks = BackgroundTasks("scraper")
        self._loop: asyncio.Task[None] | None = None

    def start(self, ready: Ready | None = None) -> None:
        """Start the refresh loop (after `ready` has completed); the first run is due at once."""
        self.on_scheduled(self.clock.now())
        self._loop = self.tasks.spawn(self._run(ready), name="scraper")

    async def stop(self) -> None:
        """Stop the refresh loop (a scrape under way is cancelled; each day is one transaction)."""
        await stop_loop(self._loop)
        await self.tasks.drain(grace=0)

    async def _run(self, ready: Ready | None) -> None:
        if ready is not None:
            await ready()
        first = True
        while True:
            started = self.clock.now()
            # Known before this run ends, so the status never says "not scheduled" while one runs.
            self.on_scheduled(started + self.interval)
            try:
                await self.refresh(backfill=first)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("scrape run failed; the next run is still scheduled")
            first = False
            self.finished_runs += 1
            await self.clock.sleep_until(started + self.interval)

    async def days_due(self, *, backfill: bool) -> list[dt.date]:
        """Yesterday and today, after (on start) the backfill days not yet scraped successfully."""
        today = self.clock.now().date()
        days = days_to_scrape(today=today)
        if not backfill:
            return days
        missing = []
        for day in backfill_days(today, self.backfill):
            last = await self.store.last_scrape_run(day, source=HUGGING_FACE)  # arXiv keeps its own backfill
            if day not in days and (last is None or last.outcome not in SETTLED_OUTCOMES):
                missing.append(day)
        return missing + days

    async def refresh(self, *, backfill: bool = False) -> ScrapeSummary:
        """Scrape the days due and hand on what changed."""
        summary = await self.scraper.scrape_days(await self.days_due(backfill=backfill))
        log.info("scrape: %s", summary.line())
        self.on_scraped(summary)
        return summary
