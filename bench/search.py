"""Benchmark: search and title autocomplete over a synthetic cache of N papers; prints one JSON object.

Builds a deterministic corpus (titles, abstracts, authors, keywords, days, upvotes shaped like Daily
Papers) into a temporary SQLite database through the Store, merges its full-text index as the bot does
once a day, then times a fixed query mix through `Search.search` and title autocomplete through
`Search.autocomplete`. The same query mix runs against a baseline that scans every paper in memory and
scores substring hits (title x10, authors x5, abstract x1, the scoring of arxiv-sanity-lite). At large
sizes the baseline runs on the first `--baseline-queries` queries of the mix only, since each of its
queries reads the whole corpus.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import gc
import heapq
import json
import logging
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from corpus import Corpus  # noqa: E402
from known_items import plant, slip  # noqa: E402
from search_checks import (  # noqa: E402
    PEERS,
    known_item_queries,
    known_items_found_first,
    run_peer,
    time_autocomplete,
    time_similar,
)

from bot.models import Paper  # noqa: E402
from bot.search import Search  # noqa: E402
from bot.similar import SimilarPapers  # noqa: E402
from bot.store import Store  # noqa: E402

log = logging.getLogger(__name__)


def typo(rng: random.Random, text: str) -> str:
    """One or two character slips: a dropped, doubled or swapped letter."""
    chars = list(text)
    for _ in range(rng.randint(1, 2)):
        slip(rng, chars, rng.randrange(1, len(chars) - 2))
    return "".join(chars)


def query_mix(sample: list[Paper], rng: random.Random) -> list[tuple[str, str]]:
    """(kind, query) pairs: words, phrases, fields, booleans, filters and mistyped or partial titles."""
    author = sample[0].authors[0]
    last_day = max(p.day for p in sample if p.day)
    mix = [
        ("word", "diffusion"),
        ("word", "model"),
        ("word", "protein"),
        ("word", "hallucination"),
        ("word", sample[1].title.split()[-1]),
        ("phrase", '"large language model"'),
        ("phrase", '"mixture of experts"'),
        ("phrase", '"chain of thought"'),
        ("field", "title:mamba"),
        ("field", f'author:"{author}"'),
        ("field", "keyword:retrieval"),
        ("field", "abstract:quantization title:efficient"),
        ("boolean", '(llm OR "language model") agent'),
        ("boolean", "diffusion -survey"),
        ("boolean", "video OR audio generation"),
        ("boolean", "robot (planning OR navigation) -simulation"),
        ("filter", "code:yes upvotes:>=20 reasoning"),
        ("filter", f"day:{last_day.isoformat()}"),
        ("filter", f"agent day:>={(last_day - dt.timedelta(days=30)).isoformat()}"),
        *known_item_queries(),
    ]
    for paper in sample[2:10]:
        words = paper.title.replace(":", " ").split()
        choice = rng.choice(("typo", "lower", "missing", "partial"))
        if choice == "typo":
            text = typo(rng, paper.title.replace(":", ""))
        elif choice == "lower":
            text = paper.title.replace(":", "").lower()
        elif choice == "missing":
            del words[rng.randrange(len(words))]
            text = " ".join(words)
        else:
            text = " ".join(words[: max(3, len(words) // 2)])
        mix.append((f"title-{choice}", text))
    return mix


ARXIV_CATEGORIES = ("cs.LG", "cs.AI", "cs.CV", "cs.IR", "stat.ML")
CATEGORY_QUERIES = ("category:cs.CL", "category:cs.CL agent", "cat:cs.* diffusion -survey", "category:stat.ML code:yes")


def as_arxiv_paper(paper: Paper, rng: random.Random) -> Paper:
    """The paper as a cs.CL announcement (sometimes cross-listed) that Hugging Face never featured."""
    primary = "cs.CL" if rng.random() < 0.8 else rng.choice(ARXIV_CATEGORIES)
    crossed = rng.sample(ARXIV_CATEGORIES, rng.randint(0, 2))
    return dataclasses.replace(
        paper,
        categories=(primary, *(c for c in crossed if c != primary)),
        sources=("arxiv",),
        upvotes=0,
        ai_summary=None,
        ai_keywords=(),
    )


def corpus_papers(args: argparse.Namespace) -> Iterator[Paper]:
    """The corpus in order: synthetic papers with the known items planted, the newest `--arxiv-papers` of
    them a busy arXiv category's year."""
    arxiv_from = args.papers - args.arxiv_papers
    arxiv_rng = random.Random(args.seed + 1)
    for index, paper in enumerate(plant(Corpus(args.papers, seed=args.seed).papers(), args.papers)):
        yield as_arxiv_paper(paper, arxiv_rng) if index >= arxiv_from else paper


