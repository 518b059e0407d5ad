"""Keyword alerts: match new papers against every channel's standing queries, at scale, and plan the posts.

The matcher compiles each distinct query once (channels often share one) and indexes it under terms it
requires: a paper holding none of them never looks at it. A term is a stem, or an adjacent pair of stems
("mixture experts" style keys make a two-word phrase one lookup). Where a query offers a choice (the parts
of an AND, the words of a phrase) the rarest term is taken, by counts over papers seen before. With each
key goes what is left to check once a paper holds it, often nothing ("diffusion"), or a set test over
the paper's terms ("agent -survey": survey absent): these are grouped by word in the key's bucket and
decided with set operations, so a paper costs a few dozen bucket visits rather than one call per query.
Queries with no required term (filters alone, exclusions alone) are checked against every paper.

`ReferenceMatcher` is the plain definition (`Query.matches` for every subscription and paper); the
indexed matcher must agree with it exactly (tests check this on random corpora and queries).

New papers are checked against every query. Papers whose upvotes changed are checked only against queries
with an `upvotes:` filter, the only ones whose answer can change with upvotes, so a paper crossing a
threshold fires then. A paper goes to a channel at most once (the delivery records see to that), so a
threshold crossed once fires once.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import hashlib
import json
import logging
import operator
import re
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain, islice
from typing import Any, Protocol, TypeAlias

from bot.errors import UserError
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
    PaperText,
    Query,
    QueryError,
    Term,
    fold_tokens,
    parse,
    stem,
)
from bot.sources.huggingface import parse_paper_ref
from bot.store import Store
from bot.store.search import SearchSpec

log = logging.getLogger(__name__)

Key: TypeAlias = tuple[Column, str]  # (FTS column or None for any column, stem or "stem stem")
Match: TypeAlias = tuple[Subscription, Paper]
ChannelMatches: TypeAlias = list[tuple[Paper, list[Subscription]]]

ALERT_KIND = "alert"
BATCH_KIND = "alert_batch"
CAP_WINDOW = dt.timedelta(hours=1)
BACKTEST_LIMIT = 1000
LEARN_LIMIT = 4000  # papers whose terms the matcher's counts reflect, roughly
_STAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_ASCII_WORD = re.compile(r"[a-z0-9]+")


# ---------------------------------------------------------------- a paper's terms


class PaperTerms:
    """A paper's FTS columns as stemmed tokens and term sets, read once for all queries.

    The columns and tokens are those of `bot.query.PaperText` (and so of `papers_fts`). A column's set holds
    its stems and its adjacent pairs of stems written "a b" (a stem never holds a space), so that two-word
    phrases are looked up like words; positions, needed only for longer phrases, are worked out on first use.
    """

    __slots__ = ("_joined", "columns", "every", "paper", "sets")

    def __init__(self, paper: Paper) -> None:
        self.paper = paper
        texts = (
            paper.title,
            " ; ".join(paper.authors),
            " ; ".join(paper.ai_keywords),
            paper.summary,
            paper.ai_summary or "",
        )
        self.columns: dict[str, list[str]] = {}
        self.sets: dict[str, set[str]] = {}
        for name, text in zip(ALL_COLUMNS, texts, strict=True):
            tokens = _stems(text)
            terms = set(tokens)
            terms.update(map(" ".join, zip(tokens, islice(tokens, 1, None), strict=False)))
            self.columns[name] = tokens
            self.sets[name] = terms
        self.every: set[str] = set().union(*self.sets.values())
        self._joined: dict[str, str] = {}

    def has_phrase(self, stems: tuple[str, ...], columns: Iterable[str]) -> bool:
        """Whether the stems occur consecutively in one of `columns`."""
        # Stems hold no spaces, so in the column's stems joined by single spaces (and padded) the phrase
        # occurs exactly where its stems are consecutive.
        needle = " " + " ".join(stems) + " "
        for column in columns:
            joined = self._joined.get(column)
            if joined is None:
                joined = self._joined[column] = " " + " ".join(self.columns[column]) + " "
            if needle in joined:
                return True
        return False


def term_keys(term: Term) -> tuple[str, ...]:
    """What PaperTerms sets hold for a term: its stem, or the adjacent pairs "a b" of a phrase's stems."""
    stems = term.stems
    if len(stems) == 1:
        return stems
    return tuple(f"{a} {b}" for a, b in zip(stems, stems[1:], strict=False))


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
    """A term decided by one set lookup: a word or a two-word phrase."""
    return isinstance(node, Term) and len(node.tokens) <= 2


