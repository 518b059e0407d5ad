"""More-like-this on Postgres: document frequencies from the search_terms counts, a ranked OR query over terms."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.models import Paper
from bot.store.postgres.base import PostgresStoreBase
from bot.store.postgres.lexemes import any_term_tsquery, lexeme, rank_weights, unweighted_term_tsquery
from bot.store.postgres.search import RANK
from bot.store.rows import P_COLUMNS, paper_from_row

log = logging.getLogger(__name__)


# Papers ranked exactly (ranking reads each one's whole vector): those holding the most and rarest of the
# terms, counted from the GIN index alone.
CANDIDATES = 300
_MATCHING_TERMS = """
WITH wanted (term, query) AS (SELECT * FROM unnest(%s::text[], %s::tsquery[])),
weighted AS (
    SELECT w.query, ln(1 + greatest(c.reltuples, 1) / greatest(t.papers, 1)) AS weight
    FROM wanted w JOIN search_terms t ON t.term = w.term, pg_class c
    WHERE c.oid = 'papers'::regclass
),
candidates AS (
    SELECT held.seq FROM weighted, LATERAL (SELECT seq FROM papers WHERE search_vector @@ weighted.query) AS held
    GROUP BY held.seq ORDER BY sum(weighted.weight) DESC, held.seq DESC LIMIT %s
),
hits AS (
    SELECT p.seq AS rid, {rank} AS score FROM candidates c JOIN papers p ON p.seq = c.seq
    WHERE p.search_vector @@ %s::tsquery ORDER BY score, rid DESC LIMIT %s
)
SELECT {columns} FROM hits JOIN papers p ON p.seq = hits.rid
WHERE p.id IS DISTINCT FROM %s ORDER BY hits.score, hits.rid DESC LIMIT %s
"""


class PostgresSimilarMixin(PostgresStoreBase):
    """What similar papers need from the store: term statistics and a ranked OR query over terms."""

    async def indexed_paper_count(self) -> int:
        """How many papers the full-text index holds."""
        row = await self._fetchone("SELECT count(*) FROM papers WHERE search_vector IS NOT NULL")
        return int(row[0]) if row else 0

    async def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        """For each indexed term (a stemmed, folded token) among `terms`, how many papers hold it."""
        by_lexeme = {lexeme(term): term for term in dict.fromkeys(terms)}
        rows = await self._fetchall(
            "SELECT term, papers FROM search_terms WHERE term = ANY(%s) AND papers > 0", (list(by_lexeme),)
        )
        return {by_lexeme[str(row[0])]: int(row[1]) for row in rows}

    async def frequent_terms(
        self, min_papers: int, *, after: str, limit: int
    ) -> tuple[list[tuple[str, int]], str | None]:
        """One step through the vocabulary: terms after `after` (in term order, `limit` of them read) that
        `min_papers` or more papers hold, with their counts; and the last term read (None at the end)."""
        rows = await self._fetchall(
            "SELECT term, papers FROM search_terms WHERE term > %s ORDER BY term LIMIT %s", (after, limit)
        )
        frequent = [(str(r[0]), int(r[1])) for r in rows if int(r[1]) >= max(min_papers, 1)]
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
        """Papers holding any of `terms` in `columns`, best rank (with `weights`) first, `exclude_id` left out.

        The ranking reads the CANDIDATES papers that hold the most, and the rarest, of the terms.
        """
        if not terms or limit <= 0:
            return []
        match = any_term_tsquery(terms, columns)
        unique = list(dict.fromkeys(terms))
        rows = await self._fetchall(
            _MATCHING_TERMS.format(rank=RANK.format(vector="p.search_vector"), columns=P_COLUMNS),
            [
                [lexeme(term) for term in unique],
                [unweighted_term_tsquery(term, columns) for term in unique],
                CANDIDATES,
                rank_weights(weights),
                match,
                match,
                limit + 1,  # one more than asked, so leaving the paper itself out still fills the page
                exclude_id,
                limit,
            ],
        )
        return [paper_from_row(row) for row in rows]
