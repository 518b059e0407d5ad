"""What the loopback Discord server records: requests, messages and counters, and waits on them."""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .discord_limits import (
    MESSAGE_FLAG_EPHEMERAL,
    MESSAGE_FLAG_LOADING,
)
from .discord_model import FakeChannel, FakeMember, FakeUser, iso

if TYPE_CHECKING:
    from .discord_interaction_result import InteractionResult

log = logging.getLogger(__name__)

# Interaction types.
PING = 1
APPLICATION_COMMAND = 2
MESSAGE_COMPONENT = 3
AUTOCOMPLETE = 4
MODAL_SUBMIT = 5

# Interaction callback types.
PONG = 1
CHANNEL_MESSAGE = 4
DEFERRED_CHANNEL_MESSAGE = 5
DEFERRED_UPDATE_MESSAGE = 6
UPDATE_MESSAGE = 7
AUTOCOMPLETE_RESULT = 8
MODAL = 9

_MENTION = re.compile(r"<@!?(\d+)>|<@&(\d+)>|@(everyone|here)")


class FakeDiscordError(Exception):
    """A driver call could not do what was asked (unknown command, nothing connected, timeout...)."""


class InteractionNotAnswered(FakeDiscordError):
    """The bot did not acknowledge an interaction in time (Discord shows "The application did not respond")."""


class CallbackRejected(FakeDiscordError):
    """The bot answered an interaction with a body Discord rejects (for example 26 autocomplete choices)."""


@dataclass
class RequestRecord:
    """One REST request as the server saw it."""

    method: str
    path: str
    query: dict[str, str]
    status: int = 0
    route: str | None = None
    body: Any = None
    at: float = field(default_factory=time.monotonic)

    def __repr__(self) -> str:
        return f"<{self.method} {self.path} -> {self.status}>"


@dataclass
class Stats:
    """Counters for assertions and benchmarks."""

    requests: int = 0
    rate_limited_global: int = 0
    rate_limited_local: int = 0
    injected_failures: int = 0
    rejected_bodies: int = 0
    messages_created: int = 0
    messages_edited: int = 0
    messages_deleted: int = 0
    nonce_dedupes: int = 0
    interactions_created: int = 0
    callbacks: int = 0
    followups: int = 0
    gateway_connections: int = 0
    identifies: int = 0
    resumes: int = 0
    heartbeats: int = 0
    invalid_sessions: int = 0

    @property
    def rate_limited(self) -> int:
        """All 429 answers, global and per-bucket."""
        return self.rate_limited_global + self.rate_limited_local


@dataclass(frozen=True)
class Pings:
    """Who a message actually notifies, given its content and allowed_mentions."""

    users: frozenset[int] = frozenset()
    roles: frozenset[int] = frozenset()
    everyone: bool = False

    @property
    def anyone(self) -> bool:
        """True if the message pings at least one user, role, @everyone or @here."""
        return bool(self.users or self.roles or self.everyone)


def compute_pings(content: str, allowed_mentions: dict[str, Any] | None, *, can_mention_everyone: bool) -> Pings:
    """Apply Discord's allowed_mentions rules to the mentions written in `content`."""
    users: set[int] = set()
    roles: set[int] = set()
    everyone = False
    for match in _MENTION.finditer(content or ""):
        if match.group(1):
            users.add(int(match.group(1)))
        elif match.group(2):
            roles.add(int(match.group(2)))
        else:
            everyone = True
    if allowed_mentions is None:
        parse = {"users", "roles", "everyone"}
        allowed_users: set[int] = set()
        allowed_roles: set[int] = set()
    else:
        parse = set(allowed_mentions.get("parse") or [])
        allowed_users = {int(x) for x in allowed_mentions.get("users") or []}
        allowed_roles = {int(x) for x in allowed_mentions.get("roles") or []}
    return Pings(
        users=frozenset(u for u in users if "users" in parse or u in allowed_users),
        roles=frozenset(r for r in roles if "roles" in parse or r in allowed_roles),
        everyone=everyone and "everyone" in parse and can_mention_everyone,
    )


