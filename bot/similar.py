"""Similar papers from the cache: a more-like-this query over the full-text index.

A paper's most distinctive terms are chosen by tf-idf: each term's count in the paper, weighed by the
bm25 weight of the column it is in (a title word counts more than an abstract word), times log(N / df)
where df is how many cached papers hold the term (the index's own vocabulary) and N how many there are.
The chosen terms go to the store as one bm25-ranked OR query over the same columns and weights as
search, the paper itself left out. Author names are not used: papers by the same people are not
necessarily about the same thing.

Counting the papers that hold a term costs a read of every one of them, which for the words most
papers use (model, data, results) takes longer than all the rest of a lookup. So the counts of the terms
held by FREQUENT_PAPERS or more papers are read once, step by step, into memory and refreshed when the
cache has grown by REFRESH_GROWTH or the counts are a day old; only the other, rarer terms are counted
live. A count a few percent out of date changes no choice of terms that matters.

Two bounds keep a lookup quick however large the cache grows: at most MAX_TERMS terms, and at most
POSTING_BUDGET (paper, term) pairs for bm25 to read in all; a term that would go over the budget is
passed over for a rarer one.

A term must weigh MIN_TERM_WEIGHT in the paper (as a more-like-this query usually asks a term to occur
twice): a word said once in the abstract is as likely chance as topic, one in the title or keywords counts.
A term held by this paper alone matches nothing else and is not chosen; nor is one held by more than
COMMON_SHARE of the papers, which says little about what a paper is about.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Mapping

from bot.models import Paper
from bot.query import COMMON_WORDS, SEARCH_COLUMNS, stem, tokenize
from bot.query.columns import BM25_WEIGHTS
from bot.store import AnyStore

log = logging.getLogger(__name__)

MAX_TERMS = 16
POSTING_BUDGET = 5_000
FREQUENT_PAPERS = 500
REFRESH_GROWTH = 0.1
REFRESH_SECONDS = 24 * 3600.0
VOCABULARY_STEP = 2000  # terms read per step while counting the frequent ones
COMMON_SHARE = 0.5
MIN_TERM_WEIGHT = 2.0
DEFAULT_LIMIT = 5
MAX_LIMIT = 100
# Columns a paper's terms are taken from and matched in: every searchable one but the authors.
TEXT_COLUMNS: tuple[str, ...] = tuple(column.name for column in SEARCH_COLUMNS if column.name != "authors")
_IGNORED = frozenset(stem(word) for word in COMMON_WORDS)


def term_weights(paper: Paper) -> dict[str, float]:
    """Each indexed term of the paper's text columns with its count, weighed by its column's bm25 weight."""
    weights: dict[str, float] = {}
    for column in SEARCH_COLUMNS:
        if column.name not in TEXT_COLUMNS:
            continue
        for term in tokenize(column.text(paper)):
            # One letter or a bare number (a year, a table number) says nothing of the topic.
            if len(term) > 1 and not term.isdigit() and term not in _IGNORED:
                weights[term] = weights.get(term, 0.0) + column.weight
    return weights


def distinctive_terms(
    weights: Mapping[str, float],
    frequencies: Mapping[str, int],
    papers: int,
    *,
    max_terms: int = MAX_TERMS,
    posting_budget: int = POSTING_BUDGET,
) -> list[str]:
    """The terms with the highest tf-idf, within `max_terms` terms and `posting_budget` postings in all.

    `frequencies` gives how many of the `papers` cached papers hold each term (the paper itself included).
    """
    common = max(2, int(papers * COMMON_SHARE))
    scored = []
    for term, weight in weights.items():
        df = frequencies.get(term, 0)
        if 2 <= df <= common and weight >= MIN_TERM_WEIGHT:
            scored.append((weight * math.log(papers / df), -df, term))
    scored.sort(reverse=True)
    chosen: list[str] = []
    spent = 0
    for _, negative_df, term in scored:
        if len(chosen) >= max_terms:
            break
        if spent - negative_df > posting_budget:
            continue
        chosen.append(term)
        spent -= negative_df
    return chosen


class SimilarPapers:
    """Finds the cached papers closest in content to a paper (more-like-this over the full-text index).

    Keep one for the life of the store: it holds the counts of the frequent terms between lookups.
    """

    def __init__(
        self,
        store: AnyStore,
        *,
        max_terms: int = MAX_TERMS,
        posting_budget: int = POSTING_BUDGET,
        frequent_papers: int = FREQUENT_PAPERS,
    ) -> None:
        self.store = store
        self.max_terms = max_terms
        self.posting_budget = posting_budget
        self.frequent_papers = frequent_papers
        self._frequent: dict[str, int] = {}
        self._frequent_papers_seen = 0  # papers in the cache when the frequent terms were counted
        self._frequent_at: float | None = None
        self._refresh_lock = asyncio.Lock()

    def _stale(self, papers: int) -> bool:
        if self._frequent_at is None:
            return True
        grown = abs(papers - self._frequent_papers_seen) > REFRESH_GROWTH * max(self._frequent_papers_seen, 1)
        return grown or time.monotonic() - self._frequent_at > REFRESH_SECONDS

    async def warm(self) -> None:
        """Count the frequent terms now (else the first lookup does), and again once they are stale."""
        papers = await self.store.indexed_paper_count()
        if not self._stale(papers):
            return
        async with self._refresh_lock:
            if not self._stale(papers):
                return
            frequent: dict[str, int] = {}
            after: str | None = ""
            while after is not None:
                found, after = await self.store.frequent_terms(self.frequent_papers, after=after, limit=VOCABULARY_STEP)
                frequent.update(found)
            self._frequent, self._frequent_papers_seen, self._frequent_at = frequent, papers, time.monotonic()
            log.info("counted %d frequent terms over %d papers", len(frequent), papers)

    async def frequencies(self, terms: list[str]) -> tuple[dict[str, int], int]:
        """How many papers hold each of `terms` (frequent ones from memory), and how many papers there are."""
        await self.warm()
        counts = {term: self._frequent[term] for term in terms if term in self._frequent}
        rare = [term for term in terms if term not in counts]
        counts.update(await self.store.document_frequencies(rare))
        return counts, max(self._frequent_papers_seen, 1)

    async def terms(self, paper: Paper) -> list[str]:
        """The paper's distinctive terms, most distinctive first (empty when it has no usable text)."""
        weights = term_weights(paper)
        if not weights:
            return []
        frequencies, papers = await self.frequencies(list(weights))
        return distinctive_terms(
            weights, frequencies, papers, max_terms=self.max_terms, posting_budget=self.posting_budget
        )

    async def similar(self, paper: Paper, limit: int = DEFAULT_LIMIT) -> list[Paper]:
        """Up to `limit` cached papers closest to `paper`, closest first; never the paper itself."""
        limit = max(0, min(limit, MAX_LIMIT))
        terms = await self.terms(paper)
        if not terms or limit == 0:
            return []
        found = await self.store.papers_matching_terms(
            terms, columns=TEXT_COLUMNS, weights=BM25_WEIGHTS, exclude_id=paper.id, limit=limit
        )
        log.debug("similar to %s: %d papers by %s", paper.id, len(found), " ".join(terms))
        return found

    async def similar_to_id(self, paper_id: str, limit: int = DEFAULT_LIMIT) -> list[Paper] | None:
        """Like `similar` for a cached paper given by id; None when the cache has no such paper."""
        paper = await self.store.get_paper(paper_id)
        if paper is None:
            return None
        return await self.similar(paper, limit)
