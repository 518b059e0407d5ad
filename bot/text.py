"""Plain-text helpers for what users read: sentence splitting, word-boundary cuts and plurals."""

from __future__ import annotations

import logging
import re

log = logging.getLogger(__name__)

ELLIPSIS = "…"

# Words that end with a period without ending the sentence (compared lowercased, without the period).
ABBREVIATIONS = frozenset(
    {
        "e.g",
        "i.e",
        "al",
        "et al",
        "fig",
        "figs",
        "eq",
        "eqs",
        "vs",
        "cf",
        "approx",
        "resp",
        "sec",
        "secs",
        "tab",
        "ref",
        "refs",
        "no",
        "nos",
        "dr",
        "mr",
        "mrs",
        "ms",
        "prof",
        "st",
        "incl",
        "ca",
        "viz",
        "ch",
        "vol",
        "pp",
        "appx",
        "app",
        "def",
        "thm",
        "lem",
        "prop",
        "alg",
        "eqn",
        "w.r.t",
        "a.k.a",
        "u.s",
        "jr",
    }
)
# A run of sentence-ending marks, closing quotes or brackets, then the whitespace after them (if any).
_MARKS_RE = re.compile(r"[.!?]+[\"'”’)\]]*(?P<space>\s*)")
_DOTTED_RE = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]")
# Characters a cut may drop at the end, so that "word," does not become "word,…".
_TRAILING = " ,;:-–—/(["


def _word_before(text: str, position: int) -> str:
    """The whitespace-separated word that ends at `position`, without opening brackets or quotes."""
    start = text.rfind(" ", 0, position) + 1
    return text[start:position].lstrip("([\"'“‘")


def _is_boundary(text: str, marks: str, position: int, spaced: bool, following: str) -> bool:
    """Whether the marks at `position`, followed by `following`, end a sentence."""
    if marks[0] == ".":
        word = _word_before(text, position)
        lowered = word.lower()
        if lowered in ABBREVIATIONS or lowered.rstrip(".") in ABBREVIATIONS:
            return False
        if len(word) == 1 and word.isalpha():  # an initial ("J. Smith") or an enumerator ("a. b.")
            return False
        if _DOTTED_RE.fullmatch(word):  # "U.S", "e.g" written without its last period
            return False
        if position >= 6 and text[position - 6 : position].lower() == "et al":
            return False
    first = following[0]
    if spaced:
        # A lowercase word after the marks continues the sentence ("vs. the baseline").
        return not first.islower()
    # "transformation.Building": a word glued to the next sentence; "3.5", "a.b" and "U.S." are not.
    before = text[position - 1] if position else ""
    return (before.islower() or before.isdigit() or before in ")%") and bool(re.match(r"[A-Z][a-z]", following))


def split_sentences(text: str | None) -> list[str]:
    """The sentences of `text`, whitespace collapsed; abbreviations, decimals and initials do not split."""
    cleaned = " ".join((text or "").split())
    sentences: list[str] = []
    start = 0
    for match in _MARKS_RE.finditer(cleaned):
        end = match.end()
        if end >= len(cleaned):
            break
        spaced = bool(match.group("space"))
        if not _is_boundary(cleaned, match.group()[0], match.start(), spaced, cleaned[end:]):
            continue
        sentence = cleaned[start : end - len(match.group("space"))].strip()
        if sentence:
            sentences.append(sentence)
        start = end
    tail = cleaned[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def first_sentences(text: str | None, count: int) -> str:
    """The first `count` sentences of `text`, joined by single spaces."""
    return " ".join(split_sentences(text)[:count])


def word_cut_positions(text: str) -> list[int]:
    """Positions where `text` may be cut between words (before each space), in order."""
    return [index for index, char in enumerate(text) if char == " " and index > 0 and text[index - 1] != " "]


def cut_words(text: str | None, limit: int) -> str:
    """`text` whitespace-collapsed, cut at the last word boundary that fits `limit` with an ellipsis."""
    if limit < 1:
        raise ValueError(f"limit must be positive, got {limit}")
    cleaned = " ".join((text or "").split())
    if len(cleaned) <= limit:
        return cleaned
    room = limit - len(ELLIPSIS)
    cuts = [position for position in word_cut_positions(cleaned) if position <= room]
    for position in reversed(cuts):
        kept = cleaned[:position].rstrip(_TRAILING)
        if kept:
            return kept + ELLIPSIS
    # One word longer than the limit: nothing to do but cut inside it.
    return cleaned[: max(0, room)].rstrip() + ELLIPSIS


def plural(count: int, word: str, many: str | None = None) -> str:
    """'1 paper', '2 papers', '1,000 papers'; `many` for irregular plurals."""
    shown = f"{count:,}"
    return f"{shown} {word if count == 1 else (many or word + 's')}"
