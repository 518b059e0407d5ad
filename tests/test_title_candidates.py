"""The candidates for a title typed with words missing or wrong: those holding the rarer words typed."""

from __future__ import annotations

import datetime as dt
import itertools
import math
import random
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.models import Paper
from bot.search import TitleWords, titles
from bot.store import Store, search_read

DAY = dt.date(2026, 6, 12)
# Words held by about this share of the titles.
SHARES = {"alpha": 0.4, "beta": 0.2, "gamma": 0.06, "delta": 0.02, "epsilon": 0.01}


def _titles(count: int) -> list[str]:
    rng = random.Random(7)
    return [
        " ".join([w for w, share in SHARES.items() if rng.random() < share] + [f"filler{rng.randint(0, 50)}"])
        for _ in range(count)
    ]


def _read_every_rare_title(db: sqlite3.Connection, words: TitleWords, groups: list[list[str]]) -> list[int]:
    """The rarer words' candidates as first computed: each group's titles all read (up to the budget left),
    a title weighing the rarities of the groups it holds, the heaviest then the newest taken."""
    weights: dict[int, float] = {}
    budget = titles.RARE_BUDGET
    for group in sorted(groups, key=words.total):
        size = words.total(group)
        if budget < titles.RARE_BUDGET and size > budget:
            break
        rarity = 1.0 / math.log(2.0 + size)
        for rowid in search_read.title_hits(db, titles.fts_group(group), limit=budget):
            weights[rowid] = weights.get(rowid, 0.0) + rarity
        budget -= size
        if budget <= 0:
            break
    ranked = sorted(weights.items(), key=lambda item: (item[1], item[0]), reverse=True)
    return [rowid for rowid, _ in ranked[: titles.RARE_WORDS_CANDIDATES]]


def _heaviest(weights: dict[int, float]) -> list[int]:
    ranked = sorted(weights, key=lambda rowid: (weights[rowid], rowid), reverse=True)
    return ranked[: titles.RARE_WORDS_CANDIDATES]


def _groups() -> Iterator[list[list[str]]]:
    names = [*SHARES, "filler3"]
    for size in (1, 2, 3, 4):
        for chosen in itertools.combinations(names, size):
            yield [[w] for w in chosen]
    yield [["alpha", "beta"], ["delta"], ["gamma", "epsilon"]]


@pytest.mark.parametrize("budget", [40, 100, 150, titles.RARE_BUDGET])
@pytest.mark.parametrize("heaviest", [5, titles.RARE_WORDS_CANDIDATES])
@pytest.mark.parametrize("counted", [3, 1, 0], ids=["counted", "stale", "unread"])
async def test_the_rarer_words_candidates_are_those_of_reading_every_rare_title(
    tmp_path: Path, budget: int, heaviest: int, counted: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the newest titles holding the commonest group alone are read, and those of the others asked
    whether they hold it: the candidates are those of reading every title, with the vocabulary's counts
    right, too low (titles stored since it was read) or not read yet (every group then weighs the same)."""
    monkeypatch.setattr(titles, "RARE_BUDGET", budget)
    monkeypatch.setattr(titles, "RARE_WORDS_CANDIDATES", heaviest)
    named = _titles(700)
    store = await Store.open(tmp_path / "rare.db")
    try:
        await store.bulk_insert_papers(Paper(id=f"2601.{n:05d}", title=t, day=DAY) for n, t in enumerate(named))
        words = TitleWords()
        words.add_titles(named[: len(named) * counted // 3])

        def both(db: sqlite3.Connection) -> list[tuple[list[int], list[int]]]:
            compared = []
            for groups in _groups():
                plan = titles._rare_plan(words, sorted(groups, key=words.total))
                compared.append((_heaviest(titles._rare_weights(db, plan)), _read_every_rare_title(db, words, groups)))
            return compared

        for ours, everything in await store.read(both):
            assert ours == everything
    finally:
        await store.close()
