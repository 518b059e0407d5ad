"""Search over the cache: full-text ranking, the in-memory title index, autocomplete and trending."""

from __future__ import annotations

import logging

from bot.search.engine import (
    COLUMN_WEIGHTS,
    DENSE_WINDOW,
    FILTERED_WINDOW,
    MAX_LIMIT,
    MERGED_AT_KEY,
    Search,
    query_stems,
)
from bot.search.results import PERIOD_DAYS, SORTS, Period, SearchResults, Sort, Trending
from bot.search.titles import TitleIndex, title_key

log = logging.getLogger(__name__)

__all__ = [
    "COLUMN_WEIGHTS",
    "DENSE_WINDOW",
    "FILTERED_WINDOW",
    "MAX_LIMIT",
    "MERGED_AT_KEY",
    "PERIOD_DAYS",
    "SORTS",
    "Period",
    "Search",
    "SearchResults",
    "Sort",
    "TitleIndex",
    "Trending",
    "query_stems",
    "title_key",
]
