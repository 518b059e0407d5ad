"""An in-memory Transport for driving the services without discord.py: posts are kept per channel."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from bot.outbox import SendError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Post:
    """One message the transport accepted."""

    id: int
    channel_id: int
    part: dict[str, Any]
    nonce: str

    @property
    def text(self) -> str:
        """The content and every embed's title and description, as one string."""
        pieces = [self.part.get("content") or ""]
        for embed in self.part.get("embeds", []):
            pieces += [embed.get("title") or "", embed.get("description") or ""]
        return "\n".join(pieces)


class MemoryTransport:
    """Implements bot.outbox.Transport: deduplicates by nonce as Discord does, can fail or hold sends."""

    def __init__(self) -> None:
        self.posts: list[Post] = []
        self.failures: list[SendError] = []  # raised by the next sends, in order
        self.hold: asyncio.Event | None = None  # when set to an unset event, sends wait for it
        self.waiting = 0  # sends currently held
        self.threads: dict[int, tuple[int, str]] = {}  # thread id (= its message's id) -> channel id, name
        self.thread_failures: list[SendError] = []  # raised by the next thread opens, in order

    async def send(self, channel_id: int, part: dict[str, Any], nonce: str) -> int:
        """Accept one message (or raise the next planned failure)."""
        if self.hold is not None:
            self.waiting += 1
            try:
                await self.hold.wait()
            finally:
                self.waiting -= 1
        if self.failures:
            raise self.failures.pop(0)
        for post in self.posts:
            if post.channel_id == channel_id and post.nonce == nonce:
                return post.id
        post = Post(len(self.posts) + 1, channel_id, part, nonce)
        self.posts.append(post)
        return post.id

    async def find_sent(self, channel_id: int, part: dict[str, Any], since: dt.datetime) -> int | None:
        """The id of an equal message already posted in the channel."""
        return next((p.id for p in self.posts if p.channel_id == channel_id and p.part == part), None)

    async def open_thread(self, channel_id: int, message_id: int, name: str) -> int:
        """Open a thread on a message, or return the one already opened there (same id as the message)."""
        if self.thread_failures:
            raise self.thread_failures.pop(0)
        self.threads.setdefault(message_id, (channel_id, name))
        return message_id

    def in_channel(self, channel_id: int) -> list[Post]:
        """The messages posted in one channel, oldest first."""
        return [post for post in self.posts if post.channel_id == channel_id]
