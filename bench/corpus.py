"""The synthetic corpus of the search benchmarks: deterministic papers shaped like Daily Papers.

Titles, abstracts, authors, keywords, days and upvotes are drawn from a seeded generator over a few dozen
topics, so that runs with the same seed build the same cache.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import random
from collections.abc import Iterator

from bot.models import Paper

log = logging.getLogger(__name__)

FIRST_DAY = dt.date(2023, 5, 1)


def _words(text: str) -> list[str]:
    return text.split()


# Words most abstracts use, whatever their topic (about 55% of an abstract's words).
GENERAL_WORDS = _words(
    "we the of and to a in for is that on with this our by as are from an be can which model models "
    "method methods approach results show propose proposed performance data learning task tasks based "
    "using existing prior work paper demonstrate significantly improve improves new novel framework "
    "training trained large across various different both while also however such these it its has "
    "have more than state art achieve achieves outperforms baseline baselines experiments extensive "
    "evaluation benchmark benchmarks effective efficient effectively efficiency further first into two "
    "high quality key challenge challenges problem introduce present study analysis information "
    "despite limited code available at https github com simple strong generalization capabilities "
    "significant improvements compared previous recent advances remains address enables enable"
)
# Topic vocabularies (comma-separated terms, some of several words): each paper is about one or two.
TOPICS = [
    [term.strip() for term in terms.split(",")]
    for terms in (
        "large language model, llm, llms, reasoning, chain of thought, prompting, instruction tuning",
        "diffusion, denoising, score, diffusion model, sampling, image synthesis, guidance, latent",
        "video generation, video, temporal, frames, motion, consistency, text-to-video",
        "agent, agents, tool use, web, navigation, planning, environment, interactive",
        "reinforcement learning, reward, policy, preference, alignment, rlhf, dpo, human feedback",
        "vision, multimodal, visual, image understanding, vision language model, captioning, grounding",
        "retrieval, retrieval augmented generation, rag, documents, knowledge, question answering",
        "mixture of experts, moe, routing, sparse, expert, layers, capacity",
        "quantization, compression, pruning, distillation, low-bit, memory, inference",
        "attention, transformer, efficient, linear attention, sequence, long context, kernel",
        "mamba, state space model, selective, ssm, recurrent, scan",
        "3d, scene, reconstruction, gaussian splatting, nerf, rendering, novel view",
        "speech, audio, music, sound, speaker, voice, asr, tts",
        "robot, robotic manipulation, embodied, control, policy, sim-to-real, grasp",
        "code, code generation, programming, software, repository, bug, completion",
        "math, mathematical reasoning, proof, theorem, olympiad, verification, solver",
        "safety, jailbreak, attack, adversarial, red-teaming, harmful, refusal",
        "hallucination, factuality, truthfulness, grounding, faithful, detection",
        "protein, molecule, drug, biology, chemistry, molecular design",
        "medical, clinical, health, patient, diagnosis, radiology",
        "time series, forecasting, temporal, anomaly, weather, climate",
        "graph, graph neural network, node, edge, gnn, link prediction, message passing",
        "multilingual, machine translation, low-resource, languages, cross-lingual",
        "evaluation, benchmark, leaderboard, metrics, llm as a judge, human annotation",
        "data curation, synthetic data, filtering, pretraining, corpus, tokens",
        "scaling laws, compute, optimal, emergent, pretraining, loss",
        "interpretability, circuits, features, probing, sparse autoencoders, steering",
        "federated learning, privacy, differential privacy, clients, communication",
        "segmentation, object detection, tracking, instance, open-vocabulary",
        "pose, human, avatar, face, body, animation, motion capture",
        "image editing, style, instruction-based, inpainting, controllable",
        "world model, simulation, physics, dynamics, prediction",
    )
]
FUNCTION_WORDS = _words("for with of via and in the a on from to by using through under at beyond")
FIRST_NAMES = _words(
    "Wei Yu Jun Li Hao Xin Ming Yang Chen Lei Anna Maria John David Michael Sarah Laura Tom Alex Daniel "
    "Priya Rahul Arjun Ananya Sofia Lucas Emma Noah Mia Ethan Olivia Liam Ava Hugo Elena Ivan Omar "
    "Fatima Yuki Haruto Sakura Minjun Jiwoo Seo Tri Albert Ashish Noam Niki Jakob Llion Aidan Lukasz Illia"
)
LAST_NAMES = _words(
    "Wang Li Zhang Liu Chen Yang Huang Zhao Wu Zhou Xu Sun Ma Zhu Hu Guo He Lin Luo Gao Smith Johnson "
    "Brown Garcia Miller Davis Martinez Lopez Wilson Anderson Kumar Singh Sharma Patel Gupta Kim Lee Park "
    "Choi Tanaka Suzuki Sato Ivanov Petrov Rossi Bianchi Muller Schmidt Schneider Dubois Martin Bernard "
    "Dao Gu Vaswani Shazeer Parmar Uszkoreit Jones Gomez Kaiser Polosukhin"
)


class Corpus:
    """Deterministic synthetic papers with word frequencies like ML abstracts.

    An abstract mixes general academic words (Zipf-distributed), the words of its one or two topics,
    and a long tail of rare words (method names, datasets); titles lean on topic and rare words.
    """

    def __init__(self, size: int, seed: int = 20260612) -> None:
        self.size = size
        self.rng = random.Random(seed)
        syllables = [
            "ka",
            "lo",
            "mi",
            "ne",
            "ro",
            "ta",
            "vi",
            "zu",
            "fe",
            "do",
            "xa",
            "pri",
            "sto",
            "qua",
            "ber",
            "lin",
            "mor",
            "tex",
            "gan",
            "vol",
        ]
        tail = sorted(
            {"".join(self.rng.choice(syllables) for _ in range(self.rng.randint(2, 4))) for _ in range(60000)}
        )
        self.rng.shuffle(tail)
        self.tail = tail
        self.tail_weights = list(itertools.accumulate(1.0 / (r + 10) for r in range(len(tail))))
        self.general_weights = list(itertools.accumulate(1.0 / (r + 1) for r in range(len(GENERAL_WORDS))))
        self.days = max(1, min(1100, size // 30))
        self.names = [f"{first} {last}" for first in FIRST_NAMES for last in LAST_NAMES]

    def general(self, count: int) -> list[str]:
        """Common academic words by frequency."""
        return self.rng.choices(GENERAL_WORDS, cum_weights=self.general_weights, k=count)

    def rare(self, count: int) -> list[str]:
        """Long-tail words: invented names that are each in few papers."""
        return self.rng.choices(self.tail, cum_weights=self.tail_weights, k=count)

    def title(self, topic_terms: list[str]) -> str:
        """A title of 5-14 words, sometimes with a name and a colon in front."""
        words = self.rng.choices(topic_terms, k=self.rng.randint(2, 4)) + self.general(self.rng.randint(1, 4))
        words += self.rare(self.rng.randint(0, 2))
        self.rng.shuffle(words)
        for _ in range(self.rng.randint(1, 3)):
            words.insert(self.rng.randrange(1, len(words)), self.rng.choice(FUNCTION_WORDS))
        text = " ".join(w.capitalize() if self.rng.random() < 0.7 else w for w in words)
        if self.rng.random() < 0.3:
            name = self.rare(1)[0].capitalize() + self.rng.choice(["", "Net", "GPT", "-2", "X", "Bench"])
            text = f"{name}: {text}"
        return text

    def prose(self, topic_terms: list[str], count: int) -> str:
        """Sentences of about `count` words: every fourth a topic term, every eighth a rare word."""
        words = self.general(count)
        words[3::4] = self.rng.choices(topic_terms, k=len(words[3::4]))
        words[6::8] = self.rare(len(words[6::8]))
        sentences = []
        start = 0
        while start < len(words):
            length = self.rng.randint(12, 28)
            sentences.append(" ".join(words[start : start + length]).capitalize() + ".")
            start += length
        return " ".join(sentences)

    def papers(self) -> Iterator[Paper]:
        """The corpus, oldest day first, ids unique per month like arXiv's."""
        per_month: dict[str, int] = {}
        for index in range(self.size):
            day = FIRST_DAY + dt.timedelta(days=index * self.days // self.size)
            month = day.strftime("%y%m")
            per_month[month] = per_month.get(month, 0) + 1
            topics = [t for topic in self.rng.sample(TOPICS, self.rng.choice((1, 1, 2))) for t in topic]
            has_ai = self.rng.random() < 0.7
            yield Paper(
                id=f"{month}.{per_month[month]:05d}",
                title=self.title(topics),
                authors=tuple(self.rng.sample(self.names, self.rng.randint(1, 12))),
                summary=self.prose(topics, self.rng.randint(120, 250)),
                ai_summary=self.prose(topics, self.rng.randint(20, 40)) if has_ai else None,
                ai_keywords=tuple(self.rng.sample(topics, 5)) if has_ai else (),
                published=day - dt.timedelta(days=self.rng.randint(0, 5)),
                day=day,
                upvotes=int(self.rng.paretovariate(1.3)) - 1 + self.rng.randint(0, 3),
                github_repo=f"lab{index % 997}/repo{index}" if self.rng.random() < 0.4 else None,
            )