def autocomplete_mix(sample: list[Paper], rng: random.Random) -> list[str]:
    """What users type into /paper show: title beginnings, mistyped words, id prefixes."""
    texts = []
    for paper in sample[10:30]:
        cut = rng.randint(5, min(30, len(paper.title)))
        texts.append(paper.title[:cut])
    for paper in sample[30:40]:
        texts.append(typo(rng, paper.title[: rng.randint(12, min(40, len(paper.title)))]))
    texts += [sample[40].id[:7], sample[41].id, "2305.", "diffusion vid", "mixture of exp"]
    return texts


class Baseline:
    """Scan every paper per query and score substring hits: title x10, authors x5, abstract x1."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.titles: list[str] = []
        self.authors: list[str] = []
        self.abstracts: list[str] = []

    def add(self, paper: Paper) -> None:
        """Keep the lower-cased fields the scan reads."""
        self.ids.append(paper.id)
        self.titles.append(paper.title.lower())
        self.authors.append(" ".join(paper.authors).lower())
        self.abstracts.append(paper.summary.lower())

    def search(self, query: str, limit: int = 10) -> list[str]:
        """The ids of the best `limit` papers for the query's words."""
        words = [
            w
            for w in query.lower().replace('"', " ").replace("(", " ").replace(")", " ").split()
            if w not in ("or", "and", "not") and not w.startswith("-")
        ]
        words = [w.split(":", 1)[-1] for w in words]
        scored = []
        for index in range(len(self.ids)):
            title, authors, abstract = self.titles[index], self.authors[index], self.abstracts[index]
            score = 0
            for word in words:
                score += 10 * title.count(word) + 5 * authors.count(word) + abstract.count(word)
            if score:
                scored.append((score, index))
        return [self.ids[i] for _, i in heapq.nlargest(limit, scored)]


def percentile(values: list[float], share: float) -> float:
    """The value below which `share` of the sorted values fall (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def summary(values_ms: list[float]) -> dict[str, float]:
    """p50, p95 and max in milliseconds."""
    return {
        "p50_ms": round(statistics.median(values_ms), 3),
        "p95_ms": round(percentile(values_ms, 0.95), 3),
        "max_ms": round(max(values_ms), 3),
    }


KEEP_DIR = Path(tempfile.gettempdir()) / "paperboy-bench-search"


def database_folder(args: argparse.Namespace) -> tuple[Path, bool]:
    """Where the database goes, and whether it is a temporary folder made for this run alone."""
    if args.db_dir is not None:
        folder = Path(args.db_dir)
    elif args.keep or args.reuse:
        # One known place, so that a later --reuse finds what --keep left instead of building again.
        folder = KEEP_DIR
    else:
        return Path(tempfile.mkdtemp(prefix="paperboy-bench-")), True
    folder.mkdir(parents=True, exist_ok=True)
    return folder, False


def remove_database(path: Path, folder: Path | None = None) -> None:
    """Delete a database and its WAL files (and the folder made for them)."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    if folder is not None:
        folder.rmdir()


