"""The in-memory title index: fuzzy title lookups (typos, missing words), prefix completion, title words."""

from __future__ import annotations

import bisect
import heapq
import logging
import math
from array import array
from collections.abc import Iterable, Sequence

from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from bot.query import fold_tokens, stem

log = logging.getLogger(__name__)

SUGGEST_SCORE = 60.0  # least title similarity for an autocomplete suggestion
PREFIX_SCORE = 95.0  # the similarity given to a title that starts with the words typed


def title_key(title: str) -> str:
    """A title as compared: its words folded (case, diacritics) and joined by single spaces."""
    return " ".join(fold_tokens(title))


class TitleIndex:
    """Every cached title in memory, by papers.rowid: word postings and sorted keys.

    Answers fuzzy title lookups (typos, missing words), prefix completion, and which query words a
    title holds. Built from (rowid, title) pairs; a changed title is re-indexed under the same rowid.
    """

    POSTINGS_BUDGET = 12_000  # title slots read per lookup to find candidates
    CANDIDATES = 500  # candidates compared with the query as whole titles
    STEMS_KEPT = 100_000

    def __init__(self) -> None:
        self._rowids = array("q")  # slot -> rowid
        self._keys: list[str] = []  # slot -> title key (folded words)
        self._slot_of: dict[int, int] = {}
        # Stems of the titles asked about lately (those of recent matches, mostly); bounded in size.
        self._title_stems: dict[int, frozenset[str]] = {}
        self._postings: dict[str, array[int]] = {}  # word -> slots
        # Keys in order with their slots, for prefix lookups (parallel lists: no tuple per title).
        self._sorted_keys: list[str] = []
        self._sorted_slots = array("I")
        # Words by (length, first letter) and by (length, last letter): a typo seldom changes both ends.
        self._words_by_shape: dict[tuple[int, str, str], list[str]] = {}
        self._sorted_words: list[str] = []
        self._new_words = False

    def __len__(self) -> int:
        return len(self._slot_of)

    def add(self, items: Iterable[tuple[int, str]], *, place: bool = True) -> int:
        """Add or update (rowid, title) pairs; returns how many titles were new or changed.

        With `place` False the sorted views are left behind (for a build in chunks): call `place_all` after.
        """
        fresh: list[int] = []
        for rowid, title in items:
            key = title_key(title)
            slot = self._slot_of.get(rowid)
            if slot is not None:
                if self._keys[slot] == key:
                    continue
                self._keys[slot] = key
                self._title_stems.pop(slot, None)
            else:
                slot = len(self._keys)
                self._rowids.append(rowid)
                self._keys.append(key)
                self._slot_of[rowid] = slot
            fresh.append(slot)
            # Old words of a changed title stay posted: candidates are re-scored on their current title.
            for word in set(key.split()):
                postings = self._postings.get(word)
                if postings is None:
                    self._postings[word] = array("I", (slot,))
                    self._words_by_shape.setdefault((len(word), word[0], ""), []).append(word)
                    self._words_by_shape.setdefault((len(word), "", word[-1]), []).append(word)
                    self._new_words = True
                else:
                    postings.append(slot)
        if fresh and place:
            self._place(fresh)
        return len(fresh)

    def place_all(self) -> None:
        """Rebuild the sorted views of every title (after adding chunks with `place` False)."""
        self._sorted_keys = []
        self._place(list(range(len(self._keys))))

    def _place(self, slots: list[int]) -> None:
        """Keep the sorted views in step: re-sort after a bulk load, insert a few in place."""
        if len(slots) > 1000 or not self._sorted_keys:
            order = sorted(range(len(self._keys)), key=self._keys.__getitem__)
            self._sorted_keys = [self._keys[slot] for slot in order]
            self._sorted_slots = array("I", order)
        else:
            for slot in slots:
                # A changed title leaves its old key behind; lookups skip keys that are no longer current.
                at = bisect.bisect_right(self._sorted_keys, self._keys[slot])
                self._sorted_keys.insert(at, self._keys[slot])
                self._sorted_slots.insert(at, slot)
        if self._new_words:
            self._sorted_words = sorted(self._postings)
            self._new_words = False

    def words_held(self, rowid: int, stems: frozenset[str]) -> int:
        """How many of `stems` the title of the paper at `rowid` holds (0 if it is not indexed)."""
        slot = self._slot_of.get(rowid)
        if slot is None:
            return 0
        held = self._title_stems.get(slot)
        if held is None:
            if len(self._title_stems) >= self.STEMS_KEPT:
                self._title_stems.clear()
            held = self._title_stems[slot] = frozenset(map(stem, self._keys[slot].split()))
        return len(stems & held)

    def _similar_words(self, word: str) -> list[str]:
        """Indexed words within a small edit distance of a word not in the index (a typo)."""
        if len(word) < 4:
            return []
        limit = 1 if len(word) < 7 else 2
        found: dict[str, int] = {}
        for length in range(len(word) - limit, len(word) + limit + 1):
            for shape in ((length, word[0], ""), (length, "", word[-1])):
                choices = self._words_by_shape.get(shape)
                if not choices:
                    continue
                for choice, distance, _ in process.extract(
                    word, choices, scorer=Levenshtein.distance, score_cutoff=limit, limit=5
                ):
                    found[choice] = int(distance)
        ranked = sorted(found, key=lambda w: (found[w], -len(self._postings[w])))
        return ranked[:3]

    def _prefix_words(self, prefix: str, limit: int = 30) -> list[str]:
        """Indexed words starting with `prefix` (the word being typed), most frequent first."""
        start = bisect.bisect_left(self._sorted_words, prefix)
        words: list[str] = []
        for word in self._sorted_words[start:]:
            if not word.startswith(prefix):
                break
            words.append(word)
        words.sort(key=lambda w: -len(self._postings[w]))
        return words[:limit]

    def _candidates(self, groups: list[list[str]]) -> list[int]:
        """Slots of titles holding the query's rarer words, weighted by rarity; a group stands for one word.

        Only the rarest words are walked, up to a budget of postings: common words say little about
        which title is meant, and the final ranking compares whole titles anyway.
        """
        total = max(len(self._keys), 1)
        sized = sorted(
            (sum(len(self._postings[w]) for w in group), index, group) for index, group in enumerate(groups) if group
        )
        scores: dict[int, float] = {}
        budget = self.POSTINGS_BUDGET
        for size, _, group in sized:
            if size > budget and scores:
                break
            weight = math.log(1 + total / max(size, 1))
            slots: Iterable[int]
            if len(group) == 1:
                slots = self._postings[group[0]][-budget:]
            else:
                slots = set().union(*(self._postings[w][-budget:] for w in group))
            for slot in slots:
                scores[slot] = scores.get(slot, 0.0) + weight
            budget -= min(size, budget)
            if budget <= 0:
                break
        return heapq.nlargest(self.CANDIDATES, scores, key=scores.__getitem__)

    def _prefixed(self, key: str, limit: int) -> list[int]:
        """Slots of titles that start with `key`, in key order."""
        found: list[int] = []
        start = bisect.bisect_left(self._sorted_keys, key)
        for at in range(start, min(start + 2 * limit, len(self._sorted_keys))):
            if not self._sorted_keys[at].startswith(key) or len(found) >= limit:
                break
            slot = self._sorted_slots[at]
            if self._keys[slot] == self._sorted_keys[at]:  # not a key the title has since changed from
                found.append(slot)
        return found

    def _groups(self, words: Iterable[str]) -> list[list[str]]:
        """For each word, itself if indexed, else the indexed words it may be a typo of."""
        return [[w] if w in self._postings else self._similar_words(w) for w in dict.fromkeys(words)]

    def match(self, text: str, limit: int = 10, cutoff: float = 0.0) -> list[tuple[int, float]]:
        """(rowid, score 0-100) of the titles that best match `text`, forgiving typos and missing words.

        Titles scoring under `cutoff` are left out, unless they begin with the words typed.
        """
        words = fold_tokens(text)
        if not words or not self._keys:
            return []
        key = " ".join(words)
        # A title that begins with three or more words as typed is the one meant, unless one matches better.
        prefixed = self._prefixed(key, limit) if len(words) >= 3 else []
        scores = {rowid: max(score, PREFIX_SCORE) for rowid, score in self._rank(key, prefixed, limit)}
        for rowid, score in self._rank(key, self._candidates(self._groups(words)), limit, cutoff):
            scores.setdefault(rowid, score)
        return sorted(scores.items(), key=lambda rs: -rs[1])[:limit]

    def _rank(self, key: str, slots: Sequence[int], limit: int, cutoff: float = 0.0) -> list[tuple[int, float]]:
        choices = {slot: self._keys[slot] for slot in slots}
        scored = process.extract(key, choices, scorer=fuzz.WRatio, limit=None, score_cutoff=cutoff)
        # Among equal scores the closer title as a whole, then the newer paper, wins.
        ranked = sorted(
            ((float(score), fuzz.ratio(key, choice), self._rowids[slot]) for choice, score, slot in scored),
            reverse=True,
        )
        return [(rowid, score) for score, _, rowid in ranked[:limit]]

    def complete(self, text: str, limit: int = 25) -> list[int]:
        """Rowids of titles for what is being typed: titles starting with it, then similar ones."""
        words = fold_tokens(text)
        if not words or not self._keys:
            return []
        key = " ".join(words)
        picked = dict.fromkeys(self._rowids[slot] for slot in self._prefixed(key, limit))
        if len(picked) < limit:
            typing = not text[-1:].isspace()  # the last word may be cut short
            groups = self._groups(words[:-1] if typing else words)
            if typing:
                groups.append(self._prefix_words(words[-1]))
            for rowid, _ in self._rank(key, self._candidates(groups), limit, SUGGEST_SCORE):
                picked.setdefault(rowid, None)
        return list(picked)[:limit]
