"""Title lookups over the title-only index on disk: typo-tolerant matching, prefix completion, scoring.

The titles themselves stay on disk (`papers_fts_title`, migration 0007). In memory there is only the
vocabulary of title words with how many titles hold each (`title_vocab.TitleWords`), which corrects typed words
(a typo seldom changes both ends of a word) and completes the word being typed. Candidate titles come
from the index; rapidfuzz then compares each candidate with the whole text typed (`title_score`).
"""

from __future__ import annotations

import itertools
import logging
import math
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import NamedTuple

from rapidfuzz import fuzz, process

from bot.query import Filter, fold_tokens, stem
from bot.search.title_vocab import TitleWords
from bot.store import search_read

log = logging.getLogger(__name__)

SUGGEST_SCORE = 60.0  # least title similarity for an autocomplete suggestion
PREFIX_SCORE = 95.0  # the similarity given to a title that starts with three or more words as typed
REORDERED = 0.88  # the share of its similarity a title keeps when it holds the words typed in another order
RARE_BUDGET = 1_500  # titles read per lookup for the rarer words typed, up to this many
ALL_WORDS_CANDIDATES = 40
COMMON_SHARE = 0.05  # a title word held by more than this share of titles is common
PREFIX_CANDIDATES = 20  # titles starting with the words typed, at most, among the candidates
PHRASE_CHECKED = 200  # titles holding every word typed, at most, checked here for a phrase
# Titles, or papers, holding this many words typed are usually few: the index is asked for all of them in
# its faster order (see bot.store.search_read._newest).
FEW_HOLD_ALL_WORDS = 4
PHRASE_FORMS = 32  # phrases of word forms, at most, asked of the title-only index for one phrase typed
COMMON_CHECKED = 400  # titles holding the rarer words typed, at most, checked here for the common ones
RARE_WORDS_CANDIDATES = 60
_JOIN = "\0"  # a control character, which unicode61 never counts as part of a word: no folded word holds it
_ROUNDING = 1e-6  # more than floating point rounding moves a score: bounds allow for it
_WORD_SET_SHARE = 0.95  # the share of its token_set_ratio a longer title keeps


def title_key(title: str) -> str:
    """A title as compared: its words folded (case, diacritics) and joined by single spaces."""
    return " ".join(fold_tokens(title))


def title_score(key: str, title: str) -> float:
    """0-100: how closely `title` (a title key) matches the words typed (`key`), their order counting.

    The same words in another order score less than the words as typed, so that "coding agents for
    runtime enforcement" does not put "Runtime Enforcement for Coding Agents" second to a reordering.
    """
    if not key or not title:
        return 0.0
    ordered = fuzz.ratio(key, title)
    unordered = fuzz.token_sort_ratio(key, title)
    if len(title) > len(key):
        # The words typed may be part of a longer title; a short title inside a long text typed is not.
        scale = _part_scale(len(key), len(title))
        ordered = max(ordered, fuzz.partial_ratio(key, title) * scale)
        unordered = max(unordered, fuzz.token_set_ratio(key, title) * _WORD_SET_SHARE)
    score = max(ordered, unordered * REORDERED)
    if key.count(" ") >= 2 and title.startswith(key):
        score = max(score, PREFIX_SCORE)
    return float(score)


def _part_scale(key_length: int, title_length: int) -> float:
    """The share of its partial_ratio a longer title keeps: less when the words typed are a small part of it."""
    return 0.9 if title_length < 8 * key_length else 0.6


