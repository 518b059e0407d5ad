"""The Porter stemmer as SQLite's FTS5 porter tokenizer runs it.

Rules of M. F. Porter, "An algorithm for suffix stripping" (1980), with the choices of SQLite's porter
tokenizer: within a step the suffixes sharing their second-to-last letter are tried in a fixed order and
the first whose stem is non-empty decides (its condition may still fail).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TypeAlias

log = logging.getLogger(__name__)


def _consonants(word: str) -> list[bool]:
    """True where `word` has a consonant; y is a vowel after a consonant."""
    pattern: list[bool] = []
    previous_consonant = False
    for char in word:
        if char in "aeiou":
            consonant = False
        elif char == "y":
            consonant = not previous_consonant
        else:
            consonant = True
        pattern.append(consonant)
        previous_consonant = consonant
    return pattern


def _measure(stem_text: str) -> int:
    """Porter's m: the number of vowel-consonant sequences in the stem."""
    pattern = _consonants(stem_text)
    return sum(1 for i in range(1, len(pattern)) if pattern[i] and not pattern[i - 1])


def _has_vowel(stem_text: str) -> bool:
    """Porter's *v*, as FTS5 tests it: y counts as a vowel anywhere but the first letter."""
    return any(c in "aeiou" or (c == "y" and i > 0) for i, c in enumerate(stem_text))


def _ends_cvc(stem_text: str) -> bool:
    """Porter's *o: consonant-vowel-consonant at the end, the last not w, x or y."""
    if len(stem_text) < 3 or stem_text[-1] in "wxy":
        return False
    pattern = _consonants(stem_text)
    return pattern[-1] and not pattern[-2] and pattern[-3]


def _m_gt0(s: str) -> bool:
    return _measure(s) > 0


def _m_gt1(s: str) -> bool:
    return _measure(s) > 1


def _m_gt1_st(s: str) -> bool:
    return s[-1:] in ("s", "t") and _measure(s) > 1


Rule: TypeAlias = tuple[str, str, Callable[[str], bool]]


def _rules(rules: Iterable[Rule]) -> dict[str, list[Rule]]:
    """Group (suffix, replacement, condition) rules by the suffix's second-to-last letter, keeping order."""
    grouped: dict[str, list[Rule]] = {}
    for rule in rules:
        grouped.setdefault(rule[0][-2], []).append(rule)
    return grouped


_STEP2 = _rules(
    (suffix, out, _m_gt0)
    for suffix, out in (
        ("ational", "ate"),
        ("tional", "tion"),
        ("enci", "ence"),
        ("anci", "ance"),
        ("izer", "ize"),
        ("logi", "log"),
        ("bli", "ble"),
        ("alli", "al"),
        ("entli", "ent"),
        ("eli", "e"),
        ("ousli", "ous"),
        ("ization", "ize"),
        ("ation", "ate"),
        ("ator", "ate"),
        ("alism", "al"),
        ("iveness", "ive"),
        ("fulness", "ful"),
        ("ousness", "ous"),
        ("aliti", "al"),
        ("iviti", "ive"),
        ("biliti", "ble"),
    )
)
_STEP3 = _rules(
    (suffix, out, _m_gt0)
    for suffix, out in (
        ("ical", "ic"),
        ("ness", ""),
        ("icate", "ic"),
        ("iciti", "ic"),
        ("ful", ""),
        ("ative", ""),
        ("alize", "al"),
    )
)
_STEP4 = _rules(
    (suffix, "", _m_gt1_st if suffix == "ion" else _m_gt1)
    for suffix in (
        "al",
        "ance",
        "ence",
        "er",
        "ic",
        "able",
        "ible",
        "ant",
        "ement",
        "ment",
        "ent",
        "ion",
        "ou",
        "ism",
        "ate",
        "iti",
        "ous",
        "ive",
        "ize",
    )
)


def _apply(word: str, rules: dict[str, list[Rule]]) -> tuple[str, bool]:
    """Apply the first rule whose suffix ends `word` with a non-empty stem; (result, whether it fired)."""
    if len(word) < 2:
        return word, False
    for suffix, replacement, condition in rules.get(word[-2], ()):
        if len(word) > len(suffix) and word.endswith(suffix):
            base = word[: -len(suffix)]
            if condition(base):
                return base + replacement, True
            return word, False
    return word, False


def porter(word: str) -> str:  # noqa: C901 - Porter's steps read best as one sequence, as in the paper
    """The Porter stem of a lower-case ASCII word (other characters count as consonants)."""
    # Step 1a: plurals.
    if word.endswith("s"):
        if word.endswith("es"):
            if (len(word) > 4 and word.endswith("sses")) or (len(word) > 3 and word.endswith("ies")):
                word = word[:-2]
            else:
                word = word[:-1]
        elif not word.endswith("ss"):
            word = word[:-1]
    # Step 1b: -eed, -ed, -ing.
    removed = False
    if len(word) > 3 and word.endswith("eed"):
        if _m_gt0(word[:-3]):
            word = word[:-1]
    elif len(word) > 2 and word.endswith("ed"):
        if _has_vowel(word[:-2]):
            word, removed = word[:-2], True
    elif len(word) > 3 and word.endswith("ing") and _has_vowel(word[:-3]):
        word, removed = word[:-3], True
    if removed:
        if len(word) > 2 and word[-2:] in ("at", "bl", "iz"):
            word += "e"
        elif len(word) >= 2 and word[-1] not in "aeioulsz" and word[-1] == word[-2]:
            word = word[:-1]
        elif _measure(word) == 1 and _ends_cvc(word):
            word += "e"
    # Step 1c: y after a vowel-bearing stem.
    if word.endswith("y") and _has_vowel(word[:-1]):
        word = word[:-1] + "i"
    word, _ = _apply(word, _STEP2)
    word, _ = _apply(word, _STEP3)
    word, _ = _apply(word, _STEP4)
    # Step 5a: a final e.
    if word.endswith("e"):
        base = word[:-1]
        measure = _measure(base)
        if measure > 1 or (measure == 1 and not _ends_cvc(base)):
            word = base
    # Step 5b: a final double l.
    if len(word) > 1 and word.endswith("ll") and _m_gt1(word[:-1]):
        word = word[:-1]
    return word
