"""Hugging Face Daily Papers: the JSON API first, the /papers/date page as fallback; pure parsers."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import httpx
from bs4 import BeautifulSoup

from bot.config import Config
from bot.models import DailyEntry, Paper
from bot.sources.http import FetchError, HTTPStatusError, InvalidPayload, PoliteClient, Unreachable

log = logging.getLogger(__name__)

SOURCE_NAME = "huggingface"
API_PAGE_SIZE = 100
MAX_API_PAGES = 20  # 2000 papers a day is far beyond any real day; stops a server that ignores `p`

# C0/C1 control characters become spaces, so that terminals and embeds never see them.
_CONTROL_TO_SPACE = {code: " " for code in (*range(0x00, 0x20), *range(0x7F, 0xA0))}
_PAPER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-/]{0,63}$")

_NEW_ID = r"\d{4}\.\d{4,5}"
_OLD_ID = r"[a-z]+(?:-[a-z]+)*(?:\.[A-Z]{2})?/\d{7}"
_REF_ID = rf"(?P<id>{_NEW_ID}|{_OLD_ID})(?:v\d+)?"
_BARE_REF = re.compile(rf"^(?i:arxiv:)?\s*{_REF_ID}$")
_URL_REF = re.compile(
    r"^(?i:(?:https?://)?(?:www\.|export\.)?"
    r"(?:arxiv\.org/(?:abs|pdf|html)/|(?:huggingface\.co|hf\.co)/papers/))"
    rf"{_REF_ID}(?i:\.pdf)?/?(?:[?#].*)?$"
)


class MarkupChanged(FetchError):
    """The page answered but the papers are not where they used to be: the site's markup changed."""


@dataclass(frozen=True, slots=True)
class ParseResult:
    """Papers parsed from one payload, their daily entries, and how many items had to be skipped."""

    papers: tuple[Paper, ...]
    entries: tuple[DailyEntry, ...]
    skipped: int


@dataclass(frozen=True, slots=True)
class DailyPage:
    """What the /papers/date page carries: the day it shows, how many items it had, and the parse."""

    date_string: str | None
    items: int
    result: ParseResult

    def shows(self, day: dt.date) -> bool:
        """Whether the page lists `day` (a day without papers redirects to another one)."""
        return self.date_string is None or self.date_string == day.isoformat()


@dataclass(frozen=True, slots=True)
class DayFetch:
    """One day fetched: its papers and entries, items skipped, and whether the API or the page served it."""

    day: dt.date
    papers: tuple[Paper, ...]
    entries: tuple[DailyEntry, ...]
    skipped: int
    via: str  # "api" | "page"
    note: str | None = None  # why the page was used, or why the day is empty

    @property
    def outcome(self) -> str:
        """ "ok" when the day has papers, else "empty"."""
        return "ok" if self.papers else "empty"


# ---------------------------------------------------------------- pure parsing


def clean_text(value: Any) -> str:
    """Collapse whitespace runs to one space and drop control characters; non-strings become ""."""
    if not isinstance(value, str):
        return ""
    return " ".join(value.translate(_CONTROL_TO_SPACE).split())


def _optional_text(value: Any) -> str | None:
    text = clean_text(value)
    return text or None


def _optional_url(value: Any) -> str | None:
    text = clean_text(value)
    return text if text.startswith(("https://", "http://")) and " " not in text else None


