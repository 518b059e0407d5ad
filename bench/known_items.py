"""Known items planted in the synthetic corpus: titles a member looks for, their near-duplicates, and the queries.

One place for the set that both the known-item tests (`tests/test_known_items.py`) and the search benchmark
(`bench/search.py`, the 40 typo'd titles at 1M) use. Each planted paper replaces the corpus paper at an evenly
spread position (keeping its abstract, day and upvotes, so the cache keeps its size and shape), never the
newest ones: a known item must be found wherever it sits in the cache, not because it was stored last.

Three groups:
- TARGETS: 40 titles, each with near-duplicate distractors (a sequel "Name-2", a paper by the same first
  author on the same subject, the same words in another order for some) that are more upvoted than the
  target, so that a ranking falling back on popularity shows it.
- WORD_ORDER_PAIRS: words typed ("runtime enforcement for coding agents"), a title holding them in that
  order and adjacent, and a title as long and more upvoted holding the same words reordered ("Coding
  Agents for Runtime Enforcement of Shared Repository Pipelines"); each comes first for its own words.
- SHORT_COMMON_TITLES: two-word titles whose words are common in the corpus ("Efficient Reasoning"), next to
  longer, newer and more upvoted titles holding both words.
"""

from __future__ import annotations

import dataclasses
import logging
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from bot.models import Paper

log = logging.getLogger(__name__)

PLANTED_MONTH = "2612"  # the synthetic corpus never reaches this month below 3M papers: no id collides
TYPO_SEED = 20261205


@dataclass(frozen=True, slots=True)
class Target:
    """A title to find, its first author, and its distractors (titles, by the same first author or not)."""

    title: str
    first_author: str
    sequel: str
    same_author: str
    reordered: str | None = None  # the same words in another order, when the title has two halves

    @property
    def distractors(self) -> tuple[str, ...]:
        """Every near-duplicate title planted next to this one."""
        return tuple(t for t in (self.sequel, self.same_author, self.reordered) if t)


def _t(title: str, author: str, sequel: str, same_author: str, reordered: str | None = None) -> Target:
    return Target(title, author, sequel, same_author, reordered)


