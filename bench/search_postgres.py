"""The Postgres half of `bench/search.py --backend postgres`: the same corpus, query mix and timings on Postgres.

The corpus, the sample and the query and autocomplete mixes are made exactly as `search.py` makes them
(same seeds), loaded into Postgres through the Store's bulk insert, and timed through the same calls
(`search`, `autocomplete`, similar papers) of the Postgres search engine. The server is the one given by
`--database-url` (an empty database, or one an earlier run filled with the same corpus: it is then measured
again without building), else a throwaway server started from the binaries the dev extras install (as the
tests do), stopped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import random
import statistics
import time
from collections.abc import Iterator
from typing import Any

from corpus import Corpus
from search_checks import time_autocomplete, time_similar

from bot.models import Paper
from bot.search.postgres import PostgresSearch
from bot.similar import SimilarPapers
from bot.store.postgres import PostgresStore

log = logging.getLogger(__name__)


@contextlib.contextmanager
def database(url: str | None) -> Iterator[str]:
    """The URL of an empty database: `url` itself, else one on a throwaway server stopped afterwards."""
    if url:
        yield url
        return
    from tests.fakes.postgres import start_server

    server = start_server()
    try:
        yield server.create_database()
    finally:
        server.stop()


async def run_postgres(args: argparse.Namespace, sqlite_report: dict[str, Any]) -> dict[str, Any]:
    """Build the corpus in Postgres, time the query mix, autocomplete and similar papers; compare with SQLite."""
    from search import autocomplete_mix, query_mix, summary

    with database(args.database_url) as url:
        store = await PostgresStore.open(url)
        try:
            stored = (await store.counts()).papers
            if stored not in (0, args.papers):
                raise SystemExit("--database-url must name an empty database or one holding this corpus")
            corpus = Corpus(args.papers, seed=args.seed)
            rng = random.Random(args.seed)
            keep_every = max(1, args.papers // 2000)
            sample: list[Paper] = []

            def generate() -> Iterator[Paper]:
                for index, paper in enumerate(corpus.papers()):
                    if index % keep_every == keep_every // 2:
                        sample.append(paper)
                    yield paper

            started = time.perf_counter()
            if stored:  # the corpus is deterministic: generate it again for the sample, without storing it
                inserted = sum(1 for _ in generate())
            else:
                inserted = await store.bulk_insert_papers(generate(), batch_size=5000)
            build_seconds = time.perf_counter() - started
            search = PostgresSearch(store)
            started = time.perf_counter()
            await search.merge_index()
            async with store._pool.connection() as conn:  # statistics for the planner, as autovacuum would
                await conn.execute("VACUUM ANALYZE papers")
            merge_seconds = time.perf_counter() - started
            size_row = await store._fetchone("SELECT pg_database_size(current_database())")
            database_bytes = int(size_row[0]) if size_row else 0

            rng.shuffle(sample)
            queries = query_mix(sample, rng)
            completions = autocomplete_mix(sample, rng)
            t0 = time.perf_counter()
            await search.search(queries[0][1], limit=10)
            first_search_ms = (time.perf_counter() - t0) * 1000
            for _, text in queries:  # warm the buffer cache once, as a running server would be
                await search.search(text, limit=10)
            timings: dict[str, list[float]] = {}
            ours: list[float] = []
            per_query: dict[str, list[float]] = {}
            for _ in range(args.rounds):
                for kind, text in queries:
                    t0 = time.perf_counter()
                    await search.search(text, limit=10)
                    elapsed = (time.perf_counter() - t0) * 1000
                    ours.append(elapsed)
                    timings.setdefault(kind.split("-")[0], []).append(elapsed)
                    per_query.setdefault(text, []).append(elapsed)
            found_first = 0
            for paper, (_, text) in zip(sample[2:10], queries[-8:], strict=True):
                results = await search.search(text, limit=10)
                found_first += bool(results.papers) and results.papers[0].id == paper.id
            completion_ms = await time_autocomplete(search, completions, args.rounds)
            similar_warm_seconds, similar_ms = await time_similar(
                SimilarPapers(store), sample[: args.similar_papers], args.rounds
            )
            server_version = await store._fetchone("SHOW server_version")
        finally:
            await store.close()

    report: dict[str, Any] = {
        "server_version": server_version[0] if server_version else None,
        "papers": inserted,
        "reused_database": bool(stored),
        "build_seconds": None if stored else round(build_seconds, 2),
        "build_papers_per_second": None if stored else round(inserted / build_seconds),
        "index_merge_and_analyze_seconds": round(merge_seconds, 2),
        "database_mb": round(database_bytes / 2**20, 1),
        "first_search_after_ready_ms": round(first_search_ms, 2),
        "search": summary(ours),
        "search_by_kind": {kind: summary(values) for kind, values in sorted(timings.items())},
        "slowest_queries_median_ms": {
            text: round(statistics.median(values), 2)
            for text, values in sorted(per_query.items(), key=lambda kv: -statistics.median(kv[1]))[:5]
        },
        "titles_found_first": f"{found_first}/8",
        "autocomplete": summary(completion_ms),
        "similar": summary(similar_ms),
        "similar_frequent_terms_seconds": round(similar_warm_seconds, 2),
    }
    report["ratio_to_sqlite"] = {
        name: {key: round(report[name][key] / max(sqlite_report[name][key], 1e-6), 2) for key in ("p50_ms", "p95_ms")}
        for name in ("search", "autocomplete", "similar")
    }
    return report
