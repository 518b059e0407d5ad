"""Benchmark: match a scrape's new papers against many alert subscriptions; prints one JSON object.

Synthetic subscriptions mix what people type (single topics, phrases, authors, AND, OR, exclusions,
fielded words, filters, filters alone) with popular topics more common, as channels share interests.
Synthetic papers are each about one to three research areas and use a few of each area's words, among
function words, generic words and a long tail of rare terms, like abstracts do.

The indexed matcher (`AlertMatcher`) is timed over whole batches; the baseline (`ReferenceMatcher`: every
subscription against every paper) is timed on a sample of the papers and scaled to the whole batch when
`--baseline-papers` is smaller than `--papers`. Results are compared on the sample and must be identical.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.alerts import AlertMatcher, PaperMatches, ReferenceMatcher, pairs_of  # noqa: E402
from bot.models import Paper, Subscription  # noqa: E402

log = logging.getLogger(__name__)

TODAY = dt.date(2026, 6, 12)
CREATED = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def split_words(text: str) -> list[str]:
    """The whitespace-separated words of a block of text."""
    return text.split()


# Research areas, most popular first; a paper is about one to three of them.
AREAS = [
    "llm llms language model models reasoning instruction tuning finetuning pretraining chain thought math",
    "agent agents tool tools planning web browser gui computer use function calling memory",
    "diffusion generation generative image images latent sampling guidance flow matching editing",
    "multimodal vlm vision language visual understanding captioning grounding ocr document chart",
    "video temporal motion frames generation long camera dynamics consistency streaming",
    "rl reward rlhf dpo ppo grpo preference optimization policy verifier verifiers process outcome",
    "efficient inference quantization pruning sparse kernel kernels gpu latency serving cache kv speculative",
    "benchmark evaluation dataset datasets synthetic data filtering curation leaderboard judge",
    "code coding program synthesis repair bug software testing repository swe",
    "3d gaussian splatting nerf rendering scene reconstruction depth mesh geometry avatar",
    "robot robotics embodied manipulation navigation locomotion grasping simulation sim2real",
    "safety alignment jailbreak red teaming privacy watermark unlearning bias fairness toxicity",
    "speech audio music tts voice recognition sound spoken asr",
    "retrieval rag embedding embeddings ranking search recommendation dense reranking",
    "attention transformer architecture mamba state space recurrent linear hybrid moe experts routing",
    "interpretability circuits probing neurons features sae steering activation mechanistic",
    "hallucination factuality calibration uncertainty confidence knowledge editing",
    "medical clinical radiology pathology protein molecule molecular drug chemistry biology",
    "multilingual translation low resource tokenizer tokenization cross lingual",
    "weather climate forecasting time series tabular anomaly graph neural gnn",
    "world model models physics prediction simulation environment dynamics",
    "segmentation detection tracking pose open vocabulary remote sensing",
]
GENERIC = split_words("""
model models method methods data training performance task tasks learning large results approach framework
paper propose proposed novel existing state art improve improves achieve achieves significant using
""")

FILLER = split_words("""
the of and a to in for with on is we that this by are as our from be an which at can it its
these more than both while also show shows results method methods approach propose proposed
new novel existing across each however into further using based over between such only
""")

FIRST = split_words("""Ada Alan Grace Tri Albert Yann Fei Li Wei Jing Xin Yu Hao Chen Ming Anna Maria Jose Luis Omar
Priya Ravi Arjun Sara Noah Emma Liam Olivia Lucas Mia Ethan Ava Mason Sofia Logan Isabella Kenji Yuki
Hiroshi Sakura Dmitri Olga Ivan Elena Pierre Camille Hans Greta Lars Ingrid Ahmed Fatima Kwame Amara""")
LAST = split_words("""Lovelace Turing Hopper Dao Gu LeCun Zhang Wang Liu Chen Yang Huang Zhao Wu Zhou Xu Sun Ma Zhu Hu
Guo He Lin Luo Gao Zheng Liang Xie Song Tang Han Feng Deng Cao Peng Zeng Xiao Tian Dong Pan Yuan Cai
Jiang Yu Du Ye Cheng Wei Su Lu Ding Ren Shen Yao Smith Johnson Brown Garcia Miller Davis Rodriguez
Martinez Hernandez Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson
White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen
Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Kim Park Choi Jung
Kang Cho Yoon Jang Lim Han Tanaka Suzuki Takahashi Watanabe Ito Yamamoto Nakamura Kobayashi Kato Patel
Shah Singh Kumar Gupta Sharma Khan Ali Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker
Schulz Hoffmann Dubois Durand Leroy Moreau Laurent Simon Michel Ivanov Smirnov Kuznetsov Popov""")


def zipf_weights(count: int, exponent: float = 1.0) -> list[float]:
    """Weights 1/rank^exponent for `count` items."""
    return [1.0 / (rank**exponent) for rank in range(1, count + 1)]


class World:
    """Vocabulary, names and the generators of papers and subscriptions, from one seed."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.areas = [area.split() for area in AREAS]
        # A long tail of rarer terms (method names, datasets) that abstracts are full of.
        self.rare = [self._coin() for _ in range(6000)]
        self.rare_weights = zipf_weights(len(self.rare), 1.1)
        self.authors = list(dict.fromkeys(f"{self.rng.choice(FIRST)} {self.rng.choice(LAST)}" for _ in range(30000)))
        self.author_weights = zipf_weights(len(self.authors), 0.6)
        self.phrases = [self._topic_phrase() for _ in range(600)]
        self.phrase_weights = zipf_weights(len(self.phrases), 0.9)

    def _coin(self) -> str:
        syllables = ["ra", "to", "mi", "xe", "lu", "ko", "na", "ve", "shi", "qu", "ber", "tan", "gen", "flo"]
        return "".join(self.rng.choice(syllables) for _ in range(self.rng.randint(2, 4))) + self.rng.choice(
            ["", "net", "former", "bench", "gpt", "-7b", "x"]
        )

    def _topic_phrase(self, area: list[str] | None = None, focus: list[str] | None = None) -> str:
        """Two or three neighbouring words of an area, starting at a focus word if given."""
        area = area or self.area()
        starts = [area.index(word) for word in focus or () if word in area] or range(len(area) - 1)
        start = min(self.rng.choice(list(starts)), len(area) - 2)
        return " ".join(area[start : start + self.rng.choice((2, 2, 3))])

    def area(self, exponent: float = 0.8) -> list[str]:
        """A research area, popular ones more often."""
        return self.rng.choices(self.areas, zipf_weights(len(self.areas), exponent))[0]

    def topic(self, area: list[str] | None = None) -> str:
        """A topic word (of `area` if given), the first words of an area more often."""
        area = area or self.area(0.5)
        return self.rng.choices(area, zipf_weights(len(area), 0.7))[0]

    def words(self, count: int, focus: list[str]) -> str:
        """Text about a paper's focus words: function and generic words, topics and rare terms."""
        out: list[str] = []
        while len(out) < count:
            roll = self.rng.random()
            if roll < 0.45:
                out.append(self.rng.choice(FILLER))
            elif roll < 0.70:
                out.append(self.rng.choice(GENERIC))
            elif roll < 0.88:
                out.append(self.rng.choice(focus))
            else:
                out.append(self.rng.choices(self.rare, self.rare_weights)[0])
        return " ".join(out[:count])

    def paper(self, index: int) -> Paper:
        """One synthetic paper of the last week: about one to three areas, a few words of each."""
        rng = self.rng
        has_ai = rng.random() < 0.8
        areas = [self.area() for _ in range(rng.choice((1, 2, 2, 3)))]
        focus: list[str] = []
        for area in areas:
            focus.extend(dict.fromkeys(rng.choices(area, zipf_weights(len(area), 0.7), k=rng.randint(2, 5))))
        return Paper(
            id=f"2606.{index:05d}",
            title=self.words(rng.randint(6, 14), focus).title(),
            authors=tuple(rng.choices(self.authors, self.author_weights, k=rng.randint(2, 12))),
            summary=self.words(rng.randint(120, 220), focus),
            published=TODAY - dt.timedelta(days=rng.randint(1, 9)),
            day=TODAY - dt.timedelta(days=rng.randint(0, 6)),
            upvotes=int(rng.paretovariate(1.2)) - 1 + rng.randint(0, 5),
            ai_summary=self.words(rng.randint(25, 45), focus) if has_ai else None,
            ai_keywords=(
                tuple(self._topic_phrase(rng.choice(areas), focus) for _ in range(rng.randint(4, 8))) if has_ai else ()
            ),
            github_repo=f"https://github.com/lab/repo{index}" if rng.random() < 0.4 else None,
        )

    def query(self) -> str:
        """One subscription query, drawn from a realistic mix of forms."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.33:
            return self.topic()
        if roll < 0.47:
            return f'"{rng.choices(self.phrases, self.phrase_weights)[0]}"'
        if roll < 0.58:
            return f'author:"{rng.choices(self.authors, self.author_weights)[0]}"'
        area = self.area(0.5)
        if roll < 0.70:
            return " ".join(dict.fromkeys(self.topic(area) for _ in range(rng.randint(2, 3))))
        if roll < 0.78:
            return f"({self.topic(area)} OR {self.topic(area)}) {self.topic(area)}"
        if roll < 0.82:
            return f'{self.topic()} OR "{rng.choices(self.phrases, self.phrase_weights)[0]}"'
        if roll < 0.88:
            return f"{self.topic(area)} -{self.topic()}" if rng.random() < 0.7 else f"{self.topic()} NOT survey"
        if roll < 0.92:
            return f"title:{self.topic(area)}" + (f" abstract:{self.topic(area)}" if rng.random() < 0.3 else "")
        if roll < 0.97:
            extra = rng.choice(
                [f"upvotes:>={rng.choice((10, 20, 25, 50, 100))}", "code:yes", f"day:>={TODAY - dt.timedelta(days=3)}"]
            )
            return f"{self.topic()} {extra}"
        return rng.choice(
            [
                f"upvotes:>={rng.choice((50, 100, 200))}",
                "code:yes upvotes:>=30",
                f"-survey upvotes:>={rng.choice((20, 40))}",
            ]
        )

    def subscriptions(self, count: int) -> list[Subscription]:
        """`count` subscriptions spread over channels of up to 25 each."""
        return [
            Subscription(
                id=index + 1,
                guild_id=index // 100,
                channel_id=1000 + index // 10,
                query=self.query(),
                normalized="",
                created_by=1,
                created_at=CREATED,
            )
            for index in range(count)
        ]


def pair_ids(matches: list[PaperMatches]) -> list[tuple[int, str]]:
    """Matches as sorted (subscription id, paper id) pairs."""
    return sorted((s.id, p.id) for s, p in pairs_of(matches))


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Build both matchers, time them, compare them."""
    world = World(args.seed)
    subscriptions = world.subscriptions(args.subs)
    history = [world.paper(index) for index in range(args.history)]
    batches = [[world.paper(50000 + run * args.papers + i) for i in range(args.papers)] for run in range(args.runs)]

    started = time.perf_counter()
    matcher = AlertMatcher()
    matcher.learn(history)
    matcher.sync(subscriptions)
    build_seconds = time.perf_counter() - started

    match_times: list[float] = []
    expand_times: list[float] = []
    pair_counts: list[int] = []
    for batch in batches:
        started = time.perf_counter()
        matches = matcher.match(batch)
        match_times.append(time.perf_counter() - started)
        # The result holds one group per matching query; listing every subscription is the reader's cost.
        started = time.perf_counter()
        listed = [m.subscriptions for m in matches]
        expand_times.append(time.perf_counter() - started)
        pair_counts.append(sum(map(len, listed)))

    started = time.perf_counter()
    baseline = ReferenceMatcher(subscriptions)
    baseline_build = time.perf_counter() - started
    sample_size = min(args.baseline_papers, args.papers)
    sample = batches[0][:sample_size]
    baseline_times: list[float] = []
    baseline_pairs: list[PaperMatches] = []
    for _ in range(args.baseline_runs):
        started = time.perf_counter()
        baseline_pairs = baseline.match(sample)
        baseline_times.append(time.perf_counter() - started)
    indexed_sample = matcher.match(sample)
    expected = pair_ids(baseline_pairs)
    identical = pair_ids(indexed_sample) == expected

    median_match = statistics.median(match_times)
    baseline_sample = statistics.median(baseline_times)
    baseline_full = baseline_sample * args.papers / max(1, sample_size)
    return {
        "benchmark": "alerts",
        "subscriptions": args.subs,
        "distinct_queries": matcher.distinct_queries,
        "unindexed_queries": matcher.unindexed_queries,
        "papers_per_batch": args.papers,
        "runs": args.runs,
        "build_seconds": round(build_seconds, 3),
        "match_seconds_median": round(median_match, 4),
        "match_seconds_all": [round(t, 4) for t in match_times],
        "expand_seconds_median": round(statistics.median(expand_times), 4),
        "matches_per_batch_median": int(statistics.median(pair_counts)),
        "match_rate": round(statistics.median(pair_counts) / (args.subs * args.papers), 4),
        "baseline": {
            "build_seconds": round(baseline_build, 3),
            "papers_timed": sample_size,
            "runs": args.baseline_runs,
            "seconds_on_sample_median": round(baseline_sample, 4),
            "seconds_for_batch": round(baseline_full, 3),
            "extrapolated": sample_size < args.papers,
        },
        "speedup": round(baseline_full / median_match, 1) if median_match else None,
        "identical_on_sample": identical,
        "sample_matches": len(expected),
        "targets": {
            "match_seconds_max": 1.0,
            "speedup_min": 50.0,
            "at_target_size": args.subs >= 100_000 and args.papers >= 1000,
            "met": bool(identical and median_match <= 1.0 and baseline_full / median_match >= 50.0),
        },
    }


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run, print one JSON object."""
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0] if __doc__ else None, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--subs", type=int, default=100_000, help="subscriptions")
    parser.add_argument("--papers", type=int, default=1000, help="new papers per batch")
    parser.add_argument("--runs", type=int, default=5, help="batches timed; the median is reported")
    parser.add_argument("--history", type=int, default=2000, help="earlier papers the matcher learns terms from")
    parser.add_argument(
        "--baseline-papers",
        type=int,
        default=20,
        help="papers the baseline is timed on (scaled to --papers when fewer)",
    )
    parser.add_argument("--baseline-runs", type=int, default=3, help="baseline timings; the median is used")
    parser.add_argument("--seed", type=int, default=7, help="seed of the synthetic subscriptions and papers")
    args = parser.parse_args(argv)
    if min(args.subs, args.papers, args.runs, args.baseline_papers, args.baseline_runs) < 1 or args.history < 0:
        parser.error("sizes must be positive")
    print(json.dumps(run(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