TARGETS: tuple[Target, ...] = (
    _t("Lumora: Sparse Routing for Long Context Transformers", "Wei Zhang",
       "Lumora-2: Faster Sparse Routing for Long Context", "Dense Routing for Long Context Transformers",
       "Long Context Transformers for Sparse Routing"),
    _t("Quill: Instruction Tuning with Synthetic Preference Data", "Anna Schmidt",
       "Quill-2: Instruction Tuning at Scale", "Synthetic Preference Data for Reward Models"),
    _t("Token Pruning for Efficient Vision Language Models", "Ravi Kumar",
       "Token Pruning for Efficient Vision Language Models-2", "Token Merging for Efficient Vision Transformers",
       "Efficient Vision Language Models for Token Pruning"),
    _t("Stepwise Verifiers Improve Mathematical Reasoning", "Lucas Martin",
       "Stepwise Verifiers Improve Mathematical Reasoning-2", "Outcome Verifiers for Mathematical Proofs"),
    _t("Kestrel: A Benchmark for Web Navigation Agents", "Sofia Rossi",
       "Kestrel-2: A Harder Benchmark for Web Navigation", "Planning Benchmarks for Navigation Agents"),
    _t("Gaussian Splatting for Dynamic Scene Reconstruction", "Hugo Dubois",
       "Gaussian Splatting for Dynamic Scene Reconstruction-2", "Neural Fields for Static Scene Reconstruction",
       "Dynamic Scene Reconstruction for Gaussian Splatting"),
    _t("Orpheus: Expressive Speech Synthesis from Text Prompts", "Yuki Tanaka",
       "Orpheus-2: Multilingual Speech Synthesis", "Expressive Voice Conversion from Text Prompts"),
    _t("Contrastive Reward Modeling for Robot Manipulation", "Daniel Brown",
       "Contrastive Reward Modeling for Robot Manipulation-2", "Reward Shaping for Robot Grasping"),
    _t("Helix: Protein Structure Generation with Flow Matching", "Maria Garcia",
       "Helix-2: Protein Design with Flow Matching", "Molecule Generation with Flow Matching"),
    _t("Detecting Hallucinations through Internal Representations", "Omar Patel",
       "Detecting Hallucinations through Internal Representations-2", "Probing Internal States for Truthfulness"),
    _t("Meridian: Scaling Laws for Mixture of Experts", "Jun Li",
       "Meridian-2: Scaling Laws for Sparse Experts", "Compute Optimal Mixture of Experts"),
    _t("Retrieval Heads Explain Long Context Factuality", "Emma Wilson",
       "Retrieval Heads Explain Long Context Factuality-2", "Attention Heads and Long Context Retrieval"),
    _t("Tessellate: Video Generation with Temporal Consistency", "Minjun Kim",
       "Tessellate-2: Longer Video Generation", "Temporal Consistency in Video Editing"),
    _t("Jailbreak Attacks on Multimodal Assistants", "Elena Ivanov",
       "Jailbreak Attacks on Multimodal Assistants-2", "Defending Multimodal Assistants from Jailbreaks"),
    _t("Cartograph: Graph Neural Networks for Traffic Forecasting", "Liam Anderson",
       "Cartograph-2: Graph Networks for Weather Forecasting", "Message Passing for Traffic Prediction"),
    _t("Low-Bit Quantization of Diffusion Transformers", "Hao Chen",
       "Low-Bit Quantization of Diffusion Transformers-2", "Mixed Precision Quantization of Language Models"),
    _t("Clinical Question Answering with Retrieval Augmented Generation", "Priya Sharma",
       "Clinical Question Answering with Retrieval Augmented Generation-2",
       "Radiology Report Generation with Retrieval"),
    _t("Sable: Sparse Autoencoders Find Interpretable Circuits", "Noah Miller",
       "Sable-2: Scaling Sparse Autoencoders", "Steering Vectors Find Interpretable Features"),
    _t("Curriculum Data Selection for Language Model Pretraining", "Ming Wang",
       "Curriculum Data Selection for Language Model Pretraining-2", "Deduplication for Language Model Pretraining"),
    _t("Federated Fine-Tuning with Differential Privacy", "Fatima Singh",
       "Federated Fine-Tuning with Differential Privacy-2", "Private Aggregation for Federated Clients"),
    _t("Open-Vocabulary Segmentation from Image Captions", "Seo Park",
       "Open-Vocabulary Segmentation from Image Captions-2", "Open-Vocabulary Detection with Image Captions"),
    _t("Avatarium: Animatable Human Avatars from Monocular Video", "Laura Bernard",
       "Avatarium-2: Animatable Avatars in Real Time", "Human Pose Estimation from Monocular Video"),
    _t("Instruction-Based Image Editing with Attention Control", "Ethan Lee",
       "Instruction-Based Image Editing with Attention Control-2", "Style Transfer with Attention Control"),
    _t("Learned World Models for Physical Reasoning", "Olivia Johnson",
       "Learned World Models for Physical Reasoning-2", "Physics Simulation for Embodied Agents"),
    _t("Polyglot: Machine Translation for Low-Resource Languages", "Arjun Gupta",
       "Polyglot-2: Translation for Two Hundred Languages", "Cross-Lingual Transfer for Low-Resource Languages"),
    _t("Self-Correcting Code Generation with Unit Tests", "Tom Smith",
       "Self-Correcting Code Generation with Unit Tests-2", "Repository-Level Code Completion with Tests",
       "Unit Tests with Self-Correcting Code Generation"),
    _t("Sundial: Forecasting Time Series with Foundation Models", "Sakura Sato",
       "Sundial-2: Time Series Foundation Models at Scale", "Anomaly Detection in Time Series"),
    _t("Preference Optimization without a Reference Model", "Alex Davis",
       "Preference Optimization without a Reference Model-2", "Direct Preference Optimization for Dialogue"),
    _t("Grounded Captioning for Visual Question Answering", "Mia Lopez",
       "Grounded Captioning for Visual Question Answering-2", "Visual Question Answering with Region Features",
       "Visual Question Answering for Grounded Captioning"),
    _t("Zephyrine: Linear Attention with Gated Recurrence", "Ivan Petrov",
       "Zephyrine-2: Linear Attention at Scale", "Gated State Space Models for Language"),
    _t("Measuring Reward Hacking in Language Model Agents", "Ava Martinez",
       "Measuring Reward Hacking in Language Model Agents-2", "Specification Gaming in Reinforcement Learning"),
    _t("Motion Capture from Sparse Inertial Sensors", "Haruto Suzuki",
       "Motion Capture from Sparse Inertial Sensors-2", "Body Tracking from Sparse Sensors"),
    _t("Distilling Chain of Thought into Small Models", "Yang Liu",
       "Distilling Chain of Thought into Small Models-2", "Chain of Thought Prompting for Small Models"),
    _t("Aurelia: Music Generation with Latent Diffusion", "Niki Parmar",
       "Aurelia-2: Music Generation with Lyrics", "Audio Generation with Latent Diffusion"),
    _t("Theorem Proving with Language Model Guided Search", "Albert Gu",
       "Theorem Proving with Language Model Guided Search-2", "Olympiad Geometry with Guided Search"),
    _t("Calibrated Uncertainty for Medical Image Diagnosis", "Sarah Wilson",
       "Calibrated Uncertainty for Medical Image Diagnosis-2", "Medical Image Segmentation with Uncertainty"),
    _t("Vireo: Efficient Inference with Speculative Decoding", "Lei Zhou",
       "Vireo-2: Speculative Decoding for Long Outputs", "Efficient Inference with Early Exiting"),
    _t("Red-Teaming Language Models with Language Models", "David Muller",
       "Red-Teaming Language Models with Language Models-2", "Automated Red-Teaming with Reinforcement Learning"),
    _t("Tool Use Planning for Embodied Household Agents", "Jiwoo Choi",
       "Tool Use Planning for Embodied Household Agents-2", "Household Agents with Tool Use",
       "Embodied Household Agents for Tool Use Planning"),
    _t("Novel View Synthesis from a Single Image", "Michael Schneider",
       "Novel View Synthesis from a Single Image-2", "Novel View Synthesis with Sparse Views"),
)  # fmt: skip

