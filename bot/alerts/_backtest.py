"""Checking a would-be alert's query, and trying it on the papers of the last days."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from dataclasses import dataclass

from bot.errors import UserError
from bot.models import Paper
from bot.query import And, Filter, Query, QueryError, parse
from bot.search.factory import query_spec
from bot.sources.huggingface import parse_paper_ref
from bot.store import AnyStore

log = logging.getLogger(__name__)

BACKTEST_LIMIT = 1000


def check_alert_query(text: str) -> Query:
    """The parsed query of a would-be alert; raises UserError saying what is wrong and how to fix it."""
    if parse_paper_ref(text) is not None:
        raise UserError(
            "That is one paper's id or link, not a query: alerts watch for new papers whose text matches "
            'words, like `diffusion video` or `author:"Tri Dao"`. To see one paper, use /paper show '
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
    store: AnyStore, query_text: str, *, days: int, today: dt.date, limit: int = BACKTEST_LIMIT
) -> Backtest:
    """The cached papers of the last `days` days (today included) that a query matches, newest first.

    The query runs in SQL through its FTS5 (or tsquery) form, which agrees with the predicate the alerts use, with the
    days as one more filter.
    """
    query = check_alert_query(query_text)
    since = today - dt.timedelta(days=max(1, days) - 1)
    parts = query.root.children if isinstance(query.root, And) else (query.root,)
    windowed = dataclasses.replace(query, root=And((*parts, Filter("day", ">=", since))))
    spec = query_spec(store, windowed, sort="new", limit=limit)
    papers = await store.search_page(spec)
    total = await store.search_count(spec)
    return Backtest(query_text, days, since, tuple(papers), total)
