"""The periodic refresh: backfill on start, then today and yesterday every `interval_minutes`."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from discord.ext import commands

from bot.client import PaperBot
from bot.clock import stop_task
from bot.scrape import ScrapeSummary

log = logging.getLogger(__name__)

EVENT = "papers_scraped"  # listeners: on_papers_scraped(summary: ScrapeSummary)


def backfill_days(today: dt.date, count: int) -> list[dt.date]:
    """The `count` days before today, oldest first."""
    return [today - dt.timedelta(days=offset) for offset in range(count, 0, -1)]


class ScraperCog(commands.Cog):
    """Keeps the cache fresh and tells the other cogs what changed."""

    def __init__(self, bot: PaperBot) -> None:
        self.bot = bot
        self._task: asyncio.Task[None] | None = None

    async def cog_load(self) -> None:
        """Start the refresh loop."""
        self._task = asyncio.create_task(self._run(), name="scraper")

    async def cog_unload(self) -> None:
        """Stop the refresh loop."""
        await stop_task(self._task)

    async def _run(self) -> None:
        await self.bot.wait_until_ready()
        interval = dt.timedelta(minutes=self.bot.config.scraper.interval_minutes)
        first = True
        while True:
            started = self.bot.clock.now()
            self.bot.next_scrape_at = None
            try:
                await self.refresh(backfill=first)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("scrape run failed; the next run is still scheduled")
            first = False
            self.bot.next_scrape_at = started + interval
            await self.bot.clock.sleep_until(self.bot.next_scrape_at)

    async def refresh(self, *, backfill: bool = False) -> ScrapeSummary:
        """Scrape yesterday and today (plus missing backfill days) and dispatch what changed."""
        today = self.bot.clock.now().date()
        days = [today - dt.timedelta(days=1), today]
        if backfill:
            missing = []
            for day in backfill_days(today, self.bot.config.scraper.backfill_days):
                last = await self.bot.store.last_scrape_run(day)
                if day not in days and (last is None or last.outcome not in ("ok", "empty")):
                    missing.append(day)
            days = missing + days
        summary = await self.bot.scraper.scrape_days(days)
        log.info("scrape: %s", summary.line())
        self.bot.dispatch(EVENT, summary)
        return summary


async def setup(bot: PaperBot) -> None:
    """Extension entry point."""
    await bot.add_cog(ScraperCog(bot))
