"""Search over the cache: full-text ranking, title lookups on disk, autocomplete and trending."""

from __future__ import annotations

import logging

from bot.search.answer import COLUMN_WEIGHTS, DENSE_WINDOW, FILTERED_WINDOW, query_stems
from bot.search.engine import MAX_LIMIT, Search
from bot.search.results import PERIOD_DAYS, SORTS, Period, SearchResults, Sort, Trending
from bot.search.title_vocab import TitleWords
from bot.search.titles import title_key, title_score
from bot.search.upkeep import MERGED_AT_KEY

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
    "TitleWords",
    "Trending",
    "query_stems",
    "title_key",
    "title_score",
]
