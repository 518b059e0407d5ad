"""Relevance of similar papers: the share of each paper's top 5 that share its topic; prints one JSON object.

Two checks over one cache: the synthetic corpus of bench/search.py (each paper is about one or two
known topics), plus the real Daily Papers samples in ../shared/samples when that folder is there.
- synthetic: one single-topic paper for each of the first `--queries` topics; a similar paper counts when
  it shares a topic with it.
- real: one real paper per topic, topics labelled by hand below (the synthetic corpus's topic names), up
  to `--queries` of them; a similar paper counts when it shares a topic, whether it is a real paper
  (labels below; unlabelled ones never count) or a synthetic one (its generated topics).
The share a random pick would reach is given beside each, for scale: among the synthetic papers for the
synthetic check, among the real samples for the real one (real papers mostly find real papers).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from corpus import TOPICS, Corpus  # noqa: E402
from search import remove_database  # noqa: E402

from bot.models import Paper  # noqa: E402
from bot.similar import SimilarPapers  # noqa: E402
from bot.sources.huggingface import parse_daily_papers, parse_paper  # noqa: E402
from bot.store import Store  # noqa: E402

log = logging.getLogger(__name__)

SAMPLES = ROOT.parent / "shared" / "samples"
TOPIC_NAMES = (
    "llm",
    "diffusion",
    "video",
    "agents",
    "rl",
    "multimodal",
    "retrieval",
    "moe",
    "compression",
    "attention",
    "ssm",
    "3d",
    "audio",
    "robotics",
    "code",
    "math",
    "safety",
    "hallucination",
    "bio",
    "medical",
    "time-series",
    "graph",
    "multilingual",
    "evaluation",
    "data",
    "scaling",
    "interpretability",
    "federated",
    "segmentation",
    "human",
    "editing",
    "world-model",
)
# The real samples' topics, read off their titles, abstracts and keywords; papers on none of the synthetic
# corpus's topics are left out (they can only lower the share).
REAL_TOPICS: dict[str, tuple[str, ...]] = {
    "2606.00467": ("llm", "evaluation"),
    "2606.12730": ("llm", "evaluation"),
    "2606.13594": ("agents",),
    "2606.13174": ("agents", "code"),
    "2606.10423": ("agents",),
    "2606.07867": ("safety", "agents"),
    "2606.11409": ("safety",),
    "2606.12451": ("agents", "llm"),
    "2606.13572": ("medical", "multimodal", "agents"),
    "2606.06113": ("diffusion", "multimodal"),
    "2606.08103": ("robotics",),
    "2606.12303": ("multimodal",),
    "2606.13289": ("multimodal",),
    "2606.12243": ("compression",),
    "2606.11662": ("agents",),
    "2606.12282": ("audio",),
    "2606.11096": ("diffusion",),
    "2606.12575": ("diffusion",),
    "2606.13392": ("attention",),
    "2606.09290": ("multimodal", "agents"),
    "2606.09304": ("rl", "compression"),
    "2606.08063": ("multimodal",),
    "2606.13120": ("agents", "evaluation"),
    "2606.08788": ("diffusion",),
    "2606.13681": ("agents",),
    "2606.08039": ("rl", "robotics"),
    "2606.13106": ("llm", "rl"),
    "2607.07673": ("medical", "multimodal", "data"),
    "2607.06957": ("world-model",),
    "2607.07964": ("compression",),
    "2607.08964": ("agents", "evaluation"),
    "2607.09020": ("audio",),
    "2607.06553": ("diffusion",),
    "2607.09661": ("diffusion", "3d"),
    "2607.08393": ("llm", "interpretability"),
    "2607.04751": ("rl",),
    "2607.09415": ("llm", "attention"),
    "2607.09024": ("video",),
    "2607.09424": ("multilingual", "llm"),
    "2607.09657": ("multimodal",),
    "2607.08716": ("agents",),
    "2607.08688": ("segmentation", "video"),
    "2607.07953": ("attention",),
    "2607.08404": ("bio", "llm"),
    "2607.08770": ("video", "diffusion"),
    "2607.08765": ("diffusion", "3d"),
    "2607.08526": ("audio", "compression"),
    "2601.16211": ("video",),
    "2607.08768": ("agents", "evaluation"),
    "2605.13301": ("math", "llm", "rl"),
}


class LabelledCorpus(Corpus):
    """The synthetic corpus, remembering each paper's topics (by their index in TOPICS)."""

    def __init__(self, size: int, seed: int) -> None:
        super().__init__(size, seed)
        self.topics: list[tuple[int, ...]] = []

    def title(self, topic_terms: list[str]) -> str:
        """A title as the corpus makes it; first note which topics the terms are from (in order)."""
        found: list[int] = []
        rest = topic_terms
        while rest:
            index = next(i for i, terms in enumerate(TOPICS) if rest[: len(terms)] == terms)
            found.append(index)
            rest = rest[len(TOPICS[index]) :]
        self.topics.append(tuple(found))
        return super().title(topic_terms)