def database_bytes(path: Path) -> int:
    """Size of a database with its WAL."""
    return sum(os.path.getsize(f"{path}{s}") for s in ("", "-wal") if os.path.exists(f"{path}{s}"))


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Build the corpus, time everything, and return the report."""
    folder, made_folder = database_folder(args)
    path = folder / f"search-{args.papers}-{args.seed}.db"
    reuse = bool(args.reuse)
    if reuse and not path.exists():
        hint = "" if args.db_dir else " (the default folder; give --db-dir if it was kept elsewhere)"
        raise SystemExit(
            f"--reuse: no database for --papers {args.papers} --seed {args.seed} in {folder}{hint}; "
            "run once with --keep first"
        )
    if not reuse:
        remove_database(path)
    rng = random.Random(args.seed)
    store = await Store.open(path)
    keep_every = max(1, args.papers // 2000)
    sample: list[Paper] = []
    baseline = Baseline()
    started = time.perf_counter()

    def generate() -> Iterator[Paper]:
        for index, paper in enumerate(corpus_papers(args)):
            if index % keep_every == keep_every // 2:
                sample.append(paper)
            baseline.add(paper)
            yield paper

    if reuse:
        # The corpus is deterministic: generate it again for the baseline, without storing it.
        inserted = sum(1 for _ in generate())
        if (await store.counts()).papers != inserted:
            raise SystemExit(f"{path} does not hold this corpus; run without --reuse")
    else:
        inserted = await store.bulk_insert_papers(generate(), batch_size=10000)
    build_seconds = time.perf_counter() - started
    # The baseline holds the whole corpus in this process, as the bot never does: keep the garbage
    # collector from walking it in the middle of the timings (it held the event loop ~180 ms at 1M).
    gc.collect()
    gc.freeze()
    search = Search(store)
    # The full-text index as the running bot keeps it: merged into one b-tree once a day.
    started = time.perf_counter()
    merge_steps = await search.merge_index()
    merge_seconds = time.perf_counter() - started
    await store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    file_bytes = database_bytes(path)

    # The title index as the bot builds it after login: in the background, the event loop kept free.
    stalls: list[float] = []
    started = time.perf_counter()
    warming = search.start_warming()
    while not warming.done():
        t0 = time.perf_counter()
        await asyncio.sleep(0.001)
        stalls.append((time.perf_counter() - t0 - 0.001) * 1000)
    await warming
    index_seconds = time.perf_counter() - started

    rng.shuffle(sample)
    queries = query_mix(sample, rng)
    if args.arxiv_papers:  # before the title queries, which stay last
        queries[-8:-8] = [("category", text) for text in CATEGORY_QUERIES]
    completions = autocomplete_mix(sample, rng)
    t0 = time.perf_counter()
    await search.search(queries[0][1], limit=10)
    first_search_ms = (time.perf_counter() - t0) * 1000
    # Warm the page cache and the tokenizer once, as a running bot would be.
    for _, text in queries:
        await search.search(text, limit=10)
    timings: dict[str, list[float]] = {}
    ours: list[float] = []
    found_first = 0
    titles_asked = 0
    per_query: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        for kind, text in queries:
            t0 = time.perf_counter()
            await search.search(text, limit=10)
            elapsed = (time.perf_counter() - t0) * 1000
            ours.append(elapsed)
            timings.setdefault(kind.split("-")[0], []).append(elapsed)
            per_query.setdefault(text, []).append(elapsed)
    for paper, (_, text) in zip(sample[2:10], queries[-8:], strict=True):
        results = await search.search(text, limit=10)
        titles_asked += 1
        found_first += bool(results.papers) and results.papers[0].id == paper.id
    completion_ms = await time_autocomplete(search, completions, args.rounds)
    # Similar papers for papers spread over the corpus, after counting the frequent terms as the bot does.
    similar_warm_seconds, similar_ms = await time_similar(
        SimilarPapers(store), sample[: args.similar_papers], args.rounds
    )

    limit = len(queries) if args.baseline_queries <= 0 else args.baseline_queries
    # Every kind of query appears among the first ones measured.
    chosen = [q for _, q in sorted(enumerate(queries), key=lambda iq: (iq[0] % 6, iq[0]))][:limit]
    baseline_ms: list[float] = []
    ours_same: list[float] = []
    for _, text in chosen:
        t0 = time.perf_counter()
        baseline.search(text)
        baseline_ms.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        await search.search(text, limit=10)
        ours_same.append((time.perf_counter() - t0) * 1000)
    known_items = await known_items_found_first(search, inserted)
    peer = await run_peer(args, store, search, queries, path, corpus_papers(args)) if args.peer else None
    await store.close()
    if args.keep:
        print(f"kept the database at {path} (measure on it again with --reuse)", file=sys.stderr)
    else:
        remove_database(path, folder=folder if made_folder else None)

    ours_summary = summary(ours)
    baseline_summary = summary(baseline_ms)
    same_summary = summary(ours_same)
    return {
        "benchmark": "search",
        "papers": inserted,
        "seed": args.seed,
        "build_seconds": None if reuse else round(build_seconds, 2),
        "reused_database": reuse,
        "database_path": str(path) if args.keep else None,
        "build_papers_per_second": None if reuse else round(inserted / build_seconds),
        "index_merge_seconds": round(merge_seconds, 2),
        "index_merge_steps": merge_steps,
        "file_bytes": file_bytes,
        "file_mb": round(file_bytes / 2**20, 1),
        "title_index_load_seconds": round(index_seconds, 2),
        "title_index_load_max_loop_stall_ms": round(max(stalls, default=0.0), 1),
        "first_search_after_ready_ms": round(first_search_ms, 2),
        "query_mix": len(queries),
        "rounds": args.rounds,
        "search": ours_summary,
        "search_by_kind": {kind: summary(values) for kind, values in sorted(timings.items())},
        "slowest_queries_median_ms": {
            text: round(statistics.median(values), 2)
            for text, values in sorted(per_query.items(), key=lambda kv: -statistics.median(kv[1]))[:5]
        },
        "titles_found_first": f"{found_first}/{titles_asked}",
        "known_items_found_first": known_items,
        "autocomplete": summary(completion_ms),
        "autocomplete_texts": len(completions),
        "similar": summary(similar_ms),
        "similar_papers": min(len(sample), args.similar_papers),
        "similar_frequent_terms_seconds": round(similar_warm_seconds, 2),
        "baseline": {
            "queries": len(chosen),
            "scan": baseline_summary,
            "ours_on_same_queries": same_summary,
            "speedup_p50": round(baseline_summary["p50_ms"] / max(same_summary["p50_ms"], 1e-6), 1),
            "speedup_p95": round(baseline_summary["p95_ms"] / max(same_summary["p95_ms"], 1e-6), 1),
        },
        "targets": {"search_p95_ms": 30, "autocomplete_p95_ms": 50, "speedup": 100, "similar_p95_ms": 50},
        "peer": peer,
    }


class DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, except a flag's False or a default its help already explains."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default in (None, False):
            return action.help
        return super()._get_help_string(action)


def main() -> None:
    """Parse arguments, run, print one JSON object."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=DefaultsFormatter)
    parser.add_argument("--papers", type=int, default=10_000, help="papers in the synthetic cache")
    parser.add_argument("--rounds", type=int, default=3, help="times the query mix is repeated")
    parser.add_argument("--seed", type=int, default=20260612, help="seed of the synthetic corpus")
    parser.add_argument("--similar-papers", type=int, default=200, help="papers whose similar papers are timed")
    parser.add_argument(
        "--arxiv-papers",
        type=int,
        default=0,
        help="make the newest N papers arXiv announcements with categories (a busy category's year is ~50k) "
        "and add category: queries to the mix (default: 0, none)",
    )
    parser.add_argument(
        "--baseline-queries",
        type=int,
        default=-1,
        help="run the scanning baseline on this many queries; -1: all up to 100k papers, else 6",
    )
    parser.add_argument(
        "--db-dir",
        type=Path,
        help=f"folder of the database (default: {KEEP_DIR} with --keep or --reuse, else a new temporary folder)",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the database after the run; its path is printed and recorded as database_path",
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="measure on the database an earlier --keep run left in --db-dir (or its default); fails if there is none",
    )
    parser.add_argument("--peer", choices=PEERS, help="also index the corpus in this engine and compare (dev extra)")
    parser.add_argument(
        "--backend", choices=("sqlite", "postgres"), default="sqlite", help="postgres: also time Postgres, beside"
    )
    parser.add_argument(
        "--database-url", help="with --backend postgres: an empty database or one a run filled (default: a new server)"
    )
    args = parser.parse_args()
    if not 0 <= args.arxiv_papers <= args.papers:
        parser.error("--arxiv-papers must be 0..--papers")
    if args.baseline_queries < 0:
        args.baseline_queries = 0 if args.papers <= 100_000 else 6
    logging.basicConfig(level=logging.WARNING)
    report = asyncio.run(run(args))
    if args.backend == "postgres":
        from search_postgres import run_postgres

        report["postgres"] = asyncio.run(run_postgres(args, report))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
