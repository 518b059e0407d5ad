"""Fetch days from a source into the store: one transaction a day; failures recorded, nothing half-written."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from bot.models import Paper, ScrapeRun, utcnow
from bot.sources.arxiv import ArxivDay
from bot.sources.http import FetchError
from bot.sources.huggingface import DayFetch, MarkupChanged
from bot.store import AnyStore

log = logging.getLogger(__name__)

FAILED_OUTCOMES = frozenset({"failed", "markup_changed"})
MAX_SCRAPE_DAYS = 3650
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class PaperSource(Protocol):
    """What the scraper needs from a source of papers."""

    name: str

    async def fetch_day(self, day: dt.date) -> DayFetch | ArxivDay:
        """The papers of `day`; raises FetchError when the day cannot be read."""
        ...

    async def fetch_paper(self, paper_id: str) -> Paper | None:
        """One paper by id; None if the source does not know it."""
        ...


@dataclass(frozen=True, slots=True)
class DayReport:
    """What scraping one day did."""

    day: dt.date
    outcome: str  # "ok" | "empty" | "failed" | "markup_changed"
    fetched: int = 0
    new: int = 0
    updated: int = 0
    skipped: int = 0
    via: str | None = None  # "api" | "page" | "listing" | "none"; None when the fetch failed
    error: str | None = None
    note: str | None = None  # e.g. why the page was read instead of the API
    new_papers: tuple[Paper, ...] = ()
    changed_papers: tuple[Paper, ...] = ()

    @property
    def failed(self) -> bool:
        """Whether the day could not be read."""
        return self.outcome in FAILED_OUTCOMES


@dataclass(slots=True)
class ScrapeSummary:
    """Totals over several days, with the papers that are new and those whose upvotes moved."""

    days: int = 0
    new: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    new_papers: list[Paper] = field(default_factory=list)
    changed_papers: list[Paper] = field(default_factory=list)
    reports: list[DayReport] = field(default_factory=list)

    def add(self, report: DayReport) -> None:
        """Count one day's report in."""
        self.days += 1
        self.new += report.new
        self.updated += report.updated
        self.skipped += report.skipped
        self.failed += int(report.failed)
        self.new_papers.extend(report.new_papers)
        self.changed_papers.extend(report.changed_papers)
        self.reports.append(report)

    def line(self) -> str:
        """The one-line summary the command line prints."""
        return (
            f"{self.days} day{'' if self.days == 1 else 's'}, {self.new} new, {self.updated} updated, "
            f"{self.skipped} skipped, {self.failed} failed"
        )


ProgressCallback = Callable[[DayReport], None]


class Scraper:
    """Scrapes days from one source into one store."""

    def __init__(self, store: AnyStore, source: PaperSource, *, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.store = store
        self.source = source
        self._clock = clock

    async def scrape_day(self, day: dt.date) -> DayReport:
        """Fetch `day` and save it in one transaction; a failed fetch records a failed run, nothing else."""
        started = self._clock()
        try:
            fetch = await self.source.fetch_day(day)
        except FetchError as exc:
            outcome = "markup_changed" if isinstance(exc, MarkupChanged) else "failed"
            if outcome == "markup_changed":
                log.error("scraping %s parsed no papers, likely a markup change on the source: %s", day, exc)
            else:
                log.warning("scraping %s failed: %s", day, exc)
            await self.store.record_scrape_run(
                ScrapeRun(
                    source=self.source.name,
                    day=day,
                    started=started,
                    finished=self._clock(),
                    outcome=outcome,
                    error=str(exc),
                )
            )
            return DayReport(day, outcome, error=str(exc))
        run = ScrapeRun(
            source=self.source.name,
            day=day,
            started=started,
            finished=self._clock(),
            outcome=fetch.outcome,
            fetched=len(fetch.papers),
            skipped=fetch.skipped,
            error=fetch.note if fetch.via in ("page", "listing") else None,
        )
        if isinstance(fetch, ArxivDay):  # arXiv papers go to their categories' listings, not to a Daily Papers day
            result = await self.store.upsert_papers(fetch.papers, run=run, listings=fetch.listings)
        else:
            result = await self.store.upsert_papers(fetch.papers, day=day, run=run)
        by_id = {paper.id: paper for paper in fetch.papers}
        report = DayReport(
            day,
            fetch.outcome,
            fetched=len(fetch.papers),
            new=len(result.new),
            updated=len(result.changed),
            skipped=fetch.skipped,
            via=fetch.via,
            note=fetch.note,
            new_papers=tuple(by_id[pid] for pid in result.new),
            changed_papers=tuple(by_id[pid] for pid in result.changed),
        )
        log.info(
            "scraped %s from %s via %s: %d papers, %d new, %d updated, %d skipped",
            day,
            self.source.name,
            fetch.via,
            report.fetched,
            report.new,
            report.updated,
            report.skipped,
        )
        return report

    async def scrape_days(self, days: Iterable[dt.date], progress: ProgressCallback | None = None) -> ScrapeSummary:
        """Scrape each day in turn (a failed day does not stop the others); `progress` hears each report."""
        summary = ScrapeSummary()
        for day in days:
            report = await self.scrape_day(day)
            summary.add(report)
            if progress is not None:
                progress(report)
        return summary

    async def ensure_paper(self, paper_id: str) -> Paper | None:
        """The paper from the cache, else fetched from the source and cached; None if unknown."""
        cached = await self.store.get_paper(paper_id)
        if cached is not None:
            return cached
        paper = await self.source.fetch_paper(paper_id)
        if paper is None:
            return None
        await self.store.upsert_papers([paper])
        return await self.store.get_paper(paper.id) or paper


def parse_day(text: str, what: str = "date") -> dt.date:
    """A YYYY-MM-DD date; ValueError naming `what` otherwise."""
    if _ISO_DATE.match(text.strip()):
        try:
            return dt.date.fromisoformat(text.strip())
        except ValueError:
            pass
    raise ValueError(f"{what} {text!r} is not a date like 2026-06-12 (YYYY-MM-DD)")


def days_to_scrape(
    *,
    today: dt.date,
    date: str | None = None,
    days: int | None = None,
    start: str | None = None,
    end: str | None = None,
) -> list[dt.date]:
    """The days a `scrape` command asks for, oldest first (default yesterday and today); ValueError if bad."""
    if end is not None and start is None:
        raise ValueError("--to needs --from (e.g. --from 2026-06-01 --to 2026-06-07)")
    if date is not None:
        first = last = parse_day(date, "--date")
    elif days is not None:
        if not 1 <= days <= MAX_SCRAPE_DAYS:
            raise ValueError(f"--days must be 1..{MAX_SCRAPE_DAYS}, got {days}")
        first, last = today - dt.timedelta(days=days - 1), today
    elif start is not None:
        if end is None:
            raise ValueError("--from needs --to (e.g. --from 2026-06-01 --to 2026-06-07)")
        first, last = parse_day(start, "--from"), parse_day(end, "--to")
        if first > last:
            raise ValueError(f"--from {first} is after --to {last}")
        if (last - first).days + 1 > MAX_SCRAPE_DAYS:
            raise ValueError(f"--from .. --to spans more than {MAX_SCRAPE_DAYS} days")
    else:
        first, last = today - dt.timedelta(days=1), today
    if last > today:
        raise ValueError(f"{last} is in the future (today is {today} UTC)")
    return [first + dt.timedelta(days=offset) for offset in range((last - first).days + 1)]
