"""Background work and memory: index maintenance gives back the writer's page cache after the daily merge
(and only then); the bot's process hands the interpreter between threads sooner than Python's default."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

from bot.services.index import IndexMaintenance
from bot.services.tasks import INTERPRETER_SWITCH_SECONDS, favour_interactive_threads
from bot.store import Store
from tests.fakes.clock import ManualClock

START = dt.datetime(2026, 6, 12, 8, 0, tzinfo=dt.UTC)


class MergingSearch:
    """The search side as maintenance sees it: merges when told to, over a real store."""

    def __init__(self, store: Store, *, due: bool) -> None:
        self.store = store
        self.due = due
        self.merges = 0

    async def refresh(self, *, force: bool = False) -> None:
        """Nothing to refresh here."""

    async def merge_index_if_due(self, now: dt.datetime) -> bool:
        """Merge (count it) when due."""
        if self.due:
            self.merges += 1
        return self.due


async def test_the_writer_gives_back_its_page_cache_after_a_merge_only(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "c.db")
    released: list[str] = []
    original = store.release_memory

    async def spy() -> None:
        released.append("released")
        await original()

    store.release_memory = spy  # type: ignore[method-assign]
    try:
        for due, expected in ((False, []), (True, ["released"])):
            search = MergingSearch(store, due=due)
            await IndexMaintenance(search, ManualClock(START)).merge_if_due()
            assert released == expected and search.merges == int(due)
        # The store goes on working after giving back its cache.
        await store.set_meta("k", "v")
        assert await store.get_meta("k") == "v"
    finally:
        await store.close()


def test_the_bot_hands_the_interpreter_over_sooner_than_pythons_default() -> None:
    default = sys.getswitchinterval()
    try:
        favour_interactive_threads()
        assert sys.getswitchinterval() == INTERPRETER_SWITCH_SECONDS < 0.005
    finally:
        sys.setswitchinterval(default)
