"""The SQL of a search over the SQLite cache: the FTS5 plan of a spec, its filters, page and count queries.

Shared by the store's own async reads and the synchronous reads of a search thread (`search_read`).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from bot.query import ALL_COLUMNS, BM25_WEIGHTS, Filter, Sort, category_range
from bot.store.rows import P_COLUMNS

log = logging.getLogger(__name__)

# bm25 over papers_fts with one weight per column (bot.query.columns), given as parameters.
_BM25 = f"bm25(papers_fts, {', '.join('?' for _ in ALL_COLUMNS)})"

# Orders over hits (rid, score, upvotes, day): inside the query that finds them and over the page.
_ORDERS = {
    "relevance": "score, upvotes DESC, day DESC, rid DESC",
    "new": "day IS NULL, day DESC, upvotes DESC, rid DESC",
    "top": "upvotes DESC, day IS NULL, day DESC, rid DESC",
}
# The same orders for a category listed from paper_categories, written so that its indexes serve them
# (in SQLite NULL sorts first, so DESC puts a missing day last without `day IS NULL`).
_CATEGORY_ORDERS = {
    "relevance": _ORDERS["relevance"],
    "new": "day DESC, upvotes DESC, rid DESC",
    "top": "upvotes DESC, day DESC, rid DESC",
}
_COMPARISONS = frozenset({"=", ">", ">=", "<", "<="})
# A category value paper_categories holds rows for: one category (cs.CL, hep-th) or a whole archive (cs.*).
_ARCHIVE = re.compile(r"[^*.]+(?:\.[^*.]+|\.\*)?")


@dataclass(frozen=True, slots=True)
class SearchSpec:
    """One search as the store runs it in SQL: an FTS5 expression, plain filters, an order and a page.

    `match` None means no text condition; `exclude` True means papers that do NOT match `match`.
    Filters are query filters (field upvotes | day | code, op, value) combined with AND.
    """

    match: str | None = None
    exclude: bool = False
    filters: tuple[Filter, ...] = ()
    sort: Sort = "relevance"
    limit: int = 10
    offset: int = 0
    weights: tuple[float, ...] = BM25_WEIGHTS


class Hit(NamedTuple):
    """A paper matching a text query, with what ranking and filters need (rowid is papers.rowid)."""

    rowid: int
    score: float  # bm25 (lower is better) when asked for, else 0
    upvotes: int
    day: str | None  # ISO date
    has_code: int  # 1 or 0


def _filter_sql(field: str, op: str, value: object, table: str) -> tuple[str, list[object]]:
    """One filter as an SQL condition over `table` (papers "p", paper_stats "s" or paper_categories "c");
    unknown ones refused."""
    if field == "category":
        return _category_sql(op, value, {"s": "s.paper_rowid", "c": "c.paper_rowid"}.get(table, "p.rowid"))
    if field == "code":
        if table in ("s", "c"):
            return (f"{table}.has_code = 1" if value else f"{table}.has_code = 0"), []
        return ("coalesce(p.github_repo, '') != ''" if value else "coalesce(p.github_repo, '') = ''"), []
    if op not in _COMPARISONS:
        raise ValueError(f"unknown comparison {op!r}")
    if field == "upvotes":
        if not isinstance(value, int):
            raise ValueError("upvotes compares with an integer")
        return f"{table}.upvotes {op} ?", [value]
    if field == "day":
        if not isinstance(value, dt.date):
            raise ValueError("day compares with a date")
        return f"{table}.day {op} ?", [value.isoformat()]
    raise ValueError(f"unknown filter field {field!r}")


def _category_sql(op: str, value: object, rowid: str) -> tuple[str, list[object]]:
    """`category:` as membership of the paper's rowid in paper_categories (folded to lower case, indexed)."""
    if op not in ("=", "!=") or not isinstance(value, str):
        raise ValueError("category compares with = or != and a category name")
    key, high = category_range(value)
    if _ARCHIVE.fullmatch(value):  # one category, or a whole archive (its rows are keyed 'cs.*')
        key, high = value.lower(), None
    negated = "NOT " if op == "!=" else ""
    if high is None:
        # One key: a look-up of its row per paper checked (reading every paper of a busy category into a
        # temporary table first cost ~10 ms a search with 40,000 papers in cs.CL).
        return (
            f"{negated}EXISTS (SELECT 1 FROM paper_categories WHERE category = ? AND paper_rowid = {rowid})",
            [key],
        )
    where = "category >= ? AND category < ?"
    return f"{rowid} {negated}IN (SELECT paper_rowid FROM paper_categories WHERE {where})", [key, high]


