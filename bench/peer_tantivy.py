"""The peer of `bench/search.py --peer tantivy`: Tantivy (through its Python binding) on the same corpus and queries.

The peer indexes the five full-text columns of bot/query/columns.py with Tantivy's `en_stem` analyzer
(simple tokenizer, long tokens removed, lower case, English stemmer) and the same per-column weights as
boosts; upvotes, day and code are fast integer fields. A query is parsed by Paperboy's own parser and its
AST translated node for node: a word or phrase is an OR over its columns (a phrase must hold in one column,
as in FTS5), AND is MUST, OR is SHOULD, NOT is MUST_NOT beside all documents, filters are range queries.
So both engines run the same boolean structure with AND by default, including the common words the parser
leaves out. Stemmers differ (FTS5's Porter, Tantivy's Snowball English), so a few words may match a few
different papers: the report says, query by query, whether the counts agree.

Timing covers what a caller of each engine does for one page of 10: parsing the text, translating it
(peer only), searching with the exact match count (the peer counts every match; ours stops counting at
its ranking window), and reading the ids of the page.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import shutil
import sqlite3
import statistics
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, TypedDict

import tantivy
from tantivy.tantivy import __version__ as tantivy_version

from bot.models import Paper
from bot.query import SEARCH_COLUMNS, And, Filter, Node, Not, Or, Query, Term, category_range, parse
from bot.query.columns import column_texts

log = logging.getLogger(__name__)

ANALYZER = "en_stem"
WRITER_HEAP_BYTES = 256 * 2**20
_INTEGER = tantivy.FieldType.Integer

# The words of a phrase in the element type Tantivy's phrase_query takes (a word, or a position and a word).
PhraseWords = list[str | tuple[int, str]]


class CountAgreement(TypedDict):
    """One query's match counts in both engines, and whether they agree."""

    kind: str
    query: str
    fts5_count: int
    peer_count: int
    ours_total: int
    ours_total_exact: bool
    agree: bool


def _day_number(day: dt.date) -> int:
    return day.year * 10000 + day.month * 100 + day.day


def folder_bytes(folder: Path) -> int:
    """Bytes of every file under `folder`."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def sqlite_table_bytes(path: Path, prefix: str) -> dict[str, int] | None:
    """Bytes of each table and index whose name starts with `prefix` (SQLite's dbstat), None if unavailable."""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            rows = db.execute(
                "SELECT name, sum(pgsize) FROM dbstat WHERE name LIKE ? GROUP BY name ORDER BY name", (prefix + "%",)
            ).fetchall()
    except sqlite3.Error as error:
        log.warning("dbstat is not available: %s", error)
        return None
    return {str(name): int(size) for name, size in rows}