def scores_reaching(key: str, keys: Mapping[int, str], cutoff: float) -> dict[int, tuple[float, float]]:
    """For each title key, (`title_score`, `fuzz.ratio`) against `key`: the score exact where it reaches
    `cutoff`, below `cutoff` elsewhere.

    Each of the score's measures is taken, for all the titles at once, only where it can still raise the
    score to the cutoff or above what the cheaper ones gave; rapidfuzz skips the titles it cannot raise.
    """
    if cutoff <= 0.0 or not key:
        return {i: (title_score(key, title), fuzz.ratio(key, title)) for i, title in keys.items()}
    ids, titles = list(keys), list(keys.values())
    length, prefixed = len(key), key.count(" ") >= 2
    ratios = [0.0] * len(titles)
    for _, value, at in process.extract(key, titles, scorer=fuzz.ratio, limit=None):
        ratios[at] = value
    best = [
        max(PREFIX_SCORE, ratio) if prefixed and title.startswith(key) else ratio
        for title, ratio in zip(titles, ratios, strict=True)
    ]

    def raise_by(
        scorer: Callable[..., float], ceiling: float, scaled: Callable[[float], float], among: list[int]
    ) -> None:
        """Raise `best` of the titles `among` to `scaled(scorer)` where that reaches the cutoff; `ceiling` is
        the most the scaled measure gives, so titles already at it are skipped."""
        needed = max(0.0, (cutoff - _ROUNDING) * 100.0 / ceiling)  # the least unscaled value reaching the cutoff
        chosen = [at for at in among if best[at] < ceiling] if needed <= 100.0 else []
        if chosen:
            for _, value, at in process.extract(
                key, [titles[at] for at in chosen], scorer=scorer, score_cutoff=needed, limit=None
            ):
                best[chosen[at]] = max(best[chosen[at]], scaled(value))

    # Only titles longer than the words typed are compared as word sets and part by part (as in title_score).
    longer = [at for at, title in enumerate(titles) if len(title) > length]
    # Scaled as in title_score, product by product, so that the floats are the same.
    raise_by(fuzz.token_sort_ratio, 100.0 * REORDERED, lambda v: v * REORDERED, list(range(len(titles))))
    raise_by(
        fuzz.token_set_ratio, 100.0 * _WORD_SET_SHARE * REORDERED, lambda v: v * _WORD_SET_SHARE * REORDERED, longer
    )
    for at in longer:
        title = titles[at]
        scale = _part_scale(length, len(title))
        floor = max(cutoff, best[at]) - _ROUNDING
        # A part of the title shares no more letters in order with the words typed than the whole title does
        # (`common`, got back from the ratio, 200 * common / (length + len(title))); a part sharing `common`
        # letters scores most when it is those letters alone, so partial_ratio is at most the bound below.
        common = min(length, math.ceil(ratios[at] * (length + len(title)) / 200.0 - _ROUNDING))
        if 200.0 * common / (length + common) * scale >= floor:
            best[at] = max(best[at], fuzz.partial_ratio(key, title, score_cutoff=floor / scale) * scale)
    return dict(zip(ids, zip(best, ratios, strict=True), strict=True))


def fts_group(words: Sequence[str]) -> str:
    """An FTS5 expression matching any of `words` (folded words: quoted, so that none is an operator)."""
    quoted = ['"' + w.replace('"', '""') + '"' for w in words]
    return quoted[0] if len(quoted) == 1 else "(" + " OR ".join(quoted) + ")"


def candidates(
    db: sqlite3.Connection,
    words: TitleWords,
    groups: list[list[str]],
    *,
    thorough: bool = False,
    known: dict[int, list[str]] | None = None,
) -> tuple[list[int], bool]:
    """Rowids of titles that may be the one typed: holding every word (as fixed), or the rarer ones; and
    whether those holding every word are the newest such titles (else they are some of them).

    The titles holding every word are read newest first (`_holding_every_word`). For a title typed with
    a word missing or wrong, the titles holding the rarer words are read too (up to RARE_BUDGET of them)
    and those holding the rarest words between them go first: a word counts for more the fewer titles
    hold it. `known`: the folded words of titles already read in this lookup, added to.
    """
    groups = [g for g in groups if g]
    if not groups:
        return [], True
    every, exact = _holding_every_word(db, words, groups, thorough, {} if known is None else known)
    found = dict.fromkeys(every)
    if len(groups) == 1 and len(found) < ALL_WORDS_CANDIDATES:
        return list(found), exact
    # Before the vocabulary is read, longer words are likelier to be rare.
    sized = sorted(groups, key=words.total) if len(words) else sorted(groups, key=lambda g: -max(map(len, g)))[:3]
    weights = _rare_weights(db, _rare_plan(words, sized))
    # The heaviest first, then the newest.
    rarest = sorted(weights, reverse=True)
    rarest.sort(key=weights.__getitem__, reverse=True)
    found.update(dict.fromkeys(rarest[:RARE_WORDS_CANDIDATES]))
    return list(found), exact


