"""The thread step of a digest delivery over the in-memory transport: when a thread opens, and what is recorded."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import discord
import pytest

from bot.models import Delivery, DigestSettings
from bot.outbox import SendError, ShuttingDown
from bot.render import MessagePayload
from bot.services.threads import (
    card_thread_name,
    describe_thread,
    effective_mode,
    one_card_per_message,
    open_digest_thread,
    set_thread_mode,
    thread_mode,
    thread_name,
    thread_name_for_key,
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
    [
        sent_digest(outcome="missed"),
        sent_digest(outcome="empty"),
        sent_digest(message_id=None),
        Delivery(CHANNEL, "digest", "2026-12-04", "pending", "nonce", outcome="posted"),
    ],
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


def test_card_thread_name_is_the_title_without_rank_or_escapes() -> None:
    assert card_thread_name({"embeds": [{"title": "3. Sparse \\*routing\\* at scale"}]}) == "Sparse *routing* at scale"
    assert card_thread_name({"content": "no card", "embeds": []}) is None


def test_a_long_title_is_cut_between_words_within_100_characters() -> None:
    title = " ".join(["Mixture"] * 30)
    name = card_thread_name({"embeds": [{"title": f"1. {title}"}]})
    assert name is not None and len(name) <= 100 and name.endswith("Mixture…")
    assert name.startswith("Mixture Mixture")


def test_one_card_per_message_keeps_the_header_with_the_first_card() -> None:
    cards = [discord.Embed(title=f"{i}. Paper {i}") for i in range(1, 4)]
    split = one_card_per_message([MessagePayload(content="header", embeds=cards[:2]), MessagePayload(embeds=cards[2:])])
    assert [(p.content, [e.title for e in p.embeds]) for p in split] == [
        ("header", ["1. Paper 1"]),
        (None, ["2. Paper 2"]),
        (None, ["3. Paper 3"]),
    ]


@pytest.mark.parametrize(
    ("mode", "style", "effective"),
    [
        ("papers", "cards", "papers"),
        ("papers", "compact", "digest"),
        ("digest", "cards", "digest"),
        ("none", "cards", "none"),
    ],
)
def test_papers_mode_needs_cards(mode: str, style: str, effective: str) -> None:
    assert effective_mode(mode, style) == effective  # type: ignore[arg-type]


async def test_papers_mode_opens_one_thread_per_card_and_resumes_without_doubling(store: Store) -> None:
    transport = MemoryTransport()
    await store.save_digest_settings(DigestSettings(guild_id=1, channel_id=CHANNEL, style="cards"))
    await set_thread_mode(store, CHANNEL, "papers")
    parts = tuple({"content": None, "embeds": [{"title": f"{i}. Paper {i}"}]} for i in range(1, 4))
    delivery = Delivery(
        CHANNEL,
        "digest",
        "2026-12-04",
        "sent",
        "n",
        message_id=11,
        outcome="posted",
        parts=parts,
        sent_ids=(11, 12, 13),
    )
    transport.thread_failures.append(SendError("Discord answered 503", permanent=False))
    assert await open_digest_thread(store, transport, delivery) is None
    assert transport.threads == {}
    assert await open_digest_thread(store, transport, delivery) == 11
    assert transport.threads == {11: (CHANNEL, "Paper 1"), 12: (CHANNEL, "Paper 2"), 13: (CHANNEL, "Paper 3")}
    assert await describe_thread(store, delivery) == "Threads: 3, one per paper, from <#11>"


async def test_papers_mode_on_a_compact_digest_opens_one_thread(store: Store) -> None:
    transport = MemoryTransport()
    await store.save_digest_settings(DigestSettings(guild_id=1, channel_id=CHANNEL, style="compact"))
    await set_thread_mode(store, CHANNEL, "papers")
    parts = ({"content": None, "embeds": [{"title": "Daily Papers · Fri 2026-12-04"}]},)
    delivery = Delivery(
        CHANNEL, "digest", "2026-12-04", "sent", "n", message_id=11, outcome="posted", parts=parts, sent_ids=(11,)
    )
    assert await open_digest_thread(store, transport, delivery) == 11
    assert transport.threads == {11: (CHANNEL, "Discuss: Daily Papers, 4 Dec")}


def test_thread_names_follow_the_digest_key_daily_or_weekly() -> None:
    assert thread_name_for_key("2026-12-04") == "Discuss: Daily Papers, 4 Dec"
    assert thread_name_for_key("week:2026-W49") == "Discuss: Weekly Papers, week 49 of 2026"