class TantivyPeer:
    """A Tantivy index of the corpus in `folder`, searched with queries in Paperboy's language."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        builder = tantivy.SchemaBuilder()
        builder.add_text_field("id", stored=True, tokenizer_name="raw")
        for column in SEARCH_COLUMNS:
            builder.add_text_field(column.name, tokenizer_name=ANALYZER)
        for name in ("upvotes", "day", "code"):
            builder.add_integer_field(name, indexed=True, fast=True)
        builder.add_text_field("category", tokenizer_name="raw")  # one value per category, lower case
        self.schema = builder.build()
        folder.mkdir(parents=True, exist_ok=True)
        self.index = tantivy.Index(self.schema, path=str(folder), reuse=False)
        self.analyzer = (
            tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
            .filter(tantivy.Filter.remove_long(40))
            .filter(tantivy.Filter.lowercase())
            .filter(tantivy.Filter.stemmer("english"))
            .build()
        )
        self.searcher: Any = None
        self.raw_text_bytes = 0  # UTF-8 bytes of the columns indexed: the size of the text itself

    def build(self, papers: Iterable[Paper]) -> int:
        """Index the papers in one writer (one thread), commit, and let Tantivy finish its merges."""
        writer = self.index.writer(heap_size=WRITER_HEAP_BYTES, num_threads=1)
        count = 0
        for paper in papers:
            fields: dict[str, Any] = {"id": paper.id, "upvotes": paper.upvotes, "code": int(paper.has_code)}
            for column, text in zip(SEARCH_COLUMNS, column_texts(paper), strict=True):
                fields[column.name] = text
                self.raw_text_bytes += len(text.encode())
            if paper.day is not None:
                fields["day"] = _day_number(paper.day)
            if paper.categories:
                fields["category"] = [category.lower() for category in paper.categories]
            writer.add_document(tantivy.Document(**fields))
            count += 1
        writer.commit()
        writer.wait_merging_threads()
        self.index.reload()
        self.searcher = self.index.searcher()
        return count

    def _stems(self, tokens: tuple[str, ...]) -> PhraseWords:
        return [stem for token in tokens for stem in self.analyzer.analyze(token)]

    def _term(self, term: Term) -> tantivy.Query:
        stems = self._stems(term.tokens)
        if not stems:
            return tantivy.Query.empty_query()
        per_column = []
        weights = {c.name: c.weight for c in SEARCH_COLUMNS}
        for column in term.columns:
            if len(stems) == 1:
                inner = tantivy.Query.term_query(self.schema, column, stems[0])
            else:
                inner = tantivy.Query.phrase_query(self.schema, column, stems)
            per_column.append((tantivy.Occur.Should, tantivy.Query.boost_query(inner, weights[column])))
        return per_column[0][1] if len(per_column) == 1 else tantivy.Query.boolean_query(per_column)

    def _filter(self, condition: Filter) -> tantivy.Query:
        if condition.field == "category":
            low, high = category_range(str(condition.value))
            if high is None:
                return tantivy.Query.term_query(self.schema, "category", low)
            return tantivy.Query.regex_query(self.schema, "category", re.escape(low) + ".*")
        if condition.field == "code":
            return tantivy.Query.term_query(self.schema, "code", int(bool(condition.value)))
        value = condition.value
        number = _day_number(value) if isinstance(value, dt.date) else int(value)
        if condition.op == "=":
            bounds: tuple[int | None, int | None, bool, bool] = (number, number, True, True)
        elif condition.op in (">", ">="):
            bounds = (number, None, condition.op == ">=", True)
        else:
            bounds = (None, number, True, condition.op == "<=")
        return tantivy.Query.range_query(self.schema, condition.field, _INTEGER, *bounds)

    def translate(self, node: Node) -> tantivy.Query:
        """The Tantivy query with the boolean structure of a Paperboy AST node."""
        if isinstance(node, Term):
            return self._term(node)
        if isinstance(node, Filter):
            return self._filter(node)
        if isinstance(node, Not):
            return tantivy.Query.boolean_query(
                [(tantivy.Occur.Must, tantivy.Query.all_query()), (tantivy.Occur.MustNot, self.translate(node.child))]
            )
        if isinstance(node, And):
            clauses = [
                (tantivy.Occur.MustNot, self.translate(c.child))
                if isinstance(c, Not)
                else (tantivy.Occur.Must, self.translate(c))
                for c in node.children
            ]
            if all(occur == tantivy.Occur.MustNot for occur, _ in clauses):
                clauses.append((tantivy.Occur.Must, tantivy.Query.all_query()))
            return tantivy.Query.boolean_query(clauses)
        assert isinstance(node, Or)
        return tantivy.Query.boolean_query([(tantivy.Occur.Should, self.translate(c)) for c in node.children])

    def search(self, text: str, limit: int = 10) -> tuple[list[str], int]:
        """The ids of the best `limit` papers for a query, and how many papers match it."""
        query = parse(text)
        peer_query = self.translate(query.root)
        if query.words is None:
            # Filters alone: ours lists them by upvotes; so does the peer.
            found = self.searcher.search(peer_query, limit, order_by_field="upvotes")
        else:
            found = self.searcher.search(peer_query, limit)
        ids = [self.searcher.doc(address)["id"][0] for _, address in found.hits]
        return ids, int(found.count)

    def disk_bytes(self) -> int:
        """Bytes of the index folder."""
        return folder_bytes(self.folder)

    def close(self) -> None:
        """Delete the index folder."""
        self.searcher = None
        shutil.rmtree(self.folder, ignore_errors=True)


def _summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return {"p50_ms": round(statistics.median(values), 3), "p95_ms": round(p95, 3)}


async def compare(
    papers: Iterable[Paper],
    queries: list[tuple[str, str]],
    ours: Callable[[str], Awaitable[tuple[int, bool]]],
    exact_count: Callable[[Query], Awaitable[int]],
    *,
    rounds: int,
    folder: Path,
    database: Path,
    ours_sql: Callable[[str], Awaitable[float]],
) -> dict[str, Any]:
    """Index `papers` in Tantivy, time both engines on `queries` interleaved, and report the comparison.

    `ours(text)` runs Paperboy's search and returns (total, whether exact); `exact_count(query)` is the
    store's exact FTS5 count for a parsed query (what Tantivy's count is compared with); `ours_sql(text)`
    runs Paperboy's search and returns the milliseconds it spent inside SQLite, the floor of a search
    that keeps its SQL and does no work of its own in Python.
    """
    peer = TantivyPeer(folder / "tantivy-peer")
    started = time.perf_counter()
    indexed = peer.build(papers)
    build_seconds = time.perf_counter() - started
    try:
        for _, text in queries:  # warm both, as a running bot would be
            await ours(text)
            peer.search(text)
        ours_ms: list[float] = []
        peer_ms: list[float] = []
        kinds: dict[str, dict[str, list[float]]] = {}
        for _ in range(rounds):
            for kind, text in queries:
                t0 = time.perf_counter()
                await ours(text)
                t1 = time.perf_counter()
                peer.search(text)
                t2 = time.perf_counter()
                ours_ms.append((t1 - t0) * 1000)
                peer_ms.append((t2 - t1) * 1000)
                by_kind = kinds.setdefault(kind.split("-")[0], {"ours": [], "peer": []})
                by_kind["ours"].append((t1 - t0) * 1000)
                by_kind["peer"].append((t2 - t1) * 1000)
        # Apart from the interleaved timing: the timing connection adds its own cost to the whole search.
        sql_ms: list[float] = []
        for _ in range(rounds):
            for kind, text in queries:
                sql_ms.append(await ours_sql(text))
                kinds[kind.split("-")[0]].setdefault("ours_sql_only", []).append(sql_ms[-1])
        agreement: list[CountAgreement] = []
        for kind, text in queries:
            total, exact = await ours(text)
            _, peer_count = peer.search(text)
            fts_count = await exact_count(parse(text))
            agreement.append(
                {
                    "kind": kind,
                    "query": text,
                    "fts5_count": fts_count,
                    "peer_count": peer_count,
                    "ours_total": total,
                    "ours_total_exact": exact,
                    "agree": fts_count == peer_count,
                }
            )
        peer_bytes = peer.disk_bytes()
        segments = peer.searcher.num_segments
    finally:
        peer.close()
    ours_summary, peer_summary, sql_summary = _summary(ours_ms), _summary(peer_ms), _summary(sql_ms)
    fts_tables = sqlite_table_bytes(database, "papers_fts")
    return {
        "engine": f"tantivy {tantivy_version}",
        "papers_indexed": indexed,
        "build_seconds": round(build_seconds, 2),
        "segments": segments,
        "rounds": rounds,
        "ours": ours_summary,
        "peer": peer_summary,
        "ratio_p50_ours_over_peer": round(ours_summary["p50_ms"] / max(peer_summary["p50_ms"], 1e-6), 2),
        "ratio_p95_ours_over_peer": round(ours_summary["p95_ms"] / max(peer_summary["p95_ms"], 1e-6), 2),
        "ours_sql_only": sql_summary,
        "ratio_p50_ours_sql_only_over_peer": round(sql_summary["p50_ms"] / max(peer_summary["p50_ms"], 1e-6), 2),
        "ratio_p95_ours_sql_only_over_peer": round(sql_summary["p95_ms"] / max(peer_summary["p95_ms"], 1e-6), 2),
        "by_kind": {
            kind: {side: _summary(values) for side, values in sides.items()} for kind, sides in sorted(kinds.items())
        },
        "counts_agree": f"{sum(a['agree'] for a in agreement)}/{len(agreement)}",
        "counts_agree_where_ours_exact": "{}/{}".format(
            sum(a["agree"] for a in agreement if a["ours_total_exact"]),
            sum(1 for a in agreement if a["ours_total_exact"]),
        ),
        "counts": agreement,
        "disk": {
            "peer_index_bytes": peer_bytes,
            "peer_index_mb": round(peer_bytes / 2**20, 1),
            "fts5_tables_bytes": fts_tables,
            "fts5_tables_mb": round(sum(fts_tables.values()) / 2**20, 1) if fts_tables else None,
            "raw_text_bytes": peer.raw_text_bytes,
            "raw_text_mb": round(peer.raw_text_bytes / 2**20, 1),
            "database_bytes": database_file_bytes(database),
            "database_over_raw_text": round(database_file_bytes(database) / max(peer.raw_text_bytes, 1), 2),
        },
        "timing_note": "interleaved per query, same process; peer time includes parsing, translation, exact count",
    }


def database_file_bytes(path: Path) -> int:
    """Bytes of a SQLite database file and its WAL."""
    return sum(os.path.getsize(f"{path}{s}") for s in ("", "-wal") if os.path.exists(f"{path}{s}"))
