"""Background work and memory: the daily index merge gives back the writer's page cache (only a merge
does); the bot's process hands the interpreter between threads sooner than Python's default."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

from bot.search import MERGED_AT_KEY, Search
from bot.services.index import IndexMaintenance
from bot.services.tasks import INTERPRETER_SWITCH_SECONDS, favour_interactive_threads
from bot.store import Store
from tests.fakes.clock import ManualClock

START = dt.datetime(2026, 6, 12, 8, 0, tzinfo=dt.UTC)


async def test_the_writer_gives_back_its_page_cache_after_a_merge_only(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "c.db")
    released: list[str] = []
    original = store.release_memory

    async def spy() -> None:
        released.append("released")
        await original()

    store.release_memory = spy  # type: ignore[method-assign]
    try:
        maintenance = IndexMaintenance(Search(store), ManualClock(START))
        # The first merge is due; one right after it is not.
        for expected in (["released"], ["released"]):
            await maintenance.merge_if_due()
            assert released == expected
        assert await store.get_meta(MERGED_AT_KEY) == START.isoformat()
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