class _RareRead(NamedTuple):
    """A group of rarer words whose titles are read: its rarity, the titles read at most, whether fewer hold it."""

    group: list[str]
    rarity: float
    limit: int
    likely_few: bool


def _rare_plan(words: TitleWords, sized: list[list[str]]) -> list[_RareRead]:
    """The groups of rarer words read, rarest first: each is read while the titles read stay within RARE_BUDGET."""
    plan = []
    budget = RARE_BUDGET
    for group in sized:
        size = words.total(group)
        if budget < RARE_BUDGET and size > budget:
            break
        plan.append(_RareRead(group, 1.0 / math.log(2.0 + size), budget, size <= budget))
        budget -= size
        if budget <= 0:
            break
    return plan


def _rare_weights(db: sqlite3.Connection, plan: list[_RareRead]) -> dict[int, float]:
    """The weights of the titles holding the groups of `plan`: the rarities of the groups each holds, summed
    in order; of the titles holding the last group alone, only those that can be the heaviest.

    The last group is the most common; the titles holding it alone all weigh its rarity, the least, and
    the newer go first. So only the newest of them that can be among the RARE_WORDS_CANDIDATES heaviest
    are read (at 100,000 papers, returning 1,500 rowids took 0.7 ms, counting them 0.2), and the older
    titles of the other groups are asked whether they hold it too.
    """
    weights: dict[int, float] = {}
    *earlier, last = plan
    # Whether all the titles holding the earlier groups were read (else, with counts too low, the last group's
    # titles are read as many as planned: which of them the others hold is then not asked of the index).
    whole = True
    for read in earlier:
        rowids = search_read.title_hits(db, fts_group(read.group), limit=read.limit, likely_few=read.likely_few)
        whole = whole and len(rowids) < read.limit
        _add_weight(weights, rowids, read.rarity)
    last_group = fts_group(last.group)
    if not whole:
        rowids = search_read.title_hits(db, last_group, limit=last.limit, likely_few=last.likely_few)
        _add_weight(weights, rowids, last.rarity)
        return weights
    wanted = min(last.limit, RARE_WORDS_CANDIDATES + len(weights))
    held = search_read.title_hits(db, last_group, limit=wanted)
    # Older titles are asked for only if fewer were read than planned: else none older would have been read.
    if len(held) == wanted < last.limit and weights:
        both = "(" + " OR ".join(fts_group(read.group) for read in earlier) + ") AND " + last_group
        older = search_read.title_hits(db, both, limit=len(weights), high=held[-1] - 1)
        if older:
            # Of the titles holding the last group, `last.limit` would have been read: those from this one on.
            oldest = search_read.title_hit_at(db, last_group, last.limit - 1)
            held += [rowid for rowid in older if oldest is None or rowid >= oldest]
    _add_weight(weights, held, last.rarity)
    return weights


def _add_weight(weights: dict[int, float], rowids: Iterable[int], rarity: float) -> None:
    """Add `rarity` to the weights of `rowids` (0 for those without one)."""
    held = dict.fromkeys(rowids, rarity)
    for rowid in held.keys() & weights.keys():
        held[rowid] = weights[rowid] + rarity
    weights.update(held)


