"""Search over the cache: FTS5 bm25 with column weights, fuzzy title matching, autocomplete, trending.

Ranking: bm25 over the columns (title > authors > keywords > abstract), ties broken by upvotes then
recency. Two bounds keep a search quick however large the cache grows. bm25 weighs each word by reading
every paper that holds it, so a query with a word held by more than DENSE_WINDOW papers is ranked by how
many of its words a title holds, then upvotes, then recency instead. And a query matching more than
DENSE_WINDOW papers (FILTERED_WINDOW when it has filters) is ranked within that many of its most
recently stored matches; its total is then a lower bound.

A query typed like a title (plain words, three or more) or one that finds almost nothing also asks an
in-memory title index, which forgives typos and missing words: titles that match closely go first,
looser ones follow the full-text results. The same index answers autocomplete.
"""

from __future__ import annotations

import asyncio
import bisect
import dataclasses
import datetime as dt
import heapq
import logging
import math
import re
import time
import weakref
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from bot.models import Paper
from bot.query import And, Filter, Node, Not, Or, Query, Term, fold_tokens, leaves, parse, stem
from bot.query.columns import BM25_WEIGHTS
from bot.query.columns import SORTS as SORTS  # re-exported: cogs name the sorts from here
from bot.query.columns import Sort as Sort
from bot.sources.huggingface import parse_paper_ref
from bot.store import Store
from bot.store.search import Hit, SearchSpec

log = logging.getLogger(__name__)

Period = Literal["day", "week", "month"]
PERIOD_DAYS: dict[str, int] = {"day": 1, "week": 7, "month": 30}
_ID_PREFIX = re.compile(r"\d{4}\.\d{0,5}")  # the start of a new-style arXiv id, as typed

COLUMN_WEIGHTS = BM25_WEIGHTS  # bm25 weights of papers_fts columns, in column order
MAX_LIMIT = 1000
TITLE_LIKE_WORDS = 3  # plain queries with this many words are also matched against titles
THIN_RESULTS = 3  # fewer full-text matches than this: add looser title matches
STRONG_TITLE_SCORE = 90.0  # title similarity that puts a paper ahead of the full-text results
WEAK_TITLE_SCORE = 75.0
MAX_TITLE_MATCHES = 5
SUGGEST_SCORE = 60.0  # least title similarity for an autocomplete suggestion
PREFIX_SCORE = 95.0  # the similarity given to a title that starts with the words typed
REFRESH_SECONDS = 2.0  # how stale the title index may be before a lookup re-reads the store
# Bounds the cost of a search: a query matching more papers than this is ranked within this many most
# recently stored matches, and a word held by more papers than this is not weighed with bm25.
DENSE_WINDOW = 500
# With filters, fewer: finding the matches that pass them means reading more matches.
FILTERED_WINDOW = 150
# The full-text index grows as many b-trees, one per write; reading a word from each of them costs more
# than from one. Once a day they are merged into one, in steps of this many pages.
MERGE_EVERY = dt.timedelta(days=1)
MERGE_STEP_PAGES = 200
MERGED_AT_KEY = "search_index_merged_at"


@dataclass(frozen=True, slots=True)
class SearchResults:
    """One page of results, the number of matches in all, and how they were found."""

    query: str
    papers: tuple[Paper, ...]
    total: int
    sort: Sort = "relevance"
    offset: int = 0
    limit: int = 10
    title_matches: tuple[str, ...] = ()  # ids added or promoted by title similarity
    paper_ref: str | None = None  # the query was this paper's id or URL
    total_exact: bool = True  # False: at least `total` papers match (ranked among the newest of them)

    def to_json(self) -> dict[str, object]:
        """The results as the JSON document of `paperboy search --json`."""
        return {
            "query": self.query,
            "total": self.total,
            "total_exact": self.total_exact,
            "sort": self.sort,
            "offset": self.offset,
            "limit": self.limit,
            "results": [p.to_json() for p in self.papers],
        }


@dataclass(frozen=True, slots=True)
class Trending:
    """The most upvoted papers of a period ending on `last`."""

    period: Period
    first: dt.date | None
    last: dt.date | None
    papers: tuple[Paper, ...]