# (what is typed, a title holding those words in that order and adjacent, a title as long and more upvoted
# holding the same words in another order).
WORD_ORDER_PAIRS: tuple[tuple[str, str, str], ...] = (
    ("runtime enforcement for coding agents", "Runtime Enforcement for Coding Agents: Policies, Monitors and Audits",
     "Coding Agents for Runtime Enforcement of Shared Repository Pipelines"),
    ("reward models for vision language agents", "Reward Models for Vision Language Agents through Self-Critique",
     "Vision Language Agents for Reward Models of Open-Ended Interfaces"),
    ("diffusion policies for robot planning", "Diffusion Policies for Robot Planning in Cluttered Kitchens",
     "Robot Planning for Diffusion Policies with Long Horizons"),
    ("retrieval benchmarks for long context models", "Retrieval Benchmarks for Long Context Models: Needles Revisited",
     "Long Context Models for Retrieval Benchmarks of Legal Documents"),
    ("speech tokenizers for audio language models", "Speech Tokenizers for Audio Language Models at Low Bitrates",
     "Audio Language Models for Speech Tokenizers in Noisy Rooms"),
    ("safety evaluation for web agents", "Safety Evaluation for Web Agents under Prompt Injection",
     "Web Agents for Safety Evaluation of Online Marketplaces"),
)  # fmt: skip

# Two words each, common in the corpus; each beside longer titles that hold both words.
SHORT_COMMON_TITLES: tuple[str, ...] = (
    "Efficient Reasoning",
    "Video Generation",
    "Multimodal Agents",
    "Scaling Laws",
    "Diffusion Models",
    "Universal Transformers",
)
SHORT_TITLE_NEIGHBOURS = 6  # longer titles planted beside each short one

QUERY_KINDS = ("exact", "partial", "dropped", "reordered", "typo")


