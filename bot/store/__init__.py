"""The only database API: `Store` and the errors it raises (every one a StoreError)."""

from __future__ import annotations

import logging

from bot.store.alerts import AlertsMixin
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
from bot.store.search import SearchMixin
from bot.store.similar import SimilarMixin
from bot.store.subscriptions import DuplicateSubscription, LimitReached, SubscriptionsMixin

log = logging.getLogger(__name__)


@raises_store_errors
class Store(PapersMixin, MetaMixin, DeliveriesMixin, DigestsMixin, SubscriptionsMixin, SearchMixin, AlertsMixin,
            SimilarMixin):
    """Async SQLite cache of papers plus per-channel settings and delivery records.

    Every public method raises StoreError (a subclass saying what went wrong), never a raw sqlite3 error.
    """


__all__ = [
    "CannotOpen",
    "DatabaseBusy",
    "DatabaseCorrupt",
    "DiskFull",
    "DuplicateSubscription",
    "LimitReached",
    "ReadOnlyDatabase",
    "Store",
    "StoreCounts",
    "StoreError",
    "latest_version",
]
