"""The only database API: `Store` and the errors it raises (every one a StoreError)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, TypeAlias

from bot.clock import Clock
from bot.config import DatabaseConfig
from bot.store.alerts import AlertsMixin
from bot.store.arxiv import ArxivMixin
from bot.store.base import latest_version
from bot.store.deliveries import DeliveriesMixin
from bot.store.digests import DigestsMixin
from bot.store.errors import (
    CannotOpen,
    DatabaseBusy,
    DatabaseCorrupt,
    DiskFull,
    ReadOnlyDatabase,
    StoreError,
    raises_store_errors,
)
from bot.store.meta import MetaMixin
from bot.store.papers import PapersMixin, StoreCounts
from bot.store.saved import ReadingListFull, SavedMixin
from bot.store.search import SearchMixin
from bot.store.similar import SimilarMixin
from bot.store.subscriptions import DuplicateSubscription, LimitReached, SubscriptionsMixin

if TYPE_CHECKING:
    from bot.store.postgres import PostgresStore

log = logging.getLogger(__name__)


@raises_store_errors
class Store(
    PapersMixin,
    MetaMixin,
    DeliveriesMixin,
    DigestsMixin,
    SubscriptionsMixin,
    SearchMixin,
    AlertsMixin,
    SimilarMixin,
    SavedMixin,
    ArxivMixin,
):
    """Async SQLite cache of papers plus per-channel settings and delivery records.

    Every public method raises StoreError (a subclass saying what went wrong), never a raw sqlite3 error.
    """


# Either backend: what the bot, its services, the CLI and the benchmarks take. mypy checks every method
# they call on both. (A string: annotations only, so that SQLite users do not import psycopg.)
AnyStore: TypeAlias = "Store | PostgresStore"


def uses_postgres(database: DatabaseConfig) -> bool:
    """Whether the config selects the Postgres backend ([database] url set)."""
    return bool(database.url)


async def open_store(database: DatabaseConfig, *, migrate: bool = True, clock: Clock | None = None) -> AnyStore:
    """The configured backend's store: Postgres when [database] url is set, else SQLite at [database] path."""
    if uses_postgres(database):
        from bot.store.postgres import PostgresStore

        return await PostgresStore.open(database.url, migrate=migrate, clock=clock)
    return await Store.open(database.path, migrate=migrate, clock=clock)


__all__ = [
    "AnyStore",
    "CannotOpen",
    "DatabaseBusy",
    "DatabaseCorrupt",
    "DiskFull",
    "DuplicateSubscription",
    "LimitReached",
    "ReadOnlyDatabase",
    "ReadingListFull",
    "Store",
    "StoreCounts",
    "StoreError",
    "latest_version",
    "open_store",
    "uses_postgres",
]
