"""SQLite's own FTS5 tokenizer of papers_fts, for tests that check the query package reads text the same way."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from bot.query.columns import FOLD_TOKENIZER, FTS_TOKENIZER


@contextmanager
def _probe() -> Iterator[sqlite3.Connection]:
    """A private in-memory database holding one FTS5 table per tokenizer (stemmed and folded only)."""
    db = sqlite3.connect(":memory:")
    # A stem may end inside a multi-byte character; keep such bytes instead of failing.
    db.text_factory = lambda data: data.decode("utf-8", "surrogateescape")
    try:
        for name, tokenizer in (("stemmed", FTS_TOKENIZER), ("folded", FOLD_TOKENIZER)):
            db.execute(f"CREATE VIRTUAL TABLE {name} USING fts5(body, tokenize='{tokenizer}')")
            db.execute(f"CREATE VIRTUAL TABLE {name}_terms USING fts5vocab({name}, 'instance')")
        yield db
    finally:
        db.close()


def fts_tokenize(texts: Sequence[str], *, stem: bool = True) -> list[list[str]]:
    """The tokens SQLite's FTS5 tokenizer of papers_fts produces for each text (folded only if not `stem`)."""
    table = "stemmed" if stem else "folded"
    found: list[list[tuple[int, str]]] = [[] for _ in texts]
    with _probe() as db:
        db.executemany(f"INSERT INTO {table} (rowid, body) VALUES (?, ?)", enumerate(texts))
        for term, doc, offset in db.execute(f"SELECT term, doc, offset FROM {table}_terms"):
            found[doc].append((offset, term))
    return [[term for _, term in sorted(tokens)] for tokens in found]


def sqlite_folds(chars: Iterable[str]) -> dict[str, str | None]:
    """What FTS5 folds each character to inside a word ("" if dropped), or None if it separates words."""
    wanted = sorted(set(chars))
    folds: dict[str, str | None] = {}
    # Framed by two ASCII letters, a word character joins them into one token; a separator splits them.
    for char, tokens in zip(wanted, fts_tokenize([f"a{c}b" for c in wanted], stem=False), strict=True):
        if len(tokens) == 1 and tokens[0].startswith("a") and tokens[0].endswith("b"):
            folds[char] = tokens[0][1:-1]
        else:
            folds[char] = None
    return folds
