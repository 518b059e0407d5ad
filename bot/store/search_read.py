"""The reads of one search, as plain functions over a sqlite3 connection (run on a reading connection's thread).

`bot.search` runs a whole search as one synchronous function through `Store.read`; these are the SQL
it needs: full-text hits and counts, pages, titles from the title-only index, rows by rowid.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

from bot.models import Paper
from bot.query import Filter
from bot.store.rows import P_COLUMNS, PAPER_COLUMNS, paper_from_row
from bot.store.search_sql import _BM25, Hit, SearchSpec, _filter_sql, count_query, page_query

log = logging.getLogger(__name__)

_CHUNK = 500  # rowids per IN (...) list


def search_page(db: sqlite3.Connection, spec: SearchSpec) -> list[Paper]:
    """The papers on the page described by `spec`, in its order (relevance is bm25 for text)."""
    return [paper_from_row(row) for row in db.execute(*page_query(spec)).fetchall()]


def search_count(db: sqlite3.Connection, spec: SearchSpec) -> int:
    """How many papers match `spec` (its page and order ignored)."""
    row = db.execute(*count_query(spec)).fetchone()
    return int(row[0]) if row else 0


def _conditions(
    match: str, filters: Sequence[Filter], low: int | None = None, high: int | None = None
) -> tuple[str, list[object]]:
    conditions = ["papers_fts MATCH ?"]
    params: list[object] = [match]
    if low is not None:
        conditions.append("papers_fts.rowid >= ?")
        params.append(low)
    if high is not None:
        conditions.append("papers_fts.rowid <= ?")
        params.append(high)
    for f in filters:
        sql, values = _filter_sql(f.field, f.op, f.value, "s")
        conditions.append(sql)
        params.extend(values)
    return " AND ".join(conditions), params


def match_hits(
    db: sqlite3.Connection,
    match: str,
    *,
    limit: int,
    filters: Sequence[Filter] = (),
    weights: Sequence[float] | None = None,
    likely_few: bool = False,
) -> list[Hit]:
    """Up to `limit` papers matching `match` and the filters, most recently stored first (bm25 with weights).

    `likely_few`: the caller expects no more than `limit` matches (see `_newest`).
    """
    score = _BM25 if weights is not None else "0"
    where, params = _conditions(match, filters)
    select = (
        f"SELECT papers_fts.rowid, {score}, s.upvotes, s.day, s.has_code "
        f"FROM papers_fts JOIN paper_stats s ON s.paper_rowid = papers_fts.rowid WHERE {where}"
    )
    rows = _newest(db, select, [*(weights or ()), *params], "papers_fts.rowid", limit, likely_few)
    return [Hit._make(row) for row in rows]


def _newest(
    db: sqlite3.Connection, select: str, params: list[object], rowid: str, limit: int, likely_few: bool
) -> list[Any]:
    """The rows of `select` with the `limit` largest `rowid`s, largest first.

    FTS5 reads a word's list of papers faster in stored order than backwards (a reverse read walks each
    page of the list from its end), 25-40 % for the ANDs of long typed titles at 1,000,000 papers. So
    when the caller expects few matches (`likely_few`), they are all read in stored order; only if they
    are more than `limit` are the newest read again, backwards.
    """
    if likely_few:
        rows = db.execute(f"{select} ORDER BY {rowid} ASC LIMIT ?", [*params, limit + 1]).fetchall()
        if len(rows) <= limit:
            return rows[::-1]
    return db.execute(f"{select} ORDER BY {rowid} DESC LIMIT ?", [*params, limit]).fetchall()


def matching_rowids(
    db: sqlite3.Connection,
    match: str,
    *,
    limit: int,
    filters: Sequence[Filter] = (),
    low: int | None = None,
    high: int | None = None,
) -> list[int]:
    """Rowids of up to `limit` papers matching `match` and the filters (between `low` and `high`), newest first."""
    where, params = _conditions(match, filters, low, high)
    source = "papers_fts JOIN paper_stats s ON s.paper_rowid = papers_fts.rowid" if filters else "papers_fts"
    rows = db.execute(
        f"SELECT papers_fts.rowid FROM {source} WHERE {where} ORDER BY papers_fts.rowid DESC LIMIT ?",
        [*params, limit],
    ).fetchall()
    return [int(row[0]) for row in rows]


def match_counts(db: sqlite3.Connection, matches: Sequence[str], cap: int) -> list[int]:
    """For each FTS5 expression, how many papers match it, counting no further than `cap`."""
    if not matches:
        return []
    one = "(SELECT count(*) FROM (SELECT 1 FROM papers_fts WHERE papers_fts MATCH ? LIMIT ?))"
    params: list[object] = []
    for match in matches:
        params += [match, cap]
    row = db.execute(f"SELECT {', '.join([one] * len(matches))}", params).fetchone()
    return [int(v) for v in row] if row else [0] * len(matches)


def papers_by_rowid(db: sqlite3.Connection, rowids: Sequence[int]) -> dict[int, Paper]:
    """The papers with these rowids (missing ones left out)."""
    found: dict[int, Paper] = {}
    for start in range(0, len(rowids), _CHUNK):
        chunk = list(rowids[start : start + _CHUNK])
        rows = db.execute(
            f"SELECT rowid, {PAPER_COLUMNS} FROM papers WHERE rowid IN ({','.join('?' * len(chunk))})", chunk
        ).fetchall()
        for row in rows:
            found[int(row[0])] = paper_from_row(tuple(row)[1:])
    return found


def titles_by_rowid(db: sqlite3.Connection, rowids: Sequence[int]) -> dict[int, tuple[str, str]]:
    """(id, title) of the papers with these rowids."""
    found: dict[int, tuple[str, str]] = {}
    for start in range(0, len(rowids), _CHUNK):
        chunk = list(rowids[start : start + _CHUNK])
        rows = db.execute(
            f"SELECT rowid, id, title FROM papers WHERE rowid IN ({','.join('?' * len(chunk))})", chunk
        ).fetchall()
        found.update((int(r[0]), (str(r[1]), str(r[2]))) for r in rows)
    return found


def title_hits(
    db: sqlite3.Connection,
    match: str,
    *,
    limit: int,
    low: int = 0,
    high: int | None = None,
    filters: Sequence[Filter] = (),
    likely_few: bool = False,
) -> list[int]:
    """Rowids of titles matching `match` on the title-only index (between `low` and `high`, passing the
    filters), newest first; `likely_few`: the caller expects no more than `limit` (see `_newest`)."""
    conditions = ["papers_fts_title MATCH ?", "papers_fts_title.rowid >= ?", "papers_fts_title.rowid <= ?"]
    params: list[object] = [match, low, high if high is not None else 2**63 - 1]
    for f in filters:
        sql, values = _filter_sql(f.field, f.op, f.value, "s")
        conditions.append(sql)
        params.extend(values)
    source = "papers_fts_title"
    if filters:
        source += " JOIN paper_stats s ON s.paper_rowid = papers_fts_title.rowid"
    select = f"SELECT papers_fts_title.rowid FROM {source} WHERE {' AND '.join(conditions)}"
    rows = _newest(db, select, params, "papers_fts_title.rowid", limit, likely_few)
    return [rowid for (rowid,) in rows]  # rowids come as ints: int() would double the cost of many


def title_hit_at(db: sqlite3.Connection, match: str, rank: int) -> int | None:
    """The rowid of the title matching `match` on the title-only index that is `rank`-th newest (0: the
    newest), if that many match; the newer ones are counted, not returned."""
    row = db.execute(
        "SELECT rowid FROM papers_fts_title WHERE papers_fts_title MATCH ? ORDER BY rowid DESC LIMIT 1 OFFSET ?",
        (match, rank),
    ).fetchone()
    return int(row[0]) if row else None


def titles_with_prefix(db: sqlite3.Connection, text: str, limit: int) -> list[int]:
    """Rowids of papers whose title starts with `text` (case aside), in title order."""
    rows = db.execute(
        "SELECT rowid FROM papers INDEXED BY papers_title_nocase "
        "WHERE title >= ? COLLATE NOCASE AND title < ? COLLATE NOCASE ORDER BY title COLLATE NOCASE LIMIT ?",
        (text, text + "\U0010ffff", limit),
    ).fetchall()
    return [int(row[0]) for row in rows]


def title_count(db: sqlite3.Connection) -> int:
    """How many papers have a title in the title index (every paper)."""
    row = db.execute("SELECT count(*) FROM papers").fetchone()
    return int(row[0]) if row else 0


def title_vocabulary(db: sqlite3.Connection, batch: int = 2_000) -> Iterator[list[tuple[str, int]]]:
    """Every word of the title index with the number of titles holding it, in batches, in code point order."""
    cursor = db.execute("SELECT term, doc FROM papers_fts_title_vocab ORDER BY term")
    while rows := cursor.fetchmany(batch):
        yield [(str(r[0]), int(r[1])) for r in rows]


def titles_after(db: sqlite3.Connection, rowid: int) -> list[tuple[int, str]]:
    """(rowid, title) of the papers stored after `rowid`."""
    rows = db.execute("SELECT rowid, title FROM papers WHERE rowid > ? ORDER BY rowid", (rowid,)).fetchall()
    return [(int(r[0]), str(r[1])) for r in rows]


def titles_changed_since(db: sqlite3.Connection, since: str) -> list[tuple[int, str]]:
    """(rowid, title) of papers whose row changed at or after the ISO instant `since`."""
    rows = db.execute(
        "SELECT rowid, title FROM papers INDEXED BY papers_updated_at WHERE updated_at >= ?", (since,)
    ).fetchall()
    return [(int(r[0]), str(r[1])) for r in rows]


def high_rowid(db: sqlite3.Connection) -> int:
    """The largest rowid in `papers` (0 when empty)."""
    row = db.execute("SELECT coalesce(max(rowid), 0) FROM papers").fetchone()
    return int(row[0]) if row else 0


def paper_by_id(db: sqlite3.Connection, paper_id: str) -> Paper | None:
    """The cached paper with this arXiv id, if any."""
    row = db.execute(f"SELECT {PAPER_COLUMNS} FROM papers WHERE id = ?", (paper_id,)).fetchone()
    return paper_from_row(row) if row else None


def ids_with_prefix(db: sqlite3.Connection, prefix: str, limit: int) -> list[tuple[str, str]]:
    """(id, title) of the papers whose id starts with `prefix`, in id order."""
    rows = db.execute(
        "SELECT id, title FROM papers WHERE id >= ? AND id < ? ORDER BY id LIMIT ?",
        (prefix, prefix + "\U0010ffff", limit),
    ).fetchall()
    return [(str(r[0]), str(r[1])) for r in rows]


def latest_paper_day(db: sqlite3.Connection, on_or_before: str) -> str | None:
    """The most recent Daily Papers day (ISO), not after `on_or_before`, that has papers."""
    row = db.execute("SELECT max(day) FROM papers WHERE day <= ?", (on_or_before,)).fetchone()
    return str(row[0]) if row and row[0] else None


def top_papers_between(db: sqlite3.Connection, first: str, last: str, limit: int) -> list[Paper]:
    """Papers featured between the ISO days `first` and `last` (inclusive), most upvoted first."""
    rows = db.execute(
        f"SELECT {P_COLUMNS} FROM papers p WHERE p.day BETWEEN ? AND ? "
        "ORDER BY p.upvotes DESC, p.day DESC, p.id LIMIT ?",
        (first, last, limit),
    ).fetchall()
    return [paper_from_row(row) for row in rows]


def titles_equal(db: sqlite3.Connection, text: str, limit: int) -> list[int]:
    """Rowids of papers titled exactly `text` (case aside), newest first."""
    rows = db.execute(
        "SELECT rowid FROM papers INDEXED BY papers_title_nocase WHERE title = ? COLLATE NOCASE "
        "ORDER BY rowid DESC LIMIT ?",
        (text, limit),
    ).fetchall()
    return [int(row[0]) for row in rows]
