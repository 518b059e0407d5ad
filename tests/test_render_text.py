"""Sentence splitting, word-boundary cuts and plurals (bot/text.py), and the cut summaries built on them."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bot.models import Paper
from bot.render import escape_words, plain_words, short_summary
from bot.text import ELLIPSIS, cut_words, first_sentences, plural, split_sentences

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)


def test_split_on_plain_sentence_ends() -> None:
    assert split_sentences("It works. It scales! Does it? Yes.") == ["It works.", "It scales!", "Does it?", "Yes."]


def test_split_when_the_space_after_the_period_is_missing() -> None:
    text = "we propose PanoWorld, which is equivariant to rotation transformation.Building on it, we train."
    assert split_sentences(text) == [
        "we propose PanoWorld, which is equivariant to rotation transformation.",
        "Building on it, we train.",
    ]


def test_abbreviations_do_not_split() -> None:
    text = "Models (e.g. GPT) and tools, i.e. agents, as in Smith et al. Fig. 3 shows gains vs. Baselines."
    assert split_sentences(text) == [text]


def test_decimals_initials_and_dotted_names_do_not_split() -> None:
    assert split_sentences("Accuracy rose to 3.5 points. J. R. R. Tolkien agrees.") == [
        "Accuracy rose to 3.5 points.",
        "J. R. R. Tolkien agrees.",
    ]
    assert split_sentences("Trained in the U.S. on v1.2.3 of ASP.NET code.") == [
        "Trained in the U.S. on v1.2.3 of ASP.NET code."
    ]


def test_lowercase_after_a_period_continues_the_sentence() -> None:
    assert split_sentences("We use approx. ten runs. Results follow.") == [
        "We use approx. ten runs.",
        "Results follow.",
    ]


def test_closing_quotes_and_brackets_stay_with_their_sentence() -> None:
    assert split_sentences('He said "stop." Then (it ended.) Next one.') == [
        'He said "stop."',
        "Then (it ended.)",
        "Next one.",
    ]


def test_first_sentences_and_empty_text() -> None:
    assert first_sentences("One. Two. Three.", 2) == "One. Two."
    assert split_sentences("") == [] and split_sentences(None) == []
    assert split_sentences("no end mark") == ["no end mark"]


def test_cut_words_never_cuts_inside_a_word() -> None:
    assert cut_words("alpha beta gamma delta", 13) == "alpha beta…"
    assert cut_words("alpha, beta gamma", 9) == "alpha…"
    assert cut_words("short", 10) == "short"
    assert cut_words("unbreakableword", 6) == "unbre…"  # one word over the budget: the only way to fit


def test_plurals() -> None:
    assert plural(1, "paper") == "1 paper"
    assert plural(0, "paper") == "0 papers"
    assert plural(2, "digest channel") == "2 digest channels"
    assert plural(1234, "result") == "1,234 results"
    assert plural(2, "query", "queries") == "2 queries"


words = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789-", min_size=1, max_size=14)
punctuation = st.sampled_from(["", "", "", ",", ".", ";", ":", "!", "?", ")", "%"])
abstracts = st.lists(
    st.tuples(words, punctuation, st.sampled_from([" "] * 6 + ["", "\n"])), min_size=1, max_size=120
).map(lambda parts: "".join(w + p + s for w, p, s in parts))


def _is_word_prefix(cut: str, original: str) -> bool:
    """Whether `cut` (without its ellipsis) ends where a word of `original` ends."""
    body = cut.removesuffix(ELLIPSIS)
    collapsed = " ".join(original.split())
    if not collapsed.startswith(body):
        return False
    following = collapsed[len(body) : len(body) + 1]
    return following in ("", " ") or not (body[-1:].isalnum() and following.isalnum())


@given(text=abstracts, limit=st.integers(16, 400))
@SETTINGS
def test_no_mid_word_cut_on_generated_abstracts(text: str, limit: int) -> None:
    # Only a single word longer than the whole budget may be cut inside (there is no other way to fit it).
    assume(limit > 2 * max(len(word) for word in text.split()) + 2)
    cut = cut_words(text, limit)
    assert len(cut) <= limit
    assert _is_word_prefix(cut, text), (cut, text)
    shown = plain_words(text, limit)
    assert len(shown) <= limit and _is_word_prefix(shown, text)
    markdown = escape_words(text, limit)
    assert len(markdown) <= limit
    assert _is_word_prefix(re.sub(r"\\(.)", r"\1", markdown), text)


@given(text=abstracts, ai_summary=st.one_of(st.none(), abstracts))
@SETTINGS
def test_summaries_use_the_ai_summary_else_the_first_sentence(text: str, ai_summary: str | None) -> None:
    paper = Paper(id="2606.00001", title="t", summary=text, ai_summary=ai_summary)
    shown = re.sub(r"\\(.)", r"\1", short_summary(paper, 160))
    source = " ".join(ai_summary.split()) if ai_summary and ai_summary.strip() else first_sentences(text, 1)
    assert len(shown) <= 160
    assert _is_word_prefix(shown, source), (shown, source)
    for sentence in split_sentences(text):
        assert sentence and sentence == sentence.strip()
