"""Discussion threads on digests end to end: real bot, loopback Discord and Hugging Face, manual clock."""

from __future__ import annotations

from typing import Any

import pytest

from bot.services import digests as digest_service
from bot.services.threads import thread_state
from tests.fakes.discord_threads import CREATE_PUBLIC_THREADS
from tests.fakes.harness import BotHarness, eventually, wait_until
from tests.test_digest_e2e import DAY, at, serve_day, set_digest

THREAD_NAME = "Discuss: Daily Papers, 12 Jun"


def thread_starts(harness: BotHarness) -> int:
    return sum(1 for r in harness.discord.requests if r.method == "POST" and r.path.endswith("/threads"))


async def show(harness: BotHarness) -> str:
    shown = await harness.discord.slash("digest", "show", as_user=harness.member, channel=harness.channel)
    return shown.content or ""


async def test_threads_digest_opens_one_thread_named_after_the_day(harness: BotHarness) -> None:
    serve_day(harness)
    result = await set_digest(harness, threads="digest")
    assert "with a discussion thread" in (result.content or "")
    harness.clock.set(at(9))
    (posted,) = await harness.discord.wait_for_messages(harness.channel, 1)
    await wait_until(lambda: harness.discord.thread_of(posted.id) is not None, what="the thread")
    thread = harness.discord.thread_of(posted.id)
    assert thread is not None and thread["name"] == THREAD_NAME and thread["parent_id"] == str(harness.channel.id)
    assert f"Thread: <#{posted.id}>" in await show(harness)
    harness.clock.set(at(12))
    await wait_until(lambda: harness.clock.sleepers != [], what="scheduler asleep again")
    assert thread_starts(harness) == 1 and len(harness.discord.threads) == 1


async def test_without_the_option_no_thread_is_opened(harness: BotHarness) -> None:
    serve_day(harness)
    await set_digest(harness)
    harness.clock.set(at(9))
    await harness.discord.wait_for_messages(harness.channel, 1)
    await wait_until(lambda: harness.clock.sleepers != [], what="scheduler pass finished")
    assert harness.discord.threads == {} and thread_starts(harness) == 0
    assert "Thread" not in await show(harness)


@pytest.mark.parametrize("crash_point", ["before opening", "after opening, before recording"])
async def test_crash_between_post_and_thread_gives_exactly_one_thread_after_restart(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch, crash_point: str
) -> None:
    serve_day(harness)
    await set_digest(harness, threads="digest")
    store = harness.store
    if crash_point == "before opening":

        async def die(*args: Any, **kwargs: Any) -> None:
            raise SystemError("process died before opening the thread")

        monkeypatch.setattr(digest_service, "open_digest_thread", die)
    else:
        original_set_meta = store.set_meta

        async def die_on_thread_record(key: str, value: str) -> None:
            if key.startswith("digest_thread:"):
                raise SystemError("process died before recording the thread")
            await original_set_meta(key, value)

        monkeypatch.setattr(store, "set_meta", die_on_thread_record)
    harness.clock.set(at(9))
    (posted,) = await harness.discord.wait_for_messages(harness.channel, 1)
    if crash_point == "before opening":
        await wait_until(lambda: harness.clock.sleepers != [], what="scheduler pass finished")
        assert harness.discord.threads == {}
    else:
        await wait_until(lambda: harness.discord.thread_of(posted.id) is not None, what="the thread before the crash")
        await wait_until(lambda: harness.clock.sleepers != [], what="scheduler pass finished")
        assert await thread_state(store, harness.channel.id, DAY.isoformat()) is None
    monkeypatch.undo()
    await harness.restart()
    await wait_until(lambda: harness.discord.thread_of(posted.id) is not None, what="the thread after restart")

    async def recorded() -> bool:
        return f"Thread: <#{posted.id}>" in await show(harness)

    await eventually(recorded, what="the thread to be recorded")
    assert len(harness.discord.threads) == 1 and thread_starts(harness) == 1
    assert len(harness.discord.messages_in(harness.channel)) == 1


async def test_missing_create_public_threads_posts_the_digest_and_show_says_why(harness: BotHarness) -> None:
    serve_day(harness)
    harness.discord.set_overwrite(
        harness.channel, harness.discord.bot_member(harness.guild), deny=CREATE_PUBLIC_THREADS
    )
    result = await set_digest(harness, threads="digest")
    assert "lacks Create Public Threads" in (result.content or "")
    harness.clock.set(at(9))
    (posted,) = await harness.discord.wait_for_messages(harness.channel, 1)
    assert "2026-06-12" in posted.text
    shown = ""

    async def explained() -> bool:
        nonlocal shown
        shown = await show(harness)
        return "Thread: none opened" in shown

    await eventually(explained, what="/digest show to explain the missing thread")
    assert "Create Public Threads" in shown
    await harness.restart()
    harness.clock.set(at(12))
    await wait_until(lambda: harness.clock.sleepers != [], what="scheduler asleep again")
    assert harness.discord.threads == {} and thread_starts(harness) == 1  # refused once, not retried
    delivery = await harness.store.get_delivery(harness.channel.id, "digest", DAY.isoformat())
    assert delivery is not None and delivery.status == "sent"


async def test_threads_papers_opens_one_thread_per_card_named_by_the_title(harness: BotHarness) -> None:
    serve_day(harness)
    result = await set_digest(harness, threads="papers", style="cards", top=3)
    assert "with a discussion thread per paper" in (result.content or "")
    harness.clock.set(at(9))
    posted = await harness.discord.wait_for_messages(harness.channel, 3)
    assert [len(m.embeds) for m in posted] == [1, 1, 1] and "2026-06-12" in posted[0].text
    await wait_until(lambda: len(harness.discord.threads) == 3, what="three threads")
    names = [harness.discord.threads[m.id]["name"] for m in posted]
    assert names == ["Paper 1 on sparse routing", "Paper 3 on sparse routing", "Paper 0 on sparse routing"]
    assert "Threads: 3, one per paper" in await show(harness)
    harness.clock.set(at(12))
    await wait_until(lambda: harness.clock.sleepers != [], what="scheduler asleep again")
    assert thread_starts(harness) == 3


async def test_threads_papers_with_compact_says_so_and_opens_one_thread(harness: BotHarness) -> None:
    serve_day(harness)
    result = await set_digest(harness, threads="papers")
    assert "a thread per paper needs style cards" in (result.content or "")
    harness.clock.set(at(9))
    (posted,) = await harness.discord.wait_for_messages(harness.channel, 1)
    await wait_until(lambda: harness.discord.thread_of(posted.id) is not None, what="the thread")
    assert len(harness.discord.threads) == 1 and harness.discord.threads[posted.id]["name"] == THREAD_NAME
