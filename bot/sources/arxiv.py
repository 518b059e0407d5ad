"""arXiv: each category's daily announcement from its listing feed, older days through the API, politely.

arXiv asks API clients for at most one request every three seconds over one connection, with a User-Agent
that says who is asking. Every request here goes through one rate limiter for all of arXiv's hosts and one
lock, on top of the polite client's retries (503 with Retry-After, as for Hugging Face).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from bot.config import Config
from bot.models import ArxivListing, Paper
from bot.sources.arxiv_ids import normalize_id
from bot.sources.arxiv_parse import (
    SOURCE_NAME,
    ArxivFeedError,
    CategoryListing,
    parse_api_page,
    parse_listing,
)
from bot.sources.http import HostRateLimiter, Params, PoliteClient, Sleep

log = logging.getLogger(__name__)

__all__ = ["ArxivDay", "ArxivFeedError", "ArxivSource", "SOURCE_NAME", "is_announcement_day"]

API_PAGE_SIZE = 200
MAX_API_PAGES = 50  # 10,000 submissions to one category in one day is far beyond any real day
_LIMITER_KEY = "arxiv"  # one budget for export.arxiv.org and rss.arxiv.org together


def is_announcement_day(day: dt.date) -> bool:
    """Whether arXiv may announce on `day`: Monday to Friday (holidays show up as feeds of another day)."""
    return day.weekday() < 5


@dataclass(frozen=True, slots=True)
class ArxivDay:
    """One day read from arXiv for every configured category: papers, the listings, and how they were read."""

    day: dt.date
    papers: tuple[Paper, ...]
    listings: tuple[ArxivListing, ...]
    skipped: int
    via: str  # "listing" | "api" | "none"
    note: str | None = None  # why the day is empty (a weekend, a holiday)

    @property
    def outcome(self) -> str:
        """ "ok" when the day has papers, else "empty"."""
        return "ok" if self.papers else "empty"


class ArxivSource:
    """Fetches arXiv announcements (listing feeds) and submissions of older days (API) for some categories."""

    name = SOURCE_NAME

    def __init__(
        self,
        client: PoliteClient,
        categories: Sequence[str],
        *,
        api_url: str = "https://export.arxiv.org/api/query",
        listing_url: str = "https://rss.arxiv.org/rss",
        max_requests_per_minute: float = 20.0,
        page_size: int = API_PAGE_SIZE,
        today: Callable[[], dt.date] = lambda: dt.datetime.now(dt.UTC).date(),
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.client = client
        self.categories = tuple(categories)
        self.api_url = api_url
        self.listing_url = listing_url.rstrip("/")
        self.page_size = page_size
        self._today = today
        self.limiter = HostRateLimiter(max_requests_per_minute, clock=clock, sleep=sleep)
        self._one_at_a_time = asyncio.Lock()

    @classmethod
    def from_config(
        cls, http: httpx.AsyncClient, config: Config, *, today: Callable[[], dt.date] | None = None, **options: Any
    ) -> ArxivSource:
        """A source for the configured categories, rate and URLs (client options as keyword arguments)."""
        rate = config.arxiv.max_requests_per_minute
        clock_options = {k: options[k] for k in ("clock", "sleep") if k in options}
        client = PoliteClient(http, max_requests_per_minute=rate, **options)
        extra: dict[str, Any] = {"today": today} if today is not None else {}
        return cls(
            client,
            config.arxiv.categories,
            api_url=config.arxiv.api_url,
            listing_url=config.arxiv.listing_url,
            max_requests_per_minute=rate,
            **clock_options,
            **extra,
        )

    async def _get(self, url: str, params: Params | None = None) -> str:
        """One request, after the previous one has finished and the shared rate limit allows it."""
        async with self._one_at_a_time:
            await self.limiter.acquire(_LIMITER_KEY)
            return await self.client.get_text(url, params)

    async def fetch_listing(self, category: str) -> CategoryListing:
        """The category's latest announcement (new submissions and cross-lists) from its listing feed."""
        return parse_listing(await self._get(f"{self.listing_url}/{category}"), category)

    async def fetch_submitted(self, category: str, day: dt.date) -> tuple[list[Paper], int]:
        """The papers submitted to `category` on `day` (UTC) through the API, page by page; and items skipped."""
        stamp = f"{day:%Y%m%d}"
        query = f"cat:{category} AND submittedDate:[{stamp}0000 TO {stamp}2359]"
        papers: dict[str, Paper] = {}
        skipped = 0
        start = 0
        for _ in range(MAX_API_PAGES):
            params: dict[str, str | int] = {
                "search_query": query,
                "start": start,
                "max_results": self.page_size,
                "sortBy": "submittedDate",
                "sortOrder": "ascending",
            }
            page = parse_api_page(await self._get(self.api_url, params))
            for paper in page.papers:
                papers.setdefault(paper.id, paper)
            skipped += page.skipped
            read = len(page.papers) + page.skipped
            start += read
            if read == 0 or start >= page.total:
                break
        else:
            log.warning("arXiv API: %s on %s has more than %d pages; stopped there", category, day, MAX_API_PAGES)
        return list(papers.values()), skipped

    async def fetch_day(self, day: dt.date) -> ArxivDay:
        """Today: each category's latest announcement from its feed; an earlier day: its submissions (API).

        A feed lists the latest announcement only, so today's read stores each listing under the day the
        feed names (an announcement read late still lands on its own day). Nothing is returned unless
        every category was read whole: a failed or truncated feed raises.
        """
        if day >= self._today():
            return await self._announced(day)
        return await self._submitted(day)

    async def _announced(self, day: dt.date) -> ArxivDay:
        if not is_announcement_day(day):
            return ArxivDay(day, (), (), 0, "none", note=f"arXiv announces nothing on {day:%A}s")
        papers: dict[str, Paper] = {}
        listings: list[ArxivListing] = []
        skipped = 0
        other_days: set[dt.date] = set()
        for category in self.categories:
            listing = await self.fetch_listing(category)
            listed_day = listing.day or day
            skipped += listing.skipped
            if listed_day != day:
                other_days.add(listed_day)  # a holiday, or today's announcement is not out yet
            if not listing.papers or listed_day > day:
                continue  # an empty feed must not erase the listing stored for its day
            for paper in listing.papers:
                papers.setdefault(paper.id, paper)
            listings.append(ArxivListing(category, listed_day, tuple(p.id for p in listing.papers), listing.kinds))
        note = None
        if other_days:
            shown = ", ".join(sorted(str(d) for d in other_days))
            note = f"no arXiv announcement for {day} yet (the feeds show {shown}: a holiday, or not announced yet)"
        return ArxivDay(day, tuple(papers.values()), tuple(listings), skipped, "listing", note)

    async def _submitted(self, day: dt.date) -> ArxivDay:
        papers: dict[str, Paper] = {}
        skipped = 0
        for category in self.categories:
            found, missed = await self.fetch_submitted(category, day)
            skipped += missed
            for paper in found:
                papers.setdefault(paper.id, paper)
        return ArxivDay(day, tuple(papers.values()), (), skipped, "api")

    async def fetch_paper(self, paper_id: str) -> Paper | None:
        """One paper by arXiv id through the API; None if arXiv does not know it."""
        canonical = normalize_id(paper_id)
        if canonical is None:
            return None
        page = parse_api_page(await self._get(self.api_url, {"id_list": canonical, "max_results": 1}))
        return next((p for p in page.papers if p.id == canonical), None)
