"""Search over the cache: FTS5 bm25 with column weights, phrase and title tiers, fuzzy titles, autocomplete.

Each search runs whole as one synchronous function on a read-only connection beside the writer
(`Store.read`): a long write or an alert pass never holds it up, and it costs one hop off the event loop.
`bot.search.answer` holds that function: the ranking.

The title-only index answers autocomplete too. Only its vocabulary is held in memory, read after login on
a reading connection (`Search.start_warming`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import re
import sqlite3
import time

from bot.search import titles
from bot.search.answer import SearchRun
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
from bot.search.title_vocab import TitleWords
from bot.search.upkeep import merge_if_due
from bot.sources.huggingface import parse_paper_ref
from bot.store import Store, search_read

log = logging.getLogger(__name__)

_ID_PREFIX = re.compile(r"\d{4}\.\d{0,5}")  # the start of a new-style arXiv id, as typed

MAX_LIMIT = 1000
REFRESH_SECONDS = 2.0  # how stale the title vocabulary may be before a lookup re-reads the store
RELOAD_TITLES = 20_000  # more new titles than this: the vocabulary is read again whole from the index
# The full-text and title-only indexes grow as many b-trees, one per write; once a day (bot.search.upkeep)
# each is merged into one, in steps of this many pages.
MERGE_STEP_PAGES = 200


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
                    return words.with_titles([title for _, title in rows]), high

                self.words, high = await self.store.read(catch_up)
            self._mark_synced(version, high, since)

    def _stale(self) -> bool:
        """Papers were written through this store since the last refresh, or another process may have."""
        return self.store.papers_version != self._version or time.monotonic() - self._checked >= REFRESH_SECONDS

    async def merge_index(self) -> int:
        """Merge the full-text and title-only indexes into one b-tree each, in steps; returns the steps taken."""
        steps = 0
        more = True
        while more:
            more = await self.store.merge_search_index(MERGE_STEP_PAGES, start=steps == 0)
            steps += 1
            await asyncio.sleep(0)  # writes waiting for the database go between steps
        # The merge read the whole index through the writer's page cache; later writes need little of it.
        await self.store.release_memory()
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
        run = SearchRun(self.words, self._term_counts, query_text, query, sort, limit, offset)
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
