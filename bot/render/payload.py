"""Message payloads within Discord's limits: sizes, validation, and packing embeds and text blocks into messages."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import discord

from bot.render.markup import safe_url
from bot.text import ELLIPSIS

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()

# Discord's documented limits, in code points.
CONTENT_LIMIT = 2000
EMBEDS_PER_MESSAGE = 10
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELDS_PER_EMBED = 25
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
AUTHOR_NAME_LIMIT = 256
MESSAGE_EMBED_CHARS = 6000
SELECT_LABEL_LIMIT = 100
SELECT_DESCRIPTION_LIMIT = 100
BUTTON_LABEL_LIMIT = 80
LINK_BUTTONS_PER_ROW = 5

COLOUR = discord.Colour(0xFFD21E)


@dataclass(frozen=True, slots=True)
class MessagePayload:
    """One Discord message to send: optional content and up to ten embeds."""

    content: str | None = None
    embeds: list[discord.Embed] = field(default_factory=list)
    # Buttons and menus as Discord's JSON action rows; their custom ids are handled by persistent items.
    components: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class LinkButton:
    """A link button to show under a message: discord.ui.Button(style=link, label=label, url=url)."""

    label: str
    url: str


@dataclass(frozen=True, slots=True)
class MenuOption:
    """A select-menu option: label and description within Discord's 100 characters, and the value."""

    label: str
    value: str
    description: str | None = None


class PayloadError(ValueError):
    """A message payload breaks one of Discord's limits or lets a mention through."""


def embed_size(embed: discord.Embed) -> int:
    """Characters that count towards the 6000 per message: title, description, fields, footer, author."""
    total = len(embed.title or "") + len(embed.description or "")
    for embed_field in embed.fields:
        total += len(embed_field.name or "") + len(embed_field.value or "")
    total += len(embed.footer.text or "") + len(embed.author.name or "")
    return total


def _embed_problems(embed: discord.Embed, where: str) -> list[str]:
    """Every limit one embed breaks, described."""
    problems: list[str] = []
    checks = [
        ("title", embed.title, TITLE_LIMIT),
        ("description", embed.description, DESCRIPTION_LIMIT),
        ("footer", embed.footer.text, FOOTER_LIMIT),
        ("author name", embed.author.name, AUTHOR_NAME_LIMIT),
    ]
    for name, value, limit in checks:
        if value is not None and len(value) > limit:
            problems.append(f"{where} {name} has {len(value)} characters (limit {limit})")
        if value is not None and not value.strip():
            problems.append(f"{where} {name} is empty")
    if len(embed.fields) > FIELDS_PER_EMBED:
        problems.append(f"{where} has {len(embed.fields)} fields (limit {FIELDS_PER_EMBED})")
    for number, embed_field in enumerate(embed.fields, 1):
        name, value = embed_field.name or "", embed_field.value or ""
        if not name.strip() or len(name) > FIELD_NAME_LIMIT:
            problems.append(f"{where} field {number} name has {len(name)} characters (1..{FIELD_NAME_LIMIT})")
        if not value.strip() or len(value) > FIELD_VALUE_LIMIT:
            problems.append(f"{where} field {number} value has {len(value)} characters (1..{FIELD_VALUE_LIMIT})")
    if embed_size(embed) == 0:
        problems.append(f"{where} has no text")
    for name, url in (
        ("url", embed.url),
        ("thumbnail", embed.thumbnail.url),
        ("image", embed.image.url),
        ("author url", embed.author.url),
    ):
        if url is not None and safe_url(url, https_only=False) is None:
            problems.append(f"{where} {name} is not a plain http(s) URL")
    return problems


# Anything Discord would render as a mention or rich tag, except the timestamps this package writes.
_RAW_MENTION_RE = re.compile(r"@(?:everyone|here)|<(?!t:-?\d{1,13}:[tTdDfFR]>)(?:[@#/:]|[A-Za-z]{1,2}:)", re.IGNORECASE)


def _payload_texts(payload: MessagePayload) -> Iterable[str]:
    """Every piece of text a payload shows."""
    if payload.content:
        yield payload.content
    for embed in payload.embeds:
        yield from (embed.title or "", embed.description or "")
        yield from (embed.footer.text or "", embed.author.name or "")
        for embed_field in embed.fields:
            yield from (embed_field.name or "", embed_field.value or "")


