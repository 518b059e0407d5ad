"""Search on Postgres: the same query language, ranking rules and answers as the SQLite engine.

A query compiles to a tsquery over each paper's weighted tsvector (title A, authors B, keywords C,
abstract D), built from the project's own folding and Porter stems, so both backends find the same
papers for the same query. Ranking is ts_rank_cd (cover density: the query's words close together count
more) with the column weights of bm25 on SQLite, ties broken by upvotes, then recency, then the paper
stored last. As on SQLite, a query matching more than DENSE_WINDOW papers (FILTERED_WINDOW with filters)
is ranked within that many of its most recently stored matches, and its total is then a lower bound; the
ranking reads only those, so every query is ranked.

Titles typed loosely (plain words, three or more) or queries that find almost nothing also ask pg_trgm
for similar titles, ranked with rapidfuzz exactly as the SQLite engine ranks its in-memory titles: close
matches go first, looser ones follow the full-text results. Nothing is held in memory, so several bot
processes on one database answer alike.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re

from bot.models import Paper
from bot.query import Query, split_filters
from bot.search.answer import (
    COLUMN_WEIGHTS,
    DENSE_WINDOW,
    FILTERED_WINDOW,
    MAX_TITLE_MATCHES,
    STRONG_TITLE_SCORE,
    THIN_RESULTS,
    WEAK_TITLE_SCORE,
    title_like,
)
from bot.search.engine import MAX_LIMIT, MERGE_STEP_PAGES
from bot.search.postgres_titles import complete_titles, match_titles
from bot.search.results import (
    PERIOD_DAYS,
    Period,
    SearchResults,
    Sort,
    Trending,
    check_page,
    paper_ref_results,
    parse_since,
)
from bot.search.upkeep import merge_if_due
from bot.sources.huggingface import parse_paper_ref
from bot.store.postgres import PostgresStore, TitleRow
from bot.store.postgres.lexemes import compile_tsquery
from bot.store.search import Hit, SearchSpec

log = logging.getLogger(__name__)

_ID_PREFIX = re.compile(r"\d{4}\.\d{0,5}")  # the start of a new-style arXiv id, as typed


def _popularity(hit: Hit) -> tuple[int, bool, str, int]:
    """Sort key, descending: more upvotes, then the later day, then the paper stored last."""
    return hit.upvotes, hit.day is not None, hit.day or "", hit.rowid


class PostgresSearch:
    """Searches one Postgres store. Time comes from the store's clock; nothing is cached between calls."""

    def __init__(self, store: PostgresStore) -> None:
        self.store = store

    @property
    def ready(self) -> bool:
        """Always: there is no in-memory index to build on Postgres."""
        return True

    @property
    def warming(self) -> asyncio.Task[None] | None:
        """The background build of an in-memory index: never, on Postgres."""
        return None

    def start_warming(self) -> None:
        """Nothing to build in the background: titles are looked up in Postgres (pg_trgm)."""
        log.debug("search on Postgres: titles come from pg_trgm, nothing to warm")

    async def close(self) -> None:
        """Nothing to stop: every lookup runs in Postgres."""

    async def refresh(self, *, force: bool = False) -> None:
        """Nothing to bring up to date: the indexes are Postgres's, written with the papers."""

    async def merge_index(self) -> int:
        """Move the GIN indexes' pending entries into their trees; returns the number of steps."""
        steps = 1
        while await self.store.merge_search_index(MERGE_STEP_PAGES, start=steps == 1):
            steps += 1
            await asyncio.sleep(0)
        return steps

    async def merge_index_if_due(self, now: dt.datetime) -> bool:
        """Merge the GIN indexes' pending entries unless that was done less than MERGE_EVERY ago; True if it ran."""
        return await merge_if_due(self.store, self.merge_index, now)

    async def autocomplete(self, text: str, limit: int = 25) -> list[tuple[str, str]]:
        """(paper id, title) suggestions for a partly typed id, URL or title."""
        stripped = text.strip()
        if not stripped:
            return []
        ref = parse_paper_ref(stripped)
        if ref is not None:
            paper = await self.store.get_paper(ref)
            if paper is not None:
                return [(paper.id, paper.title)]
        if _ID_PREFIX.fullmatch(stripped):
            return await self.store.ids_with_prefix(stripped, limit)
        return await complete_titles(self.store, text, limit)

    async def search(
        self,
        query_text: str,
        *,
        sort: Sort = "relevance",
        limit: int = 10,
        offset: int = 0,
        since: dt.date | None = None,
    ) -> SearchResults:
        """One page of papers matching a query (raises QueryError for a query that does not parse)."""
        check_page(sort, limit, offset, MAX_LIMIT)
        ref = parse_paper_ref(query_text)
        if ref is not None:
            return paper_ref_results(query_text, ref, await self.store.get_paper(ref), sort, offset, limit)
        query = parse_since(query_text, since)
        spec = search_spec(query, sort=sort, limit=limit, offset=offset)
        if spec.match is None or spec.exclude:
            # Filters alone, or every paper but some: the store's indexes order these.
            papers = await self.store.search_page(spec)
            return SearchResults(query_text, tuple(papers), await self.store.search_count(spec), sort, offset, limit)
        window = FILTERED_WINDOW if spec.filters else DENSE_WINDOW
        plain = sort == "relevance" and bool(query.plain_words())
        title_text = " ".join(query.typed_words)
        finding = self.store.match_hits(spec.match, limit=window + 1, filters=spec.filters, weights=COLUMN_WEIGHTS)
        titled: list[tuple[TitleRow, float]] | None = None
        if title_like(query, sort):  # the title lookups need not wait for the full-text hits: both at once
            matched, titled = await asyncio.gather(finding, self._scored_titles(title_text))
        else:
            matched = await finding
        hits, exact = matched[:window], len(matched) <= window
        ranked = _rank_hits(hits, sort)
        strong: dict[int, Paper] = {}
        weak: list[Paper] = []
        if titled is None and plain and len(ranked) < THIN_RESULTS:
            titled = await self._scored_titles(title_text)
        if titled is not None:
            strong, weak = await self._title_matches(query, titled, len(ranked))
        # The page is a slice of: close title matches, full-text hits without them, looser title matches.
        items: list[Paper | Hit] = [*strong.values(), *(h for h in ranked if h.rowid not in strong), *weak]
        window_items = items[offset : offset + limit]
        fetched = await self.store.papers_by_rowid([h.rowid for h in window_items if isinstance(h, Hit)])
        page = [
            item if isinstance(item, Paper) else fetched[item.rowid]
            for item in window_items
            if isinstance(item, Paper) or item.rowid in fetched
        ]
        return SearchResults(
            query=query_text,
            papers=tuple(page),
            total=len(items),
            sort=sort,
            offset=offset,
            limit=limit,
            total_exact=exact,
        )

    async def _scored_titles(self, text: str) -> list[tuple[TitleRow, float]]:
        """The titles like `text` and their scores (see bot.search.postgres_titles)."""
        return await match_titles(self.store, text, limit=2 * MAX_TITLE_MATCHES, cutoff=WEAK_TITLE_SCORE)

    async def _title_matches(
        self, query: Query, scored: list[tuple[TitleRow, float]], total: int
    ) -> tuple[dict[int, Paper], list[Paper]]:
        """(close title matches by rowid, looser ones that the words alone do not find)."""
        papers = await self.store.papers_by_rowid([row.rowid for row, _ in scored])
        strong: dict[int, Paper] = {}
        weak: list[Paper] = []
        for row, score in scored:
            paper = papers.get(row.rowid)
            if paper is None or not query.filters_hold(paper):
                continue
            if score >= STRONG_TITLE_SCORE and len(strong) < MAX_TITLE_MATCHES:
                strong[row.rowid] = paper
            elif score >= WEAK_TITLE_SCORE and total < THIN_RESULTS and not query.matches(paper):
                weak.append(paper)
        return strong, weak[:MAX_TITLE_MATCHES]

    async def trending(self, period: Period, now: dt.datetime, limit: int = 10) -> Trending:
        """The most upvoted papers of the latest day, or of the 7 or 30 days up to `now`."""
        if period not in PERIOD_DAYS:
            raise ValueError("period must be day, week or month")
        today = now.date()
        if period == "day":
            last = await self.store.latest_paper_day(today)
            if last is None:
                return Trending(period, None, None, ())
            first = last
        else:
            last, first = today, today - dt.timedelta(days=PERIOD_DAYS[period] - 1)
        papers = await self.store.top_papers_between(first, last, limit)
        return Trending(period, first, last, tuple(papers))


def search_spec(query: Query, *, sort: Sort = "relevance", limit: int = 10, offset: int = 0) -> SearchSpec:
    """The Postgres store's spec for a parsed query: its words as a tsquery, its filters, the order and page."""
    words, filters = split_filters(query.root)
    if words is None:
        return SearchSpec(None, False, filters, sort, limit, offset, COLUMN_WEIGHTS)
    positive, tsquery = compile_tsquery(words)
    return SearchSpec(tsquery, not positive, filters, sort, limit, offset, COLUMN_WEIGHTS)


def _rank_hits(hits: list[Hit], sort: Sort) -> list[Hit]:
    """Hits in the order asked: relevance is ts_rank_cd (as a score, lower better); ties go to popularity."""
    if sort == "new":
        return sorted(hits, key=lambda h: (h.day is not None, h.day or "", h.upvotes, h.rowid), reverse=True)
    ordered = sorted(hits, key=_popularity, reverse=True)
    if sort == "relevance":
        ordered.sort(key=lambda h: h.score)
    return ordered
