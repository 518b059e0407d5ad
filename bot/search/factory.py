"""The search engine for a store's backend, and the surface of it the bot uses (one Protocol for both)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import TYPE_CHECKING, Protocol

from bot.query import Query
from bot.search.results import Period, SearchResults, Sort, Trending
from bot.store.search import SearchSpec

if TYPE_CHECKING:
    from bot.store import AnyStore

log = logging.getLogger(__name__)


class SearchEngine(Protocol):
    """What the bot, its services, the cogs and the CLI ask of a search engine, on either backend."""

    @property
    def store(self) -> AnyStore:
        """The store searched."""
        ...

    def start_warming(self) -> object:
        """Start building in-memory indexes in the background, if the engine keeps any."""
        ...

    @property
    def warming(self) -> asyncio.Task[None] | None:
        """That background build, once started (None for an engine that keeps no in-memory index)."""
        ...

    async def close(self) -> None:
        """Stop background work under way."""
        ...

    async def refresh(self, *, force: bool = False) -> None:
        """Bring in-memory indexes up to date with the store."""
        ...

    async def merge_index_if_due(self, now: dt.datetime) -> bool:
        """Merge the full-text index unless that was done recently; True if it ran."""
        ...

    async def search(
        self,
        query_text: str,
        *,
        sort: Sort = "relevance",
        limit: int = 10,
        offset: int = 0,
        since: dt.date | None = None,
    ) -> SearchResults:
        """One page of papers matching a query (QueryError for a query that does not parse)."""
        ...

    async def autocomplete(self, text: str, limit: int = 25) -> list[tuple[str, str]]:
        """(paper id, title) suggestions for a partly typed id, URL or title."""
        ...

    async def trending(self, period: Period, now: dt.datetime, limit: int = 10) -> Trending:
        """The most upvoted papers of a period up to `now`."""
        ...


def open_search(store: AnyStore) -> SearchEngine:
    """The search engine for `store`'s backend: FTS5 with an in-memory title index, or Postgres with pg_trgm."""
    from bot.store import Store

    if isinstance(store, Store):
        from bot.search.engine import Search

        return Search(store)
    from bot.search.postgres import PostgresSearch

    return PostgresSearch(store)


def query_spec(store: AnyStore, query: Query, *, sort: Sort, limit: int, offset: int = 0) -> SearchSpec:
    """A parsed query as `store`'s backend runs it: an FTS5 expression on SQLite, a tsquery on Postgres."""
    from bot.store import Store

    if isinstance(store, Store):
        compiled = query.fts()
        return SearchSpec(compiled.match, compiled.exclude, compiled.filters, sort, limit, offset)
    from bot.search.postgres import search_spec

    return search_spec(query, sort=sort, limit=limit, offset=offset)
