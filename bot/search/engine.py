"""Search over the cache: FTS5 bm25 with column weights, phrase and title tiers, fuzzy titles, autocomplete.

Each search runs whole as one synchronous function on a read-only connection beside the writer
(`Store.read`): a long write or an alert pass never holds it up, and it costs one hop off the event loop.

Ranking: papers whose title holds the query's words adjacent and in order come first, then bm25 over the
columns (title > authors > keywords > abstract), ties broken by upvotes then recency. Two bounds keep a
search quick however large the cache grows. bm25 weighs each word by reading every paper that holds it,
so a query with a word held by more than DENSE_WINDOW papers is ranked by how many of its words a title
holds, then upvotes, then recency instead. And a query matching more than DENSE_WINDOW papers
(FILTERED_WINDOW with filters) is ranked within that many of its most recently stored matches (its total
is then a lower bound), plus the older ones whose title holds the words as a phrase.

A query typed like a title (plain words, three or more) or one that finds almost nothing is also looked
up in the title-only index, which forgives typos and missing words: titles that match closely go first,
looser ones follow the full-text results. The same index answers autocomplete. Only its vocabulary is
held in memory, read after login on a reading connection (`Search.start_warming`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import math
import re
import sqlite3
import time

from rapidfuzz import fuzz

from bot.models import Paper
from bot.query import And, Node, Not, Or, Query, Term, leaves, stem
from bot.query.columns import BM25_WEIGHTS
from bot.search import titles
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
from bot.search.titles import TitleWords, title_key
from bot.search.upkeep import merge_if_due
from bot.sources.huggingface import parse_paper_ref
from bot.store import Store, search_read
from bot.store.search import Hit, SearchSpec

log = logging.getLogger(__name__)

_ID_PREFIX = re.compile(r"\d{4}\.\d{0,5}")  # the start of a new-style arXiv id, as typed

COLUMN_WEIGHTS = BM25_WEIGHTS  # bm25 weights of papers_fts columns, in column order
MAX_LIMIT = 1000
TITLE_LIKE_WORDS = 3  # plain queries with this many words are also matched against titles
THIN_RESULTS = 3  # fewer full-text matches than this: add looser title matches
STRONG_TITLE_SCORE = 80.0  # title similarity that puts a paper ahead of the full-text results
WEAK_TITLE_SCORE = 75.0
MAX_TITLE_MATCHES = 5
PHRASE_MATCHES = 50  # papers whose title holds the query as a phrase, ranked first whatever their age
HELD_WORDS = 8  # query words whose presence in titles is counted for dense queries
HELD_SPAN = 20_000  # titles read per word counted, from the newest hit down
# Titles likely read to count one word, at most: a word in so many titles tells them apart least.
HELD_READS = 1_000
REFRESH_SECONDS = 2.0  # how stale the title vocabulary may be before a lookup re-reads the store
RELOAD_TITLES = 20_000  # more new titles than this: the vocabulary is read again whole from the index
# Bounds the cost of a search: a query matching more papers than this is ranked within this many most
# recently stored matches, and a word held by more papers than this is not weighed with bm25.
DENSE_WINDOW = 500
# With filters, fewer: finding the matches that pass them means reading more matches.
FILTERED_WINDOW = 150
# The full-text index grows as many b-trees, one per write; once a day (bot.search.upkeep) they are merged
# into one, in steps of this many pages.
MERGE_STEP_PAGES = 200


def query_stems(query: Query) -> frozenset[str]:
    """The stems a title can hold to be about the query: of its words not excluded nor in other fields."""
    return frozenset(stem(token) for token in _title_tokens(query))


def _title_tokens(query: Query) -> list[str]:
    """The folded words a title can hold to be about the query, one per stem, in the order typed."""
    found: dict[str, str] = {}

    def walk(node: Node, negated: bool) -> None:
        if isinstance(node, Term):
            if not negated and node.field in (None, "title"):
                for token in node.tokens:
                    found.setdefault(stem(token), token)
        elif isinstance(node, Not):
            walk(node.child, not negated)
        elif isinstance(node, And | Or):
            for child in node.children:
                walk(child, negated)

    if query.words is not None:
        walk(query.words, False)
    return list(found.values())


def _popularity(hit: Hit) -> tuple[int, bool, str, int]:
    """Sort key, descending: more upvotes, then the later day, then the paper stored last."""
    return hit.upvotes, hit.day is not None, hit.day or "", hit.rowid


class Search:
    """Searches one store; keeps the vocabulary of its titles in step with it.

    Time comes from the store's clock. One instance per store and process: whoever searches is given it.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.words = TitleWords()
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
        """Whether the title vocabulary has been read (until then typed words are not corrected)."""
        return self._loaded

    @property
    def warming(self) -> asyncio.Task[None] | None:
        """The background read of the title vocabulary, once started."""
        return self._warming

    def start_warming(self) -> asyncio.Task[None]:
        """Start reading the title vocabulary in the background, once; the task logs its own failure."""
        if self._warming is None:
            self._warming = asyncio.create_task(self._warm_logged(), name="search-title-words")
        return self._warming

    async def close(self) -> None:
        """Stop a read of the title vocabulary under way."""
        if self._warming is not None and not self._warming.done():
            self._warming.cancel()
            await asyncio.wait({self._warming})

    async def _warm_logged(self) -> None:
        try:
            await self.warm()
        except Exception:
            # The first lookup that needs titles reads the vocabulary instead.
            log.exception("could not read the title vocabulary in the background")

    async def warm(self) -> None:
        """Read the title vocabulary on a reading connection's thread; no-op once read."""
        if self._loaded:
            return
        started = time.monotonic()
        version, since = self.store.papers_version, self._sync_mark()
        words, high = await self.store.read(_vocabulary)
        async with self._lock:
            if self._loaded:  # a refresh got there first
                return
            self.words, self._loaded = words, True
            self._mark_synced(version, high, since)
        log.info("title vocabulary: %d words in %.2fs", len(words), time.monotonic() - started)

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
        """Bring the title vocabulary up to date with the store (at most every few seconds unless forced).

        While the background read runs this does nothing: that read sees every title anyway.
        """
        if self._warming_now() or (not force and not self._stale()):
            return
        async with self._lock:
            if self._warming_now() or (not force and not self._stale()):
                return
            version, since = self.store.papers_version, self._sync_mark()
            if not self._loaded:
                self.words, high = await self.store.read(_vocabulary)
                self._loaded = True
            else:
                after, changed_since, words = self._high_rowid, self._synced_at, self.words

                def catch_up(db: sqlite3.Connection) -> tuple[TitleWords, int]:
                    high = search_read.high_rowid(db)
                    if high - after > RELOAD_TITLES:
                        return _vocabulary(db)
                    rows = search_read.titles_after(db, after) if high > after else []
                    rows += search_read.titles_changed_since(db, changed_since)
                    words.add_titles(title for _, title in rows)
                    return words, high

                self.words, high = await self.store.read(catch_up)
            self._mark_synced(version, high, since)

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
            await asyncio.sleep(0)  # writes waiting for the database go between steps
        return steps

    async def merge_index_if_due(self, now: dt.datetime) -> bool:
        """Merge the full-text index unless that was done less than MERGE_EVERY ago; True if it ran."""
        return await merge_if_due(self.store, self.merge_index, now)

    async def autocomplete(self, text: str, limit: int = 25) -> list[tuple[str, str]]:
        """(paper id, title) suggestions for a partly typed id, URL or title."""
        stripped = text.strip()
        if not stripped:
            return []
        ref = parse_paper_ref(stripped)
        await self.refresh()
        words = self.words

        def suggest(db: sqlite3.Connection) -> list[tuple[str, str]]:
            if ref is not None:
                paper = search_read.paper_by_id(db, ref)
                if paper is not None:
                    return [(paper.id, paper.title)]
            if _ID_PREFIX.fullmatch(stripped):
                return search_read.ids_with_prefix(db, stripped, limit)
            rowids = titles.complete(db, words, text, limit)
            found = search_read.titles_by_rowid(db, rowids)
            return [found[r] for r in rowids if r in found]

        return await self.store.read(suggest)

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
            paper = await self.store.read(lambda db: search_read.paper_by_id(db, ref))
            return paper_ref_results(query_text, ref, paper, sort, offset, limit)
        query = parse_since(query_text, since)
        if self._term_counts_version != self.store.papers_version:
            self._term_counts = {}
            self._term_counts_version = self.store.papers_version
        await self.refresh()
        run = _Run(self, query_text, query, sort, limit, offset)
        return await self.store.read(run.answer)

    async def trending(self, period: Period, now: dt.datetime, limit: int = 10) -> Trending:
        """The most upvoted papers of the latest day, or of the 7 or 30 days up to `now`."""
        if period not in PERIOD_DAYS:
            raise ValueError("period must be day, week or month")
        today = now.date()

        def read(db: sqlite3.Connection) -> Trending:
            if period == "day":
                last_text = search_read.latest_paper_day(db, today.isoformat())
                if last_text is None:
                    return Trending(period, None, None, ())
                last = first = dt.date.fromisoformat(last_text)
            else:
                last, first = today, today - dt.timedelta(days=PERIOD_DAYS[period] - 1)
            papers = search_read.top_papers_between(db, first.isoformat(), last.isoformat(), limit)
            return Trending(period, first, last, tuple(papers))

        return await self.store.read(read)


