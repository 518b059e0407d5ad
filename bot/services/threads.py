"""Discussion threads on posted digests: opened once after the post, found again after a restart.

A channel's thread mode ("none" or "digest") and each digest's thread state live in the meta table, keyed by
channel and digest day, so a restart between posting and opening the thread opens it then (never twice:
the transport reuses a thread already started from the message).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Literal

from bot.models import Delivery
from bot.outbox import SendError, ShuttingDown, Transport
from bot.store import Store

log = logging.getLogger(__name__)

ThreadMode = Literal["none", "digest"]
THREAD_MODES: tuple[ThreadMode, ...] = ("none", "digest")
THREAD_OUTCOMES = ("posted", "late")  # digests that list papers; no thread on a missed or empty note


def _mode_key(channel_id: int) -> str:
    return f"digest_threads:{channel_id}"


def _state_key(channel_id: int, key: str) -> str:
    return f"digest_thread:{channel_id}:{key}"


def thread_name(day: dt.date) -> str:
    """The name of a digest's discussion thread: 'Discuss: Daily Papers, 4 Dec'."""
    return f"Discuss: Daily Papers, {day.day} {day:%b}"


async def thread_mode(store: Store, channel_id: int) -> ThreadMode:
    """A channel's thread mode ("none" unless set)."""
    value = await store.get_meta(_mode_key(channel_id))
    return "digest" if value == "digest" else "none"


async def set_thread_mode(store: Store, channel_id: int, mode: ThreadMode) -> None:
    """Set whether a channel's digests get a discussion thread."""
    await store.set_meta(_mode_key(channel_id), mode)


async def thread_state(store: Store, channel_id: int, key: str) -> tuple[int | None, str | None] | None:
    """The recorded thread of one digest: (thread id, None) when opened, (None, why not) when refused."""
    value = await store.get_meta(_state_key(channel_id, key))
    if value is None:
        return None
    data = json.loads(value)
    return data.get("thread_id"), data.get("error")


async def open_digest_thread(store: Store, transport: Transport, delivery: Delivery) -> int | None:
    """Open (or find) the thread of a sent digest when its channel wants one; record it; return its id."""
    if delivery.status != "sent" or delivery.message_id is None or delivery.outcome not in THREAD_OUTCOMES:
        return None
    channel_id, key = delivery.channel_id, delivery.key
    if await thread_mode(store, channel_id) == "none" or await thread_state(store, channel_id, key) is not None:
        return None
    name = thread_name(dt.date.fromisoformat(key))
    try:
        thread_id = await transport.open_thread(channel_id, delivery.message_id, name)
    except ShuttingDown:
        return None  # the next start finds the digest sent without a thread and opens it
    except SendError as exc:
        if not exc.permanent:
            log.warning("thread for digest %s/%s not opened yet: %s", channel_id, key, exc)
            return None
        log.warning("no thread for digest %s/%s: %s", channel_id, key, exc)
        await store.set_meta(_state_key(channel_id, key), json.dumps({"thread_id": None, "error": str(exc)}))
        return None
    await store.set_meta(_state_key(channel_id, key), json.dumps({"thread_id": thread_id, "error": None}))
    log.info("opened thread %s on digest %s/%s", thread_id, channel_id, key)
    return thread_id


async def describe_thread(store: Store, delivery: Delivery) -> str | None:
    """/digest show: the thread of the last digest, or why none was opened (None when not asked for)."""
    if delivery.status != "sent" or delivery.outcome not in THREAD_OUTCOMES:
        return None
    if await thread_mode(store, delivery.channel_id) == "none":
        return None
    state = await thread_state(store, delivery.channel_id, delivery.key)
    if state is None:
        return "Thread: not opened yet"
    thread_id, error = state
    return f"Thread: <#{thread_id}>" if thread_id is not None else f"Thread: none opened: {error}"
