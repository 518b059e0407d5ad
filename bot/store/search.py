"""Full-text search over papers: FTS5 pages and counts, the title list, trending, bulk loading."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from bot.models import Paper
from bot.query import ALL_COLUMNS, BM25_WEIGHTS, Filter, Sort, category_range
from bot.store.base import StoreBase
from bot.store.rows import P_COLUMNS, PAPER_COLUMN_COUNT, PAPER_COLUMNS, paper_from_row, paper_values

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


class SearchMixin(StoreBase):
    """Search queries: pages and counts, text matches in bulk, titles for fuzzy lookup, trending."""

    async def search_page(self, spec: SearchSpec) -> list[Paper]:
        """The papers on the page described by `spec`, in its order (relevance is bm25 for text)."""
        async with self._db.execute(*page_query(spec)) as cursor:
            rows = await cursor.fetchall()
        return [paper_from_row(row) for row in rows]

    async def search_count(self, spec: SearchSpec) -> int:
        """How many papers match `spec` (its page and order ignored)."""
        async with self._db.execute(*count_query(spec)) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

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
        score = _BM25 if weights is not None else "0"
        conditions = ["papers_fts MATCH ?"]
        params: list[object] = [*(weights or ()), match]
        for f in filters:
            sql, values = _filter_sql(f.field, f.op, f.value, "s")
            conditions.append(sql)
            params.extend(values)
        params.append(limit)
        rows = await self._db.execute_fetchall(
            f"SELECT papers_fts.rowid, {score}, s.upvotes, s.day, s.has_code "
            "FROM papers_fts JOIN paper_stats s ON s.paper_rowid = papers_fts.rowid "
            f"WHERE {' AND '.join(conditions)} ORDER BY papers_fts.rowid DESC LIMIT ?",
            params,
        )
        return [Hit._make(row) for row in rows]

    async def match_counts(self, matches: Sequence[str], cap: int) -> list[int]:
        """For each FTS5 expression, how many papers match it, counting no further than `cap`."""
        if not matches:
            return []
        one = "(SELECT count(*) FROM (SELECT 1 FROM papers_fts WHERE papers_fts MATCH ? LIMIT ?))"
        params: list[object] = []
        for match in matches:
            params += [match, cap]
        async with self._db.execute(f"SELECT {', '.join([one] * len(matches))}", params) as cursor:
            row = await cursor.fetchone()
        return [int(v) for v in row] if row else [0] * len(matches)

    async def merge_search_index(self, pages: int, *, start: bool) -> bool:
        """One step of merging papers_fts into a single b-tree; True if there was work to do.

        `start` begins merging every b-tree of the index (what FTS5's 'optimize' does at once); later
        steps carry that merge on, about `pages` pages each, so that searches run in between.
        """
        async with self.transaction() as db:
            before = db.total_changes
            await db.execute(
                "INSERT INTO papers_fts (papers_fts, rank) VALUES ('merge', ?)", (-pages if start else pages,)
            )
            # FTS5 counts two or more changes when a merge step wrote anything.
            return db.total_changes - before >= 2

    async def papers_by_rowid(self, rowids: Sequence[int]) -> dict[int, Paper]:
        """The papers with these rowids (missing ones left out)."""
        found: dict[int, Paper] = {}
        for start in range(0, len(rowids), 500):
            chunk = list(rowids[start : start + 500])
            async with self._db.execute(
                f"SELECT rowid, {PAPER_COLUMNS} FROM papers WHERE rowid IN ({','.join('?' * len(chunk))})",
                chunk,
            ) as cursor:
                for row in await cursor.fetchall():
                    found[int(row[0])] = paper_from_row(tuple(row)[1:])
        return found

    async def ids_and_titles(self, rowids: Sequence[int]) -> dict[int, tuple[str, str]]:
        """(id, title) of the papers with these rowids."""
        if not rowids:
            return {}
        async with self._db.execute(
            f"SELECT rowid, id, title FROM papers WHERE rowid IN ({','.join('?' * len(rowids))})", list(rowids)
        ) as cursor:
            return {int(r[0]): (str(r[1]), str(r[2])) for r in await cursor.fetchall()}

    async def ids_with_prefix(self, prefix: str, limit: int) -> list[tuple[str, str]]:
        """(id, title) of the papers whose id starts with `prefix`, in id order."""
        async with self._db.execute(
            "SELECT id, title FROM papers WHERE id >= ? AND id < ? ORDER BY id LIMIT ?",
            (prefix, prefix + "\U0010ffff", limit),
        ) as cursor:
            return [(str(r[0]), str(r[1])) for r in await cursor.fetchall()]

    async def paper_titles(self, after_rowid: int = 0) -> list[tuple[int, str]]:
        """(rowid, title) of every paper stored after `after_rowid`."""
        params: tuple[int, ...] = ()
        if after_rowid == 0:
            # All of them: the title index holds rowid and title, and is far smaller than the table.
            sql = "SELECT rowid, title FROM papers INDEXED BY papers_title_nocase"
        else:
            sql, params = "SELECT rowid, title FROM papers WHERE rowid > ? ORDER BY rowid", (after_rowid,)
        async with self._db.execute(sql, params) as cursor:
            rows = await cursor.fetchall()
        return [(int(r[0]), str(r[1])) for r in rows]

    async def titles_updated_since(self, since: str) -> list[tuple[int, str]]:
        """(rowid, title) of papers whose row changed at or after the ISO instant `since`."""
        async with self._db.execute(
            "SELECT rowid, title FROM papers INDEXED BY papers_updated_at WHERE updated_at >= ?", (since,)
        ) as cursor:
            rows = await cursor.fetchall()
        return [(int(r[0]), str(r[1])) for r in rows]

    async def paper_rowid_high_mark(self) -> int:
        """The largest rowid in `papers` (0 when empty): grows whenever a paper is added."""
        async with self._db.execute("SELECT coalesce(max(rowid), 0) FROM papers") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def latest_paper_day(self, on_or_before: dt.date) -> dt.date | None:
        """The most recent Daily Papers day, not after `on_or_before`, that has papers."""
        async with self._db.execute(
            "SELECT max(day) FROM papers WHERE day <= ?", (on_or_before.isoformat(),)
        ) as cursor:
            row = await cursor.fetchone()
        return dt.date.fromisoformat(row[0]) if row and row[0] else None

    async def top_papers_between(self, first: dt.date, last: dt.date, limit: int) -> list[Paper]:
        """Papers featured between `first` and `last` (inclusive), most upvoted first."""
        async with self._db.execute(
            f"SELECT {P_COLUMNS} FROM papers p WHERE p.day BETWEEN ? AND ? "
            "ORDER BY p.upvotes DESC, p.day DESC, p.id LIMIT ?",
            (first.isoformat(), last.isoformat(), limit),
        ) as cursor:
            rows = await cursor.fetchall()
        return [paper_from_row(row) for row in rows]

    async def bulk_insert_papers(self, papers: Iterable[Paper], *, batch_size: int = 5000) -> int:
        """Insert many papers not yet stored (and their daily entries), a batch per transaction.

        For loading a fresh cache quickly; an id already present makes the batch fail.
        """
        total = 0
        batch: list[Paper] = []
        for paper in papers:
            batch.append(paper)
            if len(batch) >= batch_size:
                total += await self._insert_batch(batch)
                batch = []
        if batch:
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
