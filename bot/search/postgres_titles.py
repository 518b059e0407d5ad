"""Fuzzy titles on Postgres: pg_trgm finds candidate titles, rapidfuzz ranks them as the in-memory index does.

pg_trgm's word similarity finds titles holding a stretch like the words typed (typos and missing words
cost a few trigrams), and a title key index finds titles that begin with them. The candidates are then
scored with the same rapidfuzz measure as the SQLite bot's title index (WRatio over folded words), ties
going to the closer title as a whole, then to the paper stored last; a title that begins with three or
more words as typed scores at least PREFIX_SCORE.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from rapidfuzz import fuzz, process

from bot.query import fold_tokens
from bot.store.postgres import PostgresStore, TitleRow

log = logging.getLogger(__name__)

SUGGEST_SCORE = 60.0  # least title similarity for an autocomplete suggestion
PREFIX_SCORE = 95.0  # the similarity given to a title that starts with the words typed
CANDIDATES = 100  # candidate titles pg_trgm hands over for scoring
# Least pg_trgm word similarity of a candidate (pg_trgm's default): two typos in a short title stay above it,
# while a common word shared with the text typed does not bring in every title that holds it (each candidate
# costs a comparison in Postgres).
MATCH_SIMILARITY = 0.6
# Autocomplete asks while words are half typed: titles that begin with them come from the key index, so
# the similar ones need to share more of what is typed.
SUGGEST_SIMILARITY = 0.7


async def _no_rows() -> list[TitleRow]:
    return []


def rank_titles(key: str, rows: Iterable[TitleRow], limit: int, cutoff: float = 0.0) -> list[tuple[TitleRow, float]]:
    """The rows whose title key scores `cutoff` or more against `key`, best first, at most `limit`."""
    unique = {row.rowid: row for row in rows}
    choices = {rowid: row.key for rowid, row in unique.items()}
    scored = process.extract(key, choices, scorer=fuzz.WRatio, limit=None, score_cutoff=cutoff)
    # Among equal scores the closer title as a whole, then the newer paper, wins.
    ranked = sorted(
        ((float(score), fuzz.ratio(key, choice), rowid) for choice, score, rowid in scored),
        reverse=True,
    )
    return [(unique[rowid], score) for score, _, rowid in ranked[:limit]]


async def match_titles(store: PostgresStore, text: str, limit: int, cutoff: float) -> list[tuple[TitleRow, float]]:
    """(row, score 0-100) of the titles that best match `text`, forgiving typos and missing words.

    Titles scoring under `cutoff` are left out, unless they begin with the words typed.
    """
    words = fold_tokens(text)
    if not words:
        return []
    key = " ".join(words)
    scores: dict[int, tuple[TitleRow, float]] = {}
    # A title that begins with three or more words as typed is the one meant, unless one matches better.
    prefixed, candidates = await asyncio.gather(
        store.title_rows_with_prefix(key, limit) if len(words) >= 3 else _no_rows(),
        store.similar_title_rows(key, CANDIDATES, threshold=MATCH_SIMILARITY),
    )
    for row, score in rank_titles(key, prefixed, limit):
        scores[row.rowid] = (row, max(score, PREFIX_SCORE))
    for row, score in rank_titles(key, candidates, limit, cutoff):
        scores.setdefault(row.rowid, (row, score))
    return sorted(scores.values(), key=lambda pair: -pair[1])[:limit]


async def complete_titles(store: PostgresStore, text: str, limit: int) -> list[tuple[str, str]]:
    """(id, title) of titles for what is being typed: titles starting with it, then similar ones."""
    words = fold_tokens(text)
    if not words:
        return []
    key = " ".join(words)
    # Both lookups at once, each on its own connection: the similar titles are nearly always needed.
    prefixed, candidates = await asyncio.gather(
        store.title_rows_with_prefix(key, limit),
        store.similar_title_rows(key, CANDIDATES, threshold=SUGGEST_SIMILARITY),
    )
    picked = {row.rowid: row for row in prefixed}
    for row, _ in rank_titles(key, candidates, limit, SUGGEST_SCORE):
        picked.setdefault(row.rowid, row)
    return [(row.paper_id, row.title) for row in list(picked.values())[:limit]]
