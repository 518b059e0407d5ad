"""Titles and ids on Postgres: prefix and pg_trgm lookups, the title list, trending, and filling search columns."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, NamedTuple

import psycopg

from bot.models import Paper
from bot.store.postgres.base import PostgresStoreBase
from bot.store.postgres.lexemes import search_vector, title_key
from bot.store.postgres.papers import PAPERS_WRITE_LOCK
from bot.store.rows import P_COLUMNS, PAPER_COLUMNS, paper_from_row

log = logging.getLogger(__name__)

# Above every character a title key or an id can hold: `prefix + _TOP` bounds the keys that start with it.
_TOP = "\U0010ffff"
_FILL_BATCH = 500


class TitleRow(NamedTuple):
    """A paper as title lookups see it: its rowid (papers.seq), id, title and title key (folded words)."""

    rowid: int
    paper_id: str
    title: str
    key: str


async def fill_search_columns(conn: psycopg.AsyncConnection[Any], limit: int) -> int:
    """Compute the search columns of up to `limit` papers that have none; how many were filled."""
    cursor = await conn.execute(
        f"SELECT seq, {PAPER_COLUMNS} FROM papers WHERE search_vector IS NULL ORDER BY seq LIMIT %s", (limit,)
    )
    rows = await cursor.fetchall()
    if not rows:
        return 0
    papers = [(int(row[0]), paper_from_row(row[1:])) for row in rows]
    await conn.execute(
        "UPDATE papers p SET search_vector = v.vector::tsvector, title_key = v.key "
        "FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS v (seq, vector, key) WHERE p.seq = v.seq",
        (
            [seq for seq, _ in papers],
            [search_vector(paper) for _, paper in papers],
            [title_key(paper.title) for _, paper in papers],
        ),
    )
    return len(papers)


class PostgresTitlesMixin(PostgresStoreBase):
    """Ids and titles for lookups and autocomplete, trending, and the upkeep of the search columns."""

    async def fill_search_columns(self) -> int:
        """Compute the search columns of every paper stored without them (rows from before the upgrade)."""
        filled = 0
        while True:
            async with self.transaction() as conn:
                await conn.execute("SELECT pg_advisory_xact_lock(%s)", (PAPERS_WRITE_LOCK,))
                step = await fill_search_columns(conn, _FILL_BATCH)
            filled += step
            if step < _FILL_BATCH:
                break
        if filled:
            self.papers_version += 1
            log.info("search columns computed for %d papers", filled)
        return filled

    async def unindexed_paper_count(self) -> int:
        """How many papers have no search columns yet (filled on the next migrate)."""
        row = await self._fetchone("SELECT count(*) FROM papers WHERE search_vector IS NULL")
        return int(row[0]) if row else 0

    async def ids_with_prefix(self, prefix: str, limit: int) -> list[tuple[str, str]]:
        """(id, title) of the papers whose id starts with `prefix`, in id order."""
        rows = await self._fetchall(
            'SELECT id, title FROM papers WHERE id COLLATE "C" >= %s AND id COLLATE "C" < %s '
            'ORDER BY id COLLATE "C" LIMIT %s',
            (prefix, prefix + _TOP, limit),
        )
        return [(str(r[0]), str(r[1])) for r in rows]

    async def title_rows_with_prefix(self, key: str, limit: int) -> list[TitleRow]:
        """Papers whose title key starts with `key` (folded words), in key order."""
        rows = await self._fetchall(
            'SELECT seq, id, title, title_key FROM papers WHERE title_key COLLATE "C" >= %s '
            'AND title_key COLLATE "C" < %s ORDER BY title_key COLLATE "C", seq DESC LIMIT %s',
            (key, key + _TOP, limit),
        )
        return [TitleRow(int(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in rows]

    async def similar_title_rows(self, key: str, limit: int, *, threshold: float) -> list[TitleRow]:
        """Papers whose title holds a stretch like `key` (pg_trgm word similarity ≥ `threshold`), closest first."""
        if not key.strip():
            return []
        async with self._pool.connection() as conn, conn.pipeline():
            # The operator <% uses the trigram index; its threshold is a setting, made here for this session
            # (every use of <% sets it first), sent with the query in one round trip.
            await conn.execute("SELECT set_config('pg_trgm.word_similarity_threshold', %s, false)", (str(threshold),))
            cursor = await conn.execute(
                "SELECT seq, id, title, title_key FROM papers WHERE %s <%% title_key "
                "ORDER BY word_similarity(%s, title_key) DESC, seq DESC LIMIT %s",
                (key, key, limit),
            )
            rows = await cursor.fetchall()
        return [TitleRow(int(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in rows]

    async def paper_titles(self, after_rowid: int = 0) -> list[tuple[int, str]]:
        """(rowid, title) of every paper stored after `after_rowid`."""
        rows = await self._fetchall("SELECT seq, title FROM papers WHERE seq > %s ORDER BY seq", (after_rowid,))
        return [(int(r[0]), str(r[1])) for r in rows]

    async def titles_updated_since(self, since: str) -> list[tuple[int, str]]:
        """(rowid, title) of papers whose row changed at or after the ISO instant `since`."""
        rows = await self._fetchall("SELECT seq, title FROM papers WHERE updated_at >= %s", (since,))
        return [(int(r[0]), str(r[1])) for r in rows]

    async def paper_rowid_high_mark(self) -> int:
        """The largest rowid (papers.seq) in `papers` (0 when empty): grows whenever a paper is added."""
        row = await self._fetchone("SELECT coalesce(max(seq), 0) FROM papers")
        return int(row[0]) if row else 0

    async def latest_paper_day(self, on_or_before: dt.date) -> dt.date | None:
        """The most recent Daily Papers day, not after `on_or_before`, that has papers."""
        row = await self._fetchone("SELECT max(day) FROM papers WHERE day <= %s", (on_or_before.isoformat(),))
        return dt.date.fromisoformat(row[0]) if row and row[0] else None

    async def top_papers_between(self, first: dt.date, last: dt.date, limit: int) -> list[Paper]:
        """Papers featured between `first` and `last` (inclusive), most upvoted first."""
        rows = await self._fetchall(
            f"SELECT {P_COLUMNS} FROM papers p WHERE p.day BETWEEN %s AND %s "
            'ORDER BY p.upvotes DESC, p.day DESC, p.id COLLATE "C" LIMIT %s',
            (first.isoformat(), last.isoformat(), limit),
        )
        return [paper_from_row(row) for row in rows]
