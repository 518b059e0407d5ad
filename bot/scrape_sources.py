"""The bot's scraper over every configured source: Hugging Face days as asked, arXiv's recent announcements."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable

import httpx

from bot.config import Config
from bot.models import Paper, utcnow
from bot.scrape import DayReport, ProgressCallback, Scraper, ScrapeSummary
from bot.sources.arxiv import SOURCE_NAME as ARXIV
from bot.sources.arxiv import ArxivSource
from bot.sources.huggingface import HuggingFaceSource
from bot.store import AnyStore

log = logging.getLogger(__name__)

SETTLED = ("ok", "empty")


class SourcesScraper(Scraper):
    """Scrapes Hugging Face for the days asked and, with arXiv categories set, arXiv as well.

    arXiv's feeds carry only the latest announcement, so any request that includes yesterday or today
    reads them once (as today); the `arxiv_backfill` days before today that arXiv has not served yet are
    read through its API.
    """

    def __init__(
        self,
        store: AnyStore,
        source: HuggingFaceSource,
        arxiv: ArxivSource | None,
        *,
        arxiv_backfill: int = 3,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        super().__init__(store, source, clock=clock)
        self.arxiv = Scraper(store, arxiv, clock=clock) if arxiv is not None and arxiv.categories else None
        self.arxiv_backfill = arxiv_backfill

    async def arxiv_days(self, days: Iterable[dt.date]) -> list[dt.date]:
        """The days to read from arXiv for a scrape of `days`: unserved backfill days, then today if recent."""
        today = self._clock().date()
        recent = any(day >= today - dt.timedelta(days=1) for day in days)
        due: list[dt.date] = []
        if not recent:
            return due
        for offset in range(self.arxiv_backfill, 0, -1):
            day = today - dt.timedelta(days=offset)
            last = await self.store.last_scrape_run(day, source=ARXIV)
            if last is None or last.outcome not in SETTLED:
                due.append(day)
        return [*due, today]

    async def scrape_day(self, day: dt.date) -> DayReport:
        """Hugging Face's `day`, and arXiv's latest announcement when `day` is recent; Hugging Face's report."""
        report = await super().scrape_day(day)
        if self.arxiv is not None and day >= self._clock().date() - dt.timedelta(days=1):
            await self.arxiv.scrape_day(self._clock().date())
        return report

    async def scrape_days(self, days: Iterable[dt.date], progress: ProgressCallback | None = None) -> ScrapeSummary:
        """Each Hugging Face day in turn, then the arXiv days due; one summary of both."""
        days = list(days)
        summary = ScrapeSummary()
        # Hugging Face through the plain Scraper's scrape_day: the one above would read arXiv for each day.
        reads: list[tuple[Scraper, dt.date]] = [(self, day) for day in days]
        if self.arxiv is not None:
            reads += [(self.arxiv, day) for day in await self.arxiv_days(days)]
        for scraper, day in reads:
            report = await Scraper.scrape_day(scraper, day)
            summary.add(report)
            if progress is not None:
                progress(report)
        return summary

    async def ensure_paper(self, paper_id: str) -> Paper | None:
        """The paper from the cache, else from Hugging Face, else (with categories set) from arXiv; cached."""
        paper = await super().ensure_paper(paper_id)
        if paper is not None or self.arxiv is None:
            return paper
        return await self.arxiv.ensure_paper(paper_id)


def build_scraper(
    store: AnyStore, http: httpx.AsyncClient, config: Config, *, clock: Callable[[], dt.datetime] = utcnow
) -> SourcesScraper:
    """The scraper of every configured source over the shared client (arXiv only with categories set)."""
    arxiv = None
    if config.arxiv.categories:
        arxiv = ArxivSource.from_config(http, config, today=lambda: clock().date())
    return SourcesScraper(
        store,
        HuggingFaceSource.from_config(http, config),
        arxiv,
        arxiv_backfill=config.arxiv.backfill_days,
        clock=clock,
    )
