"""The exactly-once outbox over the real store, with a recording transport."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.outbox import Outcome, SendError, claim_and_deliver, deliver, make_nonce
from bot.store import Store

NOW = dt.datetime(2026, 6, 12, 9, tzinfo=dt.UTC)
PARTS = [{"content": "part one"}, {"content": "part two"}]


class RecordingTransport:
    """Posts into a list; can fail or 'crash' after Discord accepted a message."""

    def __init__(self) -> None:
        self.posted: list[tuple[int, dict[str, Any], str]] = []
        self.fail_with: SendError | None = None
        self.crash_after_accept = False
        self.threads: dict[int, tuple[int, str]] = {}  # thread id (= its message's id) -> channel id, name

    async def send(self, channel_id: int, part: dict[str, Any], nonce: str) -> int:
        if self.fail_with:
            raise self.fail_with
        for posted_channel, posted_part, posted_nonce in self.posted:
            if posted_channel == channel_id and posted_nonce == nonce:  # Discord's enforce_nonce
                return self.posted.index((posted_channel, posted_part, posted_nonce)) + 1
        self.posted.append((channel_id, part, nonce))
        if self.crash_after_accept:
            raise KeyboardInterrupt("process killed after Discord accepted the message")
        return len(self.posted)

    async def find_sent(self, channel_id: int, part: dict[str, Any], since: dt.datetime) -> int | None:
        for index, (posted_channel, posted_part, _) in enumerate(self.posted):
            if posted_channel == channel_id and posted_part == part:
                return index + 1
        return None

    async def open_thread(self, channel_id: int, message_id: int, name: str) -> int:
        self.threads.setdefault(message_id, (channel_id, name))
        return message_id


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "o.db")
    yield opened
    await opened.close()


async def test_sends_each_part_once_and_records_ids(store: Store) -> None:
    transport = RecordingTransport()
    result = await claim_and_deliver(
        store, transport, channel_id=7, kind="digest", key="2026-06-11", parts=PARTS, now=NOW
    )
    assert result.outcome is Outcome.SENT and result.message_id == 1
    again = await claim_and_deliver(
        store, transport, channel_id=7, kind="digest", key="2026-06-11", parts=PARTS, now=NOW
    )
    assert again.outcome is Outcome.ALREADY_SENT
    assert [p[1]["content"] for p in transport.posted] == ["part one", "part two"]
    record = await store.get_delivery(7, "digest", "2026-06-11")
    assert record is not None and record.status == "sent" and record.sent_ids == (1, 2)


async def test_crash_between_send_and_record_neither_loses_nor_duplicates(store: Store) -> None:
    transport = RecordingTransport()
    transport.crash_after_accept = True
    with pytest.raises(KeyboardInterrupt):
        await claim_and_deliver(store, transport, channel_id=7, kind="digest", key="d", parts=PARTS, now=NOW)
    transport.crash_after_accept = False
    (pending,) = await store.open_deliveries(["digest"])
    result = await deliver(store, transport, pending, now=NOW)
    assert result.outcome is Outcome.SENT
    assert [p[1]["content"] for p in transport.posted] == ["part one", "part two"]


async def test_transient_failure_reschedules_then_succeeds(store: Store) -> None:
    transport = RecordingTransport()
    transport.fail_with = SendError("Discord answered 500", permanent=False)
    result = await claim_and_deliver(
        store,
        transport,
        channel_id=7,
        kind="alert_batch",
        key="b1",
        parts=PARTS[:1],
        now=NOW,
        members=[("alert", "2606.00001")],
    )
    assert result.outcome is Outcome.RETRY
    assert await store.open_deliveries(["alert_batch"], due_by=NOW) == []
    (pending,) = await store.open_deliveries(["alert_batch"], due_by=NOW + dt.timedelta(hours=1))
    assert pending.error == "Discord answered 500"
    transport.fail_with = None
    assert (await deliver(store, transport, pending, now=NOW)).outcome is Outcome.SENT
    member = await store.get_delivery(7, "alert", "2606.00001")
    assert member is not None and member.status == "sent" and member.message_id == 1
    assert await store.delivered_keys(7, "alert", ["2606.00001", "2606.00002"]) == {"2606.00001"}


async def test_permanent_failure_closes_the_delivery(store: Store) -> None:
    transport = RecordingTransport()
    transport.fail_with = SendError("channel deleted", permanent=True)
    result = await claim_and_deliver(store, transport, channel_id=7, kind="digest", key="d", parts=PARTS, now=NOW)
    assert result.outcome is Outcome.FAILED
    record = await store.get_delivery(7, "digest", "d")
    assert record is not None and record.status == "failed" and record.error == "channel deleted"
    assert await store.open_deliveries(["digest"]) == []


def test_nonces_are_deterministic_distinct_and_short() -> None:
    nonce = make_nonce(123456789012345678, "digest", "2026-06-11", 0)
    assert nonce == make_nonce(123456789012345678, "digest", "2026-06-11", 0)
    assert nonce != make_nonce(123456789012345678, "digest", "2026-06-11", 1)
    assert len(nonce) <= 25
