"""Exactly-once posting: record the intent, send each part with a deterministic nonce, record the ids.

The protocol, shared by digests and alerts:
1. `claim_delivery` stores the rendered parts before anything is sent, so nothing is lost on a crash.
2. Before each part is sent, `record_attempt` notes it; after, `record_part_sent` stores its message id.
3. A part whose earlier attempt may have reached Discord (attempted, no id recorded) is first looked
   up in the channel; if not found it is re-sent with the same nonce, which Discord deduplicates.
Transport errors are classified: transient ones reschedule with backoff, permanent ones close the delivery.
A transport that is shutting down refuses new sends with `ShuttingDown`: the delivery is left as it is, and
the next start resumes it (checking the channel first, since an attempt was recorded).
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import logging
import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from bot.models import Delivery
from bot.store import AnyStore

if TYPE_CHECKING:
    from bot.render import MessagePayload

log = logging.getLogger(__name__)

NONCE_LENGTH = 25  # Discord's limit for a message nonce
RETRY_BASE_SECONDS = 5.0
RETRY_MAX_SECONDS = 15 * 60.0


class SendError(Exception):
    """Sending failed; `permanent` says whether trying again could help."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


class ShuttingDown(SendError):
    """The transport is closing: nothing more is sent, and the delivery is resumed on the next start.

    A `cause` (e.g. a revoked token) is recorded as the delivery's error, and it stays due at once.
    """

    def __init__(self, cause: str | None = None) -> None:
        super().__init__(cause or "shutting down", permanent=False)
        self.cause = cause


class Transport(Protocol):
    """How the outbox reaches a channel: post a message, read the bot's recent posts (the Discord adapter,
    or an in-memory one in tests)."""

    async def send(self, channel_id: int, part: dict[str, Any], nonce: str) -> int:
        """Post one message part with `nonce`; return its message id or raise SendError."""
        ...

    async def find_sent(self, channel_id: int, part: dict[str, Any], since: dt.datetime) -> int | None:
        """The id of a message equal to `part` the bot posted since `since`, if any."""
        ...

    async def open_thread(self, channel_id: int, message_id: int, name: str) -> int:
        """Open a public thread on a posted message, or find the one already there; return its id.

        Raises SendError (permanent when Discord refuses: missing permission, archived or locked channel).
        """
        ...


class Outcome(enum.Enum):
    """What a delivery attempt ended in."""

    SENT = "sent"
    ALREADY_SENT = "already sent"
    RETRY = "retry scheduled"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """The outcome of one delivery attempt and, when sent, the first message id."""

    outcome: Outcome
    message_id: int | None = None
    error: str | None = None


def payload_to_part(payload: MessagePayload) -> dict[str, Any]:
    """A message as the JSON the outbox stores (so it can be re-sent after a restart)."""
    part: dict[str, Any] = {"content": payload.content, "embeds": [embed.to_dict() for embed in payload.embeds]}
    if payload.components:
        part["components"] = payload.components
    return part


def make_nonce(channel_id: int, kind: str, key: str, part: int = 0) -> str:
    """A deterministic nonce for one part of one delivery, within Discord's 25 characters."""
    digest = hashlib.sha256(f"{channel_id}:{kind}:{key}:{part}".encode()).hexdigest()
    return digest[:NONCE_LENGTH]


def retry_delay(attempts: int) -> dt.timedelta:
    """Exponential backoff with full jitter, capped."""
    ceiling = min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1))
    return dt.timedelta(seconds=random.uniform(ceiling / 2, ceiling))


async def deliver(
    store: AnyStore,
    transport: Transport,
    delivery: Delivery,
    *,
    now: dt.datetime,
) -> DeliveryResult:
    """Send whatever parts of `delivery` are not yet sent, recording progress as it goes."""
    if delivery.status == "sent":
        return DeliveryResult(Outcome.ALREADY_SENT, delivery.message_id)
    if delivery.status != "pending":
        return DeliveryResult(Outcome.FAILED, None, delivery.error)
    ids = list(delivery.sent_ids) or [None] * len(delivery.parts)
    channel, kind, key = delivery.channel_id, delivery.kind, delivery.key
    # An attempt was recorded earlier without all ids: the crash may have come after Discord accepted it.
    may_have_sent = delivery.attempts > 0
    since = delivery.created_at or now
    try:
        for index, part in enumerate(delivery.parts):
            if ids[index] is not None:
                continue
            message_id = None
            if may_have_sent:
                message_id = await transport.find_sent(channel, part, since)
                if message_id is not None:
                    log.info("delivery %s/%s/%s part %d was already posted", channel, kind, key, index)
            if message_id is None:
                await store.record_attempt(channel, kind, key)
                message_id = await transport.send(channel, part, make_nonce(channel, kind, key, index))
            ids[index] = message_id
            await store.record_part_sent(channel, kind, key, index, message_id)
    except ShuttingDown as exc:
        log.info("delivery %s/%s/%s left for the next start: %s", channel, kind, key, exc)
        if exc.cause:
            await store.schedule_retry(channel, kind, key, error=exc.cause, at=now)
        return DeliveryResult(Outcome.RETRY, None, str(exc))
    except SendError as exc:
        if exc.permanent:
            log.warning("delivery %s/%s/%s failed for good: %s", channel, kind, key, exc)
            await store.mark_failed(channel, kind, key, error=str(exc))
            return DeliveryResult(Outcome.FAILED, None, str(exc))
        when = now + retry_delay(delivery.attempts + 1)
        log.warning("delivery %s/%s/%s will be retried at %s: %s", channel, kind, key, when, exc)
        await store.schedule_retry(channel, kind, key, error=str(exc), at=when)
        return DeliveryResult(Outcome.RETRY, None, str(exc))
    first = next((i for i in ids if i is not None), None)
    await store.mark_delivered(channel, kind, key, first)
    return DeliveryResult(Outcome.SENT, first)


async def claim_and_deliver(
    store: AnyStore,
    transport: Transport,
    *,
    channel_id: int,
    kind: str,
    key: str,
    parts: list[dict[str, Any]],
    now: dt.datetime,
    outcome: str | None = None,
    members: Iterable[tuple[str, str]] = (),
) -> DeliveryResult:
    """Record the intent (unless it exists) and deliver it; an existing sent record is never re-sent."""
    delivery, _ = await store.claim_delivery(
        channel_id,
        kind,
        key,
        nonce=make_nonce(channel_id, kind, key),
        parts=parts,
        outcome=outcome,
        members=members,
    )
    return await deliver(store, transport, delivery, now=now)
