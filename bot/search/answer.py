"""One search's answer: full-text matches ranked, titles like the text typed, and the page they make.

Ranking: papers whose title holds the query's words adjacent and in order come first, then bm25 over the
columns (title > authors > keywords > abstract), ties broken by upvotes then recency. Two bounds keep a
search quick however large the cache grows. bm25 weighs each word by reading every paper that holds it,
so a query with a word held by more than DENSE_WINDOW papers is ranked by how many of its words a title
holds, then upvotes, then recency instead. And a query matching more than DENSE_WINDOW papers
(FILTERED_WINDOW with filters) is ranked within that many of its most recently stored matches (its total
is then a lower bound), plus the older ones whose title holds the words as a phrase.

A query typed like a title (plain words, three or more) or one that finds almost nothing is also looked
up in the title-only index, which forgives typos and missing words: titles that match closely go first,
looser ones follow the full-text results.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import sqlite3
from collections.abc import Iterator

from rapidfuzz import fuzz

from bot.models import Paper
from bot.query import And, Node, Not, Or, Query, Term, leaves, stem
from bot.query.columns import BM25_WEIGHTS
from bot.search import titles
from bot.search.results import SearchResults, Sort
from bot.search.title_vocab import TitleWords
from bot.search.titles import title_key
from bot.store import search_read
from bot.store.search import Hit, SearchSpec

log = logging.getLogger(__name__)

COLUMN_WEIGHTS = BM25_WEIGHTS  # bm25 weights of papers_fts columns, in column order
TITLE_LIKE_WORDS = 3  # plain queries with this many words are also matched against titles
THIN_RESULTS = 3  # fewer full-text matches than this: add looser title matches
STRONG_TITLE_SCORE = 80.0  # title similarity that puts a paper ahead of the full-text results
WEAK_TITLE_SCORE = 75.0
MAX_TITLE_MATCHES = 5
PHRASE_MATCHES = 50  # papers whose title holds the query as a phrase, ranked first whatever their age
HELD_WORDS = 8  # query words whose presence in titles is counted for dense queries
HELD_SPAN = 20_000  # titles read per word counted, from the newest hit down
# Titles likely read to count one word, at most: a word in so many titles tells them apart least.
HELD_READS = 1_000
# Bounds the cost of a search: a query matching more papers than this is ranked within this many most
# recently stored matches, and a word held by more papers than this is not weighed with bm25.
DENSE_WINDOW = 500
# With filters, fewer: finding the matches that pass them means reading more matches.
FILTERED_WINDOW = 150


def query_stems(query: Query) -> frozenset[str]:
    """The stems a title can hold to be about the query: of its words not excluded nor in other fields."""
    return frozenset(stem(token) for token in _title_tokens(query))


def _title_tokens(query: Query) -> list[str]:
    """The folded words a title can hold to be about the query, one per stem, in the order typed."""
    found: dict[str, str] = {}

    def walk(node: Node, negated: bool) -> None:
        if isinstance(node, Term):
            if not negated and node.field in (None, "title"):
                for token in node.tokens:
                    found.setdefault(stem(token), token)
        elif isinstance(node, Not):
            walk(node.child, not negated)
        elif isinstance(node, And | Or):
            for child in node.children:
                walk(child, negated)

    if query.words is not None:
        walk(query.words, False)
    return list(found.values())


def title_like(query: Query, sort: Sort) -> bool:
    """Whether a query is typed like a title (plain words, three or more, none quoted): the title-only index
    is then asked whatever the full-text results."""
    plain = sort == "relevance" and bool(query.plain_words())
    return plain and len(query.typed_words) >= TITLE_LIKE_WORDS and not query.has_quotes()


def _popularity(hit: Hit) -> tuple[int, bool, str, int]:
    """Sort key, descending: more upvotes, then the later day, then the paper stored last."""
    return hit.upvotes, hit.day is not None, hit.day or "", hit.rowid


@dataclasses.dataclass
class SearchRun:
    """One search, run whole on one reading connection (`answer`)."""

    words: TitleWords  # the title vocabulary
    term_counts: dict[str, int]  # how many papers hold each query word (up to DENSE_WINDOW + 1), kept by the caller
    text: str
    query: Query
    sort: Sort
    limit: int
    offset: int

    @property
    def _title_like(self) -> bool:
        return title_like(self.query, self.sort)

    def answer(self, db: sqlite3.Connection) -> SearchResults:
        """The page of results."""
        full = self._full_text(db)
        if isinstance(full, SearchResults):
            return full
        thin = self.sort == "relevance" and bool(self.query.plain_words()) and len(full.ranked) < THIN_RESULTS
        # Title phrases only reorder full-text matches: with none, they are not looked up.
        side = self._titles(db, phrases=bool(full.ranked), like_typed=self._title_like or thin)
        items, total = self._window(db, full, side)
        papers = search_read.papers_by_rowid(db, [item for item in items if isinstance(item, int)])
        return SearchResults(
            query=self.text,
            papers=tuple(
                item if isinstance(item, Paper) else papers[item]
                for item in items
                if item in papers or isinstance(item, Paper)
            ),
            total=total,
            sort=self.sort,
            offset=self.offset,
            limit=self.limit,
            total_exact=full.exact,
        )

    def _full_text(self, db: sqlite3.Connection) -> _FullText | SearchResults:
        """The full-text matches in order (title phrases aside); or the page itself for a query that filters
        alone or excludes words (the store's indexes order those)."""
        query, sort = self.query, self.sort
        compiled = query.fts()
        if compiled.match is None or compiled.exclude:
            spec = SearchSpec(
                match=compiled.match,
                exclude=compiled.exclude,
                filters=compiled.filters,
                sort=sort,
                limit=self.limit,
                offset=self.offset,
                weights=COLUMN_WEIGHTS,
            )
            papers = search_read.search_page(db, spec)
            total = search_read.search_count(db, spec)
            return SearchResults(self.text, tuple(papers), total, sort, self.offset, self.limit)
        scored = self._selective(db)
        window = FILTERED_WINDOW if query.filters else DENSE_WINDOW
        weights = COLUMN_WEIGHTS if scored else None
        # Papers holding as many words as a long typed title are usually few.
        likely_few = self._title_like and len(set(query.plain_words())) >= titles.FEW_HOLD_ALL_WORDS
        hits = search_read.match_hits(
            db, compiled.match, limit=window + 1, filters=query.filters, weights=weights, likely_few=likely_few
        )
        return _FullText(self._ranked(db, hits[:window], scored), exact=len(hits) <= window)

    def _titles(self, db: sqlite3.Connection, *, phrases: bool, like_typed: bool) -> _Titles:
        """What the title-only index adds: with `phrases`, titles holding the words as typed (for relevance);
        with `like_typed`, the titles like the text typed."""
        side = _Titles()
        typed = self.query.plain_words()
        if phrases and self.sort == "relevance" and len(typed) >= 2:
            # A title that is the text typed, then titles holding the words as typed (adjacent, in order).
            titled = search_read.titles_equal(db, self.text.strip(), PHRASE_MATCHES)
            if titled:
                papers = search_read.papers_by_rowid(db, titled)
                titled = [r for r in titled if r in papers and self.query.matches(papers[r])]
            side.titled = titled
            # Plain words only: a title holding them all matches the query.
            side.phrased = titles.phrase_rowids(db, self.words, typed, limit=PHRASE_MATCHES, filters=self.query.filters)
        if like_typed:
            side.strong, side.weak = self._title_matches(db)
        return side

    def _in_order(self, db: sqlite3.Connection, full: _FullText, side: _Titles) -> list[int]:
        """The full-text matches with title phrases first: a title that is the text typed, phrase hits in
        the window in their order, then older ones, closest titles first."""
        if not full.ranked or not (side.phrased or side.titled):
            return full.ranked
        phrase_set, titled_set = set(side.phrased), set(side.titled)
        inside = [r for r in full.ranked if r in phrase_set and r not in titled_set]
        inside_set = set(inside)
        older = [r for r in side.phrased if r not in titled_set and r not in inside_set]
        if older:
            key = " ".join(self.query.plain_words())
            found = search_read.titles_by_rowid(db, older)
            closeness = {r: fuzz.ratio(key, title_key(title)) for r, (_, title) in found.items()}
            older = sorted(closeness, key=lambda r: (closeness[r], r), reverse=True)
        first = [*side.titled, *inside, *older]
        ahead = set(first)
        return [*first, *(r for r in full.ranked if r not in ahead)]

    def _window(self, db: sqlite3.Connection, full: _FullText, side: _Titles) -> tuple[list[Paper | int], int]:
        """The page's items (papers found by title, or rowids) and how many there are in all: close title
        matches, the full-text matches without them, then looser title matches when the full text found
        almost nothing."""
        strong = side.strong
        ordered = self._in_order(db, full, side)
        rest = [r for r in ordered if r not in strong] if strong else ordered
        weak = side.weak if len(full.ranked) < THIN_RESULTS else []
        everything: Iterator[Paper | int] = itertools.chain(strong.values(), rest, weak)
        items = list(itertools.islice(everything, self.offset, self.offset + self.limit))
        return items, len(strong) + len(rest) + len(weak)

    def _selective(self, db: sqlite3.Connection) -> bool:
        """Whether every word of the query is in at most DENSE_WINDOW papers (so bm25 is quick)."""
        counts = self.term_counts
        words = self.query.words
        # bm25 reads every paper holding each word of a phrase, whatever the phrase's field.
        terms = {
            '"' + token.replace('"', '""') + '"'
            for t in (leaves(words) if words else ())
            if isinstance(t, Term)
            for token in t.tokens
        }
        unknown = sorted(terms - counts.keys())
        if unknown:
            fresh = search_read.match_counts(db, unknown, DENSE_WINDOW + 1)
            if len(counts) > 50_000:
                counts.clear()
            counts.update(zip(unknown, fresh, strict=True))
        return all(counts.get(t, 0) <= DENSE_WINDOW for t in terms)

    def _ranked(self, db: sqlite3.Connection, hits: list[Hit], scored: bool) -> list[int]:
        """Rowids in the order asked; relevance is by bm25 or by title words held (title phrases aside).

        Ties go to more upvotes, then the later day, then the paper stored last.
        """
        if self.sort == "new":
            hits = sorted(hits, key=lambda h: (h.day is not None, h.day or "", h.upvotes, h.rowid), reverse=True)
            return [h.rowid for h in hits]
        ordered = sorted(hits, key=_popularity, reverse=True)
        if self.sort == "top" or not hits:
            return [h.rowid for h in ordered]
        tokens = _title_tokens(self.query)
        if scored:
            ordered.sort(key=lambda h: h.score)
        elif tokens:
            # Titles holding more of the query's words first: counted over the window's range of rowids.
            low, high = hits[-1].rowid, hits[0].rowid  # hits come newest first
            span = min(high - low + 1, HELD_SPAN)
            words = self.words
            rowids = [h.rowid for h in ordered]
            held = dict.fromkeys(rowids, 0)
            for token in tokens[:HELD_WORDS]:
                forms, _ = words.family(token)
                if words.total(forms) * (high - low + 1) > HELD_READS * max(words.titles, 1):
                    continue
                found = search_read.title_hits(db, titles.fts_group(forms), limit=span, low=low, high=high)
                for rowid in found:
                    held[rowid] = held.get(rowid, 0) + 1
            rowids.sort(key=held.__getitem__, reverse=True)
            return rowids
        return [h.rowid for h in ordered]

    def _title_matches(self, db: sqlite3.Connection) -> tuple[dict[int, Paper], list[Paper]]:
        """Titles like the text typed: close ones, and looser ones that the words alone do not find."""
        query = self.query
        scored = titles.match(
            db,
            self.words,
            # The text as typed keeps the punctuation a title starts with; with filters, only the words.
            " ".join(query.typed_words) if query.filters else self.text,
            limit=2 * MAX_TITLE_MATCHES,
            cutoff=WEAK_TITLE_SCORE,
            sure=STRONG_TITLE_SCORE,
        )
        papers = search_read.papers_by_rowid(db, [rowid for rowid, _ in scored])
        strong: dict[int, Paper] = {}
        weak: list[Paper] = []
        for rowid, score in scored:
            paper = papers.get(rowid)
            if paper is None or not query.filters_hold(paper):
                continue
            if score >= STRONG_TITLE_SCORE and len(strong) < MAX_TITLE_MATCHES:
                strong[rowid] = paper
            elif score >= WEAK_TITLE_SCORE and not query.matches(paper):
                weak.append(paper)
        return strong, weak[:MAX_TITLE_MATCHES]


@dataclasses.dataclass(frozen=True)
class _FullText:
    """A search's full-text matches: rowids in order, and whether that is all of them."""

    ranked: list[int]
    exact: bool


@dataclasses.dataclass
class _Titles:
    """What the title-only index adds to a search."""

    titled: list[int] = dataclasses.field(default_factory=list)  # titles that are the text typed
    phrased: list[int] = dataclasses.field(default_factory=list)  # titles holding the words as typed
    strong: dict[int, Paper] = dataclasses.field(default_factory=dict)  # titles close to the text typed
    weak: list[Paper] = dataclasses.field(default_factory=list)  # looser ones