def _vocabulary(db: sqlite3.Connection) -> tuple[TitleWords, int]:
    """The title vocabulary and the rowid it is complete up to."""
    high = search_read.high_rowid(db)
    return TitleWords.read(db), high


@dataclasses.dataclass
class _Run:
    """One search, run whole on a reading connection's thread (`answer`)."""

    search: Search
    text: str
    query: Query
    sort: Sort
    limit: int
    offset: int

    def answer(self, db: sqlite3.Connection) -> SearchResults:
        """The page of results."""
        query, sort = self.query, self.sort
        compiled = query.fts()
        if compiled.match is None or compiled.exclude:
            # Filters alone, or every paper but some: the store's indexes order these.
            spec = SearchSpec(
                match=compiled.match,
                exclude=compiled.exclude,
                filters=compiled.filters,
                sort=sort,
                limit=self.limit,
                offset=self.offset,
                weights=COLUMN_WEIGHTS,
            )
            papers = search_read.search_page(db, spec)
            total = search_read.search_count(db, spec)
            return SearchResults(self.text, tuple(papers), total, sort, self.offset, self.limit)
        match = compiled.match
        scored = self._selective(db)
        window = FILTERED_WINDOW if query.filters else DENSE_WINDOW
        hits = search_read.match_hits(
            db, match, limit=window + 1, filters=query.filters, weights=COLUMN_WEIGHTS if scored else None
        )
        exact = len(hits) <= window
        hits = hits[:window]
        ranked = self._ranked(db, match, hits, scored)
        strong: dict[int, Paper] = {}
        weak: list[Paper] = []
        plain = bool(query.plain_words())
        title_like = len(query.typed_words) >= TITLE_LIKE_WORDS and not query.has_quotes()
        if sort == "relevance" and plain and (title_like or len(ranked) < THIN_RESULTS):
            strong, weak = self._title_matches(db, len(ranked))
        # The page is a slice of: close title matches, full-text hits without them, looser title matches.
        items: list[Paper | int] = [*strong.values(), *(r for r in ranked if r not in strong), *weak]
        window_items = items[self.offset : self.offset + self.limit]
        fetched = search_read.papers_by_rowid(db, [r for r in window_items if isinstance(r, int)])
        page = [
            item if isinstance(item, Paper) else fetched[item]
            for item in window_items
            if isinstance(item, Paper) or item in fetched
        ]
        return SearchResults(
            query=self.text,
            papers=tuple(page),
            total=len(items),
            sort=sort,
            offset=self.offset,
            limit=self.limit,
            total_exact=exact,
        )

    def _selective(self, db: sqlite3.Connection) -> bool:
        """Whether every word of the query is in at most DENSE_WINDOW papers (so bm25 is quick)."""
        counts = self.search._term_counts
        words = self.query.words
        # bm25 reads every paper holding each word of a phrase, whatever the phrase's field.
        terms = {
            '"' + token.replace('"', '""') + '"'
            for t in (leaves(words) if words else ())
            if isinstance(t, Term)
            for token in t.tokens
        }
        unknown = sorted(terms - counts.keys())
        if unknown:
            fresh = search_read.match_counts(db, unknown, DENSE_WINDOW + 1)
            if len(counts) > 50_000:
                counts.clear()
            counts.update(zip(unknown, fresh, strict=True))
        return all(counts.get(t, 0) <= DENSE_WINDOW for t in terms)

    def _ranked(self, db: sqlite3.Connection, match: str, hits: list[Hit], scored: bool) -> list[int]:
        """Rowids in the order asked; relevance puts title phrases first, then bm25 or title words held.

        Ties go to more upvotes, then the later day, then the paper stored last.
        """
        if self.sort == "new":
            hits = sorted(hits, key=lambda h: (h.day is not None, h.day or "", h.upvotes, h.rowid), reverse=True)
            return [h.rowid for h in hits]
        ordered = sorted(hits, key=_popularity, reverse=True)
        if self.sort == "top" or not hits:
            return [h.rowid for h in ordered]
        tokens = _title_tokens(self.query)
        if scored:
            ordered.sort(key=lambda h: h.score)
        elif tokens:
            # Titles holding more of the query's words first: counted over the window's range of rowids.
            low, high = min(h.rowid for h in hits), max(h.rowid for h in hits)
            span = min(high - low + 1, HELD_SPAN)
            words = self.search.words
            held: dict[int, int] = {}
            for token in tokens[:HELD_WORDS]:
                forms, _ = words.family(token)
                if words.total(forms) * (high - low + 1) > HELD_READS * max(words.titles, 1):
                    continue
                found = search_read.title_hits(db, titles.fts_group(forms), limit=span, low=low, high=high)
                for rowid in found:
                    held[rowid] = held.get(rowid, 0) + 1
            ordered.sort(key=lambda h: held.get(h.rowid, 0), reverse=True)
        rowids = [h.rowid for h in ordered]
        typed = self.query.plain_words()
        if len(typed) < 2:
            return rowids
        # A title that is the text typed, then titles holding the words as typed (adjacent, in order),
        # however old: closest titles first.
        titled = search_read.titles_equal(db, self.text.strip(), PHRASE_MATCHES)
        if titled:
            papers = search_read.papers_by_rowid(db, titled)
            titled = [r for r in titled if r in papers and self.query.matches(papers[r])]
        # Plain words only: a title holding them all matches the query.
        phrased = titles.phrase_rowids(db, self.search.words, typed, limit=PHRASE_MATCHES, filters=self.query.filters)
        if not phrased and not titled:
            return rowids
        # Phrase hits within the window keep their order; older ones follow, the closest titles first.
        phrase_set, titled_set = set(phrased), set(titled)
        inside = [r for r in rowids if r in phrase_set and r not in titled_set]
        older = [r for r in phrased if r not in titled_set and r not in set(inside)]
        if older:
            key = " ".join(typed)
            found_titles = search_read.titles_by_rowid(db, older)
            closeness = {r: fuzz.ratio(key, title_key(t)) for r, (_, t) in found_titles.items()}
            older = sorted(closeness, key=lambda r: (closeness[r], r), reverse=True)
        first = [*titled, *inside, *older]
        ahead = set(first)
        return [*first, *(r for r in rowids if r not in ahead)]

    def _title_matches(self, db: sqlite3.Connection, total: int) -> tuple[dict[int, Paper], list[Paper]]:
        """(close title matches by rowid, looser ones that the words alone do not find)."""
        query = self.query
        scored = titles.match(
            db,
            self.search.words,
            # The text as typed keeps the punctuation a title starts with; with filters, only the words.
            " ".join(query.typed_words) if query.filters else self.text,
            limit=2 * MAX_TITLE_MATCHES,
            cutoff=WEAK_TITLE_SCORE,
            sure=STRONG_TITLE_SCORE,
        )
        papers = search_read.papers_by_rowid(db, [rowid for rowid, _ in scored])
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
