"""The vocabulary of title words held in memory: how many titles hold each word, and the words by shape and
by stem, which correct typed words, complete the word being typed and find the forms of a word."""

from __future__ import annotations

import bisect
import logging
import sqlite3
from collections.abc import Iterable, Sequence

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from bot.query import fold_tokens, stem
from bot.store import search_read

log = logging.getLogger(__name__)

FAMILY_SPAN = 1_000  # vocabulary words read, at most, to find the words sharing a stem
# Stems the whole vocabulary once without filling the cache of stems that queries use.
_stem_uncached = stem.__wrapped__


class TitleWords:
    """The words of every cached title and how many titles hold each (an estimate after updates)."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self.titles = 0  # how many titles the counts are of (an estimate after updates)
        # Words by (length, first letter) and by (length, last letter): a typo seldom changes both ends.
        self._by_shape: dict[tuple[int, str, str], list[str]] = {}
        self._sorted: list[str] = []
        # The words that are not their own stem, by stem, in order: a family is found without stemming.
        self._stemmed: dict[str, list[str]] = {}

    def __len__(self) -> int:
        return len(self._counts)

    @classmethod
    def read(cls, db: sqlite3.Connection) -> TitleWords:
        """The vocabulary of the title index (run on a reading connection's thread: it reads every word)."""
        words = cls()
        # Read in batches: one long call would hold the GIL, and with it the event loop, throughout.
        for batch in search_read.title_vocabulary(db):
            for word, count in batch:
                words._counts[word] = count
                words._shape(word)
                words._sorted.append(word)
                root = _stem_uncached(word)
                if root != word:
                    words._stemmed.setdefault(root, []).append(word)
        words.titles = search_read.title_count(db)
        return words

    def _shape(self, word: str) -> None:
        self._by_shape.setdefault((len(word), word[0], ""), []).append(word)
        self._by_shape.setdefault((len(word), "", word[-1]), []).append(word)

    def with_titles(self, titles: Sequence[str]) -> TitleWords:
        """A copy that also counts the words of these new or changed titles (self itself unchanged, or self
        when there are none).

        Searches read a vocabulary on reading threads while it is brought up to date on another: each
        keeps the one it started with whole, instead of seeing words half added.
        """
        if not titles:
            return self
        grown = TitleWords()
        grown._counts = dict(self._counts)
        grown.titles = self.titles
        grown._by_shape = {shape: list(words) for shape, words in self._by_shape.items()}
        grown._sorted = list(self._sorted)
        grown._stemmed = {root: list(words) for root, words in self._stemmed.items()}
        grown.add_titles(titles)
        return grown

    def add_titles(self, titles: Iterable[str]) -> int:
        """Count the words of new or changed titles, in place (a vocabulary no search reads yet); returns how
        many words were new."""
        new = 0
        for title in titles:
            self.titles += 1
            for word in set(fold_tokens(title)):
                if word in self._counts:
                    self._counts[word] += 1
                    continue
                self._counts[word] = 1
                self._shape(word)
                bisect.insort(self._sorted, word)
                root = _stem_uncached(word)
                if root != word:
                    bisect.insort(self._stemmed.setdefault(root, []), word)
                new += 1
        return new

    def count(self, word: str) -> int:
        """How many titles hold `word` (0 if none does)."""
        return self._counts.get(word, 0)

    def similar(self, word: str) -> list[str]:
        """Title words within a small edit distance of `word`, a word no title holds (a typo)."""
        if len(word) < 4:
            return []
        limit = 1 if len(word) < 7 else 2
        found: dict[str, int] = {}
        for length in range(len(word) - limit, len(word) + limit + 1):
            for shape in ((length, word[0], ""), (length, "", word[-1])):
                choices = self._by_shape.get(shape)
                if not choices:
                    continue
                for choice, distance, _ in process.extract(
                    word, choices, scorer=Levenshtein.distance, score_cutoff=limit, limit=5
                ):
                    found[choice] = int(distance)
        return sorted(found, key=lambda w: (found[w], -self._counts[w]))[:3]

    def groups(self, words: Iterable[str]) -> list[list[str]]:
        """For each word, itself if a title holds it (or the vocabulary is not loaded), else its likely fixes."""
        if not self._counts:
            return [[w] for w in dict.fromkeys(words)]
        return [[w] if w in self._counts else self.similar(w) for w in dict.fromkeys(words)]

    def completions(self, prefix: str, limit: int = 30) -> list[str]:
        """Title words starting with `prefix` (the word being typed), most frequent first."""
        if not self._sorted:
            return [prefix]
        start = bisect.bisect_left(self._sorted, prefix)
        words: list[str] = []
        for word in self._sorted[start : start + 2000]:
            if not word.startswith(prefix):
                break
            words.append(word)
        words.sort(key=lambda w: -self._counts[w])
        return words[:limit]

    def family(self, word: str) -> tuple[list[str], bool]:
        """The title words with `word`'s Porter stem, `word` first, and whether the list is complete.

        Such words start with all but the last two letters of the stem (Porter rewrites no more), so
        the sorted vocabulary is read from there, FAMILY_SPAN words at most; the list is incomplete when
        the vocabulary is not loaded or more words than that start alike.
        """
        root = stem(word)
        prefix = root[: max(2, len(root) - 2)]
        forms = [word]
        vocabulary = self._sorted
        if not vocabulary:
            return forms, False
        start = bisect.bisect_left(vocabulary, prefix)
        read = min(start + FAMILY_SPAN, len(vocabulary))
        # The words starting with the prefix come first from `start`: where they end within those read.
        end = bisect.bisect_left(vocabulary, True, start, read, key=lambda other: not other.startswith(prefix))
        # The words with that stem (from the index by stem, not stemmed here) among those read.
        same = self._stemmed.get(root, [])
        if root in self._counts and stem(root) == root:
            same = sorted([root, *same])
        # Those read are the words from `prefix` up to, not including, the first word past them (if any).
        past = vocabulary[end] if end < len(vocabulary) else None
        forms += [
            other for other in same if other != word and other.startswith(prefix) and (past is None or other < past)
        ]
        # Complete when a word not starting with the prefix was met, or the vocabulary ended, within the span.
        complete = end < read or start + FAMILY_SPAN >= len(vocabulary)
        return forms, complete

    def total(self, group: Sequence[str]) -> int:
        """How many titles hold any word of `group`, at most (their counts summed)."""
        return sum(self._counts.get(w, 0) for w in group) if self._counts else 0