def typo(rng: random.Random, text: str) -> str:
    """One or two character slips inside words of four letters or more: a dropped, doubled or swapped letter."""
    words = text.split()
    for _ in range(rng.randint(1, 2)):
        candidates = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
        index = rng.choice(candidates)
        chars = list(words[index])
        slip(rng, chars, rng.randrange(1, len(chars) - 1))
        words[index] = "".join(chars)
    return " ".join(words)


def slip(rng: random.Random, chars: list[str], at: int) -> None:
    """One slip of the fingers at `at`, in place: the letter dropped, doubled or swapped with the next."""
    kind = rng.choice(("drop", "double", "swap"))
    if kind == "drop":
        del chars[at]
    elif kind == "double":
        chars.insert(at, chars[at])
    else:
        chars[at], chars[at + 1] = chars[at + 1], chars[at]


def _plain(title: str) -> str:
    """The title as typed into search: no colon, lower case."""
    return title.replace(":", "").lower()


def query_for(target: Target, kind: str) -> str:
    """The query a member types to find `target`, for one of QUERY_KINDS."""
    words = _plain(target.title).split()
    if kind == "exact":
        return " ".join(words)
    if kind == "partial":
        return " ".join(words[: max(4, -(-2 * len(words) // 3))])
    if kind == "dropped":
        longest = max(range(1, len(words)), key=lambda i: (len(words[i]), -i))
        return " ".join(words[:longest] + words[longest + 1 :])
    if kind == "reordered":
        middle = len(words) // 2
        return " ".join(words[middle:] + words[:middle])
    if kind == "typo":
        return typo(random.Random(f"{TYPO_SEED}:{target.title}"), " ".join(words))
    raise ValueError(f"unknown query kind {kind!r}")


def kinds_for(target: Target) -> tuple[str, ...]:
    """The query kinds that have one right answer for `target`.

    A rotated query is closer to a reordered distractor than to the target, so targets with one skip it.
    """
    return tuple(k for k in QUERY_KINDS if not (k == "reordered" and target.reordered))


def typo_queries() -> list[tuple[str, str]]:
    """The 40 (typo'd query, title) pairs: the typo'd-title set of the tests and the benchmarks."""
    return [(query_for(t, "typo"), t.title) for t in TARGETS]


def _titles() -> Iterator[tuple[str, str | None, int]]:
    """(title, first author or None, extra upvotes) of every planted paper; distractors more upvoted."""
    for target in TARGETS:
        yield target.title, target.first_author, 0
        for rank, title in enumerate(target.distractors):
            yield title, target.first_author if title == target.same_author else None, 50 + rank
    for _, wanted, twin in WORD_ORDER_PAIRS:
        yield wanted, None, 0
        yield twin, None, 40
    for short in SHORT_COMMON_TITLES:
        yield short, None, 0
        for index in range(SHORT_TITLE_NEIGHBOURS):
            yield f"{short} with Sparse Experts and Retrieval Step {index + 1}", None, 30 + index


PLANTED: tuple[tuple[str, str | None, int], ...] = tuple(_titles())


def planted_id(index: int) -> str:
    """The arXiv-shaped id of the index-th planted paper."""
    return f"{PLANTED_MONTH}.{90001 + index:05d}"


def plant(papers: Iterable[Paper], size: int) -> Iterator[Paper]:
    """The corpus with the known items in place of papers spread evenly through it (size unchanged).

    A planted paper keeps the replaced paper's abstract, keywords, day and code, takes the planted title
    (and first author) and fixed upvotes: none for a target, 30 or more for a distractor, so that every
    distractor outranks its target on popularity. Positions stop short of the newest tenth of the cache.
    """
    count = min(len(PLANTED), size)
    span = max(1, size * 9 // 10)
    # Interleave the groups' order so neighbours in PLANTED sit far apart in the cache.
    order = sorted(range(count), key=lambda i: (i % 7, i))
    positions = {(rank * span) // max(1, count) + span // (2 * max(1, count)): order[rank] for rank in range(count)}
    for index, paper in enumerate(papers):
        which = positions.get(index)
        if which is None:
            yield paper
            continue
        title, author, bonus = PLANTED[which]
        authors = paper.authors if author is None else (author, *(a for a in paper.authors if a != author))
        yield dataclasses.replace(paper, id=planted_id(which), title=title, authors=authors, upvotes=bonus)