def compile_predicate(node: Node) -> Predicate:
    """A function over PaperTerms that decides `node` exactly as `Query.matches` does."""
    if isinstance(node, Term):
        return _compile_term(node)
    if isinstance(node, Filter):
        return _compile_filter(node)
    if isinstance(node, Not):
        return _compile_not(node)
    if isinstance(node, And):
        return _compile_and(node)
    return _compile_or(node)


def _compile_not(node: Not) -> Predicate:
    child = node.child
    if _is_word(child) or (isinstance(child, Or) and all(_is_word(c) for c in child.children)):
        # not (a or b ...) over one-lookup terms: none of their keys present.
        words, _ = _words_by_column(child.children if isinstance(child, Or) else (child,))
        return _all_of([_no_words(column, keys) for column, keys in words.items()])
    inner = compile_predicate(child)
    return lambda terms: not inner(terms)


def _compile_term(term: Term) -> Predicate:
    column = _single_column(term)
    keys = term_keys(term)
    if len(keys) == 1:  # a word or a two-word phrase: one lookup
        key = keys[0]
        if column is None:
            return lambda terms: key in terms.every
        return lambda terms: key in terms.sets[column]
    # Every adjacent pair present is necessary, not sufficient: confirm the positions.
    needed = frozenset(keys)
    stems = term.stems
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
    """Terms decided by one lookup, their keys grouped by column (None: any column); and the other children."""
    words: dict[str | None, set[str]] = {}
    rest: list[Node] = []
    for child in children:
        if isinstance(child, Term) and _is_word(child):
            words.setdefault(_single_column(child), set()).add(term_keys(child)[0])
        else:
            rest.append(child)
    return {column: frozenset(stems) for column, stems in words.items()}, rest


def _compile_and(node: And) -> Predicate:
    words, others = _words_by_column(node.children)
    negated = [c.child for c in others if isinstance(c, Not) and _is_word(c.child)]
    rest = [c for c in others if not (isinstance(c, Not) and _is_word(c.child))]
    excluded, _ = _words_by_column(negated)
    checks: list[Predicate] = []
    # Cheap and selective first: metadata filters, then word sets, then phrases and groups.
    checks.extend(compile_predicate(c) for c in rest if isinstance(c, Filter))
    checks.extend(_all_words(column, keys) for column, keys in words.items())
    checks.extend(_no_words(column, keys) for column, keys in excluded.items())
    checks.extend(compile_predicate(c) for c in rest if not isinstance(c, Filter))
    return _all_of(checks)


def _no_words(column: str | None, keys: frozenset[str]) -> Predicate:
    if len(keys) == 1:
        (key,) = keys
        if column is None:
            return lambda terms: key not in terms.every
        return lambda terms: key not in terms.sets[column]
    if column is None:
        return lambda terms: terms.every.isdisjoint(keys)
    return lambda terms: terms.sets[column].isdisjoint(keys)


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


Plan: TypeAlias = dict[Key, Node | None]


def index_plan(node: Node, frequency: Callable[[str], float] = lambda _: 0.0) -> Plan | None:
    """Keys of which every paper matching `node` holds at least one, each with what is left to check once
    a paper is known to hold it (None: nothing, the paper matches); None when no such keys exist.

    A key is (column or None for any column, term), a term being a stem or an adjacent pair "a b" (see
    PaperTerms). Like `Query.required_terms`, but a phrase is keyed by a pair of its words, and where
    there is a choice (a phrase's pairs, the parts of an AND) the rarest by `frequency` (the share of
    papers holding a term) is taken, so that fewer papers reach the query.
    """
    if isinstance(node, Term):
        keys = term_keys(node)
        rarest = min(keys, key=lambda k: (frequency(k), -len(k), k))
        return {(_single_column(node), rarest): None if len(keys) == 1 else node}
    if isinstance(node, Filter | Not):
        return None
    plans = [index_plan(child, frequency) for child in node.children]
    if isinstance(node, And):
        options = [(plan, child) for plan, child in zip(plans, node.children, strict=True) if plan is not None]
        if not options:
            return None
        plan, chosen = min(options, key=lambda option: _cost(option[0], frequency))
        others = [child for child in node.children if child is not chosen]
        return {key: _conjunction([rest, *others]) for key, rest in plan.items()}
    if any(plan is None for plan in plans):
        return None
    merged: dict[Key, list[Node | None]] = {}
    for part in plans:
        for key, rest in (part or {}).items():
            merged.setdefault(key, []).append(rest)
    # A key shared by several parts of an OR leaves the OR of what each part leaves (nothing if one does).
    return {
        key: None if any(r is None for r in rests) else _disjunction([r for r in rests if r is not None])
        for key, rests in merged.items()
    }


