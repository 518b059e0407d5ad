"""The Postgres backend of the Store API (psycopg 3, async, with a connection pool)."""

from __future__ import annotations

import logging

from bot.store.postgres.alerts import PostgresAlertsMixin
from bot.store.postgres.arxiv import PostgresArxivMixin
from bot.store.postgres.base import display_url, latest_version
from bot.store.postgres.deliveries import PostgresDeliveriesMixin
from bot.store.postgres.errors import raises_store_errors
from bot.store.postgres.papers import PostgresPapersMixin
from bot.store.postgres.saved import PostgresSavedMixin
from bot.store.postgres.search import PostgresSearchMixin
from bot.store.postgres.settings import PostgresSettingsMixin
from bot.store.postgres.similar import PostgresSimilarMixin
from bot.store.postgres.titles import PostgresTitlesMixin, TitleRow

log = logging.getLogger(__name__)


@raises_store_errors
class PostgresStore(
    PostgresPapersMixin,
    PostgresSettingsMixin,
    PostgresDeliveriesMixin,
    PostgresAlertsMixin,
    PostgresSavedMixin,
    PostgresSearchMixin,
    PostgresTitlesMixin,
    PostgresSimilarMixin,
    PostgresArxivMixin,
):
    """Papers, settings and delivery records in Postgres, for several bot processes sharing one database.

    The same methods, arguments and results as the SQLite `Store`. Text queries differ in form only:
    where SQLite takes an FTS5 expression, this store takes a tsquery (bot.store.postgres.lexemes builds
    both kinds from one parsed query). It adds the pg_trgm title lookups that stand in for the SQLite
    bot's in-memory title index. Every public method raises StoreError, never a raw psycopg error.
    """

    async def migrate(self) -> list[int]:
        """Apply each pending migration, then compute the search columns of papers that have none."""
        applied = await super().migrate()
        await self.fill_search_columns()
        return applied

    async def check(self) -> list[str]:
        """Problems found (see the base check), and papers that the search cannot find yet."""
        problems = await super().check()
        if not problems:
            unindexed = await self.unindexed_paper_count()
            if unindexed:
                problems.append(f"{unindexed} papers have no search columns yet: run `paperboy db migrate`")
        return problems


__all__ = ["PostgresStore", "TitleRow", "display_url", "latest_version"]
