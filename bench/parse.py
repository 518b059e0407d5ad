"""Benchmark: parse time of one synthetic day (Hugging Face API JSON and page, or arXiv Atom and RSS); prints JSON."""

from __future__ import annotations

import argparse
import datetime as dt
import html
import json
import logging
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.sources.arxiv_parse import parse_api_page, parse_listing  # noqa: E402
from bot.sources.huggingface import parse_daily_page, parse_daily_papers  # noqa: E402
from tests.fakes.arxiv_feeds import arxiv_paper, atom_page, rss_listing  # noqa: E402
from tests.fakes.hf_items import make_daily_item  # noqa: E402

log = logging.getLogger(__name__)

DAY = dt.date(2026, 6, 12)
WORDS = [
    "model",
    "training",
    "data",
    "attention",
    "diffusion",
    "agent",
    "reasoning",
    "benchmark",
    "policy",
    "token",
    "sparse",
    "retrieval",
    "language",
    "vision",
    "video",
    "reward",
    "alignment",
    "scaling",
    "memory",
    "context",
    "graph",
    "protein",
    "robot",
    "planning",
    "search",
    "evaluation",
    "inference",
    "latency",
    "compression",
    "distillation",
    "transformer",
    "mixture",
    "experts",
]


def sentence(rng: random.Random, words: int) -> str:
    """Some plausible filler text."""
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def synthetic_day(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """`count` items shaped and sized like a real day (abstracts ~1.5 kB, up to 20 authors)."""
    rng = random.Random(seed)
    items = []
    for index in range(count):
        has_ai = rng.random() < 0.7
        has_code = rng.random() < 0.5
        items.append(
            make_daily_item(
                f"2606.{10000 + index:05d}",
                sentence(rng, rng.randint(6, 14)),
                day=DAY,
                upvotes=rng.randint(0, 200),
                authors=[f"{rng.choice(WORDS).title()} {rng.choice(WORDS).title()}" for _ in range(rng.randint(2, 20))],
                summary=" ".join(sentence(rng, rng.randint(12, 30)) for _ in range(10)),
                ai_summary=sentence(rng, 35) if has_ai else None,
                ai_keywords=[rng.choice(WORDS) for _ in range(12)] if has_ai else None,
                github_repo=f"https://github.com/lab{index}/repo" if has_code else None,
                github_stars=rng.randint(0, 500) if has_code else None,
                organization=("lab", "A Research Lab") if rng.random() < 0.5 else None,
                num_comments=rng.randint(0, 6),
            )
        )
    return items


def daily_page(items: list[dict[str, Any]]) -> str:
    """The items in a /papers/date page, as the site carries them in data-props."""
    props = {"dateString": DAY.isoformat(), "dailyPapers": items, "periodType": "day"}
    cards = "".join(
        f'<article><a href="/papers/{item["paper"]["id"]}"><h3>{html.escape(item["title"])}</h3></a></article>'
        for item in items
    )
    return (
        '<!doctype html><html><head><meta charset="utf-8"></head><body><main>'
        f'<div class="SVELTE_HYDRATER contents" data-target="DailyPapers" '
        f'data-props="{html.escape(json.dumps(props))}"><section>{cards}</section></div></main></body></html>'
    )


def median_ms(action: Callable[[], object], runs: int, clock: Callable[[], float] = time.perf_counter) -> float:
    """Median time of `action()` over `runs` runs by `clock` (default: wall time), in milliseconds."""
    times = []
    for _ in range(runs):
        started = clock()
        action()
        times.append((clock() - started) * 1000)
    return statistics.median(times)


def arxiv_feeds(count: int, seed: int = 7) -> tuple[str, str]:
    """An API Atom page and a listing RSS of `count` entries sized like arXiv's (abstracts ~1.5 kB)."""
    rng = random.Random(seed)
    papers = [
        arxiv_paper(
            f"2606.{10000 + index:05d}",
            categories=("cs.CL", *rng.sample(["cs.LG", "cs.AI", "cs.IR", "stat.ML"], rng.randint(0, 3))),
            day=DAY,
            title=sentence(rng, rng.randint(6, 14)),
            authors=tuple(f"{rng.choice(WORDS).title()} {rng.choice(WORDS).title()}" for _ in range(rng.randint(2, 9))),
            summary=" ".join(sentence(rng, rng.randint(12, 30)) for _ in range(10)),
            comments=f"{rng.randint(4, 40)} pages" if rng.random() < 0.6 else None,
            version=rng.choice((1, 1, 1, 2)),
        )
        for index in range(count)
    ]
    listing = rss_listing("cs.CL", DAY, [(p, "new" if rng.random() < 0.7 else "cross") for p in papers])
    return atom_page(papers, start=0, total=count), listing


def run_arxiv(args: argparse.Namespace) -> dict[str, Any]:
    """Parse times of `--items` arXiv API entries and of a listing feed as long."""
    api, listing = arxiv_feeds(args.items)

    def parse_api() -> None:
        assert len(parse_api_page(api).papers) == args.items

    def parse_rss() -> None:
        assert len(parse_listing(listing, "cs.CL").papers) == args.items

    parse_api()
    parse_rss()
    api_ms = median_ms(parse_api, args.runs)
    rss_ms = median_ms(parse_rss, args.runs)
    # CPU time as well: on a shared machine the wall time includes waiting for a core.
    api_cpu_ms = median_ms(parse_api, args.runs, clock=time.process_time)
    return {
        "benchmark": "parse",
        "source": "arxiv",
        "items": args.items,
        "runs": args.runs,
        "atom_bytes": len(api.encode()),
        "atom_median_ms": round(api_ms, 3),
        "atom_per_item_us": round(api_ms * 1000 / args.items, 1),
        "atom_cpu_median_ms": round(api_cpu_ms, 3),
        "rss_bytes": len(listing.encode()),
        "rss_median_ms": round(rss_ms, 3),
        "target_atom_ms_per_1000": 100,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its JSON result."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--items", type=int, default=100, help="papers in the day (try 1000 with --source arxiv)")
    parser.add_argument("--runs", type=int, default=15, help="timed runs, median reported")
    parser.add_argument("--source", choices=("huggingface", "arxiv"), default="huggingface", help="which parsers")
    args = parser.parse_args(argv)
    if args.items < 1 or args.runs < 1:
        parser.error("--items and --runs must be at least 1")
    if args.source == "arxiv":
        print(json.dumps(run_arxiv(args)))
        return 0
    items = synthetic_day(args.items)
    body = json.dumps(items)
    page = daily_page(items)

    def parse_api() -> None:
        result = parse_daily_papers(json.loads(body), DAY)
        assert len(result.papers) == args.items

    def parse_page() -> None:
        result = parse_daily_page(page, DAY).result
        assert len(result.papers) == args.items

    parse_api()
    parse_page()  # warm up imports and caches
    api_ms = median_ms(parse_api, args.runs)
    page_ms = median_ms(parse_page, args.runs)
    print(
        json.dumps(
            {
                "benchmark": "parse",
                "items": args.items,
                "runs": args.runs,
                "api_bytes": len(body.encode()),
                "api_median_ms": round(api_ms, 3),
                "api_per_item_us": round(api_ms * 1000 / args.items, 1),
                "page_bytes": len(page.encode()),
                "page_median_ms": round(page_ms, 3),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