def _conjunction(parts: Sequence[Node | None]) -> Node | None:
    kept = [p for p in parts if p is not None]
    if not kept:
        return None
    return kept[0] if len(kept) == 1 else And(tuple(kept))


def _disjunction(parts: Sequence[Node]) -> Node:
    return parts[0] if len(parts) == 1 else Or(tuple(parts))


def _cost(plan: Plan, frequency: Callable[[str], float]) -> tuple[float, int, list[str]]:
    """How many papers a plan's keys let through, roughly; smaller is better (ties broken stably)."""
    return sum(frequency(term) for _, term in plan), len(plan), sorted(map(str, plan))


def index_keys(node: Node, frequency: Callable[[str], float] = lambda _: 0.0) -> frozenset[Key] | None:
    """The keys of `index_plan`: every paper matching `node` holds one of them (None: no such set)."""
    plan = index_plan(node, frequency)
    return None if plan is None else frozenset(plan)


def depends_on_upvotes(query: Query) -> bool:
    """Whether a paper's upvotes can change the query's answer (it has an upvotes: filter)."""
    return any(f.field == "upvotes" for f in query.filters)


# ---------------------------------------------------------------- the matcher


@dataclass(slots=True, eq=False)
class CompiledQuery:
    """One distinct query (by normalised text) and the subscriptions that hold it (hashed by identity)."""

    query: Query
    plan: Plan | None
    upvotes: bool
    subscriptions: dict[int, Subscription] = field(default_factory=dict)
    members: tuple[Subscription, ...] = ()  # `subscriptions` as of the last match

    def refresh(self) -> None:
        """Take a snapshot of the subscriptions for the results to hold."""
        self.members = tuple(self.subscriptions.values())


