"""Search over the cache: FTS5 bm25 with column weights, fuzzy title matching, autocomplete, trending.

Ranking: bm25 over the columns (title > authors > keywords > abstract), ties broken by upvotes then
recency. bm25 weighs each word by reading every paper that holds it, so a query with a word found in
more than DENSE_WINDOW papers is ranked by title hits, then upvotes, then recency instead; and a query
matching more than DENSE_WINDOW papers is ranked within its DENSE_WINDOW most recently stored matches
(its total is then a lower bound). Both keep the cost of a search bounded however large the cache grows.

A query typed like a title (plain words, three or more) or one that finds almost nothing also asks an
in-memory title index, which forgives typos and missing words: titles that match closely go first,
looser ones follow the full-text results. The same index answers autocomplete.
"""

from __future__ import annotations

import asyncio
import bisect
import dataclasses
import datetime as dt
import logging
import math
import re
import time
import weakref
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Literal

from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from bot.models import Paper
from bot.query import And, Filter, Query, Term, compile_fts, fold_tokens, leaves, parse
from bot.sources.huggingface import parse_paper_ref
from bot.store import Store
from bot.store.search import SearchSpec

log = logging.getLogger(__name__)

Sort = Literal["relevance", "new", "top"]
SORTS: tuple[Sort, ...] = ("relevance", "new", "top")
Period = Literal["day", "week", "month"]
PERIOD_DAYS: dict[str, int] = {"day": 1, "week": 7, "month": 30}

# bm25 weights of papers_fts columns: title, authors, keywords, summary, ai_summary.
COLUMN_WEIGHTS = (10.0, 6.0, 4.0, 1.0, 1.0)
MAX_LIMIT = 1000
TITLE_LIKE_WORDS = 3  # plain queries with this many words are also matched against titles
THIN_RESULTS = 3  # fewer full-text matches than this: add looser title matches
STRONG_TITLE_SCORE = 90.0  # title similarity that puts a paper ahead of the full-text results
WEAK_TITLE_SCORE = 75.0
MAX_TITLE_MATCHES = 5
SUGGEST_SCORE = 60.0  # least title similarity for an autocomplete suggestion
REFRESH_SECONDS = 2.0  # how stale the title index may be before a lookup re-reads the store
# A query matching more papers than this is ranked within this many most recently stored matches:
# ranking every match of a very common word costs time in proportion to the matches.
DENSE_WINDOW = 2000
DENSE_MIN_HITS = 50  # with filters, fewer hits than this in the window widen the search to every match


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


def title_boost(query: Query) -> str:
    """An FTS5 expression for the query's words in titles (its whole match when it names fields)."""
    words = query.words
    if words is None:
        raise ValueError("a query without words has no title boost")
    if any(isinstance(t, Term) and t.field for t in leaves(words)):
        return query.fts().match or ""
    positive, expression = compile_fts(words)
    return f"{{title}} : ({expression})" if positive else query.fts().match or ""


def title_key(title: str) -> str:
    """A title as compared: its words folded (case, diacritics) and joined by single spaces."""
    return " ".join(fold_tokens(title))


