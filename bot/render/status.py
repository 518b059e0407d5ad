"""Status and settings embeds (times as Discord timestamps) and the text of a query error."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Mapping

import discord

from bot.query import QueryError
from bot.render.markup import count, escape_text, neutralise_mentions, when
from bot.render.payload import (
    CONTENT_LIMIT,
    FIELD_NAME_LIMIT,
    FIELD_VALUE_LIMIT,
    FIELDS_PER_EMBED,
    MESSAGE_EMBED_CHARS,
    TITLE_LIMIT,
    embed_size,
    new_embed,
    validated_embed,
)
from bot.text import ELLIPSIS

log = logging.getLogger(__name__)

StatusValue = str | dt.datetime | None
_POSITION_RE = re.compile(r"\s+at (?:character )?(\d+)\b")
QUERY_WINDOW = 60  # characters of the query shown on each side of the error


def status_value(value: StatusValue) -> str:
    """A status value: text escaped, a datetime as '<t:…:f> (<t:…:R>)' in each reader's own time, None as '—'."""
    if value is None:
        return "—"
    if isinstance(value, dt.datetime):
        return when(value)
    # Each line escaped on its own (escape_text makes one line); lines that no longer fit are left out.
    shown: list[str] = []
    room = FIELD_VALUE_LIMIT
    for line in value.splitlines():
        escaped = escape_text(line, room)
        if not escaped:
            continue
        if len(escaped) + (1 if shown else 0) > room:
            break
        room -= len(escaped) + (1 if shown else 0)
        shown.append(escaped)
    return "\n".join(shown) or "—"


def status_embed(fields: Mapping[str, StatusValue], *, title: str = "Paperboy status") -> discord.Embed:
    """A simple key/value embed; datetimes become Discord timestamps; keys beyond what fits are counted."""
    embed = new_embed(escape_text(title, TITLE_LIMIT) or "Status")
    items = list(fields.items())
    reserve = 60  # room for the closing "More" field
    for index, (key, value) in enumerate(items):
        name = escape_text(key, FIELD_NAME_LIMIT) or "—"
        shown = status_value(value)
        left = len(items) - index
        last_slot = len(embed.fields) == FIELDS_PER_EMBED - 1 and left > 1
        too_big = embed_size(embed) + len(name) + len(shown) + reserve > MESSAGE_EMBED_CHARS
        if last_slot or too_big:
            embed.add_field(name="More", value=f"{count(left)} more not shown", inline=False)
            break
        embed.add_field(name=name, value=shown, inline=True)
    if not items:
        embed.description = "Nothing to report."
    return validated_embed(embed)


def _code_line(text: str) -> str:
    """Query text safe inside a code block, one character for one (so a caret under it lines up)."""
    shown = "".join(" " if ord(char) < 32 or 0x7F <= ord(char) <= 0x9F else char for char in text)
    shown = shown.replace("`", "ˋ")
    # Zero-width spaces take no column, so breaking a would-be mention does not move the caret.
    return neutralise_mentions(shown)


def _one_based(match: re.Match[str]) -> str:
    """' at 6' (0-based, as the parser counts) as ' at character 7'."""
    return f" at character {int(match.group(1)) + 1}"


def query_error_text(query: str, error: QueryError) -> str:
    """One sentence, the query in a code block with a caret under the problem, and the hint."""
    position = max(0, min(error.position, len(query)))
    # The parser names 0-based positions in its words; the caret shows the place instead.
    message = _POSITION_RE.sub("", " ".join(error.message.split())).rstrip(" .") or "this query cannot be read"
    sentence = f"{message[0].upper()}{message[1:]} (character {position + 1})."
    start = max(0, position - QUERY_WINDOW)
    end = min(len(query), position + QUERY_WINDOW)
    before = (ELLIPSIS if start > 0 else "") + query[start:position]
    shown = _code_line(before + query[position:end] + (ELLIPSIS if end < len(query) else ""))
    caret = " " * len(before) + "^"
    hint = _POSITION_RE.sub(_one_based, " ".join(error.hint.split())).rstrip(" .")
    text = f"{sentence}\n```\n{shown}\n{caret}\n```"
    if hint:
        text += f"\n{escape_text(hint[0].upper() + hint[1:] + '.', CONTENT_LIMIT // 2)}"
    return text[:CONTENT_LIMIT]