def query_stems(query: Query) -> frozenset[str]:
    """The stems a title can hold to be about the query: of its words not excluded nor in other fields."""
    found: set[str] = set()

    def walk(node: Node, negated: bool) -> None:
        if isinstance(node, Term):
            if not negated and node.field in (None, "title"):
                found.update(node.stems)
        elif isinstance(node, Not):
            walk(node.child, not negated)
        elif isinstance(node, And | Or):
            for child in node.children:
                walk(child, negated)

    if query.words is not None:
        walk(query.words, False)
    return frozenset(found)


def _popularity(hit: Hit) -> tuple[int, bool, str, int]:
    """Sort key, descending: more upvotes, then the later day, then the paper stored last."""
    return hit.upvotes, hit.day is not None, hit.day or "", hit.rowid


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

    def add(self, items: Iterable[tuple[int, str]]) -> int:
        """Add or update (rowid, title) pairs; returns how many titles were new or changed."""
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
        if fresh:
            self._place(fresh)
        return len(fresh)

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
            (sum(len(self._postings[w]) for w in group), index, group)
            for index, group in enumerate(groups) if group
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

    def _rank(
        self, key: str, slots: Sequence[int], limit: int, cutoff: float = 0.0
    ) -> list[tuple[int, float]]:
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


class Search:
    """Searches one store, keeping its title index in step with the store."""

    _by_store: weakref.WeakKeyDictionary[Store, Search] = weakref.WeakKeyDictionary()

    def __init__(self, store: Store) -> None:
        self.store = store
        self.titles = TitleIndex()
        self._loaded = False
        self._high_rowid = 0
        self._synced_at = ""
        self._checked = -math.inf
        self._version = -1
        self._lock = asyncio.Lock()
        # How many papers hold each query word (counted up to DENSE_WINDOW + 1) while the store is unchanged.
        self._term_counts: dict[str, int] = {}
        self._term_counts_version = -1

    @classmethod
    def of(cls, store: Store) -> Search:
        """The shared Search of a store (created on first use)."""
        found = cls._by_store.get(store)
        if found is None:
            found = cls._by_store[store] = cls(store)
        return found

    async def refresh(self, *, force: bool = False) -> None:
        """Bring the title index up to date with the store (at most every few seconds unless forced)."""
        if not force and not self._stale():
            return
        async with self._lock:
            if not force and not self._stale():
                return
            version = self.store.papers_version
            started = time.monotonic()
            # Read from a second back: rows written within the same second as the last read are seen again.
            since = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)).isoformat(timespec="seconds")
            high = await self.store.paper_rowid_high_mark()
            if not self._loaded:
                rows = await self.store.paper_titles(0)
                self._loaded = True
            else:
                rows = []
                if high > self._high_rowid:
                    rows += await self.store.paper_titles(self._high_rowid)
                rows += await self.store.titles_updated_since(self._synced_at)
            changed = self.titles.add(rows)
            self._high_rowid = max(high, self._high_rowid)
            self._synced_at = since
            self._checked = time.monotonic()
            self._version = version
            if changed:
                log.debug("title index: %d titles updated in %.3fs", changed, time.monotonic() - started)

    def _stale(self) -> bool:
        """Papers were written through this store since the last refresh, or another process may have."""
        return self.store.papers_version != self._version or time.monotonic() - self._checked >= REFRESH_SECONDS

    async def merge_index(self) -> int:
        """Merge the full-text index into one b-tree, a step at a time; returns the number of steps."""
        steps = 0
        more = True
        while more:
            more = await self.store.merge_search_index(MERGE_STEP_PAGES, start=steps == 0)
            steps += 1
            await asyncio.sleep(0)  # searches waiting for the database go between steps
        return steps

    async def merge_index_if_due(self, now: dt.datetime) -> bool:
        """Merge the full-text index unless that was done less than MERGE_EVERY ago; True if it ran."""
        last = await self.store.get_meta(MERGED_AT_KEY)
        if last is not None and now - dt.datetime.fromisoformat(last) < MERGE_EVERY:
            return False
        started = time.monotonic()
        steps = await self.merge_index()
        await self.store.set_meta(MERGED_AT_KEY, now.isoformat())
        log.info("search index merged in %d steps (%.1fs)", steps, time.monotonic() - started)
        return True

    async def autocomplete(self, text: str, limit: int = 25) -> list[tuple[str, str]]:
        """(paper id, title) suggestions for a partly typed id, URL or title."""
        stripped = text.strip()
        if not stripped:
            return []
        ref = parse_paper_ref(stripped)
        if ref is not None:
            paper = await self.store.get_paper(ref)
            if paper is not None:
                return [(paper.id, paper.title)]
        if _ID_PREFIX.fullmatch(stripped):
            return await self.store.ids_with_prefix(stripped, limit)
        await self.refresh()
        rowids = self.titles.complete(text, limit)
        found = await self.store.ids_and_titles(rowids)
        return [found[r] for r in rowids if r in found]

    async def search(
        self,
        query_text: str,
        *,
        sort: Sort = "relevance",
        limit: int = 10,
        offset: int = 0,
        since: dt.date | None = None,
    ) -> SearchResults:
        """One page of papers matching a query (raises QueryError for a query that does not parse)."""
        if sort not in SORTS:
            raise ValueError(f"sort must be one of {', '.join(SORTS)}")
        if not 1 <= limit <= MAX_LIMIT or offset < 0:
            raise ValueError(f"limit must be 1-{MAX_LIMIT} and offset at least 0")
        ref = parse_paper_ref(query_text)
        if ref is not None:
            paper = await self.store.get_paper(ref)
            found = (paper,) if paper is not None and offset == 0 else ()
            return SearchResults(
                query_text, found, int(paper is not None), sort, offset, limit, paper_ref=ref
            )
        query = parse(query_text)
        if since is not None:
            # Flatten into the top-level AND: filters only compile to SQL from there.
            parts = query.root.children if isinstance(query.root, And) else (query.root,)
            query = dataclasses.replace(query, root=And((*parts, Filter("day", ">=", since))))
        compiled = query.fts()
        if compiled.match is None or compiled.exclude:
            # Filters alone, or every paper but some: the store's indexes order these.
            spec = SearchSpec(
                match=compiled.match, exclude=compiled.exclude, filters=compiled.filters, sort=sort,
                limit=limit, offset=offset, weights=COLUMN_WEIGHTS,
            )
            papers = await self.store.search_page(spec)
            return SearchResults(query_text, tuple(papers), await self.store.search_count(spec), sort,
                                 offset, limit)
        scored = await self._selective(query)
        hits, exact = await self._hits(query, compiled.match, scored)
        ranked = await self._rank_hits(hits, query, sort, scored)
        strong: dict[int, Paper] = {}
        weak: list[Paper] = []
        plain = bool(query.plain_words())
        title_like = len(query.typed_words) >= TITLE_LIKE_WORDS and not query.has_quotes()
        if sort == "relevance" and plain and (title_like or len(ranked) < THIN_RESULTS):
            strong, weak = await self._title_matches(query, " ".join(query.typed_words), len(ranked))
        # The page is a slice of: close title matches, full-text hits without them, looser title matches.
        items: list[Paper | Hit] = [*strong.values(), *(h for h in ranked if h.rowid not in strong), *weak]
        window = items[offset : offset + limit]
        fetched = await self.store.papers_by_rowid([h.rowid for h in window if isinstance(h, Hit)])
        page = [item if isinstance(item, Paper) else fetched[item.rowid] for item in window
                if isinstance(item, Paper) or item.rowid in fetched]
        return SearchResults(
            query=query_text,
            papers=tuple(page),
            total=len(items),
            sort=sort,
            offset=offset,
            limit=limit,
            title_matches=tuple(p.id for p in (*strong.values(), *weak)),
            total_exact=exact,
        )

    async def _hits(self, query: Query, match: str, scored: bool) -> tuple[list[Hit], bool]:
        """The papers matching the query (words and filters), newest first, and whether that is all.

        At most DENSE_WINDOW (FILTERED_WINDOW with filters) are kept: the most recently stored ones.
        The hits depend on the query alone, so that its pages join up.
        """
        filters = query.filters
        window = FILTERED_WINDOW if filters else DENSE_WINDOW
        hits = await self.store.match_hits(
            match, limit=window + 1, filters=filters, weights=COLUMN_WEIGHTS if scored else None
        )
        return hits[:window], len(hits) <= window

    async def _rank_hits(self, hits: list[Hit], query: Query, sort: Sort, scored: bool) -> list[Hit]:
        """Hits in the order asked; relevance is bm25 when scored, else title hits first.

        Ties go to more upvotes, then the later day, then the paper stored last.
        """
        if sort == "new":
            return sorted(hits, key=lambda h: (h.day is not None, h.day or "", h.upvotes, h.rowid), reverse=True)
        if sort == "top" or not hits:
            return sorted(hits, key=_popularity, reverse=True)
        if scored:
            ordered = sorted(hits, key=_popularity, reverse=True)
            ordered.sort(key=lambda h: h.score)
            return ordered
        # Titles holding more of the query's words first (the title index knows every title's words).
        await self.refresh()
        stems = query_stems(query)
        held = self.titles.words_held
        return sorted(hits, key=lambda h: (held(h.rowid, stems), *_popularity(h)), reverse=True)

    async def _selective(self, query: Query) -> bool:
        """Whether every word of the query is in at most DENSE_WINDOW papers (so bm25 is quick)."""
        if self._term_counts_version != self.store.papers_version:
            self._term_counts.clear()
            self._term_counts_version = self.store.papers_version
        words = query.words
        # bm25 reads every paper holding each word of a phrase, whatever the phrase's field.
        terms = {
            '"' + token.replace('"', '""') + '"'
            for t in (leaves(words) if words else ()) if isinstance(t, Term) for token in t.tokens
        }
        unknown = sorted(terms - self._term_counts.keys())
        counts = await self.store.match_counts(unknown, DENSE_WINDOW + 1)
        if len(self._term_counts) > 50_000:
            self._term_counts.clear()
        self._term_counts.update(zip(unknown, counts, strict=True))
        return all(self._term_counts[t] <= DENSE_WINDOW for t in terms)

    async def _title_matches(
        self, query: Query, text: str, total: int
    ) -> tuple[dict[int, Paper], list[Paper]]:
        """(close title matches by rowid, looser ones that the words alone do not find)."""
        await self.refresh()
        scored = self.titles.match(text, limit=2 * MAX_TITLE_MATCHES, cutoff=WEAK_TITLE_SCORE)
        papers = await self.store.papers_by_rowid([rowid for rowid, _ in scored])
        strong: dict[int, Paper] = {}
        weak: list[Paper] = []
        for rowid, score in scored:
            paper = papers.get(rowid)
            if paper is None or not query.filters_hold(paper):
                continue
            if score >= STRONG_TITLE_SCORE and len(strong) < MAX_TITLE_MATCHES:
                strong[rowid] = paper
            elif score >= WEAK_TITLE_SCORE and total < THIN_RESULTS and not query.matches(paper):
                weak.append(paper)
        return strong, weak[:MAX_TITLE_MATCHES]

    async def trending(self, period: Period, now: dt.datetime, limit: int = 10) -> Trending:
        """The most upvoted papers of the latest day, or of the 7 or 30 days up to `now`."""
        if period not in PERIOD_DAYS:
            raise ValueError("period must be day, week or month")
        today = now.date()
        if period == "day":
            last = await self.store.latest_paper_day(today)
            if last is None:
                return Trending(period, None, None, ())
            first = last
        else:
            last, first = today, today - dt.timedelta(days=PERIOD_DAYS[period] - 1)
        papers = await self.store.top_papers_between(first, last, limit)
        return Trending(period, first, last, tuple(papers))


async def search(
    store: Store,
    query_text: str,
    *,
    sort: Sort = "relevance",
    limit: int = 10,
    offset: int = 0,
    since: dt.date | None = None,
) -> SearchResults:
    """One page of papers matching a query (see Search.search)."""
    return await Search.of(store).search(query_text, sort=sort, limit=limit, offset=offset, since=since)


async def autocomplete(store: Store, text: str, limit: int = 25) -> list[tuple[str, str]]:
    """(paper id, title) suggestions for `/paper show` (see Search.autocomplete)."""
    return await Search.of(store).autocomplete(text, limit)


async def trending(store: Store, period: Period, now: dt.datetime, limit: int = 10) -> Trending:
    """The most upvoted papers of the latest day, last 7 days or last 30 days."""
    return await Search.of(store).trending(period, now, limit)