def _count(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def _date_of(value: Any) -> dt.date | None:
    """The UTC calendar date of an ISO timestamp like 2026-06-12T00:00:00.000Z."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).date()


def _authors(value: Any) -> tuple[str, ...]:
    # Hidden authors keep their names: `hidden` only hides the link to a Hugging Face account,
    # and the author list itself is public on arXiv.
    if not isinstance(value, list):
        return ()
    names = []
    for author in value:
        name = clean_text(author.get("name")) if isinstance(author, Mapping) else clean_text(author)
        if name:
            names.append(name)
    return tuple(names)


def _keywords(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(word for word in (clean_text(item) for item in value) if word)


def _organization(value: Any) -> str | None:
    if not isinstance(value, Mapping):
        return None
    return _optional_text(value.get("fullname")) or _optional_text(value.get("name"))


def _build(paper: Mapping[str, Any], outer: Mapping[str, Any]) -> Paper | None:
    paper_id = paper.get("id")
    if not isinstance(paper_id, str) or not _PAPER_ID.match(paper_id):
        return None
    title = clean_text(paper.get("title")) or clean_text(outer.get("title"))
    if not title:
        return None
    num_comments = _count(outer.get("numComments"))
    if num_comments is None:
        num_comments = _count(paper.get("numComments")) or 0
    return Paper(
        id=paper_id,
        title=title,
        authors=_authors(paper.get("authors")),
        summary=clean_text(paper.get("summary")) or clean_text(outer.get("summary")),
        published=_date_of(paper.get("publishedAt")),
        day=_date_of(paper.get("submittedOnDailyAt")),
        upvotes=_count(paper.get("upvotes")) or 0,
        ai_summary=_optional_text(paper.get("ai_summary")),
        ai_keywords=_keywords(paper.get("ai_keywords")),
        github_repo=_optional_url(paper.get("githubRepo")),
        github_stars=_count(paper.get("githubStars")),
        project_page=_optional_url(paper.get("projectPage")),
        thumbnail=_optional_url(outer.get("thumbnail")) or _optional_url(paper.get("thumbnail")),
        num_comments=num_comments,
        organization=_organization(outer.get("organization")) or _organization(paper.get("organization")),
    )


def parse_paper(obj: Any) -> Paper | None:
    """A Paper from one `/api/papers/{id}` object (no `paper` wrapper); None without an id or title."""
    if not isinstance(obj, Mapping):
        return None
    return _build(obj, {})


def parse_daily_item(item: Any) -> Paper | None:
    """A Paper from one Daily Papers item (`paper` plus top-level thumbnail, numComments, organization)."""
    if not isinstance(item, Mapping) or not isinstance(item.get("paper"), Mapping):
        return None
    return _build(item["paper"], item)


def parse_daily_papers(payload: Any, day: dt.date | None = None) -> ParseResult:
    """Papers and entries from a `/api/daily_papers` list; items without a daily date get `day`."""
    if not isinstance(payload, list):
        raise InvalidPayload(f"expected a JSON list of daily papers, got {type(payload).__name__}")
    papers: dict[str, Paper] = {}
    skipped = 0
    for item in payload:
        paper = parse_daily_item(item)
        if paper is None:
            skipped += 1
            continue
        if paper.day is None and day is not None:
            paper = replace(paper, day=day)
        papers.setdefault(paper.id, paper)
    entries = tuple(DailyEntry(p.day, p.id, p.upvotes) for p in papers.values() if p.day is not None)
    return ParseResult(tuple(papers.values()), entries, skipped)


def parse_daily_page(html: str, day: dt.date) -> DailyPage:
    """The papers in a `/papers/date/D` page's DailyPapers `data-props`; MarkupChanged if absent or odd."""
    # Select by data-target: comment HTML inside the props may carry other data-props attributes.
    soup = BeautifulSoup(html, "lxml")
    element = soup.select_one('[data-target="DailyPapers"]')
    if element is None:
        raise MarkupChanged("the page has no DailyPapers element (the site's markup may have changed)")
    raw = element.get("data-props")
    if not isinstance(raw, str) or not raw.strip():
        raise MarkupChanged("the DailyPapers element has no data-props (the site's markup may have changed)")
    try:
        props = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise MarkupChanged(f"the DailyPapers data-props is not JSON ({exc})") from exc
    if not isinstance(props, Mapping) or not isinstance(props.get("dailyPapers"), list):
        raise MarkupChanged("the DailyPapers data-props has no dailyPapers list (markup changed?)")
    date_string = props.get("dateString")
    date_string = date_string if isinstance(date_string, str) else None
    items: list[Any] = props["dailyPapers"]
    page = DailyPage(date_string, len(items), ParseResult((), (), 0))
    if not page.shows(day):
        return page
    result = parse_daily_papers(items, day)
    if items and not result.papers:
        raise MarkupChanged(
            f"none of the {len(items)} items on the page could be read (the data format may have changed)"
        )
    return DailyPage(date_string, len(items), result)


def parse_paper_ref(text: str) -> str | None:
    """The arXiv id in an id, arXiv abs/pdf URL or huggingface.co/papers URL (version dropped); else None."""
    candidate = text.strip()
    match = _BARE_REF.match(candidate) or _URL_REF.match(candidate)
    return match.group("id") if match else None


def only_day(result: ParseResult, day: dt.date) -> tuple[ParseResult, int]:
    """Keep the papers featured on `day`; also return how many belonged to other days."""
    papers = tuple(p for p in result.papers if p.day == day)
    entries = tuple(e for e in result.entries if e.day == day)
    return ParseResult(papers, entries, result.skipped), len(result.papers) - len(papers)


# ---------------------------------------------------------------- fetching


class HuggingFaceSource:
    """Fetches Daily Papers days and single papers from huggingface.co (or a server shaped like it)."""

    name = SOURCE_NAME

    def __init__(
        self,
        client: PoliteClient,
        base_url: str = "https://huggingface.co",
        *,
        page_size: int = API_PAGE_SIZE,
        max_pages: int = MAX_API_PAGES,
    ) -> None:
        self.client = client
        self.base_url = base_url.rstrip("/")
        self.page_size = page_size
        self.max_pages = max_pages

    @classmethod
    def from_config(cls, http: httpx.AsyncClient, config: Config, **client_options: Any) -> HuggingFaceSource:
        """The source for the configured base URL, through a PoliteClient with the configured rate limit."""
        return cls(PoliteClient.from_config(http, config, **client_options), config.huggingface.base_url)

    async def fetch_day(self, day: dt.date) -> DayFetch:
        """One day's papers from the API, else from the page; FetchError (or MarkupChanged) if neither."""
        try:
            result, other_days = only_day(await self._fetch_day_api(day), day)
            if other_days and not result.papers:
                # The API answered for some other day: the page for this date is the better witness.
                raise InvalidPayload(f"the API listed {other_days} papers, none of them from {day}")
        except Unreachable:
            raise  # the page lives on the same host: trying it would fail the same way
        except FetchError as api_error:
            log.warning("daily papers API failed for %s, trying the page: %s", day, api_error)
            return await self._fetch_day_page(day, api_error)
        if other_days:
            log.info("daily papers API for %s also listed %d papers of other days; ignored", day, other_days)
        note = None if result.papers else "the API lists no papers for this day"
        return DayFetch(day, result.papers, result.entries, result.skipped, "api", note)

    async def _fetch_day_api(self, day: dt.date) -> ParseResult:
        papers: dict[str, Paper] = {}
        skipped = 0
        url = f"{self.base_url}/api/daily_papers"
        for page_number in range(self.max_pages):
            params: dict[str, str | int] = {
                "date": day.isoformat(),
                "limit": self.page_size,
                "p": page_number,
            }
            payload = await self.client.get_json(url, params)
            if not isinstance(payload, list):
                raise InvalidPayload(f"{url}: expected a JSON list of daily papers, got {type(payload).__name__}", url)
            page = parse_daily_papers(payload, day)
            if payload and not page.papers:
                raise InvalidPayload(f"{url}: none of the {len(payload)} items could be read", url)
            fresh = [p for p in page.papers if p.id not in papers]
            for paper in fresh:
                papers[paper.id] = paper
            skipped += page.skipped
            if len(payload) < self.page_size or not fresh:
                break
        else:
            log.warning("daily papers API for %s: stopped after %d pages", day, self.max_pages)
        entries = tuple(DailyEntry(p.day, p.id, p.upvotes) for p in papers.values() if p.day is not None)
        return ParseResult(tuple(papers.values()), entries, skipped)

    async def _fetch_day_page(self, day: dt.date, api_error: FetchError) -> DayFetch:
        url = f"{self.base_url}/papers/date/{day.isoformat()}"
        try:
            html = await self.client.get_text(url)
        except FetchError as page_error:
            raise FetchError(f"the API failed ({api_error}) and so did the page ({page_error})", url) from page_error
        try:
            page = parse_daily_page(html, day)
        except MarkupChanged as exc:
            raise MarkupChanged(f"{url}: {exc} (the API had failed too: {api_error})", url) from exc
        note = f"fetched from the page because the API failed: {api_error}"
        if not page.shows(day):
            log.info("%s shows %s instead: no papers on %s", url, page.date_string, day)
            return DayFetch(day, (), (), 0, "page", f"the page shows {page.date_string}: no papers that day")
        result, other_days = only_day(page.result, day)
        if other_days:
            log.info("%s also listed %d papers of other days; ignored", url, other_days)
        return DayFetch(day, result.papers, result.entries, result.skipped, "page", note)

    async def fetch_paper(self, paper_id: str) -> Paper | None:
        """One paper from `/api/papers/{id}`; None if Hugging Face does not know it."""
        url = f"{self.base_url}/api/papers/{paper_id}"
        try:
            payload = await self.client.get_json(url)
        except HTTPStatusError as exc:
            if exc.status == 404:
                return None
            raise
        paper = parse_paper(payload)
        if paper is None:
            raise InvalidPayload(f"{url}: the answer is not a paper with an id and a title", url)
        return paper
