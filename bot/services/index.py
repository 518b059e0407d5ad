"""Index maintenance: after each scrape, bring the title index up to date and merge the full-text index daily."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Protocol

from bot.clock import Clock
from bot.services.tasks import BackgroundTasks
from bot.store import StoreError

log = logging.getLogger(__name__)


class Indexed(Protocol):
    """What maintenance needs from the search side (bot.search.Search)."""

    async def refresh(self, *, force: bool = False) -> None:
        """Bring the title index up to date with the store."""
        ...

    async def merge_index_if_due(self, now: dt.datetime) -> bool:
        """Merge the full-text index unless that was done recently; True if it ran."""
        ...


class IndexMaintenance:
    """Keeps the search indexes in step with the store; at most one full-text merge at a time."""

    def __init__(self, search: Indexed, clock: Clock) -> None:
        self.search = search
        self.clock = clock
        self.tasks = BackgroundTasks("index maintenance")
        self.merging: asyncio.Task[None] | None = None  # the latest merge of the full-text index

    async def after_scrape(self) -> None:
        """Refresh the title index now, and start a merge of the full-text index unless one runs."""
        await self.search.refresh(force=True)
        if self.merging is None or self.merging.done():
            self.merging = self.tasks.spawn(self.merge_if_due(), name="search-index-merge")

    async def merge_if_due(self) -> None:
        """Merge the full-text index if the last merge is old enough; a failure only logs (searches still work)."""
        try:
            await self.search.merge_index_if_due(self.clock.now())
        except StoreError as exc:
            # Searches still work on an unmerged index, only slower; the next scrape tries again.
            log.warning("could not merge the search index: %s", exc)

    async def stop(self) -> None:
        """Stop a merge under way (the next one picks it up)."""
        await self.tasks.drain(grace=0)