def real_samples() -> list[Paper]:
    """The papers of the real samples, each once; empty when the folder is absent."""
    papers: dict[str, Paper] = {}
    for path in sorted(SAMPLES.glob("hf_api_daily_papers_*.json")):
        for paper in parse_daily_papers(json.loads(path.read_text("utf-8"))).papers:
            papers.setdefault(paper.id, paper)
    for path in sorted(SAMPLES.glob("hf_api_paper_*.json")):
        single = parse_paper(json.loads(path.read_text("utf-8")))
        if single is not None:
            papers.setdefault(single.id, single)
    return list(papers.values())


def share(hits: list[int], asked: int) -> float | None:
    """Hits over papers shown, or None when nothing was shown."""
    return round(sum(hits) / asked, 3) if asked else None


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Build the cache, ask for similar papers, and return the report."""
    folder = Path(tempfile.mkdtemp(prefix="paperboy-similar-"))
    path = folder / "similar.db"
    corpus = LabelledCorpus(args.papers, args.seed)
    store = await Store.open(path)
    try:
        labels: dict[str, frozenset[str]] = {}

        def generate() -> Iterator[Paper]:
            for paper in corpus.papers():
                labels[paper.id] = frozenset(TOPIC_NAMES[i] for i in corpus.topics[-1])
                yield paper

        started = time.perf_counter()
        await store.bulk_insert_papers(generate(), batch_size=10000)
        real = real_samples()
        if real:
            await store.upsert_papers(real)
        labels.update({pid: frozenset(topics) for pid, topics in REAL_TOPICS.items()})
        build_seconds = time.perf_counter() - started
        similar = SimilarPapers(store)
        await similar.warm()
        total = await store.indexed_paper_count()

        async def check(queries: list[Paper], population: list[str]) -> dict[str, Any]:
            """Top-5 topic share for `queries`; a random pick of other papers from `population` for scale."""
            per_paper: dict[str, Any] = {}
            hits: list[int] = []
            base: list[float] = []
            for paper in queries:
                topics = labels[paper.id]
                found = await similar.similar(paper, 5)
                mine = [int(bool(labels.get(p.id, frozenset()) & topics)) for p in found]
                hits += mine
                others = [pid for pid in population if pid != paper.id]
                base.append(sum(1 for pid in others if labels.get(pid, frozenset()) & topics) / max(len(others), 1))
                per_paper[paper.id] = {"topics": sorted(topics), "same_topic": f"{sum(mine)}/{len(mine)}"}
            return {
                "papers": len(queries),
                "share_same_topic_top5": share(hits, len(hits)),
                "shown": len(hits),
                "random_pick_share": round(statistics.mean(base), 3) if base else None,
                "per_paper": per_paper,
            }

        synthetic_ids = [pid for pid in labels if pid not in REAL_TOPICS]
        synthetic_queries: list[Paper] = []
        wanted = list(range(min(args.queries, len(TOPICS))))
        for paper in corpus_papers(await store.get_papers(synthetic_ids)):
            topics = labels[paper.id]
            if len(topics) == 1 and wanted and TOPIC_NAMES[wanted[0]] in topics:
                synthetic_queries.append(paper)
                wanted.pop(0)
        real_queries: list[Paper] = []
        covered: set[str] = set()
        for paper in real:
            hand_topics = REAL_TOPICS.get(paper.id, ())
            if hand_topics and hand_topics[0] not in covered and len(real_queries) < args.queries:
                covered.add(hand_topics[0])
                real_queries.append(paper)
        report: dict[str, Any] = {
            "benchmark": "similar_relevance",
            "papers": total,
            "seed": args.seed,
            "build_seconds": round(build_seconds, 2),
            "real_samples": len(real),
            "synthetic": await check(synthetic_queries, synthetic_ids),
            # Real papers mostly find real papers (their wording differs from the synthetic corpus's), so
            # the random pick for scale is among the real samples.
            "real": await check(real_queries, [p.id for p in real]) if real else None,
        }
    finally:
        await store.close()
        remove_database(path, folder)
    return report


def corpus_papers(papers: list[Paper]) -> list[Paper]:
    """Papers in id order, so that the ones picked do not depend on how the store returned them."""
    return sorted(papers, key=lambda p: p.id)


def main() -> None:
    """Parse arguments, run, print one JSON object."""
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--papers", type=int, default=10_000, help="papers in the synthetic corpus")
    parser.add_argument("--queries", type=int, default=20, help="papers asked for, each of a different topic")
    parser.add_argument("--seed", type=int, default=20260612, help="seed of the synthetic corpus")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print(json.dumps(asyncio.run(run(args)), indent=2))


if __name__ == "__main__":
    main()
