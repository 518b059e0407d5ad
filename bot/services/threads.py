"""Discussion threads on posted digests: opened once after the post, found again after a restart.

A channel's thread mode ("none", "digest", or "papers": one thread per paper card) and each digest's thread
state live in the meta table, keyed by channel and digest day (and card), so a restart between posting and
opening a thread opens it then (never twice: the transport reuses a thread already started from a message).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from typing import Any, Literal

from bot.digest import WEEK_KEY_PREFIX
from bot.models import Delivery
from bot.outbox import SendError, ShuttingDown, Transport
from bot.render import MessagePayload
from bot.store import AnyStore

log = logging.getLogger(__name__)

ThreadMode = Literal["none", "digest", "papers"]
THREAD_MODES: tuple[ThreadMode, ...] = ("none", "digest", "papers")
THREAD_NAME_LIMIT = 100  # Discord's limit for a thread name
THREAD_OUTCOMES = ("posted", "late")  # digests that list papers; no thread on a missed or empty note


def _mode_key(channel_id: int) -> str:
    return f"digest_threads:{channel_id}"


def _state_key(channel_id: int, key: str) -> str:
    return f"digest_thread:{channel_id}:{key}"


def _card_key(channel_id: int, key: str, index: int) -> str:
    return f"digest_thread:{channel_id}:{key}:{index}"


def card_thread_name(part: dict[str, Any]) -> str | None:
    """A paper card's thread name: the paper title (no rank, no escapes), cut between words to 100 characters."""
    embeds = part.get("embeds") or []
    title = str(embeds[0].get("title") or "") if embeds else ""
    title = re.sub(r"\\(.)", r"\1", re.sub(r"^\d+\. ", "", title)).strip()
    if not title:
        return None
    if len(title) <= THREAD_NAME_LIMIT:
        return title
    cut = title[: THREAD_NAME_LIMIT - 1].rsplit(" ", 1)[0].rstrip()
    return (cut or title[: THREAD_NAME_LIMIT - 1]) + "…"


def one_card_per_message(payloads: list[MessagePayload]) -> list[MessagePayload]:
    """A cards digest with each card in its own message (the header with the first), so each can hold a thread."""
    out: list[MessagePayload] = []
    for payload in payloads:
        if len(payload.embeds) <= 1:
            out.append(payload)
            continue
        for index, embed in enumerate(payload.embeds):
            out.append(MessagePayload(content=payload.content if index == 0 else None, embeds=[embed]))
    return out


def thread_name(day: dt.date) -> str:
    """The name of a digest's discussion thread: 'Discuss: Daily Papers, 4 Dec'."""
    return f"Discuss: Daily Papers, {day.day} {day:%b}"


def thread_name_for_key(key: str) -> str:
    """A thread name from a digest's delivery key: a day ('2026-12-04') or a week ('week:2026-W49')."""
    if key.startswith(WEEK_KEY_PREFIX):
        year, week = key.removeprefix(WEEK_KEY_PREFIX).split("-W")
        return f"Discuss: Weekly Papers, week {int(week)} of {year}"
    return thread_name(dt.date.fromisoformat(key))


async def thread_mode(store: AnyStore, channel_id: int) -> ThreadMode:
    """A channel's thread mode ("none" unless set)."""
    value = await store.get_meta(_mode_key(channel_id))
    return next((mode for mode in THREAD_MODES if mode == value), "none")


def effective_mode(mode: ThreadMode, style: str) -> ThreadMode:
    """Threads per paper need cards; a compact digest gets one thread instead."""
    return "digest" if mode == "papers" and style != "cards" else mode


async def set_thread_mode(store: AnyStore, channel_id: int, mode: ThreadMode) -> None:
    """Set whether a channel's digests get a discussion thread."""
    await store.set_meta(_mode_key(channel_id), mode)


async def thread_state(store: AnyStore, channel_id: int, key: str) -> tuple[int | None, str | None] | None:
    """The recorded thread of one digest: (thread id, None) when opened, (None, why not) when refused."""
    value = await store.get_meta(_state_key(channel_id, key))
    if value is None:
        return None
    data = json.loads(value)
    return data.get("thread_id"), data.get("error")


async def open_digest_thread(store: AnyStore, transport: Transport, delivery: Delivery) -> int | None:
    """Open (or find) the thread of a sent digest when its channel wants one; record it; return its id."""
    if delivery.status != "sent" or delivery.message_id is None or delivery.outcome not in THREAD_OUTCOMES:
        return None
    channel_id, key = delivery.channel_id, delivery.key
    wanted = await thread_mode(store, channel_id)
    if wanted == "none":
        return None  # the usual case, settled without reading the settings
    settings = await store.get_digest_settings(channel_id)
    mode = effective_mode(wanted, settings.style if settings else "compact")
    if await thread_state(store, channel_id, key) is not None:
        return None
    cards = _card_threads(delivery) if mode == "papers" else []
    if not cards:  # one thread on the digest (also a papers mode digest without cards)
        cards = [(-1, delivery.message_id, thread_name_for_key(key))]
    first: int | None = None
    for index, message_id, name in cards:
        card_key = _card_key(channel_id, key, index)
        recorded = await store.get_meta(card_key) if index >= 0 else None
        try:
            thread_id = int(recorded) if recorded else await transport.open_thread(channel_id, message_id, name)
        except ShuttingDown:
            return None  # the next start finds the digest sent without its threads and opens them
        except SendError as exc:
            if not exc.permanent:
                log.warning("thread for digest %s/%s not opened yet: %s", channel_id, key, exc)
                return None
            log.warning("no thread for digest %s/%s: %s", channel_id, key, exc)
            await store.set_meta(_state_key(channel_id, key), json.dumps({"thread_id": first, "error": str(exc)}))
            return first
        if index >= 0:
            await store.set_meta(card_key, str(thread_id))
        first = thread_id if first is None else first
    state = {"thread_id": first, "error": None, "count": len(cards)}
    await store.set_meta(_state_key(channel_id, key), json.dumps(state))
    log.info("opened %d thread(s) on digest %s/%s", len(cards), channel_id, key)
    return first


def _card_threads(delivery: Delivery) -> list[tuple[int, int, str]]:
    """(part index, message id, thread name) of each posted paper card of a digest."""
    out = []
    for index, (part, message_id) in enumerate(zip(delivery.parts, delivery.sent_ids, strict=False)):
        name = card_thread_name(part)
        if message_id is not None and name is not None and len(part.get("embeds") or []) == 1:
            out.append((index, message_id, name))
    return out


async def describe_thread(store: AnyStore, delivery: Delivery) -> str | None:
    """/digest show: the thread of the last digest, or why none was opened (None when not asked for)."""
    if delivery.status != "sent" or delivery.outcome not in THREAD_OUTCOMES:
        return None
    if await thread_mode(store, delivery.channel_id) == "none":
        return None
    state = await thread_state(store, delivery.channel_id, delivery.key)
    if state is None:
        return "Thread: not opened yet"
    thread_id, error = state
    if error is not None:
        return f"Thread: none opened: {error}" if thread_id is None else f"Threads: some not opened: {error}"
    count = int(json.loads(await store.get_meta(_state_key(delivery.channel_id, delivery.key)) or "{}").get("count", 1))
    return f"Thread: <#{thread_id}>" if count == 1 else f"Threads: {count}, one per paper, from <#{thread_id}>"
