"""The only database API: `Store` and the errors it raises."""

from __future__ import annotations

import logging

from bot.store.alerts import AlertsMixin
from bot.store.base import StoreError, latest_version
from bot.store.deliveries import DeliveriesMixin
from bot.store.digests import DigestsMixin
from bot.store.meta import MetaMixin
from bot.store.papers import PapersMixin, StoreCounts
from bot.store.search import SearchMixin
from bot.store.subscriptions import DuplicateSubscription, LimitReached, SubscriptionsMixin

log = logging.getLogger(__name__)


class Store(
    PapersMixin, MetaMixin, DeliveriesMixin, DigestsMixin, SubscriptionsMixin, SearchMixin, AlertsMixin
):
    """Async SQLite cache of papers plus per-channel settings and delivery records."""


__all__ = [
    "DuplicateSubscription",
    "LimitReached",
    "Store",
    "StoreCounts",
    "StoreError",
    "latest_version",
]
