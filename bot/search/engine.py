"""Search over the cache: FTS5 bm25 with column weights, fuzzy title matching, autocomplete, trending.

Ranking: bm25 over the columns (title > authors > keywords > abstract), ties broken by upvotes then
recency. Two bounds keep a search quick however large the cache grows. bm25 weighs each word by reading
every paper that holds it, so a query with a word held by more than DENSE_WINDOW papers is ranked by how
many of its words a title holds, then upvotes, then recency instead. And a query matching more than
DENSE_WINDOW papers (FILTERED_WINDOW when it has filters) is ranked within that many of its most
recently stored matches; its total is then a lower bound.

A query typed like a title (plain words, three or more) or one that finds almost nothing also asks an
in-memory title index, which forgives typos and missing words: titles that match closely go first,
looser ones follow the full-text results. The same index answers autocomplete. The bot builds it in
the background after login (`Search.start_warming`); until then searches use the full-text index alone.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import math
import re
import time

from bot.models import Paper
from bot.query import And, Filter, Node, Not, Or, Query, Term, leaves, parse
from bot.query.columns import BM25_WEIGHTS
from bot.search.results import PERIOD_DAYS, SORTS, Period, SearchResults, Sort, Trending
from bot.search.titles import TitleIndex
from bot.sources.huggingface import parse_paper_ref
from bot.store import Store
from bot.store.search import Hit, SearchSpec

log = logging.getLogger(__name__)

_ID_PREFIX = re.compile(r"\d{4}\.\d{0,5}")  # the start of a new-style arXiv id, as typed

COLUMN_WEIGHTS = BM25_WEIGHTS  # bm25 weights of papers_fts columns, in column order
MAX_LIMIT = 1000
TITLE_LIKE_WORDS = 3  # plain queries with this many words are also matched against titles
THIN_RESULTS = 3  # fewer full-text matches than this: add looser title matches
STRONG_TITLE_SCORE = 90.0  # title similarity that puts a paper ahead of the full-text results
WEAK_TITLE_SCORE = 75.0
MAX_TITLE_MATCHES = 5
REFRESH_SECONDS = 2.0  # how stale the title index may be before a lookup re-reads the store
# Bounds the cost of a search: a query matching more papers than this is ranked within this many most
# recently stored matches, and a word held by more papers than this is not weighed with bm25.
DENSE_WINDOW = 500
# With filters, fewer: finding the matches that pass them means reading more matches.
FILTERED_WINDOW = 150
# The full-text index grows as many b-trees, one per write; reading a word from each of them costs more
# than from one. Once a day they are merged into one, in steps of this many pages.
MERGE_EVERY = dt.timedelta(days=1)
MERGE_STEP_PAGES = 200
MERGED_AT_KEY = "search_index_merged_at"
WARM_CHUNK = 500  # titles indexed between two yields to the event loop while warming


def query_stems(query: Query) -> frozenset[str]:
    """The stems a title can hold to be about the query: of its words not excluded nor in other fields."""
    found: set[str] = set()

    def walk(node: Node, negated: bool) -> None:
        if isinstance(node, Term):
            if not negated and node.field in (None, "title"):
                found.update(node.stems)
        elif isinstance(node, Not):
            walk(node.child, not negated)
        elif isinstance(node, And | Or):
            for child in node.children:
                walk(child, negated)

    if query.words is not None:
        walk(query.words, False)
    return frozenset(found)


def _popularity(hit: Hit) -> tuple[int, bool, str, int]:
    """Sort key, descending: more upvotes, then the later day, then the paper stored last."""
    return hit.upvotes, hit.day is not None, hit.day or "", hit.rowid


class Search:
    """Searches one store, keeping its title index in step with the store.

    Time comes from the store's clock. One instance per store and process: whoever searches is given it.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.titles = TitleIndex()
        self._loaded = False
        self._high_rowid = 0
        self._synced_at = ""
        self._checked = -math.inf
        self._version = -1
        self._lock = asyncio.Lock()
        # How many papers hold each query word (counted up to DENSE_WINDOW + 1) while the store is unchanged.
        self._term_counts: dict[str, int] = {}
        self._term_counts_version = -1
        self._warming: asyncio.Task[None] | None = None

    @property
    def ready(self) -> bool:
        """Whether the title index has been built (until then searches use the full-text index alone)."""
        return self._loaded

    @property
    def warming(self) -> asyncio.Task[None] | None:
        """The background build of the title index, once started."""
        return self._warming

    def start_warming(self) -> asyncio.Task[None]:
        """Start building the title index in the background, once; the task logs its own failure."""
        if self._warming is None:
            self._warming = asyncio.create_task(self._warm_logged(), name="search-title-index")
        return self._warming

    async def close(self) -> None:
        """Stop a build of the title index under way."""
        if self._warming is not None and not self._warming.done():
            self._warming.cancel()
            await asyncio.wait({self._warming})

    async def _warm_logged(self) -> None:
        try:
            await self.warm()
        except Exception:
            # The first search that needs titles builds the index instead (as without warming).
            log.exception("could not build the title index in the background")

    async def warm(self) -> None:
        """Build the title index in chunks, yielding to the event loop between them; no-op once built."""
        if self._loaded:
            return
        started = time.monotonic()
        version, since = self.store.papers_version, self._sync_mark()
        high = await self.store.paper_rowid_high_mark()
        rows = await self.store.paper_titles(0)
        fresh = TitleIndex()
        for start in range(0, len(rows), WARM_CHUNK):
            fresh.add(rows[start : start + WARM_CHUNK], place=False)
            await asyncio.sleep(0)  # searches go on meanwhile, on the full-text index alone
        # Nothing else sees `fresh` yet, so sorting it may run on a worker thread.
        await asyncio.to_thread(fresh.place_all)
        async with self._lock:
            if self._loaded:  # a refresh got there first
                return
            self.titles, self._loaded = fresh, True
            self._mark_synced(version, high, since)
        log.info("title index: %d titles in %.2fs", len(fresh), time.monotonic() - started)

    def _sync_mark(self) -> str:
        """Where the next read of changed titles starts: a second back by the store's clock.

        Rows written within the same second as the last read are seen again.
        """
        return (self.store.clock.now() - dt.timedelta(seconds=1)).isoformat(timespec="seconds")

    def _mark_synced(self, version: int, high: int, since: str) -> None:
        self._high_rowid = max(high, self._high_rowid)
        self._synced_at = since
        self._checked = time.monotonic()
        self._version = version

    def _warming_now(self) -> bool:
        return not self._loaded and self._warming is not None and not self._warming.done()

    async def refresh(self, *, force: bool = False) -> None:
        """Bring the title index up to date with the store (at most every few seconds unless forced).

        While the background build runs this does nothing: the build reads every title anyway.
        """
        if self._warming_now() or (not force and not self._stale()):
            return
        async with self._lock:
            if self._warming_now() or (not force and not self._stale()):
                return
            version = self.store.papers_version
            started = time.monotonic()
            since = self._sync_mark()
            high = await self.store.paper_rowid_high_mark()
            if not self._loaded:
                rows = await self.store.paper_titles(0)
                self._loaded = True
            else:
                rows = []
                if high > self._high_rowid:
                    rows += await self.store.paper_titles(self._high_rowid)
                rows += await self.store.titles_updated_since(self._synced_at)
            changed = self.titles.add(rows)
            self._mark_synced(version, high, since)
            if changed:
                log.debug("title index: %d titles updated in %.3fs", changed, time.monotonic() - started)

    def _stale(self) -> bool:
        """Papers were written through this store since the last refresh, or another process may have."""
        return self.store.papers_version != self._version or time.monotonic() - self._checked >= REFRESH_SECONDS

    async def merge_index(self) -> int:
        """Merge the full-text index into one b-tree, a step at a time; returns the number of steps."""
        steps = 0
        more = True
        while more:
            more = await self.store.merge_search_index(MERGE_STEP_PAGES, start=steps == 0)
            steps += 1
            await asyncio.sleep(0)  # searches waiting for the database go between steps
        return steps

    async def merge_index_if_due(self, now: dt.datetime) -> bool:
        """Merge the full-text index unless that was done less than MERGE_EVERY ago; True if it ran."""
        last = await self.store.get_meta(MERGED_AT_KEY)
        if last is not None and now - dt.datetime.fromisoformat(last) < MERGE_EVERY:
            return False
        started = time.monotonic()
        steps = await self.merge_index()
        await self.store.set_meta(MERGED_AT_KEY, now.isoformat())
        log.info("search index merged in %d steps (%.1fs)", steps, time.monotonic() - started)
        return True

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
        await self.refresh()
        rowids = self.titles.complete(text, limit)
        found = await self.store.ids_and_titles(rowids)
        return [found[r] for r in rowids if r in found]

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
        if sort not in SORTS:
            raise ValueError(f"sort must be one of {', '.join(SORTS)}")
        if not 1 <= limit <= MAX_LIMIT or offset < 0:
            raise ValueError(f"limit must be 1-{MAX_LIMIT} and offset at least 0")
        ref = parse_paper_ref(query_text)
        if ref is not None:
            paper = await self.store.get_paper(ref)
            found = (paper,) if paper is not None and offset == 0 else ()
            return SearchResults(query_text, found, int(paper is not None), sort, offset, limit, paper_ref=ref)
        query = parse(query_text)
        if since is not None:
            # Flatten into the top-level AND: filters only compile to SQL from there.
            parts = query.root.children if isinstance(query.root, And) else (query.root,)
            query = dataclasses.replace(query, root=And((*parts, Filter("day", ">=", since))))
        compiled = query.fts()
        if compiled.match is None or compiled.exclude:
            # Filters alone, or every paper but some: the store's indexes order these.
            spec = SearchSpec(
                match=compiled.match,
                exclude=compiled.exclude,
                filters=compiled.filters,
                sort=sort,
                limit=limit,
                offset=offset,
                weights=COLUMN_WEIGHTS,
            )
            papers = await self.store.search_page(spec)
            return SearchResults(query_text, tuple(papers), await self.store.search_count(spec), sort, offset, limit)
        scored = await self._selective(query)
        hits, exact = await self._hits(query, compiled.match, scored)
        ranked = await self._rank_hits(hits, query, sort, scored)
        strong: dict[int, Paper] = {}
        weak: list[Paper] = []
        plain = bool(query.plain_words())
        title_like = len(query.typed_words) >= TITLE_LIKE_WORDS and not query.has_quotes()
        if sort == "relevance" and plain and (title_like or len(ranked) < THIN_RESULTS):
            strong, weak = await self._title_matches(query, " ".join(query.typed_words), len(ranked))
        # The page is a slice of: close title matches, full-text hits without them, looser title matches.
        items: list[Paper | Hit] = [*strong.values(), *(h for h in ranked if h.rowid not in strong), *weak]
        window = items[offset : offset + limit]
        fetched = await self.store.papers_by_rowid([h.rowid for h in window if isinstance(h, Hit)])
        page = [
            item if isinstance(item, Paper) else fetched[item.rowid]
            for item in window
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

    async def _hits(self, query: Query, match: str, scored: bool) -> tuple[list[Hit], bool]:
        """The papers matching the query (words and filters), newest first, and whether that is all.

        At most DENSE_WINDOW (FILTERED_WINDOW with filters) are kept: the most recently stored ones.
        The hits depend on the query alone, so that its pages join up.
        """
        filters = query.filters
        window = FILTERED_WINDOW if filters else DENSE_WINDOW
        hits = await self.store.match_hits(
            match, limit=window + 1, filters=filters, weights=COLUMN_WEIGHTS if scored else None
        )
        return hits[:window], len(hits) <= window

    async def _rank_hits(self, hits: list[Hit], query: Query, sort: Sort, scored: bool) -> list[Hit]:
        """Hits in the order asked; relevance is bm25 when scored, else title hits first.

        Ties go to more upvotes, then the later day, then the paper stored last.
        """
        if sort == "new":
            return sorted(hits, key=lambda h: (h.day is not None, h.day or "", h.upvotes, h.rowid), reverse=True)
        if sort == "top" or not hits:
            return sorted(hits, key=_popularity, reverse=True)
        if scored:
            ordered = sorted(hits, key=_popularity, reverse=True)
            ordered.sort(key=lambda h: h.score)
            return ordered
        # Titles holding more of the query's words first (the title index knows every title's words).
        await self.refresh()
        stems = query_stems(query)
        held = self.titles.words_held
        return sorted(hits, key=lambda h: (held(h.rowid, stems), *_popularity(h)), reverse=True)

    async def _selective(self, query: Query) -> bool:
        """Whether every word of the query is in at most DENSE_WINDOW papers (so bm25 is quick)."""
        if self._term_counts_version != self.store.papers_version:
            self._term_counts.clear()
            self._term_counts_version = self.store.papers_version
        words = query.words
        # bm25 reads every paper holding each word of a phrase, whatever the phrase's field.
        terms = {
            '"' + token.replace('"', '""') + '"'
            for t in (leaves(words) if words else ())
            if isinstance(t, Term)
            for token in t.tokens
        }
        unknown = sorted(terms - self._term_counts.keys())
        counts = await self.store.match_counts(unknown, DENSE_WINDOW + 1)
        if len(self._term_counts) > 50_000:
            self._term_counts.clear()
        self._term_counts.update(zip(unknown, counts, strict=True))
        return all(self._term_counts[t] <= DENSE_WINDOW for t in terms)

    async def _title_matches(self, query: Query, text: str, total: int) -> tuple[dict[int, Paper], list[Paper]]:
        """(close title matches by rowid, looser ones that the words alone do not find)."""
        await self.refresh()
        scored = self.titles.match(text, limit=2 * MAX_TITLE_MATCHES, cutoff=WEAK_TITLE_SCORE)
        papers = await self.store.papers_by_rowid([rowid for rowid, _ in scored])
        strong: dict[int, Paper] = {}
        weak: list[Paper] = []
        for rowid, score in scored:
            paper = papers.get(rowid)
            if paper is None or not query.filters_hold(paper):
                continue
            if score >= STRONG_TITLE_SCORE and len(strong) < MAX_TITLE_MATCHES:
                strong[rowid] = paper
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
