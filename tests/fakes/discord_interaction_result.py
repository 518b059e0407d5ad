"""One interaction the loopback Discord sent to the bot, what the bot answered, and waits for the answer."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from .discord_limits import MESSAGE_FLAG_EPHEMERAL
from .discord_model import FakeChannel, FakeMember, FakeUser
from .discord_records import (
    APPLICATION_COMMAND,
    CHANNEL_MESSAGE,
    DEFERRED_CHANNEL_MESSAGE,
    DEFERRED_UPDATE_MESSAGE,
    UPDATE_MESSAGE,
    CallbackRejected,
    FakeDiscordError,
    InteractionNotAnswered,
    Notifier,
    RecordedMessage,
)

log = logging.getLogger(__name__)


@dataclass(eq=False)
class InteractionResult:
    """One interaction sent to the bot and everything the bot answered.

    `content`, `embeds`, `components`, `allowed_mentions` and `ephemeral` describe the response message
    as it is now (after edits); for a deferred response call `await wait_final()` first.
    """

    id: int
    token: str
    type: int
    name: str
    channel: FakeChannel
    user: FakeUser
    member: FakeMember | None
    payload: dict[str, Any]
    notifier: Notifier
    source_message: RecordedMessage | None = None
    deadline: float | None = 3.0
    dispatched_at: float = field(default_factory=time.monotonic)
    acknowledged_at: float | None = None
    callback_type: int | None = None
    callback: dict[str, Any] | None = None
    original: RecordedMessage | None = None
    followups: list[RecordedMessage] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    choices: list[dict[str, Any]] | None = None
    modal: dict[str, Any] | None = None
    edits_at_ack: int = 0

    # ---- state -------------------------------------------------------------------------------------
    @property
    def acknowledged(self) -> bool:
        """Whether a callback was accepted."""
        return self.callback_type is not None

    @property
    def expired(self) -> bool:
        """Whether the acknowledgement deadline passed without a callback."""
        if self.acknowledged or self.deadline is None:
            return False
        return time.monotonic() > self.dispatched_at + self.deadline

    @property
    def elapsed(self) -> float | None:
        """Seconds from delivering the interaction to the accepted callback (Discord allows 3)."""
        if self.acknowledged_at is None:
            return None
        return self.acknowledged_at - self.dispatched_at

    @property
    def message(self) -> RecordedMessage | None:
        """The response message: the new one for types 4/5, the clicked message for types 6/7."""
        return self.original

    @property
    def messages(self) -> list[RecordedMessage]:
        """The response message (if any) followed by followups, in order."""
        head = [self.original] if self.original is not None and self.original is not self.source_message else []
        return head + list(self.followups)

    @property
    def deferred(self) -> bool:
        """Whether the first answer was a defer (type 5 or 6)."""
        return self.callback_type in (DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE_MESSAGE)

    @property
    def ephemeral(self) -> bool:
        """Whether the response is visible only to the invoking user."""
        if self.original is not None:
            return self.original.ephemeral
        flags = int(((self.callback or {}).get("data") or {}).get("flags") or 0)
        return bool(flags & MESSAGE_FLAG_EPHEMERAL)

    @property
    def content(self) -> str | None:
        """Text of the response message."""
        return self.original.content if self.original is not None else None

    @property
    def embeds(self) -> list[dict[str, Any]]:
        """Embeds of the response message."""
        return self.original.embeds if self.original is not None else []

    @property
    def components(self) -> list[dict[str, Any]]:
        """Components of the response message."""
        return self.original.components if self.original is not None else []

    @property
    def allowed_mentions(self) -> dict[str, Any] | None:
        """allowed_mentions of the response message."""
        return self.original.allowed_mentions if self.original is not None else None

    @property
    def text(self) -> str:
        """Content plus embed text of the response message."""
        return self.original.text if self.original is not None else ""

    def metadata(self) -> dict[str, Any]:
        """The `interaction_metadata` object Discord attaches to response messages."""
        data: dict[str, Any] = {
            "id": str(self.id),
            "type": self.type,
            "user": self.user.to_payload(),
            "authorizing_integration_owners": self.payload.get("authorizing_integration_owners", {}),
        }
        if self.type == APPLICATION_COMMAND:
            data["name"] = self.name
        if self.source_message is not None:
            data["interacted_message_id"] = str(self.source_message.id)
        return data

    # ---- waiting -----------------------------------------------------------------------------------
    def _describe(self) -> str:
        lines = [f"interaction {self.name!r} (type {self.type}) to be answered"]
        if self.rejected:
            lines.append("rejected callbacks:")
            lines.extend(f"  {r['status']} {r['body']}" for r in self.rejected)
        else:
            lines.append("the bot sent no callback (did the handler raise? check the bot's log)")
        return "\n".join(lines)

    async def wait_response(self, timeout: float = 5.0, *, fail_fast: bool = False) -> InteractionResult:
        """Wait until the bot acknowledges; InteractionNotAnswered once the deadline or timeout passes.

        With `fail_fast`, a rejected callback raises CallbackRejected at once.
        """
        limit = timeout
        if self.deadline is not None:
            remaining = self.dispatched_at + self.deadline - time.monotonic()
            limit = max(0.0, min(timeout, remaining + 0.05))

        def settled() -> bool:
            return self.acknowledged or (fail_fast and bool(self.rejected))

        try:
            await self.notifier.wait_for(settled, limit, self._describe)
        except FakeDiscordError:
            raise InteractionNotAnswered(self._describe()) from None
        if not self.acknowledged:
            raise CallbackRejected(self._describe())
        return self

    async def wait_final(self, timeout: float = 5.0) -> RecordedMessage:
        """The message the user ends up seeing, waiting for a deferred response to be filled in.

        Types 4 and 7: the response message at once. Type 5: the original once a followup or edit
        replaced "thinking...". Type 6: the clicked message once edited, else the first followup.
        """
        if not self.acknowledged:
            await self.wait_response(timeout)
        message = self.original
        if message is None:
            raise FakeDiscordError(f"callback type {self.callback_type} has no message")
        if self.callback_type in (CHANNEL_MESSAGE, UPDATE_MESSAGE):
            return message
        if self.callback_type == DEFERRED_CHANNEL_MESSAGE:
            await self.notifier.wait_for(
                lambda: not message.loading, timeout, lambda: f"deferred response to {self.name!r} to be filled in"
            )
            return message
        if self.callback_type == DEFERRED_UPDATE_MESSAGE:
            baseline = self.edits_at_ack
            await self.notifier.wait_for(
                lambda: message.edit_count > baseline or bool(self.followups),
                timeout,
                lambda: f"an edit or followup after deferring {self.name!r}",
            )
            return message if message.edit_count > baseline else self.followups[0]
        raise FakeDiscordError(f"callback type {self.callback_type} has no message")

    async def wait_followups(self, count: int = 1, timeout: float = 5.0) -> list[RecordedMessage]:
        """Wait until at least `count` followup messages were sent; return them all."""
        await self.notifier.wait_for(
            lambda: len(self.followups) >= count,
            timeout,
            lambda: f"{count} followup(s) to {self.name!r} (have {len(self.followups)})",
        )
        return list(self.followups)

    def __repr__(self) -> str:
        return (
            f"<InteractionResult {self.name!r} type={self.type} callback={self.callback_type} "
            f"followups={len(self.followups)} rejected={len(self.rejected)}>"
        )
