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
from bot.store.postgres.settings import PostgresSettingsMixin

log = logging.getLogger(__name__)


@raises_store_errors
class PostgresStore(
    PostgresPapersMixin,
    PostgresSettingsMixin,
    PostgresDeliveriesMixin,
    PostgresAlertsMixin,
    PostgresSavedMixin,
    PostgresArxivMixin,
):
    """Papers, settings and delivery records in Postgres, for several bot processes sharing one database.

    The same methods, arguments and results as the SQLite `Store` except full-text search, which this
    backend does not have yet. Every public method raises StoreError, never a raw psycopg error.
    """


__all__ = ["PostgresStore", "display_url", "latest_version"]