def payload_problems(payload: MessagePayload) -> list[str]:
    """Every Discord limit the payload breaks and every mention it would show, described."""
    problems: list[str] = []
    content = payload.content
    if content is not None and len(content) > CONTENT_LIMIT:
        problems.append(f"content has {len(content)} characters (limit {CONTENT_LIMIT})")
    if not (content and content.strip()) and not payload.embeds:
        problems.append("message has neither content nor embeds")
    if len(payload.embeds) > EMBEDS_PER_MESSAGE:
        problems.append(f"message has {len(payload.embeds)} embeds (limit {EMBEDS_PER_MESSAGE})")
    for number, embed in enumerate(payload.embeds, 1):
        problems.extend(_embed_problems(embed, f"embed {number}"))
    total = sum(embed_size(embed) for embed in payload.embeds)
    if total > MESSAGE_EMBED_CHARS:
        problems.append(f"embeds have {total} characters together (limit {MESSAGE_EMBED_CHARS})")
    for text in _payload_texts(payload):
        found = _RAW_MENTION_RE.search(text)
        if found:
            problems.append(f"text shows a mention-like {found.group()!r}")
    return problems


def validate_payload(payload: MessagePayload) -> None:
    """Raise PayloadError naming every Discord limit the payload breaks, or any mention it would show."""
    problems = payload_problems(payload)
    if problems:
        raise PayloadError("; ".join(problems))


def validated(payloads: list[MessagePayload]) -> list[MessagePayload]:
    """The payloads, after checking each (a broken one is a rendering bug: it raises rather than 400s later)."""
    for payload in payloads:
        validate_payload(payload)
    return payloads


def validated_embed(embed: discord.Embed) -> discord.Embed:
    """The embed, after checking it alone as a message."""
    validate_payload(MessagePayload(embeds=[embed]))
    return embed


def new_embed(title: str | None, url: str | None = None) -> discord.Embed:
    """An empty embed in Paperboy's colour."""
    return discord.Embed(title=title, url=safe_url(url, https_only=False), colour=COLOUR)


def pack_embeds(embeds: Sequence[discord.Embed], first_content: str | None) -> list[MessagePayload]:
    """Embeds spread over as few messages as the 10-embed and 6000-character limits allow, in order."""
    messages: list[MessagePayload] = []
    current: list[discord.Embed] = []
    used = 0
    for embed in embeds:
        size = embed_size(embed)
        if current and (len(current) >= EMBEDS_PER_MESSAGE or used + size > MESSAGE_EMBED_CHARS):
            messages.append(MessagePayload(content=None if messages else first_content, embeds=current))
            current, used = [], 0
        current.append(embed)
        used += size
    if current or first_content:
        messages.append(MessagePayload(content=None if messages else first_content, embeds=current))
    return messages


def pack_blocks(
    blocks: Sequence[str],
    *,
    title: str,
    url: str | None,
    continued_title: str,
    first_content: str | None = None,
    separator: str = "\n\n",
) -> list[MessagePayload]:
    """Text blocks flowed through embed descriptions, then messages, never splitting a block."""
    messages: list[MessagePayload] = []
    embeds: list[discord.Embed] = []
    used = 0  # embed characters in the message being filled
    lines: list[str] = []
    embed = new_embed(title, url)

    def close_embed() -> None:
        nonlocal used, lines
        embed.description = separator.join(lines)
        embeds.append(embed)
        used += embed_size(embed)
        lines = []

    def room() -> int:
        return min(DESCRIPTION_LIMIT, MESSAGE_EMBED_CHARS - used - len(embed.title or ""))

    for block in blocks:
        grown = len(separator.join([*lines, block]))
        if lines and grown <= room():
            lines.append(block)
            continue
        if lines:
            close_embed()
            if len(embeds) >= EMBEDS_PER_MESSAGE or MESSAGE_EMBED_CHARS - used < len(block) + TITLE_LIMIT:
                messages.append(MessagePayload(content=None if messages else first_content, embeds=embeds))
                embeds, used = [], 0
            # The first embed of every later message says it continues; embeds after it need no title.
            embed = new_embed(continued_title if not embeds else None)
        if len(block) > room():
            raise ValueError(f"a block of {len(block)} characters cannot fit in one embed")
        lines.append(block)
    if lines:
        close_embed()
    if embeds or first_content:
        messages.append(MessagePayload(content=None if messages else first_content, embeds=embeds))
    return messages


def fit_lines(lines: Sequence[str], limit: int) -> str:
    """Lines joined by newlines, as many as fit in `limit`, then a line saying how many were left out."""
    kept: list[str] = []
    length = 0
    for index, line in enumerate(lines):
        left_after = len(lines) - index - 1
        reserve = len(f"\n{ELLIPSIS}and {left_after} more") if left_after else 0
        grown = length + (1 if kept else 0) + len(line)
        if grown + reserve > limit:
            return "\n".join([*kept, f"{ELLIPSIS}and {len(lines) - len(kept)} more"])
        kept.append(line)
        length = grown
    return "\n".join(kept)
