"""The periodic refresh of the cache (backfill on start, then yesterday and today), announced to the other cogs."""

from __future__ import annotations

import datetime as dt
import logging

from discord.ext import commands

from bot.client import CurrentScraper, PaperBot
from bot.scrape import ScrapeSummary
from bot.services.leader import ScheduledWork
from bot.services.scraping import ScrapeRefresher

log = logging.getLogger(__name__)

EVENT = "papers_scraped"  # listeners: on_papers_scraped(summary: ScrapeSummary)


class ScraperCog(commands.Cog):
    """Keeps the cache fresh and tells the other cogs what changed."""

    def __init__(self, bot: PaperBot) -> None:
        self.bot = bot
        self.refresher = ScrapeRefresher(
            bot.store,
            CurrentScraper(bot),
            bot.clock,
            interval=dt.timedelta(minutes=bot.config.scraper.interval_minutes),
            backfill=bot.config.scraper.backfill_days,
            on_scraped=self._announce,
            on_scheduled=self._scheduled,
        )

    async def cog_load(self) -> None:
        """Run the refresh loop once the bot is logged in, while this process leads."""
        self.bot.leadership.add(
            ScheduledWork("scraper", start=lambda: self.refresher.start(self.bot.wait_until_ready), stop=self._stop)
        )

    async def cog_unload(self) -> None:
        """Stop the refresh loop."""
        await self.bot.leadership.remove("scraper", 0.0)

    async def _stop(self, _grace: float) -> None:
        """A scrape under way is cancelled whatever the grace: each day is one transaction."""
        await self.refresher.stop()
        self.bot.next_scrape_at = None

    def _announce(self, summary: ScrapeSummary) -> None:
        self.bot.dispatch(EVENT, summary)

    def _scheduled(self, at: dt.datetime | None) -> None:
        self.bot.next_scrape_at = at

    async def refresh(self, *, backfill: bool = False) -> ScrapeSummary:
        """Scrape yesterday and today (plus missing backfill days) and dispatch what changed."""
        return await self.refresher.refresh(backfill=backfill)


async def setup(bot: PaperBot) -> None:
    """Extension entry point."""
    await bot.add_cog(ScraperCog(bot))