class TitleIndex:
    """Every cached title in memory: word postings, sorted keys and ids, for fuzzy and prefix lookup."""

    POSTINGS_BUDGET = 12_000  # title slots read per lookup to find candidates
    CANDIDATES = 200  # candidates compared with the query as whole titles

    def __init__(self) -> None:
        self._ids: list[str] = []
        self._titles: list[str] = []
        self._keys: list[str] = []
        self._slot_of: dict[str, int] = {}
        self._postings: dict[str, array[int]] = {}
        self._sorted_keys: list[tuple[str, int]] = []
        self._sorted_ids: list[str] = []
        # Words by (length, first letter) and by (length, last letter): a typo seldom changes both ends.
        self._words_by_shape: dict[tuple[int, str, str], list[str]] = {}
        self._sorted_words: list[str] = []
        self._stale = False

    def __len__(self) -> int:
        return len(self._slot_of)

    def add(self, items: Iterable[tuple[str, str]]) -> int:
        """Add or update (paper id, title) pairs; returns how many titles were new or changed."""
        changed = 0
        fresh: list[int] = []
        for paper_id, title in items:
            key = title_key(title)
            slot = self._slot_of.get(paper_id)
            if slot is not None:
                if self._titles[slot] == title:
                    continue
                self._titles[slot], self._keys[slot] = title, key
            else:
                slot = len(self._ids)
                self._ids.append(paper_id)
                self._titles.append(title)
                self._keys.append(key)
                self._slot_of[paper_id] = slot
            fresh.append(slot)
            changed += 1
            # Old words of a changed title stay posted: candidates are re-scored on their current title.
            for word in set(key.split()):
                postings = self._postings.get(word)
                if postings is None:
                    self._postings[word] = array("I", (slot,))
                    self._words_by_shape.setdefault((len(word), word[0], ""), []).append(word)
                    self._words_by_shape.setdefault((len(word), "", word[-1]), []).append(word)
                    self._stale = True
                else:
                    postings.append(slot)
        if fresh:
            self._place(fresh)
        return changed

    def _place(self, slots: list[int]) -> None:
        """Keep the sorted views in step: re-sort after a bulk load, insert a few in place."""
        if len(slots) > 1000 or not self._sorted_keys:
            self._sorted_keys = sorted((key, slot) for slot, key in enumerate(self._keys))
            self._sorted_ids = sorted(self._ids)
        else:
            for slot in slots:
                paper_id = self._ids[slot]
                at = bisect.bisect_left(self._sorted_ids, paper_id)
                if at == len(self._sorted_ids) or self._sorted_ids[at] != paper_id:
                    self._sorted_ids.insert(at, paper_id)
                # A changed title leaves its old key behind; lookups skip keys that are no longer current.
                bisect.insort(self._sorted_keys, (self._keys[slot], slot))
        if self._stale:
            self._sorted_words = sorted(self._postings)
            self._stale = False

    def title(self, paper_id: str) -> str | None:
        """The indexed title of a paper."""
        slot = self._slot_of.get(paper_id)
        return None if slot is None else self._titles[slot]

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
        """Slots of titles holding the most of the query's rarer words; each group stands for one word.

        Only the rarest words are walked, up to a budget of postings: common words say little about
        which title is meant, and the final ranking compares whole titles anyway.
        """
        sized = sorted(
            (sum(len(self._postings[w]) for w in group), index, group)
            for index, group in enumerate(groups) if group
        )
        counts: Counter[int] = Counter()
        budget = self.POSTINGS_BUDGET
        for size, _, group in sized:
            if size > budget and counts:
                break
            if len(group) == 1:
                postings: Iterable[int] = self._postings[group[0]][-budget:]
            else:
                postings = set().union(*(self._postings[w][-budget:] for w in group))
            counts.update(postings)
            budget -= min(size, budget)
            if budget <= 0:
                break
        ranked = sorted(counts.items(), key=itemgetter(1), reverse=True)
        return [slot for slot, _ in ranked[: self.CANDIDATES]]

    def match(self, text: str, limit: int = 10) -> list[tuple[str, float]]:
        """Papers whose titles best match `text`, forgiving typos and missing words: (id, score 0-100)."""
        words = fold_tokens(text)
        if not words or not self._ids:
            return []
        key = " ".join(words)
        groups = [[w] if w in self._postings else self._similar_words(w) for w in dict.fromkeys(words)]
        slots = self._candidates(groups)
        return self._rank(key, slots, limit)

    def _rank(
        self, key: str, slots: Sequence[int], limit: int, cutoff: float = 0.0
    ) -> list[tuple[str, float]]:
        choices = {slot: self._keys[slot] for slot in slots}
        scored = process.extract(key, choices, scorer=fuzz.WRatio, limit=None, score_cutoff=cutoff)
        # Among equal scores the closer title as a whole, then the newer paper, wins.
        ranked = sorted(
            ((float(score), fuzz.ratio(key, choice), slot) for choice, score, slot in scored),
            reverse=True,
        )
        return [(self._ids[slot], score) for score, _, slot in ranked[:limit]]

    def complete(self, text: str, limit: int = 25) -> list[tuple[str, str]]:
        """(id, title) suggestions for what is being typed: ids by prefix, titles by prefix then similarity."""
        stripped = text.strip()
        if not stripped or not self._ids:
            return []
        picked: dict[str, None] = {}
        if re.fullmatch(r"\d{4}(\.\d{0,5})?(v\d*)?", stripped):
            start = bisect.bisect_left(self._sorted_ids, stripped.split("v")[0])
            for paper_id in self._sorted_ids[start : start + limit]:
                if not paper_id.startswith(stripped.split("v")[0]):
                    break
                picked[paper_id] = None
        words = fold_tokens(stripped)
        if words:
            key = " ".join(words)
            # Titles that begin with what was typed come first.
            start = bisect.bisect_left(self._sorted_keys, (key, -1))
            for title_text, slot in self._sorted_keys[start : start + 2 * limit]:
                if not title_text.startswith(key) or len(picked) >= limit:
                    break
                if self._keys[slot] == title_text:
                    picked.setdefault(self._ids[slot], None)
            if len(picked) < limit:
                typing = not text[-1:].isspace()
                complete_words = words[:-1] if typing else words
                groups = [
                    [w] if w in self._postings else self._similar_words(w)
                    for w in dict.fromkeys(complete_words)
                ]
                if typing:
                    groups.append(self._prefix_words(words[-1]))
                for paper_id, _ in self._rank(key, self._candidates(groups), limit, SUGGEST_SCORE):
                    picked.setdefault(paper_id, None)
        return [(pid, self._titles[self._slot_of[pid]]) for pid in list(picked)[:limit]]


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
        # How many papers hold each word or phrase (up to DENSE_WINDOW + 1), while the store is unchanged.
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
            changed = self.titles.add((paper_id, title) for _, paper_id, title in rows)
            self._high_rowid = max(high, self._high_rowid)
            self._synced_at = since
            self._checked = time.monotonic()
            self._version = version
            if changed:
                log.debug("title index: %d titles updated in %.3fs", changed, time.monotonic() - started)

    def _stale(self) -> bool:
        """Papers were written through this store since the last refresh, or another process may have."""
        return self.store.papers_version != self._version or time.monotonic() - self._checked >= REFRESH_SECONDS

    def index_papers(self, papers: Iterable[Paper]) -> None:
        """Update the title index with papers just written (the next refresh would find them too)."""
        self.titles.add((p.id, p.title) for p in papers)

    async def autocomplete(self, text: str, limit: int = 25) -> list[tuple[str, str]]:
        """(paper id, title) suggestions for a partly typed id, URL or title."""
        ref = parse_paper_ref(text)
        await self.refresh()
        if ref is not None:
            title = self.titles.title(ref)
            if title is not None:
                return [(ref, title)]
        return self.titles.complete(text, limit)

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
            query = dataclasses.replace(query, root=And((query.root, Filter("day", ">=", since))))
        compiled = query.fts()
        base = SearchSpec(
            match=compiled.match, exclude=compiled.exclude, filters=compiled.filters, sort=sort,
            weights=COLUMN_WEIGHTS,
        )
        base, total, exact = await self._narrow(base, query)
        strong: list[Paper] = []
        weak: list[Paper] = []
        plain_words = query.plain_words()
        title_like = len(plain_words) >= TITLE_LIKE_WORDS and not query.has_quotes()
        if sort == "relevance" and plain_words and (title_like or total < THIN_RESULTS):
            strong, weak = await self._title_matches(query, " ".join(plain_words), total)
        skip = tuple(p.id for p in strong)
        # The full-text results go on after the title matches, without them.
        rest_total = await self.store.search_count(dataclasses.replace(base, skip_ids=skip)) if skip else total
        page: list[Paper] = list(strong[offset : offset + limit])
        text_offset = max(0, offset - len(strong))
        if len(page) < limit and text_offset < rest_total:
            page += await self.store.search_page(
                dataclasses.replace(base, skip_ids=skip, limit=limit - len(page), offset=text_offset)
            )
        weak_offset = max(0, offset - len(strong) - rest_total)
        if len(page) < limit:
            page += weak[weak_offset : weak_offset + limit - len(page)]
        return SearchResults(
            query=query_text,
            papers=tuple(page),
            total=len(strong) + rest_total + len(weak),
            sort=sort,
            offset=offset,
            limit=limit,
            title_matches=tuple(p.id for p in (*strong, *weak)),
            total_exact=exact,
        )

    async def _narrow(self, base: SearchSpec, query: Query) -> tuple[SearchSpec, int, bool]:
        """(spec to page through, total, whether the total is exact).

        bm25 weighs each word by reading every paper that holds it, which is slow for common words.
        So a query with a word in more than DENSE_WINDOW papers ranks title hits first, then upvotes;
        and a query matching more than DENSE_WINDOW papers keeps to its DENSE_WINDOW most recently
        stored matches (unless its filters leave too few there). The choices depend on the query alone,
        so that its pages join up.
        """
        if base.match is None or base.exclude:
            return base, await self.store.search_count(base), True
        text_only = SearchSpec(match=base.match)
        matches = await self.store.search_count(text_only, cap=DENSE_WINDOW + 1)
        boosted = dataclasses.replace(base, boost=title_boost(query))
        if matches <= DENSE_WINDOW:
            spec = base if await self._selective(query) else boosted
            exact = matches if not base.filters else await self.store.search_count(base)
            return spec, exact, True
        start = await self.store.match_window_start(base.match, DENSE_WINDOW)
        windowed = dataclasses.replace(boosted, min_rowid=start)
        if not base.filters:
            return windowed, DENSE_WINDOW, False
        in_window = await self.store.search_count(windowed)
        if in_window >= DENSE_MIN_HITS:
            return windowed, in_window, False
        return boosted, await self.store.search_count(base), True

    async def _selective(self, query: Query) -> bool:
        """Whether every word or phrase of the query is in at most DENSE_WINDOW papers."""
        if self._term_counts_version != self.store.papers_version:
            self._term_counts.clear()
            self._term_counts_version = self.store.papers_version
        words = query.words
        terms = {compile_fts(t)[1] for t in leaves(words) if isinstance(t, Term)} if words else set()
        unknown = sorted(terms - self._term_counts.keys())
        counts = await self.store.match_counts(unknown, DENSE_WINDOW + 1)
        if len(self._term_counts) > 50_000:
            self._term_counts.clear()
        self._term_counts.update(zip(unknown, counts, strict=True))
        return all(self._term_counts[t] <= DENSE_WINDOW for t in terms)

    async def _title_matches(
        self, query: Query, text: str, total: int
    ) -> tuple[list[Paper], list[Paper]]:
        """(close title matches, looser ones that the words alone do not find)."""
        await self.refresh()
        scored = self.titles.match(text, limit=2 * MAX_TITLE_MATCHES)
        by_id = {p.id: p for p in await self.store.get_papers([pid for pid, _ in scored])}
        strong: list[Paper] = []
        weak: list[Paper] = []
        for paper_id, score in scored:
            paper = by_id.get(paper_id)
            if paper is None or not query.filters_hold(paper):
                continue
            if score >= STRONG_TITLE_SCORE and len(strong) < MAX_TITLE_MATCHES:
                strong.append(paper)
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

