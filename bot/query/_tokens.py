"""Text to the tokens FTS5 indexes: folded words (see _fold), then Porter stems."""

from __future__ import annotations

import functools
import logging

from bot.query._fold import fold_tokens
from bot.query._porter import porter

log = logging.getLogger(__name__)

_MAX_TOKEN_BYTES = 32768  # FTS5 keeps at most this many bytes of one token
_PORTER_MAX_BYTES = 64  # longer tokens pass the porter stage unstemmed, as do tokens under 3 bytes


@functools.lru_cache(maxsize=200_000)
def stem(token: str) -> str:
    """The Porter stem of one folded token, exactly as FTS5's porter tokenizer computes it."""
    if token.isascii():
        if len(token) < 3 or len(token) > _PORTER_MAX_BYTES:
            return token[:_MAX_TOKEN_BYTES]
        return porter(token)
    raw = token.encode("utf-8", "surrogateescape")
    if len(raw) > _MAX_TOKEN_BYTES:
        raw = raw[:_MAX_TOKEN_BYTES]
    if 3 <= len(raw) <= _PORTER_MAX_BYTES:
        # FTS5 stems bytes: other bytes than ASCII letters are consonants that match no suffix.
        raw = porter(raw.decode("latin-1")).encode("latin-1")
    return raw.decode("utf-8", "surrogateescape")


def tokenize(text: str) -> list[str]:
    """The stemmed tokens FTS5 indexes for `text`, in order."""
    return [stem(token) for token in fold_tokens(text)]
