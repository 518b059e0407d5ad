"""The thread step of a digest delivery over the in-memory transport: when a thread opens, and what is recorded."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.models import Delivery
from bot.outbox import SendError, ShuttingDown
from bot.services.threads import (
    describe_thread,
    open_digest_thread,
    set_thread_mode,
    thread_mode,
    thread_name,
    thread_state,
)
from bot.store import Store
from tests.fakes.transport import MemoryTransport

CHANNEL = 42


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "cache.db")
    try:
        yield opened
    finally:
        await opened.close()


def sent_digest(key: str = "2026-12-04", *, outcome: str = "posted", message_id: int | None = 7) -> Delivery:
    return Delivery(CHANNEL, "digest", key, "sent", "nonce", message_id=message_id, outcome=outcome)


@pytest.mark.parametrize(
    ("day", "name"),
    [(dt.date(2026, 12, 4), "Discuss: Daily Papers, 4 Dec"), (dt.date(2026, 6, 12), "Discuss: Daily Papers, 12 Jun")],
)
def test_thread_name_says_the_day(day: dt.date, name: str) -> None:
    assert thread_name(day) == name


async def test_mode_is_none_until_set(store: Store) -> None:
    assert await thread_mode(store, CHANNEL) == "none"
    await set_thread_mode(store, CHANNEL, "digest")
    assert await thread_mode(store, CHANNEL) == "digest"
    assert await thread_mode(store, CHANNEL + 1) == "none"


async def test_opens_once_and_records_the_thread(store: Store) -> None:
    transport = MemoryTransport()
    await set_thread_mode(store, CHANNEL, "digest")
    assert await open_digest_thread(store, transport, sent_digest()) == 7
    assert await open_digest_thread(store, transport, sent_digest()) is None  # recorded: not asked again
    assert transport.threads == {7: (CHANNEL, "Discuss: Daily Papers, 4 Dec")}
    assert await thread_state(store, CHANNEL, "2026-12-04") == (7, None)
    assert await describe_thread(store, sent_digest()) == "Thread: <#7>"


@pytest.mark.parametrize(
    "delivery",
    [sent_digest(outcome="missed"), sent_digest(outcome="empty"), sent_digest(message_id=None),
     Delivery(CHANNEL, "digest", "2026-12-04", "pending", "nonce", outcome="posted")],
)
async def test_no_thread_on_notes_unsent_or_when_not_asked(store: Store, delivery: Delivery) -> None:
    transport = MemoryTransport()
    assert await open_digest_thread(store, transport, sent_digest()) is None  # mode "none"
    await set_thread_mode(store, CHANNEL, "digest")
    assert await open_digest_thread(store, transport, delivery) is None
    assert transport.threads == {}


async def test_a_refusal_is_recorded_with_its_reason_and_not_retried(store: Store) -> None:
    transport = MemoryTransport()
    await set_thread_mode(store, CHANNEL, "digest")
    transport.thread_failures.append(SendError("needs Create Public Threads", permanent=True))
    assert await open_digest_thread(store, transport, sent_digest()) is None
    assert await thread_state(store, CHANNEL, "2026-12-04") == (None, "needs Create Public Threads")
    assert await open_digest_thread(store, transport, sent_digest()) is None
    assert transport.threads == {}
    assert await describe_thread(store, sent_digest()) == "Thread: none opened: needs Create Public Threads"


@pytest.mark.parametrize("failure", [SendError("Discord answered 503", permanent=False), ShuttingDown()])
async def test_a_transient_failure_leaves_it_to_the_next_pass(store: Store, failure: SendError) -> None:
    transport = MemoryTransport()
    await set_thread_mode(store, CHANNEL, "digest")
    transport.thread_failures.append(failure)
    assert await open_digest_thread(store, transport, sent_digest()) is None
    assert await thread_state(store, CHANNEL, "2026-12-04") is None
    assert await describe_thread(store, sent_digest()) == "Thread: not opened yet"
    assert await open_digest_thread(store, transport, sent_digest()) == 7