def _holding_every_word(
    db: sqlite3.Connection, words: TitleWords, groups: list[list[str]], thorough: bool, known: dict[int, list[str]]
) -> tuple[list[int], bool]:
    """Rowids of titles holding a word of every group, newest first, up to ALL_WORDS_CANDIDATES; and
    whether they are the newest such titles.

    The words held by most titles narrow little and cost the most to read: unless `thorough`, the index
    is asked for the COMMON_CHECKED newest titles holding the rarer words, and those are checked here for
    the common ones. When more titles hold the rarer words, the titles found are only some of them.
    """
    common = [g for g in groups if words.total(g) > words.titles * COMMON_SHARE]
    if thorough or not common or len(common) == len(groups):
        all_words = " AND ".join(map(fts_group, groups))
        few = len(groups) >= FEW_HOLD_ALL_WORDS
        return search_read.title_hits(db, all_words, limit=ALL_WORDS_CANDIDATES, likely_few=few), True
    rarer = [g for g in groups if g not in common]
    narrowing = " AND ".join(map(fts_group, rarer))
    held = search_read.title_hits(db, narrowing, limit=COMMON_CHECKED, likely_few=len(rarer) >= FEW_HOLD_ALL_WORDS)
    found = _read_titles(db, held, known)
    every: list[int] = []
    for rowid in held:
        title_words = set(found.get(rowid, ()))
        if all(title_words.intersection(group) for group in common):
            every.append(rowid)
    return every[:ALL_WORDS_CANDIDATES], len(held) < COMMON_CHECKED or len(every) >= ALL_WORDS_CANDIDATES


def phrase_match(tokens: Sequence[str]) -> str:
    """An FTS5 expression for the full-text index: titles holding `tokens` (folded words) adjacent and in order."""
    return '{title} : "' + " ".join(tokens) + '"'


def holds_phrase(tokens: Sequence[str], stems: Sequence[str]) -> bool:
    """Whether the folded words `tokens` hold words with `stems`, adjacent and in that order."""
    if not stems:
        return True
    # Joined by a character that no folded word holds, the stems held hold the joined stems wanted.
    return _JOIN + _JOIN.join(stems) + _JOIN in _JOIN + _JOIN.join(map(stem, tokens)) + _JOIN


def phrase_rowids(
    db: sqlite3.Connection, words: TitleWords, typed: Sequence[str], *, limit: int, filters: Sequence[Filter] = ()
) -> list[int]:
    """Rowids of up to `limit` papers (passing the filters) whose title holds the folded words `typed`
    adjacent and in order, newest first: what `phrase_match` finds on the full-text index.

    That phrase reads every paper holding each word, so the small title-only index is asked first, with
    each word's family (the title words sharing its stem): no title holding them all means no phrase; a few
    such titles are checked for the phrase here; the phrases of a few word forms are asked of it directly.
    A word whose family is not known whole (a short stem many words start with) is left out of the first
    question: the titles holding the other words still hold every title with the phrase, and the check
    here is by stem. Only else is the full-text index read.
    """
    families = [words.family(token) for token in typed]
    known = [family for family, complete in families if complete]
    if known:
        every = " AND ".join(fts_group(family) for family in known)
        few = len(known) >= FEW_HOLD_ALL_WORDS
        holding = search_read.title_hits(db, every, limit=PHRASE_CHECKED, filters=filters, likely_few=few)
        if len(holding) < PHRASE_CHECKED:
            stems = [stem(token) for token in typed]
            found = search_read.titles_by_rowid(db, holding)
            phrased = [r for r in holding if r in found and holds_phrase(fold_tokens(found[r][1]), stems)]
            return phrased[:limit]
        forms = [family for family, _ in families]
        if len(known) == len(families) and math.prod(map(len, forms)) <= PHRASE_FORMS:
            phrases = " OR ".join(fts_group([" ".join(combo)]) for combo in itertools.product(*forms))
            return search_read.title_hits(db, phrases, limit=limit, filters=filters)
    return search_read.matching_rowids(db, phrase_match(typed), limit=limit, filters=filters)


