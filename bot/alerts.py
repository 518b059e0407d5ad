"""Keyword alerts: match new papers against every channel's standing queries, at scale, and plan the posts.

The matcher keeps one compiled predicate per distinct query (channels often share a query) and an inverted
index from the terms a query requires to the queries requiring them: a paper only evaluates the queries
that share one of its terms, plus the few that require no term at all (filters alone, or negations).
Predicates are compiled from the shared query AST and agree with `Query.matches`, which is what
`reference_matches` (the plain every-subscription-against-every-paper loop) uses.

New papers are checked against every query. Papers whose upvotes changed are checked only against queries
with an `upvotes:` filter: the only ones whose answer can change with upvotes, so a paper crossing a
threshold fires then. A paper goes to a channel at most once (the delivery records see to that), so a
threshold crossed once fires once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import operator
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any, TypeAlias

from bot.models import Paper, Subscription
from bot.query import (
    ALL_COLUMNS,
    MAX_QUERY_LENGTH,
    And,
    Column,
    Filter,
    Node,
    Not,
    Or,
    Query,
    QueryError,
    Term,
    fold_tokens,
    parse,
    stem,
)

log = logging.getLogger(__name__)

Key: TypeAlias = tuple[Column, str]  # (FTS column or None for any column, stem)
Match: TypeAlias = tuple[Subscription, Paper]
ChannelMatches: TypeAlias = list[tuple[Paper, list[Subscription]]]

ALERT_KIND = "alert"
BATCH_KIND = "alert_batch"
CAP_WINDOW = dt.timedelta(hours=1)
_STAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_ASCII_WORD = re.compile(r"[a-z0-9]+")


# ---------------------------------------------------------------- a paper's terms


class PaperTerms:
    """A paper's FTS columns as stemmed tokens and token sets, read once for all queries.

    The columns and tokens are those of `bot.query.PaperText` (and so of `papers_fts`); positions, needed
    only for phrases, are worked out on first use.
    """

    __slots__ = ("_positions", "columns", "every", "paper", "sets")

    def __init__(self, paper: Paper) -> None:
        self.paper = paper
        texts = (
            paper.title,
            " ; ".join(paper.authors),
            " ; ".join(paper.ai_keywords),
            paper.summary,
            paper.ai_summary or "",
        )
        self.columns: dict[str, list[str]] = {
            name: _stems(text) for name, text in zip(ALL_COLUMNS, texts, strict=True)
        }
        self.sets: dict[str, set[str]] = {name: set(tokens) for name, tokens in self.columns.items()}
        self.every: set[str] = set().union(*self.sets.values())
        self._positions: dict[str, dict[str, list[int]]] = {}

    def positions(self, column: str) -> dict[str, list[int]]:
        """Where each stem occurs in a column."""
        found = self._positions.get(column)
        if found is None:
            found = {}
            for index, token in enumerate(self.columns[column]):
                found.setdefault(token, []).append(index)
            self._positions[column] = found
        return found

    def has_phrase(self, stems: tuple[str, ...], columns: Iterable[str]) -> bool:
        """Whether the stems occur consecutively in one of `columns`."""
        for column in columns:
            tokens = self.columns[column]
            length = len(stems)
            for start in self.positions(column).get(stems[0], ()):
                if tuple(tokens[start : start + length]) == stems:
                    return True
        return False


def _stems(text: str) -> list[str]:
    """The stemmed tokens of `text` as `bot.query.tokenize` reads them (ASCII text takes a faster path)."""
    if text.isascii():
        return list(map(stem, _ASCII_WORD.findall(text.lower())))
    return list(map(stem, fold_tokens(text)))


# ---------------------------------------------------------------- predicates compiled from the AST

Predicate: TypeAlias = Callable[[PaperTerms], bool]

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq, ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
}


def _single_column(term: Term) -> str | None:
    """The one column a fielded term searches; None for a term searching every column."""
    columns = term.columns
    return columns[0] if len(columns) == 1 else None


def _is_word(node: Node) -> bool:
    """A one-token term: matched by set membership alone."""
    return isinstance(node, Term) and len(node.tokens) == 1


def compile_predicate(node: Node) -> Predicate:
    """A function over PaperTerms that decides `node` exactly as `Query.matches` does."""
    if isinstance(node, Term):
        return _compile_term(node)
    if isinstance(node, Filter):
        return _compile_filter(node)
    if isinstance(node, Not):
        inner = compile_predicate(node.child)
        return lambda terms: not inner(terms)
    if isinstance(node, And):
        return _compile_and(node)
    return _compile_or(node)


def _compile_term(term: Term) -> Predicate:
    stems = term.stems
    column = _single_column(term)
    if len(stems) == 1:
        word = stems[0]
        if column is None:
            return lambda terms: word in terms.every
        return lambda terms: word in terms.sets[column]
    needed = frozenset(stems)
    columns = term.columns
    if column is None:
        return lambda terms: needed <= terms.every and terms.has_phrase(stems, columns)
    return lambda terms: needed <= terms.sets[column] and terms.has_phrase(stems, columns)


def _compile_filter(node: Filter) -> Predicate:
    value = node.value
    if node.field == "code":
        return lambda terms: terms.paper.has_code == value
    compare = _COMPARE[node.op]
    if node.field == "upvotes":
        return lambda terms: compare(terms.paper.upvotes, value)
    # A paper never featured on a day has no day: no day filter holds (NULL in SQL).
    return lambda terms: terms.paper.day is not None and compare(terms.paper.day, value)


def _words_by_column(children: Sequence[Node]) -> tuple[dict[str | None, frozenset[str]], list[Node]]:
    """One-token terms grouped by column (None: any column), and the other children."""
    words: dict[str | None, set[str]] = {}
    rest: list[Node] = []
    for child in children:
        if isinstance(child, Term) and _is_word(child):
            words.setdefault(_single_column(child), set()).add(child.stems[0])
        else:
            rest.append(child)
    return {column: frozenset(stems) for column, stems in words.items()}, rest


def _compile_and(node: And) -> Predicate:
    words, rest = _words_by_column(node.children)
    checks: list[Predicate] = []
    # Cheap and selective first: metadata filters, then word sets, then phrases and groups.
    checks.extend(compile_predicate(c) for c in rest if isinstance(c, Filter))
    for column, stems in words.items():
        checks.append(_all_words(column, stems))
    checks.extend(compile_predicate(c) for c in rest if not isinstance(c, Filter))
    return _all_of(checks)


def _all_words(column: str | None, stems: frozenset[str]) -> Predicate:
    if column is None:
        return lambda terms: stems <= terms.every
    return lambda terms: stems <= terms.sets[column]


def _all_of(checks: Sequence[Predicate]) -> Predicate:
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda terms: first(terms) and second(terms)
    if len(checks) == 3:
        first, second, third = checks
        return lambda terms: first(terms) and second(terms) and third(terms)
    frozen = tuple(checks)
    return lambda terms: all(check(terms) for check in frozen)


def _compile_or(node: Or) -> Predicate:
    words, rest = _words_by_column(node.children)
    checks: list[Predicate] = [_any_word(column, stems) for column, stems in words.items()]
    checks.extend(compile_predicate(c) for c in rest)
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda terms: first(terms) or second(terms)
    frozen = tuple(checks)
    return lambda terms: any(check(terms) for check in frozen)


def _any_word(column: str | None, stems: frozenset[str]) -> Predicate:
    if column is None:
        return lambda terms: not terms.every.isdisjoint(stems)
    return lambda terms: not terms.sets[column].isdisjoint(stems)


# ---------------------------------------------------------------- terms a query requires


def index_keys(node: Node, frequency: Callable[[str], float] = lambda _: 0.0) -> frozenset[Key] | None:
    """(column or None, stem) pairs of which every paper matching `node` has at least one; None if none.

    Like `Query.required_terms`, but where there is a choice (a phrase's words, the parts of an AND) it
    takes the rarest by `frequency` (how many papers hold a stem), so fewer papers reach the query.
    """
    if isinstance(node, Term):
        chosen = min(node.stems, key=lambda s: (frequency(s), -len(s), s))
        return frozenset({(_single_column(node), chosen)})
    if isinstance(node, Filter | Not):
        return None
    parts = [index_keys(child, frequency) for child in node.children]
    if isinstance(node, And):
        known = [p for p in parts if p is not None]
        if not known:
            return None
        return min(known, key=lambda p: (sum(frequency(s) for _, s in p), len(p), sorted(p, key=str)))
    if any(p is None for p in parts):
        return None
    return frozenset().union(*(p for p in parts if p is not None))


def depends_on_upvotes(query: Query) -> bool:
    """Whether a paper's upvotes can change the query's answer (it has an upvotes: filter)."""
    return any(f.field == "upvotes" for f in query.filters)


# ---------------------------------------------------------------- the matcher


@dataclass(slots=True)
class CompiledQuery:
    """One distinct query (by normalised text) and the subscriptions that hold it."""

    slot: int
    query: Query
    predicate: Predicate
    keys: frozenset[Key] | None
    upvotes: bool
    subscriptions: dict[int, Subscription] = field(default_factory=dict)


class _Index:
    """Postings from required terms to query slots, plus the slots with no required term."""

    def __init__(self) -> None:
        self.anywhere: dict[str, set[int]] = {}
        self.in_column: dict[str, dict[str, set[int]]] = {}
        self.unindexed: set[int] = set()

    def add(self, slot: int, keys: frozenset[Key] | None) -> None:
        if keys is None:
            self.unindexed.add(slot)
            return
        for column, word in keys:
            postings = self.anywhere if column is None else self.in_column.setdefault(column, {})
            postings.setdefault(word, set()).add(slot)

    def remove(self, slot: int, keys: frozenset[Key] | None) -> None:
        if keys is None:
            self.unindexed.discard(slot)
            return
        for column, word in keys:
            postings = self.anywhere if column is None else self.in_column.get(column, {})
            slots = postings.get(word)
            if slots is not None:
                slots.discard(slot)
                if not slots:
                    del postings[word]
            if column is not None and not postings:
                self.in_column.pop(column, None)

    def candidates(self, terms: PaperTerms) -> set[int]:
        """Slots of the queries this paper could match."""
        found = set(self.unindexed)
        anywhere = self.anywhere
        if len(anywhere) < len(terms.every):
            for word, slots in anywhere.items():
                if word in terms.every:
                    found |= slots
        else:
            for slots in map(anywhere.get, terms.every):
                if slots:
                    found |= slots
        for column, postings in self.in_column.items():
            for slots in map(postings.get, terms.sets[column]):
                if slots:
                    found |= slots
        return found

    def __len__(self) -> int:
        return len(self.unindexed) + sum(len(s) for s in self.anywhere.values()) + sum(
            len(s) for postings in self.in_column.values() for s in postings.values()
        )


class AlertMatcher:
    """Every subscription's query, compiled once and indexed by required terms.

    Not safe for concurrent use: callers serialise `sync`, `learn` and `match` (the alerts cog holds a lock).
    """

    def __init__(self) -> None:
        self._slots: list[CompiledQuery | None] = []
        self._by_text: dict[str, CompiledQuery] = {}
        self._slot_of_subscription: dict[int, int] = {}
        self._broken: dict[int, str] = {}
        self._everything = _Index()
        self._upvotes = _Index()
        self._frequency: Counter[str] = Counter()
        self._papers_seen = 0

    # ---- what the matcher holds

    def __len__(self) -> int:
        return len(self._slot_of_subscription)

    @property
    def distinct_queries(self) -> int:
        """How many different queries the subscriptions hold."""
        return len(self._by_text)

    @property
    def unindexed_queries(self) -> int:
        """Distinct queries checked against every paper because they require no term."""
        return len(self._everything.unindexed)

    @property
    def broken(self) -> dict[int, str]:
        """Subscriptions whose stored query no longer parses: id → the parser's complaint."""
        return dict(self._broken)

    # ---- term statistics

    def learn(self, papers: Iterable[Paper]) -> None:
        """Count which stems papers hold, so that queries are indexed under their rarer terms."""
        for paper in papers:
            self._frequency.update(PaperTerms(paper).every)
            self._papers_seen += 1

    def frequency(self, word: str) -> float:
        """The share of learned papers holding a stem (0 when nothing was learned)."""
        return self._frequency[word] / self._papers_seen if self._papers_seen else 0.0

    # ---- subscriptions

    def add(self, subscription: Subscription) -> bool:
        """Index a subscription; False if its query does not parse (it is then kept out)."""
        if subscription.id in self._slot_of_subscription or subscription.id in self._broken:
            return subscription.id in self._slot_of_subscription
        try:
            query = parse(subscription.query)
        except QueryError as exc:
            log.warning("subscription %s has a query that no longer parses: %s", subscription.id, exc.describe())
            self._broken[subscription.id] = exc.describe()
            return False
        text = query.normalized()
        compiled = self._by_text.get(text)
        if compiled is None:
            keys = index_keys(query.root, self.frequency)
            compiled = CompiledQuery(
                slot=len(self._slots), query=query, predicate=compile_predicate(query.root), keys=keys,
                upvotes=depends_on_upvotes(query),
            )
            self._slots.append(compiled)
            self._by_text[text] = compiled
            self._everything.add(compiled.slot, keys)
            if compiled.upvotes:
                self._upvotes.add(compiled.slot, keys)
        compiled.subscriptions[subscription.id] = subscription
        self._slot_of_subscription[subscription.id] = compiled.slot
        return True

    def remove(self, subscription_id: int) -> None:
        """Forget a subscription (and its query, once no subscription holds it)."""
        self._broken.pop(subscription_id, None)
        slot = self._slot_of_subscription.pop(subscription_id, None)
        if slot is None:
            return
        compiled = self._slots[slot]
        assert compiled is not None
        compiled.subscriptions.pop(subscription_id, None)
        if compiled.subscriptions:
            return
        self._everything.remove(slot, compiled.keys)
        if compiled.upvotes:
            self._upvotes.remove(slot, compiled.keys)
        del self._by_text[compiled.query.normalized()]
        self._slots[slot] = None

    def sync(self, subscriptions: Iterable[Subscription]) -> None:
        """Make the matcher hold exactly these subscriptions (adding and removing the difference)."""
        wanted = {s.id: s for s in subscriptions}
        for known in [i for i in (*self._slot_of_subscription, *self._broken) if i not in wanted]:
            self.remove(known)
        for subscription_id, subscription in wanted.items():
            if subscription_id not in self._slot_of_subscription and subscription_id not in self._broken:
                self.add(subscription)

    # ---- matching

    def match(self, new: Sequence[Paper], changed: Sequence[Paper] = ()) -> list[Match]:
        """(subscription, paper) pairs: new papers against every query, changed ones against upvote queries.

        A paper given as both new and changed counts as new; a paper given twice counts once (the last).
        """
        fresh = {paper.id: paper for paper in new}
        moved = {paper.id: paper for paper in changed if paper.id not in fresh}
        pairs: list[Match] = []
        for papers, index in ((fresh, self._everything), (moved, self._upvotes)):
            if not papers or not len(index):
                continue
            slots = self._slots
            for paper in papers.values():
                terms = PaperTerms(paper)
                for slot in sorted(index.candidates(terms)):
                    compiled = slots[slot]
                    if compiled is not None and compiled.predicate(terms):
                        pairs.extend(zip(compiled.subscriptions.values(), repeat(paper)))
        return pairs


def reference_matches(
    subscriptions: Iterable[Subscription], new: Sequence[Paper], changed: Sequence[Paper] = ()
) -> list[Match]:
    """What `AlertMatcher.match` must return, computed plainly: every subscription against every paper."""
    parsed: list[tuple[Subscription, Query]] = []
    for subscription in subscriptions:
        try:
            parsed.append((subscription, parse(subscription.query)))
        except QueryError:
            continue
    fresh = {paper.id: paper for paper in new}
    moved = {paper.id: paper for paper in changed if paper.id not in fresh}
    pairs: list[Match] = []
    for papers, upvotes_only in ((fresh, False), (moved, True)):
        for paper in papers.values():
            for subscription, query in parsed:
                if upvotes_only and not depends_on_upvotes(query):
                    continue
                if query.matches(paper):
                    pairs.append((subscription, paper))
    return pairs


# ---------------------------------------------------------------- planning one channel's post


@dataclass(frozen=True, slots=True)
class AlertBatch:
    """What one channel gets from one scrape: the papers listed and those over the hourly cap."""

    channel_id: int
    key: str
    listed: ChannelMatches
    over_cap: ChannelMatches
    more_query: str | None

    @property
    def paper_ids(self) -> list[str]:
        """Every paper this batch accounts for (listed or summed up in the 'more' line)."""
        return [paper.id for paper, _ in (*self.listed, *self.over_cap)]


def group_by_channel(pairs: Iterable[Match]) -> dict[int, ChannelMatches]:
    """Matches per channel: each paper once, with the subscriptions (by id) that matched it there."""
    grouped: dict[int, dict[str, tuple[Paper, dict[int, Subscription]]]] = {}
    for subscription, paper in pairs:
        papers = grouped.setdefault(subscription.channel_id, {})
        entry = papers.setdefault(paper.id, (paper, {}))
        entry[1][subscription.id] = subscription
    return {
        channel: [(paper, [subs[i] for i in sorted(subs)]) for paper, subs in papers.values()]
        for channel, papers in grouped.items()
    }


def stamp(moment: dt.datetime) -> str:
    """An instant as the fixed-width UTC text that starts every batch key (so keys sort by time)."""
    return moment.astimezone(dt.UTC).strftime(_STAMP_FORMAT)


def batch_key(channel_id: int, paper_ids: Iterable[str], at: dt.datetime) -> str:
    """The delivery key of one channel's batch: when it was made, then a digest of what it holds."""
    digest = hashlib.sha256(f"{channel_id}:{','.join(sorted(paper_ids))}".encode()).hexdigest()
    return f"{stamp(at)}/{digest[:16]}"


def window_start_key(now: dt.datetime) -> str:
    """The smallest batch key inside the hourly cap's window ending at `now`."""
    return stamp(now - CAP_WINDOW)


def more_query(over_cap: ChannelMatches) -> str | None:
    """A query for `/alerts test` that finds the papers over the cap: the OR of their subscriptions'
    queries when that is a valid query, else the query behind most of them."""
    counts: Counter[int] = Counter()
    by_id: dict[int, Subscription] = {}
    for _, subscriptions in over_cap:
        for subscription in subscriptions:
            counts[subscription.id] += 1
            by_id[subscription.id] = subscription
    if not counts:
        return None
    ranked = [by_id[i] for i, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]
    texts = list(dict.fromkeys(s.query.strip() for s in ranked))
    if len(texts) > 1:
        combined = " OR ".join(f"({text})" for text in texts)
        if len(combined) <= MAX_QUERY_LENGTH:
            try:
                parse(combined)
            except QueryError:
                pass
            else:
                return combined
    return texts[0]


def plan_batch(
    channel_id: int,
    matches: ChannelMatches,
    *,
    already_alerted: Iterable[str],
    in_digest: Iterable[str],
    sent_this_hour: int,
    hourly_cap: int,
    now: dt.datetime,
) -> AlertBatch | None:
    """One channel's post: papers not alerted there before (nor left to its digest), most upvoted first,
    as many as the hourly cap still allows, the rest summed up. None when nothing is left to post."""
    seen = set(already_alerted)
    digested = set(in_digest)
    kept: ChannelMatches = []
    for paper, subscriptions in matches:
        if paper.id in seen:
            continue
        if paper.id in digested and all(s.skip_digest_papers for s in subscriptions):
            continue
        kept.append((paper, subscriptions))
    if not kept:
        return None
    kept.sort(key=lambda match: (-match[0].upvotes, match[0].id))
    room = max(0, hourly_cap - sent_this_hour)
    listed, over_cap = kept[:room], kept[room:]
    key = batch_key(channel_id, (paper.id for paper, _ in kept), now)
    return AlertBatch(channel_id, key, listed, over_cap, more_query(over_cap))


def papers_in_digest(papers: Iterable[Paper], digest_payloads: Mapping[str, Sequence[str]]) -> set[str]:
    """Ids of papers whose page link appears in one of the digest payloads posted on their days.

    `digest_payloads` maps a paper id to the stored payload texts of the channel's sent digests of the
    days that paper was featured on.
    """
    found: set[str] = set()
    for paper in papers:
        link = re.compile(re.escape(paper.url) + r"(?![0-9A-Za-z.])")
        if any(link.search(text) for text in digest_payloads.get(paper.id, ())):
            found.add(paper.id)
    return found