@dataclass(eq=False)
class RecordedMessage:
    """A message the server holds; edits are applied in place and earlier versions kept in `history`."""

    id: int
    channel: FakeChannel
    author: FakeUser
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    flags: int = 0
    nonce: str | None = None
    allowed_mentions: dict[str, Any] | None = None
    tts: bool = False
    type: int = 0
    webhook_id: int | None = None
    application_id: int | None = None
    interaction: InteractionResult | None = None
    message_reference: dict[str, Any] | None = None
    author_member: FakeMember | None = None
    can_mention_everyone: bool = False
    dropped_embeds: list[dict[str, Any]] = field(default_factory=list)
    created_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    edited_at: dt.datetime | None = None
    deleted: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)
    thread: dict[str, Any] | None = None  # the thread started from this message, as its channel object

    @property
    def channel_id(self) -> int:
        """Id of the channel the message is in."""
        return self.channel.id

    @property
    def ephemeral(self) -> bool:
        """Whether only the invoking user sees it."""
        return bool(self.flags & MESSAGE_FLAG_EPHEMERAL)

    @property
    def loading(self) -> bool:
        """Whether it is still a deferred "thinking..." placeholder."""
        return bool(self.flags & MESSAGE_FLAG_LOADING)

    @property
    def edit_count(self) -> int:
        """How many edits were applied."""
        return len(self.history)

    @property
    def pings(self) -> Pings:
        """Who this message notifies under Discord's mention rules."""
        return compute_pings(self.content, self.allowed_mentions, can_mention_everyone=self.can_mention_everyone)

    def walk_components(self) -> Iterator[dict[str, Any]]:
        """Every component, depth first (rows, then buttons and selects)."""
        stack = list(reversed(self.components))
        while stack:
            component = stack.pop()
            yield component
            children = list(component.get("components") or [])
            for key in ("component", "accessory"):
                if isinstance(component.get(key), dict):
                    children.append(component[key])
            stack.extend(reversed(children))

    @property
    def custom_ids(self) -> list[str]:
        """custom_id of every interactive component, in order."""
        return [c["custom_id"] for c in self.walk_components() if isinstance(c.get("custom_id"), str)]

    def component(self, custom_id: str) -> dict[str, Any]:
        """The component with this custom_id (KeyError listing the ones that exist)."""
        for component in self.walk_components():
            if component.get("custom_id") == custom_id:
                return component
        raise KeyError(f"message {self.id} has no component {custom_id!r}; it has {self.custom_ids}")

    @property
    def text(self) -> str:
        """Content plus every embed's visible text, for loose `in` assertions."""
        parts = [self.content]
        for embed in self.embeds:
            parts.append((embed.get("author") or {}).get("name") or "")
            parts.append(embed.get("title") or "")
            parts.append(embed.get("description") or "")
            for item in embed.get("fields") or []:
                parts.append(item.get("name") or "")
                parts.append(item.get("value") or "")
            parts.append((embed.get("footer") or {}).get("text") or "")
        return "\n".join(p for p in parts if p)

    def snapshot(self) -> dict[str, Any]:
        """The editable fields as they are now."""
        return copy.deepcopy(
            {
                "content": self.content,
                "embeds": self.embeds,
                "components": self.components,
                "attachments": self.attachments,
                "flags": self.flags,
                "allowed_mentions": self.allowed_mentions,
            }
        )

    def to_payload(self) -> dict[str, Any]:
        """The message object as Discord returns it."""
        pings = self.pings
        payload: dict[str, Any] = {
            "id": str(self.id),
            "type": self.type,
            "channel_id": str(self.channel.id),
            "author": self.author.to_payload(),
            "content": self.content,
            "timestamp": iso(self.created_at),
            "edited_timestamp": iso(self.edited_at) if self.edited_at else None,
            "tts": self.tts,
            "mention_everyone": pings.everyone,
            "mentions": [],
            "mention_roles": [str(r) for r in sorted(pings.roles)],
            "attachments": copy.deepcopy(self.attachments),
            "embeds": copy.deepcopy(self.embeds),
            "components": copy.deepcopy(self.components),
            "pinned": False,
            "flags": self.flags,
        }
        if self.channel.guild is not None:
            payload["guild_id"] = str(self.channel.guild.id)
            if self.author_member is not None:
                payload["member"] = self.author_member.to_payload(include_user=False)
        guild_members = self.channel.guild.members if self.channel.guild else {}
        for user_id in sorted(pings.users):
            member = guild_members.get(user_id)
            if member is not None:
                payload["mentions"].append(member.user.to_payload())
        if self.nonce is not None:
            payload["nonce"] = self.nonce
        if self.webhook_id is not None:
            payload["webhook_id"] = str(self.webhook_id)
        if self.application_id is not None:
            payload["application_id"] = str(self.application_id)
        if self.message_reference is not None:
            payload["message_reference"] = self.message_reference
        if self.interaction is not None:
            payload["interaction_metadata"] = self.interaction.metadata()
        if self.thread is not None:
            payload["thread"] = {k: v for k, v in self.thread.items() if k != "member"}
        return payload

    def __repr__(self) -> str:
        flags = " ephemeral" if self.ephemeral else ""
        flags += " loading" if self.loading else ""
        flags += " deleted" if self.deleted else ""
        return f"<RecordedMessage id={self.id} #{self.channel.name}{flags} content={self.content[:40]!r}>"


class Notifier:
    """Lets driver calls wait for a condition on the recorded state; the server pokes it on every change."""

    def __init__(self) -> None:
        self._waiters: list[tuple[Callable[[], bool], asyncio.Future[None]]] = []

    def notify(self) -> None:
        """Re-check every pending condition."""
        for predicate, future in self._waiters:
            if future.done():
                continue
            try:
                ok = predicate()
            except Exception as exc:  # a failing predicate is reported to its waiter
                future.set_exception(exc)
                continue
            if ok:
                future.set_result(None)
        self._waiters = [(p, f) for p, f in self._waiters if not f.done()]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float, what: Callable[[], str]) -> None:
        """Return once `predicate()` holds; FakeDiscordError naming `what()` after `timeout` seconds."""
        if predicate():
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((predicate, future))
        try:
            await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise FakeDiscordError(f"timed out after {timeout:.1f}s waiting for {what()}") from None
        finally:
            self._waiters = [(p, f) for p, f in self._waiters if f is not future]
