"""The indexed matcher: every subscription's query compiled once and filed under the terms it requires."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Protocol, TypeAlias

from bot.alerts._planning import Plan, depends_on_upvotes, index_plan
from bot.alerts._predicates import PaperTerms, Predicate, compile_predicate, is_word, single_column, term_keys
from bot.models import Paper, Subscription
from bot.query import And, Node, Not, Or, PaperText, Query, QueryError, Term, parse

log = logging.getLogger(__name__)

Match: TypeAlias = tuple[Subscription, Paper]
LEARN_LIMIT = 4000  # papers whose terms the matcher's counts reflect, roughly
PAUSE_EVERY = 50  # papers matched between calls of `match`'s pause (a few milliseconds of work)


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
            len(self.sure)
            + sum(map(len, self.when_present.values()))
            + len(self.absent_any)
            + len(self.all_of)
            + len(self.none_of)
            + sum(len(queries) for _, queries in self.other.values())
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
        keys = [term_keys(n)[0] for n in nodes if isinstance(n, Term) and is_word(n) and single_column(n) is None]
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
            len(self.unindexed)
            + sum(map(len, self.buckets.values()))
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
            self._learn_terms(PaperTerms(paper).every)

    def _learn_terms(self, terms: Iterable[str]) -> None:
        self._frequency.update(terms)
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

    def match(
        self,
        new: Sequence[Paper],
        changed: Sequence[Paper] = (),
        *,
        learn: bool = False,
        pause: Callable[[], object] | None = None,
    ) -> list[PaperMatches]:
        """Each paper with the subscriptions it matches: new papers against every query, changed ones
        (upvotes moved) against the queries with an upvotes filter. Papers matching nothing are left out.

        A paper given as both new and changed is matched both ways (see PaperMatches.changed); a paper
        given twice in one list counts once (the last). With `learn`, the new papers are also learned, as
        `learn(new)` would (each as it is matched, reading its terms once for both; matching reads no
        counts). `pause`, if given, is called every PAUSE_EVERY papers: background work lets interactive
        work run there.
        """
        for compiled in self._changed:
            compiled.refresh()
        self._changed.clear()
        fresh = {paper.id: paper for paper in new}
        moved = {paper.id: paper for paper in changed}
        results: list[PaperMatches] = []
        # Each paper's terms are learned as soon as it is matched and then dropped. A page of thousands of
        # papers' term sets kept to the end outlived the young garbage collections and set off full ones,
        # and freeing them at once was one chain of deallocations: both hold the interpreter, and so the
        # event loop's thread, for up to a few hundred milliseconds.
        learned: set[int] = set()  # the paper objects learned so, by identity
        done = 0
        for papers, index, upvotes_moved in ((fresh, self._everything, False), (moved, self._upvotes, True)):
            # Counted once: an index counts its queries bucket by bucket, thousands of them.
            indexed = len(index) > 0
            if not papers or not (indexed or (learn and not upvotes_moved)):
                continue
            for paper in papers.values():
                terms = PaperTerms(paper)
                if learn and not upvotes_moved:
                    self._learn_terms(terms.every)
                    learned.add(id(paper))
                if indexed:
                    matched = index.matching(terms)
                    if matched:
                        results.append(PaperMatches(paper, matched, upvotes_moved))
                done += 1
                if pause is not None and done % PAUSE_EVERY == 0:
                    pause()
        if learn:
            # A paper given more than once is learned once per time given, as `learn(new)` would.
            for paper in new:
                if id(paper) in learned:
                    learned.discard(id(paper))
                else:
                    self._learn_terms(PaperTerms(paper).every)
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
