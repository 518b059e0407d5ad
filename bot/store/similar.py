"""More-like-this over the full-text index: document frequencies from its vocabulary, bm25 over terms."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.models import Paper
from bot.query import ALL_COLUMNS, stem
from bot.store.base import StoreBase
from bot.store.papers import PAPER_COLUMNS, paper_from_row

log = logging.getLogger(__name__)

_BM25 = f"bm25(papers_fts, {', '.join('?' for _ in ALL_COLUMNS)})"
_P_COLUMNS = ", ".join(f"p.{name.strip()}" for name in PAPER_COLUMNS.split(","))
_LOOKUP_CHUNK = 200  # terms per vocabulary lookup (well under SQLite's parameter limit)


def quoted_term(term: str) -> str:
    """`term` as an FTS5 string: the only form in which a term reaches a MATCH expression."""
    return '"' + term.replace('"', '""') + '"'


def indexed_term(term: str) -> str:
    """An index term (a stem) as FTS5 query text that finds it.

    FTS5 stems query words once more, and some stems do not stem to themselves ("diffus" becomes "diffu");
    those are asked as a prefix, which holds the stem itself (and the rare longer term starting with it).
    """
    return quoted_term(term) if stem(term) == term else quoted_term(term) + "*"


def _column_filter(columns: Sequence[str]) -> str:
    unknown = set(columns) - set(ALL_COLUMNS)
    if unknown or not columns:
        raise ValueError(f"not columns of papers_fts: {sorted(unknown) or 'none given'}")
    return "{" + " ".join(columns) + "}"


class SimilarMixin(StoreBase):
    """What similar papers need from the store: term statistics and a ranked OR query over terms."""

    async def indexed_paper_count(self) -> int:
        """How many papers the full-text index holds."""
        async with self._db.execute("SELECT count(*) FROM paper_stats") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        """For each indexed term (a stemmed, folded token) among `terms`, how many papers hold it."""
        unique = list(dict.fromkeys(terms))
        found: dict[str, int] = {}
        for start in range(0, len(unique), _LOOKUP_CHUNK):
            chunk = unique[start : start + _LOOKUP_CHUNK]
            async with self._db.execute(
                f"SELECT term, doc FROM papers_fts_vocab WHERE term IN ({','.join('?' * len(chunk))})", chunk
            ) as cursor:
                for row in await cursor.fetchall():
                    found[str(row[0])] = int(row[1])
        return found

    async def frequent_terms(
        self, min_papers: int, *, after: str, limit: int
    ) -> tuple[list[tuple[str, int]], str | None]:
        """One step through the vocabulary: terms after `after` (in term order, `limit` of them read) that
        `min_papers` or more papers hold, with their counts; and the last term read (None at the end)."""
        async with self._db.execute(
            "SELECT term, doc FROM papers_fts_vocab WHERE term > ? ORDER BY term LIMIT ?", (after, limit)
        ) as cursor:
            rows = list(await cursor.fetchall())
        frequent = [(str(r[0]), int(r[1])) for r in rows if int(r[1]) >= min_papers]
        return frequent, (str(rows[-1][0]) if len(rows) == limit else None)

    async def papers_matching_terms(
        self,
        terms: Sequence[str],
        *,
        columns: Sequence[str],
        weights: Sequence[float],
        exclude_id: str | None,
        limit: int,
    ) -> list[Paper]:
        """Papers holding any of `terms` in `columns`, best bm25 (with `weights`) first, `exclude_id` left out."""
        if not terms or limit <= 0:
            return []
        if len(weights) != len(ALL_COLUMNS):
            raise ValueError(f"one bm25 weight per papers_fts column ({len(ALL_COLUMNS)}), got {len(weights)}")
        match = f"{_column_filter(columns)} : ({' OR '.join(indexed_term(t) for t in terms)})"
        # One more than asked, so leaving the paper itself out still fills the page.
        hits_sql = (
            f"SELECT papers_fts.rowid AS rid, {_BM25} AS score FROM papers_fts "
            "WHERE papers_fts MATCH ? ORDER BY score, rid DESC LIMIT ?"
        )
        sql = (
            f"SELECT {_P_COLUMNS} FROM ({hits_sql}) AS hit JOIN papers p ON p.rowid = hit.rid "
            "WHERE p.id IS NOT ? ORDER BY hit.score, hit.rid DESC LIMIT ?"
        )
        async with self._db.execute(sql, [*weights, match, limit + 1, exclude_id, limit]) as cursor:
            rows = await cursor.fetchall()
        return [paper_from_row(row) for row in rows]