class _Bucket:
    """The queries indexed under one key, sorted by what is left to check once the key is present.

    Most queries leave a set test over all of a paper's terms: one of some words present, a word absent,
    all of some words present, none present. Those are grouped by word, so that a paper's terms pick
    them out with set operations. The other checks are compiled once per distinct check in the bucket
    (many queries share a filter such as upvotes:>=50) and called once per paper.
    """

    __slots__ = ("absent_any", "all_of", "none_of", "other", "sure", "when_absent", "when_present")

    def __init__(self) -> None:
        self.sure: set[CompiledQuery] = set()
        self.when_present: dict[str, set[CompiledQuery]] = {}  # match if the word is present
        self.when_absent: dict[str, set[CompiledQuery]] = {}  # match if the word is absent
        self.absent_any: set[CompiledQuery] = set()  # every query of `when_absent`
        self.all_of: list[tuple[frozenset[str], CompiledQuery]] = []
        self.none_of: list[tuple[frozenset[str], CompiledQuery]] = []
        self.other: dict[Node, tuple[Predicate, set[CompiledQuery]]] = {}

    def add(self, query: CompiledQuery, rest: Node | None) -> None:
        if rest is None:
            self.sure.add(query)
            return
        shape, words = _shape(rest)
        if shape == "any":
            for word in words:
                self.when_present.setdefault(word, set()).add(query)
        elif shape == "none" and len(words) == 1:
            self.when_absent.setdefault(next(iter(words)), set()).add(query)
            self.absent_any.add(query)
        elif shape == "none":
            self.none_of.append((words, query))
        elif shape == "all":
            self.all_of.append((words, query))
        else:
            check = self.other.get(rest)
            if check is None:
                check = self.other[rest] = (compile_predicate(rest), set())
            check[1].add(query)

    def remove(self, query: CompiledQuery) -> None:
        self.sure.discard(query)
        self.absent_any.discard(query)
        for by_word in (self.when_present, self.when_absent):
            for word in [w for w, queries in by_word.items() if query in queries]:
                by_word[word].discard(query)
                if not by_word[word]:
                    del by_word[word]
        self.all_of = [e for e in self.all_of if e[1] is not query]
        self.none_of = [e for e in self.none_of if e[1] is not query]
        for rest in [r for r, (_, queries) in self.other.items() if query in queries]:
            self.other[rest][1].discard(query)
            if not self.other[rest][1]:
                del self.other[rest]

    def __len__(self) -> int:
        return (
            len(self.sure) + sum(map(len, self.when_present.values())) + len(self.absent_any)
            + len(self.all_of) + len(self.none_of) + sum(len(queries) for _, queries in self.other.values())
        )

    def collect(self, terms: PaperTerms, found: set[CompiledQuery]) -> None:
        """Add to `found` the queries of this bucket that the paper (which holds the bucket's key) matches."""
        every = terms.every
        found |= self.sure
        if self.when_present:
            when_present = self.when_present
            for word in when_present.keys() & every:
                found |= when_present[word]
        if self.absent_any:
            # Few of the excluded words are ever present: take all, less those whose word is.
            present = self.when_absent.keys() & every
            if present:
                found |= self.absent_any.difference(*(self.when_absent[word] for word in present))
            else:
                found |= self.absent_any
        if self.all_of:
            found.update([query for words, query in self.all_of if words <= every])
        if self.none_of:
            found.update([query for words, query in self.none_of if every.isdisjoint(words)])
        for check, queries in self.other.values():
            if check(terms):
                found |= queries


def _shape(rest: Node) -> tuple[str, frozenset[str]]:
    """What is left to check, when it is a set test over all of a paper's terms: "any" (one of the terms
    present), "all" (all present) or "none" (none present), with the terms; else ("other", ∅)."""

    def anywhere(nodes: Sequence[Node]) -> frozenset[str] | None:
        keys = [term_keys(n)[0] for n in nodes if isinstance(n, Term) and _is_word(n) and _single_column(n) is None]
        return frozenset(keys) if len(keys) == len(nodes) else None

    if isinstance(rest, Term) and (words := anywhere([rest])) is not None:
        return "any", words
    if isinstance(rest, Or) and (words := anywhere(rest.children)) is not None:
        return "any", words
    if isinstance(rest, Not):
        child = rest.child
        if (words := anywhere(child.children if isinstance(child, Or) else [child])) is not None:
            return "none", words
    if isinstance(rest, And) and (words := anywhere(rest.children)) is not None:
        return "all", words
    return "other", frozenset()


class _Index:
    """Which queries a paper reaches: each query sits in the bucket of each of its keys (a query with
    several keys, an OR, in several buckets: a paper holding two of them reaches it twice, counted once);
    queries without required terms (filters alone, exclusions alone) are checked against every paper."""

    def __init__(self) -> None:
        self.buckets: dict[str, _Bucket] = {}
        self.column_buckets: dict[str, dict[str, _Bucket]] = {}
        self.unindexed: dict[CompiledQuery, Predicate] = {}

    def add(self, query: CompiledQuery) -> None:
        if query.plan is None:
            self.unindexed[query] = compile_predicate(query.query.root)
            return
        for (column, key), rest in query.plan.items():
            buckets = self.buckets if column is None else self.column_buckets.setdefault(column, {})
            buckets.setdefault(key, _Bucket()).add(query, rest)

    def remove(self, query: CompiledQuery) -> None:
        if query.plan is None:
            self.unindexed.pop(query, None)
            return
        for column, key in query.plan:
            buckets = self.buckets if column is None else self.column_buckets.get(column, {})
            bucket = buckets.get(key)
            if bucket is not None:
                bucket.remove(query)
                if not len(bucket):
                    del buckets[key]
            if column is not None and not buckets:
                self.column_buckets.pop(column, None)

    def matching(self, terms: PaperTerms) -> set[CompiledQuery]:
        """The queries the paper matches."""
        found = {query for query, check in self.unindexed.items() if check(terms)}
        buckets = self.buckets
        # The intersection runs over the smaller side, in C: a paper reaches a few dozen buckets.
        for key in buckets.keys() & terms.every:
            buckets[key].collect(terms, found)
        for column, in_column in self.column_buckets.items():
            for key in in_column.keys() & terms.sets[column]:
                in_column[key].collect(terms, found)
        return found

    def __len__(self) -> int:
        return (
            len(self.unindexed) + sum(map(len, self.buckets.values()))
            + sum(len(b) for buckets in self.column_buckets.values() for b in buckets.values())
        )