@dataclass(frozen=True, slots=True)
class _Plan:
    """FROM and WHERE of the papers a spec selects, and where their rowid, upvotes and day are read."""

    source: str
    table: str  # alias holding upvotes and day: "s" (paper_stats) or "p" (papers)
    rowid: str
    conditions: list[str]
    params: list[object]


def _listed_category(filters: Sequence[Filter]) -> Filter | None:
    """The first category (or whole archive, `cs.*`) the filters require, if any: paper_categories has
    a row per paper for each (the archive's keyed `cs.*`)."""
    for f in filters:
        if f.field == "category" and f.op == "=" and isinstance(f.value, str) and _ARCHIVE.fullmatch(f.value):
            return f
    return None


def _plan(spec: SearchSpec) -> _Plan:
    listed = _listed_category(spec.filters) if spec.match is None else None
    if spec.match is not None and not spec.exclude:
        plan = _Plan(
            "papers_fts JOIN paper_stats s ON s.paper_rowid = papers_fts.rowid",
            "s",
            "papers_fts.rowid",
            ["papers_fts MATCH ?"],
            [spec.match],
        )
    elif spec.match is not None:
        plan = _Plan(
            "papers p",
            "p",
            "p.rowid",
            ["p.rowid NOT IN (SELECT rowid FROM papers_fts WHERE papers_fts MATCH ?)"],
            [spec.match],
        )
    elif listed is not None:
        # One category's papers by filters alone: read in order from its rows in paper_categories.
        key = str(listed.value).lower()
        plan = _Plan("paper_categories c", "c", "c.paper_rowid", ["c.category = ?"], [key])
    elif any(f.field == "category" and f.op == "=" for f in spec.filters):
        # A category prefix alone: sort the narrow stats rows of its papers, not whole paper rows.
        plan = _Plan("paper_stats s", "s", "s.paper_rowid", [], [])
    else:
        # The papers table has indexes on day and upvotes for listing by filters alone.
        plan = _Plan("papers p", "p", "p.rowid", [], [])
    for f in spec.filters:
        if f is listed:
            continue  # the category the plan lists
        sql, values = _filter_sql(f.field, f.op, f.value, plan.table)
        plan.conditions.append(sql)
        plan.params.extend(values)
    return plan


def page_query(spec: SearchSpec) -> tuple[str, list[object]]:
    """The SQL and parameters reading the papers on the page described by `spec`, in its order (relevance
    is bm25 for text): small rows sorted, then the full rows of the page only."""
    ranked = spec.sort == "relevance" and spec.match is not None and not spec.exclude
    sort = spec.sort if spec.sort in _ORDERS and (ranked or spec.sort != "relevance") else "top"
    plan = _plan(spec)
    score, score_params = (_BM25, list(spec.weights)) if ranked else ("0", [])
    order = _CATEGORY_ORDERS[sort] if plan.table == "c" else _ORDERS[sort]
    hits_sql = (
        f"SELECT {plan.rowid} AS rid, {score} AS score, {plan.table}.upvotes AS upvotes, "
        f"{plan.table}.day AS day FROM {plan.source} "
        f"WHERE {' AND '.join(plan.conditions) or '1'} ORDER BY {order} LIMIT ? OFFSET ?"
    )
    sql = (
        f"SELECT {P_COLUMNS} FROM ({hits_sql}) AS hit JOIN papers p ON p.rowid = hit.rid "
        f"ORDER BY {', '.join('hit.' + key for key in _ORDERS[sort].split(', '))}"
    )
    return sql, [*score_params, *plan.params, spec.limit, spec.offset]


def count_query(spec: SearchSpec) -> tuple[str, list[object]]:
    """The SQL and parameters counting the papers matching `spec` (its page and order ignored)."""
    plan = _plan(spec)
    source = plan.source
    if spec.match is not None and not spec.exclude and not spec.filters:
        source = "papers_fts"  # the index alone knows the count; skip the join
    return f"SELECT count(*) FROM {source} WHERE {' AND '.join(plan.conditions) or '1'}", plan.params