def _read_titles(db: sqlite3.Connection, rowids: Sequence[int], known: dict[int, list[str]]) -> dict[int, list[str]]:
    """`known`, the folded words of titles by rowid, with those of the titles at `rowids` (if stored) added."""
    missing = [rowid for rowid in rowids if rowid not in known]
    if missing:
        known.update(
            (rowid, fold_tokens(title)) for rowid, (_, title) in search_read.titles_by_rowid(db, missing).items()
        )
    return known


def rank_titles(
    db: sqlite3.Connection,
    key: str,
    rowids: Sequence[int],
    *,
    cutoff: float = 0.0,
    known: dict[int, list[str]] | None = None,
) -> list[tuple[int, float]]:
    """(rowid, score) of the titles at `rowids` scoring at least `cutoff` against `key`, best first.

    Among equal scores the closer title as a whole, then the paper stored last, wins. `known`: the folded
    words of titles already read in this lookup, added to.
    """
    found = _read_titles(db, rowids, {} if known is None else known)
    keys = {rowid: " ".join(found[rowid]) for rowid in dict.fromkeys(rowids) if rowid in found}
    scores = scores_reaching(key, keys, cutoff)
    scored = [(score, ratio, rowid) for rowid, (score, ratio) in scores.items() if score >= cutoff]
    scored.sort(reverse=True)
    return [(rowid, score) for score, _, rowid in scored]


def match(
    db: sqlite3.Connection, words: TitleWords, text: str, *, limit: int, cutoff: float, sure: float
) -> list[tuple[int, float]]:
    """(rowid, score 0-100) of the titles that best match `text`, forgiving typos and missing words.

    When no title scores `sure` or more among candidates that were only some of the titles holding
    every word, those titles are read whole (slower: the common words' titles are read) and ranked too.
    """
    typed = fold_tokens(text)
    if not typed:
        return []
    key = " ".join(typed)
    groups = words.groups(typed)
    known: dict[int, list[str]] = {}  # titles are read once
    found, exact = candidates(db, words, groups, known=known)
    found += _starting_alike(db, words, text)
    ranked = rank_titles(db, key, found, cutoff=cutoff, known=known)
    if not exact and (not ranked or ranked[0][1] < sure):
        more, _ = candidates(db, words, groups, thorough=True, known=known)
        ranked = rank_titles(db, key, list(dict.fromkeys([*found, *more])), cutoff=cutoff, known=known)
    return ranked[:limit]


def _starting_alike(db: sqlite3.Connection, words: TitleWords, text: str) -> list[int]:
    """Rowids of titles starting with the words typed up to the first that no title holds (a typo).

    A typo seldom falls in the first words, and a title's first words are a far narrower key than its
    words anywhere: this finds a title when its rarer words are shared by too many others.
    """
    leading: list[str] = []
    for word in text.split():
        if not all(words.count(token) for token in fold_tokens(word)):
            break
        leading.append(word)
    if len(leading) < 2:
        return []
    return search_read.titles_with_prefix(db, " ".join(leading), PREFIX_CANDIDATES)


def complete(db: sqlite3.Connection, words: TitleWords, text: str, limit: int) -> list[int]:
    """Rowids of titles for what is being typed: titles starting with it, then similar ones."""
    typed = fold_tokens(text)
    if not typed:
        return []
    key = " ".join(typed)
    picked = dict.fromkeys(search_read.titles_with_prefix(db, text.strip(), limit))
    if len(picked) < limit:
        cut_short = not text[-1:].isspace()  # the last word may be cut short
        groups = words.groups(typed[:-1] if cut_short else typed)
        if cut_short:
            groups.append(words.completions(typed[-1]))
        found, _ = candidates(db, words, groups)
        for rowid, _ in rank_titles(db, key, found, cutoff=SUGGEST_SCORE)[:limit]:
            picked.setdefault(rowid, None)
    return list(picked)[:limit]
