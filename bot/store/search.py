"""Full-text search over papers: pages and counts, text matches in bulk, the title list, trending, bulk loading.

The reads run the synchronous functions of `search_read` on a reading connection (`StoreBase.read`): one
implementation serves the store's async API and the search threads alike.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence

from bot.models import Paper
from bot.query import Filter
from bot.store import search_read
from bot.store.base import StoreBase
from bot.store.rows import PAPER_COLUMN_COUNT, PAPER_COLUMNS, batches, paper_values
from bot.store.search_sql import Hit, SearchSpec

__all__ = ["Hit", "SearchMixin", "SearchSpec"]

log = logging.getLogger(__name__)


class SearchMixin(StoreBase):
    """Search queries: pages and counts, text matches in bulk, titles for fuzzy lookup, trending."""

    async def search_page(self, spec: SearchSpec) -> list[Paper]:
        """The papers on the page described by `spec`, in its order (relevance is bm25 for text)."""
        return await self.read(lambda db: search_read.search_page(db, spec))

    async def search_count(self, spec: SearchSpec) -> int:
        """How many papers match `spec` (its page and order ignored)."""
        return await self.read(lambda db: search_read.search_count(db, spec))

    async def match_hits(
        self,
        match: str,
        *,
        limit: int,
        filters: Sequence[Filter] = (),
        weights: Sequence[float] | None = None,
    ) -> list[Hit]:
        """Up to `limit` papers matching `match` and the filters, most recently stored first.

        With `weights` (one per papers_fts column) each hit's score is its bm25 rank.
        """
        return await self.read(
            lambda db: search_read.match_hits(db, match, limit=limit, filters=filters, weights=weights)
        )

    async def match_counts(self, matches: Sequence[str], cap: int) -> list[int]:
        """For each FTS5 expression, how many papers match it, counting no further than `cap`."""
        return await self.read(lambda db: search_read.match_counts(db, matches, cap))

    async def merge_search_index(self, pages: int, *, start: bool) -> bool:
        """One step of merging the full-text index and the title-only index, each into a single b-tree;
        True if there was work to do.

        `start` begins merging every b-tree of an index (what FTS5's 'optimize' does at once); later
        steps carry that merge on, about `pages` pages each, so that searches run in between.
        """
        worked = False
        async with self.transaction() as db:
            for table in ("papers_fts", "papers_fts_title"):
                before = db.total_changes
                await db.execute(
                    f"INSERT INTO {table} ({table}, rank) VALUES ('merge', ?)", (-pages if start else pages,)
                )
                # FTS5 counts two or more changes when a merge step wrote anything.
                worked = worked or db.total_changes - before >= 2
        return worked

    async def papers_by_rowid(self, rowids: Sequence[int]) -> dict[int, Paper]:
        """The papers with these rowids (missing ones left out)."""
        return await self.read(lambda db: search_read.papers_by_rowid(db, rowids))

    async def ids_and_titles(self, rowids: Sequence[int]) -> dict[int, tuple[str, str]]:
        """(id, title) of the papers with these rowids."""
        return await self.read(lambda db: search_read.titles_by_rowid(db, rowids))

    async def ids_with_prefix(self, prefix: str, limit: int) -> list[tuple[str, str]]:
        """(id, title) of the papers whose id starts with `prefix`, in id order."""
        return await self.read(lambda db: search_read.ids_with_prefix(db, prefix, limit))

    async def paper_titles(self, after_rowid: int = 0) -> list[tuple[int, str]]:
        """(rowid, title) of every paper stored after `after_rowid`."""
        return await self.read(lambda db: search_read.titles_after(db, after_rowid))

    async def titles_updated_since(self, since: str) -> list[tuple[int, str]]:
        """(rowid, title) of papers whose row changed at or after the ISO instant `since`."""
        return await self.read(lambda db: search_read.titles_changed_since(db, since))

    async def paper_rowid_high_mark(self) -> int:
        """The largest rowid in `papers` (0 when empty): grows whenever a paper is added."""
        return await self.read(search_read.high_rowid)

    async def latest_paper_day(self, on_or_before: dt.date) -> dt.date | None:
        """The most recent Daily Papers day, not after `on_or_before`, that has papers."""
        day = await self.read(lambda db: search_read.latest_paper_day(db, on_or_before.isoformat()))
        return dt.date.fromisoformat(day) if day else None

    async def top_papers_between(self, first: dt.date, last: dt.date, limit: int) -> list[Paper]:
        """Papers featured between `first` and `last` (inclusive), most upvoted first."""
        return await self.read(
            lambda db: search_read.top_papers_between(db, first.isoformat(), last.isoformat(), limit)
        )

    async def bulk_insert_papers(self, papers: Iterable[Paper], *, batch_size: int = 5000) -> int:
        """Insert many papers not yet stored (and their daily entries), a batch per transaction.

        For loading a fresh cache quickly; an id already present makes the batch fail.
        """
        total = 0
        for batch in batches(papers, batch_size):
            total += await self._insert_batch(batch)
        return total

    async def _insert_batch(self, papers: Sequence[Paper]) -> int:
        now = self.now_text()
        rows = [(*paper_values(p).values(), now, now) for p in papers]
        entries = [(p.day.isoformat(), p.id, p.upvotes, now, now) for p in papers if p.day]
        async with self.transaction() as db:
            await db.executemany(
                f"INSERT INTO papers ({PAPER_COLUMNS}, first_seen, updated_at) "
                f"VALUES ({', '.join('?' * (PAPER_COLUMN_COUNT + 2))})",
                rows,
            )
            await db.executemany(
                "INSERT INTO daily_entries (day, paper_id, upvotes, first_seen, updated_at) VALUES (?, ?, ?, ?, ?)",
                entries,
            )
        self.papers_version += 1
        return len(rows)
