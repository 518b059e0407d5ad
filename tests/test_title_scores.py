"""Title keys, scores and phrases: the quicker ways of computing them give what the plain ones do."""

from __future__ import annotations

import string

from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz import fuzz

from bot.query import fold_tokens, stem
from bot.search.titles import holds_phrase, scores_reaching, title_key, title_score

WORDS = (
    "graph", "graphs", "neural", "network", "networks", "for", "a", "of", "molecule", "learning", "agents",
    "графы", "графов", "模型",  # folded words of non-ASCII titles keep their letters
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=string.printable, max_size=60) | st.text(max_size=30))
def test_a_title_key_is_the_folded_words_joined(title: str) -> None:
    assert title_key(title) == " ".join(fold_tokens(title))


def test_every_ascii_character_folds_as_the_index_folds_it() -> None:
    every = "".join(map(chr, range(128)))
    assert title_key(every) == " ".join(fold_tokens(every)) == "0123456789 " + " ".join([string.ascii_lowercase] * 2)
    assert title_key("Ünïcode Títle: A-B") == " ".join(fold_tokens("Ünïcode Títle: A-B")) == "unicode title a b"


def _keys(words: list[str]) -> str:
    return " ".join(words)


titles_typed = st.lists(st.sampled_from(WORDS), min_size=0, max_size=9).map(_keys)
# Typos: a few letters dropped or changed, so that scores fall on every side of a cutoff.
mistyped = st.tuples(titles_typed, st.integers(0, 5), st.integers(0, 1000)).map(
    lambda t: "".join(c for n, c in enumerate(t[0]) if (n * 7 + t[2]) % 11 >= t[1])
)


@settings(max_examples=400, deadline=None)
@given(
    key=titles_typed,
    titles=st.lists(titles_typed | mistyped, max_size=12),
    cutoff=st.sampled_from([0.0, 40.0, 60.0, 75.0, 80.0, 83.6, 88.0, 95.0, 100.0]),
)
def test_scores_reaching_a_cutoff_are_the_title_scores(key: str, titles: list[str], cutoff: float) -> None:
    keys = dict(enumerate(titles))
    scores = scores_reaching(key, keys, cutoff)
    assert set(scores) == set(keys)
    for i, title in keys.items():
        score, ratio = scores[i]
        assert ratio == fuzz.ratio(key, title)
        exact = title_score(key, title)
        if exact >= cutoff or score >= cutoff:
            assert score == exact, (key, title)


def test_scores_of_titles_starting_with_the_words_typed() -> None:
    key = "graph neural networks"
    titles = {1: key, 2: key + " for molecule learning", 3: "networks neural graph", 4: "", 5: "graph"}
    for cutoff in (60.0, 75.0, 95.0):
        scores = scores_reaching(key, titles, cutoff)
        assert scores[1][0] == 100.0 and scores[2][0] == 95.0
        assert all(scores[i][0] == title_score(key, t) for i, t in titles.items() if title_score(key, t) >= cutoff)


@settings(max_examples=300, deadline=None)
@given(
    tokens=st.lists(st.sampled_from([*WORDS, "modeling", "models", "model", "x", "ab"]), max_size=10),
    wanted=st.lists(st.sampled_from(["graph", "network", "model", "for", "a", "x", "ab"]), max_size=3),
)
def test_a_phrase_is_held_where_its_stems_are_adjacent(tokens: list[str], wanted: list[str]) -> None:
    stems = [stem(w) for w in wanted]
    held = [stem(t) for t in tokens]
    adjacent = any(held[at : at + len(stems)] == stems for at in range(len(held) - len(stems) + 1))
    assert holds_phrase(tokens, stems) == (adjacent or not stems)