class Group(Protocol):
    """Subscriptions that share one query."""

    @property
    def members(self) -> tuple[Subscription, ...]:
        """The subscriptions."""
        ...


@dataclass(frozen=True, slots=True)
class SubscriptionGroup:
    """A plain Group."""

    members: tuple[Subscription, ...]


@dataclass(frozen=True, slots=True)
class PaperMatches:
    """One paper and the groups of subscriptions (one group per matching query) it matched.

    The indexed matcher hands out its live query groups, so that a result costs nothing per subscription
    until it is read: read a result before the matcher's next `sync` or `match`.
    """

    paper: Paper
    matched: Collection[Group]
    changed: bool = False  # matched because its upvotes moved (against queries with an upvotes filter)

    @property
    def groups(self) -> list[tuple[Subscription, ...]]:
        """The matching subscriptions, one tuple per query."""
        return [group.members for group in self.matched]

    @property
    def subscriptions(self) -> list[Subscription]:
        """Every matching subscription (each once)."""
        return list(chain.from_iterable(self.groups))

    def __len__(self) -> int:
        return sum(len(group.members) for group in self.matched)


def pairs_of(matches: Iterable[PaperMatches]) -> Iterator[Match]:
    """The (subscription, paper) pairs of grouped matches."""
    for match in matches:
        for group in match.groups:
            for subscription in group:
                yield subscription, match.paper


