"""Full-text search on Postgres: pages and counts over the weighted tsvector, hits in bulk, index upkeep.

Every query and its terms arrive as tsquery text built by `lexemes` from quoted lexemes, and travel as
bound parameters (`%s::tsquery`); filters are SQL conditions with bound values. Scores are ts_rank_cd
negated, so that lower is better as with SQLite's bm25.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Sequence
from typing import Any

import psycopg

from bot.models import Paper
from bot.query import Filter
from bot.store.postgres.base import PostgresStoreBase
from bot.store.postgres.lexemes import rank_weights
from bot.store.rows import P_COLUMNS, PAPER_COLUMNS, paper_from_row
from bot.store.search import Hit, SearchSpec

log = logging.getLogger(__name__)

# ts_rank_cd over the vector (the query's words close together rank higher), with its four weights as a
# parameter; negated: lower is better.
RANK = "-ts_rank_cd(%s::float4[], {vector}, %s::tsquery)"
# Orders over hits (rid, score, upvotes, day): inside the query that finds them and over the page.
_ORDERS = {
    "relevance": "score, upvotes DESC, day DESC NULLS LAST, rid DESC",
    "new": "day IS NULL, day DESC, upvotes DESC, rid DESC",
    "top": "upvotes DESC, day IS NULL, day DESC, rid DESC",
}
_COMPARISONS = frozenset({"=", ">", ">=", "<", "<="})
HAS_CODE = "(coalesce(p.github_repo, '') <> '')"


def filter_sql(f: Filter) -> tuple[str, list[object]]:
    """One query filter as an SQL condition over papers `p` with its bound values; unknown ones refused."""
    if f.field == "code":
        return (HAS_CODE if f.value else f"NOT {HAS_CODE}"), []
    if f.op not in _COMPARISONS:
        raise ValueError(f"unknown comparison {f.op!r}")
    if f.field == "upvotes":
        if not isinstance(f.value, int) or isinstance(f.value, bool):
            raise ValueError("upvotes compares with an integer")
        return f"p.upvotes {f.op} %s", [f.value]
    if f.field == "day":
        if not isinstance(f.value, dt.date):
            raise ValueError("day compares with a date")
        return f"p.day {f.op} %s", [f.value.isoformat()]
    raise ValueError(f"unknown filter field {f.field!r}")


def _conditions(spec_match: str | None, exclude: bool, filters: Sequence[Filter]) -> tuple[list[str], list[object]]:
    conditions: list[str] = []
    params: list[object] = []
    if spec_match is not None:
        # A paper without a vector yet (being filled after an upgrade) matches no words, and is no
        # exception to them either.
        conditions.append(
            "NOT coalesce(p.search_vector @@ %s::tsquery, true)" if exclude else "p.search_vector @@ %s::tsquery"
        )
        params.append(spec_match)
    for f in filters:
        sql, values = filter_sql(f)
        conditions.append(sql)
        params.extend(values)
    return conditions, params


async def _newest_first(conn: psycopg.AsyncConnection[Any], where: str, params: list[object], limit: int) -> str:
    """How to find the newest `limit` papers matching `where`: the ORDER BY that leads the planner there.

    Walking papers from the newest and testing each one's vector finds them quickly when many papers match,
    but reads every vector on the way; finding all matches through the GIN index and keeping the newest is
    quicker when few do. The planner does not count what reading a vector costs, so the choice is made here
    from its estimate of the matches: the two cost about the same when the share of papers matching is
    sqrt(limit / papers).
    """
    cursor = await conn.execute(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM papers p WHERE {where}", params)
    row = await cursor.fetchone()
    estimate = float(row[0][0]["Plan"]["Plan Rows"]) if row else 0.0
    cursor = await conn.execute("SELECT greatest(reltuples, 1) FROM pg_class WHERE oid = 'papers'::regclass")
    total = await cursor.fetchone()
    papers = float(total[0]) if total else 1.0
    walk = estimate >= papers * math.sqrt(limit / papers)
    # "seq + 0" is no column the seq index orders, so the planner finds the matches through GIN first.
    return "p.seq DESC" if walk else "p.seq + 0 DESC"


class PostgresSearchMixin(PostgresStoreBase):
    """Search queries: pages and counts, text matches in bulk, counts per term, index upkeep."""

    async def search_page(self, spec: SearchSpec) -> list[Paper]:
        """The papers on the page described by `spec` (its `match` a tsquery), in its order."""
        ranked = spec.sort == "relevance" and spec.match is not None and not spec.exclude
        sort = spec.sort if spec.sort in _ORDERS and (ranked or spec.sort != "relevance") else "top"
        conditions, params = _conditions(spec.match, spec.exclude, spec.filters)
        score, score_params = "0", []
        if ranked:
            score, score_params = RANK.format(vector="p.search_vector"), [rank_weights(spec.weights), spec.match]
        hits_sql = (
            f"SELECT p.seq AS rid, {score} AS score, p.upvotes AS upvotes, p.day AS day FROM papers p "
            f"WHERE {' AND '.join(conditions) or 'true'} ORDER BY {_ORDERS[sort]} LIMIT %s OFFSET %s"
        )
        sql = (
            f"SELECT {P_COLUMNS} FROM ({hits_sql}) AS hit JOIN papers p ON p.seq = hit.rid "
            f"ORDER BY {', '.join('hit.' + key for key in _ORDERS[sort].split(', '))}"
        )
        rows = await self._fetchall(sql, [*score_params, *params, spec.limit, spec.offset])
        return [paper_from_row(row) for row in rows]

    async def search_count(self, spec: SearchSpec) -> int:
        """How many papers match `spec` (its page and order ignored)."""
        conditions, params = _conditions(spec.match, spec.exclude, spec.filters)
        row = await self._fetchone(f"SELECT count(*) FROM papers p WHERE {' AND '.join(conditions) or 'true'}", params)
        return int(row[0]) if row else 0

    async def match_hits(
        self,
        match: str,
        *,
        limit: int,
        filters: Sequence[Filter] = (),
        weights: Sequence[float] | None = None,
    ) -> list[Hit]:
        """Up to `limit` papers matching the tsquery `match` and the filters, most recently stored first.

        With `weights` (one per search column) each hit's score is its negated ts_rank_cd.
        """
        conditions, params = _conditions(match, False, filters)
        where = " AND ".join(conditions)
        score, score_params = "0", []
        if weights is not None:
            # Ranked after the limit: only the hits kept are read whole.
            score, score_params = RANK.format(vector="hit.search_vector"), [rank_weights(weights), match]
        async with self._pool.connection() as conn:
            order = await _newest_first(conn, where, params, limit)
            cursor = await conn.execute(
                f"SELECT hit.seq, {score}, hit.upvotes, hit.day, hit.has_code FROM ("
                f"SELECT p.seq, p.upvotes, p.day, {HAS_CODE}::int AS has_code, p.search_vector FROM papers p "
                f"WHERE {where} ORDER BY {order} LIMIT %s) AS hit ORDER BY hit.seq DESC",
                [*score_params, *params, limit],
            )
            rows = await cursor.fetchall()
        return [Hit(int(r[0]), float(r[1]), int(r[2]), r[3], int(r[4])) for r in rows]

    async def match_counts(self, matches: Sequence[str], cap: int) -> list[int]:
        """For each tsquery, how many papers match it, counting no further than `cap`."""
        if not matches:
            return []
        one = "(SELECT count(*) FROM (SELECT 1 FROM papers WHERE search_vector @@ %s::tsquery LIMIT %s) AS m)"
        params: list[object] = []
        for match in matches:
            params += [match, cap]
        row = await self._fetchone(f"SELECT {', '.join([one] * len(matches))}", params)
        return [int(v) for v in row] if row else [0] * len(matches)

    async def merge_search_index(self, pages: int, *, start: bool) -> bool:
        """Move the GIN indexes' pending entries into their main trees; True if there were any.

        Postgres does this in one go (`pages` and `start` are SQLite's steps): a second call finds none.
        """
        row = await self._fetchone(
            "SELECT gin_clean_pending_list('papers_search'::regclass) "
            "+ gin_clean_pending_list('papers_title_trigrams'::regclass)"
        )
        return bool(row and row[0])

    async def papers_by_rowid(self, rowids: Sequence[int]) -> dict[int, Paper]:
        """The papers with these rowids (papers.seq; missing ones left out)."""
        rows = await self._fetchall(f"SELECT seq, {PAPER_COLUMNS} FROM papers WHERE seq = ANY(%s)", (list(rowids),))
        return {int(row[0]): paper_from_row(row[1:]) for row in rows}

    async def ids_and_titles(self, rowids: Sequence[int]) -> dict[int, tuple[str, str]]:
        """(id, title) of the papers with these rowids."""
        if not rowids:
            return {}
        rows = await self._fetchall("SELECT seq, id, title FROM papers WHERE seq = ANY(%s)", (list(rowids),))
        return {int(r[0]): (str(r[1]), str(r[2])) for r in rows}
