"""What bench/search.py measures beyond timing: the known items found first, and the side-by-side peer run."""

from __future__ import annotations

import argparse
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from known_items import PLANTED, TARGETS, kinds_for, query_for, typo_queries

from bot.models import Paper
from bot.query import Query
from bot.search import Search
from bot.search.factory import SearchEngine
from bot.similar import SimilarPapers
from bot.store import Store
from bot.store.search import SearchSpec

log = logging.getLogger(__name__)

PEERS = ("tantivy",)
T = TypeVar("T")


class _TimedCursor:
    """A cursor whose fetches add their time to the search's SQL time."""

    def __init__(self, cursor: sqlite3.Cursor, spent: list[float]) -> None:
        self._cursor, self._spent = cursor, spent

    def _timed(self, fetch: Callable[..., Any], *args: Any) -> Any:
        started = time.perf_counter()
        try:
            return fetch(*args)
        finally:
            self._spent[0] += time.perf_counter() - started

    def fetchall(self) -> list[Any]:
        return list(self._timed(self._cursor.fetchall))

    def fetchone(self) -> Any:
        return self._timed(self._cursor.fetchone)

    def fetchmany(self, size: int) -> list[Any]:
        return list(self._timed(self._cursor.fetchmany, size))

    def __iter__(self) -> Any:
        return iter(self.fetchall())


class _TimedConnection:
    """A reading connection that counts the time spent inside SQLite (statements and their rows)."""

    def __init__(self, db: sqlite3.Connection, spent: list[float]) -> None:
        self._db, self._spent = db, spent

    def execute(self, sql: str, params: Any = ()) -> _TimedCursor:
        started = time.perf_counter()
        try:
            cursor = self._db.execute(sql, params)
        finally:
            self._spent[0] += time.perf_counter() - started
        return _TimedCursor(cursor, self._spent)


def sql_milliseconds(store: Store) -> Callable[[Callable[[], Awaitable[object]]], Awaitable[float]]:
    """A timer of the SQLite time inside one call on `store` (its reads run through a timing connection)."""

    async def timed(call: Callable[[], Awaitable[object]]) -> float:
        spent = [0.0]
        original = store.read

        async def read(work: Callable[[sqlite3.Connection], T], *, background: bool = False) -> T:
            return await original(lambda db: work(_TimedConnection(db, spent)), background=background)  # type: ignore[arg-type]

        store.read = read  # type: ignore[method-assign]
        try:
            await call()
        finally:
            del store.read
        return spent[0] * 1000

    return timed


def known_item_queries() -> list[tuple[str, str]]:
    """(kind, query) pairs of the title-like kinds (exact, reordered, dropped word, typo'd), added to the mix."""
    first, reordered = TARGETS[0], next(t for t in TARGETS if not t.reordered and t is not TARGETS[0])
    return [
        ("title-exact", query_for(first, "exact")),
        ("title-reordered", query_for(reordered, "reordered")),
        ("title-dropped", query_for(TARGETS[3], "dropped")),
        ("title-typo", query_for(TARGETS[4], "typo")),
        ("title-order", "runtime enforcement for coding agents"),
        ("title-short", "universal transformers"),
        ("title-short", "efficient reasoning"),
    ]


async def known_items_found_first(search: Search, papers: int) -> dict[str, Any] | None:
    """For each query kind, how many of the 40 planted titles come first (None when the cache is too small)."""
    if papers < 10 * len(PLANTED):
        return None
    found: dict[str, list[int]] = {}
    for target in TARGETS:
        for kind in kinds_for(target):
            results = await search.search(query_for(target, kind), limit=1)
            hit = bool(results.papers) and results.papers[0].title == target.title
            found.setdefault(kind, [0, 0])
            found[kind][0] += hit
            found[kind][1] += 1
    typos = typo_queries()
    first = 0
    for text, title in typos:
        results = await search.search(text, limit=1)
        first += bool(results.papers) and results.papers[0].title == title
    return {
        "typo_titles_found_first": f"{first}/{len(typos)}",
        "by_kind": {kind: f"{hit}/{asked}" for kind, (hit, asked) in found.items()},
    }


async def run_peer(
    args: argparse.Namespace,
    store: Store,
    search: Search,
    queries: list[tuple[str, str]],
    path: Path,
    papers: Iterable[Paper],
) -> dict[str, Any]:
    """Index the same corpus in the peer named by --peer and compare it with ours on the same queries."""
    from peer_tantivy import compare  # the peer is a dev extra: imported only when asked for

    async def ours(text: str) -> tuple[int, bool]:
        results = await search.search(text, limit=10)
        return results.total, results.total_exact

    sql_timer = sql_milliseconds(store)

    async def ours_sql(text: str) -> float:
        return await sql_timer(lambda: search.search(text, limit=10))

    async def exact_count(query: Query) -> int:
        compiled = query.fts()
        return await store.search_count(
            SearchSpec(match=compiled.match, exclude=compiled.exclude, filters=compiled.filters)
        )

    return await compare(
        papers, queries, ours, exact_count, rounds=args.rounds, folder=path.parent, database=path, ours_sql=ours_sql
    )


async def time_autocomplete(search: SearchEngine, texts: Sequence[str], rounds: int) -> list[float]:
    """Milliseconds of each autocomplete of `texts`, `rounds` times over."""
    timings: list[float] = []
    for _ in range(rounds):
        for text in texts:
            t0 = time.perf_counter()
            await search.autocomplete(text, limit=25)
            timings.append((time.perf_counter() - t0) * 1000)
    return timings


async def time_similar(similar: SimilarPapers, papers: Sequence[Paper], rounds: int) -> tuple[float, list[float]]:
    """(seconds counting the frequent terms, as the bot does at start; milliseconds of each lookup of `papers`)."""
    t0 = time.perf_counter()
    await similar.warm()
    warm_seconds = time.perf_counter() - t0
    timings: list[float] = []
    for _ in range(rounds):
        for paper in papers:
            t0 = time.perf_counter()
            await similar.similar(paper, 5)
            timings.append((time.perf_counter() - t0) * 1000)
    return warm_seconds, timings