class AlertMatcher:
    """Every subscription's query, compiled once and indexed by required terms.

    Not safe for concurrent use: callers serialise `sync`, `learn` and `match` (the alerts cog holds a lock).
    """

    def __init__(self) -> None:
        self._by_text: dict[str, CompiledQuery] = {}
        self._query_of_subscription: dict[int, CompiledQuery] = {}
        self._changed: set[CompiledQuery] = set()
        self._broken: dict[int, str] = {}
        self._everything = _Index()
        self._upvotes = _Index()
        self._frequency: Counter[str] = Counter()
        self._papers_seen = 0

    # ---- what the matcher holds

    def __len__(self) -> int:
        return len(self._query_of_subscription)

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
        """Count which terms papers hold, so that queries are indexed under their rarer terms.

        Older counts fade: past LEARN_LIMIT papers all counts are halved, which keeps the table to the
        terms of recent papers (rare pairs of words would otherwise pile up for ever).
        """
        for paper in papers:
            self._frequency.update(PaperTerms(paper).every)
            self._papers_seen += 1
            if self._papers_seen >= LEARN_LIMIT:
                self._frequency = Counter({t: n // 2 for t, n in self._frequency.items() if n > 1})
                self._papers_seen //= 2

    def frequency(self, term: str) -> float:
        """The share of learned papers holding a term (0 when nothing was learned)."""
        return self._frequency[term] / self._papers_seen if self._papers_seen else 0.0

    # ---- subscriptions

    def add(self, subscription: Subscription) -> bool:
        """Index a subscription; False if its query does not parse (it is then kept out)."""
        if subscription.id in self._query_of_subscription or subscription.id in self._broken:
            return subscription.id in self._query_of_subscription
        try:
            query = parse(subscription.query)
        except QueryError as exc:
            log.warning("subscription %s has a query that no longer parses: %s", subscription.id, exc.describe())
            self._broken[subscription.id] = exc.describe()
            return False
        text = query.normalized()
        compiled = self._by_text.get(text)
        if compiled is None:
            compiled = CompiledQuery(query, index_plan(query.root, self.frequency), depends_on_upvotes(query))
            self._by_text[text] = compiled
            self._everything.add(compiled)
            if compiled.upvotes:
                self._upvotes.add(compiled)
        compiled.subscriptions[subscription.id] = subscription
        self._changed.add(compiled)
        self._query_of_subscription[subscription.id] = compiled
        return True

    def remove(self, subscription_id: int) -> None:
        """Forget a subscription (and its query, once no subscription holds it)."""
        self._broken.pop(subscription_id, None)
        compiled = self._query_of_subscription.pop(subscription_id, None)
        if compiled is None:
            return
        compiled.subscriptions.pop(subscription_id, None)
        self._changed.add(compiled)
        if compiled.subscriptions:
            return
        self._everything.remove(compiled)
        if compiled.upvotes:
            self._upvotes.remove(compiled)
        del self._by_text[compiled.query.normalized()]

    def sync(self, subscriptions: Iterable[Subscription]) -> None:
        """Make the matcher hold exactly these subscriptions (adding and removing the difference)."""
        wanted = {s.id: s for s in subscriptions}
        for known in [i for i in (*self._query_of_subscription, *self._broken) if i not in wanted]:
            self.remove(known)
        for subscription_id, subscription in wanted.items():
            if subscription_id not in self._query_of_subscription and subscription_id not in self._broken:
                self.add(subscription)

    # ---- matching

    def match(self, new: Sequence[Paper], changed: Sequence[Paper] = ()) -> list[PaperMatches]:
        """Each paper with the subscriptions it matches: new papers against every query, changed ones
        (upvotes moved) against the queries with an upvotes filter. Papers matching nothing are left out.

        A paper given as both new and changed is matched both ways (see PaperMatches.changed); a paper
        given twice in one list counts once (the last).
        """
        for compiled in self._changed:
            compiled.refresh()
        self._changed.clear()
        fresh = {paper.id: paper for paper in new}
        moved = {paper.id: paper for paper in changed}
        results: list[PaperMatches] = []
        # The loop allocates many short-lived containers and no cycles: collecting meanwhile only costs.
        collecting = gc.isenabled()
        gc.disable()
        try:
            for papers, index, upvotes_moved in ((fresh, self._everything, False), (moved, self._upvotes, True)):
                if not papers or not len(index):
                    continue
                for paper in papers.values():
                    matched = index.matching(PaperTerms(paper))
                    if matched:
                        results.append(PaperMatches(paper, matched, upvotes_moved))
        finally:
            if collecting:
                gc.enable()
        return results


class ReferenceMatcher:
    """The plain definition `AlertMatcher` must agree with: every subscription against every paper."""

    def __init__(self, subscriptions: Iterable[Subscription]) -> None:
        self.parsed: list[tuple[Subscription, Query, bool]] = []
        for subscription in subscriptions:
            try:
                query = parse(subscription.query)
            except QueryError:
                continue
            self.parsed.append((subscription, query, depends_on_upvotes(query)))

    def match(self, new: Sequence[Paper], changed: Sequence[Paper] = ()) -> list[PaperMatches]:
        """Same contract as AlertMatcher.match, decided by `Query.matches` for each pair."""
        fresh = {paper.id: paper for paper in new}
        moved = {paper.id: paper for paper in changed}
        results: list[PaperMatches] = []
        for papers, upvotes_only in ((fresh, False), (moved, True)):
            for paper in papers.values():
                text = PaperText.of(paper)
                matched = [
                    subscription
                    for subscription, query, upvotes in self.parsed
                    if (upvotes or not upvotes_only) and query.matches(text)
                ]
                if matched:
                    results.append(PaperMatches(paper, [SubscriptionGroup(tuple(matched))], upvotes_only))
        return results


def reference_matches(
    subscriptions: Iterable[Subscription], new: Sequence[Paper], changed: Sequence[Paper] = ()
) -> list[PaperMatches]:
    """What `AlertMatcher.match` must return, computed by ReferenceMatcher."""
    return ReferenceMatcher(subscriptions).match(new, changed)


# ---------------------------------------------------------------- which papers are news


CURSOR_KEY = "alerts_listed_cursor"  # meta key of the ListingCursor
CURSOR_OVERLAP = dt.timedelta(minutes=2)


@dataclass(frozen=True, slots=True)
class ListingCursor:
    """How far the alerts have looked: the first-listing instant of the newest paper looked at, and the
    papers looked at whose listing falls within CURSOR_OVERLAP before it.

    The next pass reads again from `at` less the overlap, because a scrape stamps its rows just before it
    writes them: one that ran alongside another can commit rows stamped before `at`. Papers in `seen`
    are not looked at twice.
    """

    at: str = ""  # a stored instant (ISO text); "" before any listing
    seen: frozenset[str] = frozenset()

    @property
    def reread_from(self) -> str:
        """Where the next pass starts reading."""
        if not self.at:
            return ""
        return (dt.datetime.fromisoformat(self.at) - CURSOR_OVERLAP).isoformat(timespec="seconds")

    def advance(self, looked_at: Iterable[tuple[str, str]]) -> ListingCursor:
        """The cursor after a pass read these (first listed, paper id) rows."""
        rows = list(looked_at)
        at = max([self.at, *(first for first, _ in rows)])
        floor = ListingCursor(at).reread_from
        seen = {paper_id for first, paper_id in rows if first >= floor}
        if at == self.at:  # the window did not move: what was seen in it still counts
            seen |= self.seen
        return ListingCursor(at, frozenset(seen))

    def to_text(self) -> str:
        """The cursor as stored."""
        return json.dumps({"at": self.at, "seen": sorted(self.seen)})

    @classmethod
    def from_text(cls, text: str) -> ListingCursor:
        """A stored cursor."""
        data = json.loads(text)
        return cls(str(data.get("at", "")), frozenset(map(str, data.get("seen", ()))))


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


def group_by_channel(
    matches: Iterable[PaperMatches], listed_at: Mapping[str, dt.datetime] | None = None
) -> dict[int, ChannelMatches]:
    """Matches per channel: each paper once, with the subscriptions (by id) that matched it there.

    `listed_at` gives when new papers were first listed: such a paper is not news to a subscription
    created after that (unless matched because its upvotes moved); adding an alert shows the recent
    matches instead. Both instants are stored to the second; in a tie the paper counts as news, so that
    nothing listed after an alert is missed.
    """
    grouped: dict[int, dict[str, tuple[Paper, dict[int, Subscription]]]] = {}
    listed_at = listed_at or {}
    for match in matches:
        paper = match.paper
        listed = None if match.changed else listed_at.get(paper.id)
        for group in match.groups:
            for subscription in group:
                if listed is not None and subscription.created_at > listed:
                    continue
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


# ---------------------------------------------------------------- checking and trying a query


def check_alert_query(text: str) -> Query:
    """The parsed query of a would-be alert; raises UserError saying what is wrong and how to fix it."""
    if parse_paper_ref(text) is not None:
        raise UserError(
            "That is one paper's id or link, not a query: alerts watch for new papers whose text matches "
            "words, like `diffusion video` or `author:\"Tri Dao\"`. To see one paper, use /paper show "
            "(or paperboy show)."
        )
    try:
        return parse(text)
    except QueryError as exc:
        raise UserError(f"That query does not parse: {exc.describe()}.") from exc


@dataclass(frozen=True, slots=True)
class Backtest:
    """The cached papers a query matches over the last days: the newest `papers`, and how many in all."""

    query: str
    days: int
    since: dt.date
    papers: tuple[Paper, ...]
    total: int


async def backtest(
    store: Store, query_text: str, *, days: int, today: dt.date, limit: int = BACKTEST_LIMIT
) -> Backtest:
    """The cached papers of the last `days` days (today included) that a query matches, newest first.

    The query runs in SQL through its FTS5 form, which agrees with the predicate the alerts use, with the
    days as one more filter.
    """
    query = check_alert_query(query_text)
    since = today - dt.timedelta(days=max(1, days) - 1)
    parts = query.root.children if isinstance(query.root, And) else (query.root,)
    windowed = dataclasses.replace(query, root=And((*parts, Filter("day", ">=", since))))
    compiled = windowed.fts()
    spec = SearchSpec(
        match=compiled.match, exclude=compiled.exclude, filters=compiled.filters, sort="new", limit=limit
    )
    papers = await store.search_page(spec)
    total = await store.search_count(spec)
    return Backtest(query_text, days, since, tuple(papers), total)
