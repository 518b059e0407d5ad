"""The garbage collector's work in the bot's process: the objects alive once the bot is ready and its title
vocabulary read are left out of later collections, and an alert pass keeps no page of term sets alive."""

from __future__ import annotations

import asyncio
import datetime as dt
import gc

from bot.alerts import PAUSE_EVERY, AlertMatcher, PaperTerms
from bot.models import Subscription
from bot.services.tasks import freeze_start_up_objects
from tests.store_checks import full_paper

START = dt.datetime(2026, 6, 12, 8, 0, tzinfo=dt.UTC)


class LongLived:
    """An object the collector tracks (it has a __dict__), made before the freeze."""


def _walked_by_the_collector(target: object) -> bool:
    return any(candidate is target for candidate in gc.get_objects())


async def test_objects_alive_once_ready_and_warm_are_left_out_of_later_collections() -> None:
    assert gc.get_freeze_count() == 0
    ready, warm, asked = asyncio.Event(), asyncio.Event(), asyncio.Event()
    warming = asyncio.create_task(warm.wait())

    def the_warming() -> asyncio.Task[bool]:
        asked.set()
        return warming

    before = LongLived()
    freezing = asyncio.create_task(freeze_start_up_objects(ready.wait, the_warming))
    try:
        ready.set()
        await asked.wait()
        # Ready, but the vocabulary is still being read: nothing is frozen yet.
        assert not freezing.done() and gc.get_freeze_count() == 0 and _walked_by_the_collector(before)
        warm.set()
        frozen = await freezing
        after = LongLived()
        assert frozen > 0 and gc.get_freeze_count() > 0  # (some frozen objects are freed meanwhile)
        assert gc.is_tracked(before) and not _walked_by_the_collector(before)
        assert _walked_by_the_collector(after)
    finally:
        gc.unfreeze()
        for task in (warming, freezing):
            task.cancel()
        await asyncio.gather(warming, freezing, return_exceptions=True)


async def test_an_engine_without_a_warming_task_freezes_once_the_bot_is_ready() -> None:
    ready = asyncio.Event()
    ready.set()
    try:
        assert await freeze_start_up_objects(ready.wait, lambda: None) > 0 and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_matching_a_page_keeps_no_more_than_a_few_papers_term_sets_alive() -> None:
    papers = [full_paper(f"2606.{n:05d}", title=f"Diffusion agents for planning {n}") for n in range(4 * PAUSE_EVERY)]
    matcher = AlertMatcher()
    matcher.sync([Subscription(1, 1, 11, "diffusion", "diffusion", 1, START)])
    alive: list[int] = []

    def count_term_sets() -> None:
        alive.append(sum(isinstance(o, PaperTerms) for o in gc.get_objects()))

    found = matcher.match(papers, learn=True, pause=count_term_sets)
    assert len(found) == len(papers) and len(alive) == 4
    # Held for the whole page, they would outlive the young collections: 50, 100, 150 and 200 here.
    assert max(alive) <= 2
