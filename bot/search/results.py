"""What a search answers: a page of results, or the trending papers of a period."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Literal

from bot.models import Paper
from bot.query import And, Filter, Query, parse
from bot.query.columns import SORTS as SORTS  # re-exported: cogs name the sorts from here
from bot.query.columns import Sort as Sort

log = logging.getLogger(__name__)

Period = Literal["day", "week", "month"]
PERIOD_DAYS: dict[str, int] = {"day": 1, "week": 7, "month": 30}


@dataclass(frozen=True, slots=True)
class SearchResults:
    """One page of results, the number of matches in all, and how they were found."""

    query: str
    papers: tuple[Paper, ...]
    total: int
    sort: Sort = "relevance"
    offset: int = 0
    limit: int = 10
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


def check_page(sort: str, limit: int, offset: int, max_limit: int) -> None:
    """Refuse a sort not in SORTS or a page outside 1..max_limit results (ValueError, a caller's mistake)."""
    if sort not in SORTS:
        raise ValueError(f"sort must be one of {', '.join(SORTS)}")
    if not 1 <= limit <= max_limit or offset < 0:
        raise ValueError(f"limit must be 1-{max_limit} and offset at least 0")


def parse_since(query_text: str, since: dt.date | None) -> Query:
    """The query typed (QueryError if it does not parse), with papers before `since` left out."""
    query = parse(query_text)
    if since is None:
        return query
    # Flatten into the top-level AND: filters only compile to SQL from there.
    parts = query.root.children if isinstance(query.root, And) else (query.root,)
    return dataclasses.replace(query, root=And((*parts, Filter("day", ">=", since))))


def paper_ref_results(
    query_text: str, ref: str, paper: Paper | None, sort: Sort, offset: int, limit: int
) -> SearchResults:
    """The answer to a query that was a paper's id or URL: that paper, if cached, on the first page."""
    found = (paper,) if paper is not None and offset == 0 else ()
    return SearchResults(query_text, found, int(paper is not None), sort, offset, limit, paper_ref=ref)
