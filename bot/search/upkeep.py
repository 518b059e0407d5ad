"""The daily merge of a search index, shared by both engines: at most once per MERGE_EVERY, recorded in meta."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

log = logging.getLogger(__name__)

# Each write adds to the index piecemeal (FTS5 b-trees, GIN pending entries); reading from one merged
# structure is quicker, so once a day the pieces are merged.
MERGE_EVERY = dt.timedelta(days=1)
MERGED_AT_KEY = "search_index_merged_at"


class MetaStore(Protocol):
    """Where the time of the last merge is kept."""

    async def get_meta(self, key: str) -> str | None: ...

    async def set_meta(self, key: str, value: str) -> None: ...


async def merge_if_due(store: MetaStore, merge: Callable[[], Awaitable[int]], now: dt.datetime) -> bool:
    """Run `merge` (returning its step count) unless it ran less than MERGE_EVERY before `now`; True if it ran."""
    last = await store.get_meta(MERGED_AT_KEY)
    if last is not None and now - dt.datetime.fromisoformat(last) < MERGE_EVERY:
        return False
    started = time.monotonic()
    steps = await merge()
    await store.set_meta(MERGED_AT_KEY, now.isoformat())
    log.info("search index merged in %d steps (%.1fs)", steps, time.monotonic() - started)
    return True
