"""The query package folds characters as SQLite's FTS5 unicode61 tokenizer does, without asking SQLite."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest

from bot.query import fold_char, fold_tokens, parse
from bot.query._fold import _DROPPED_MARKS, _SQLITE_KEEPS, _SQLITE_SEPARATES, _SQLITE_SPECIAL
from tests.fts_probe import sqlite_folds


def test_every_bmp_character_and_a_sample_of_the_rest_fold_as_in_sqlite() -> None:
    chars = {chr(c) for c in range(1, 0x10000) if not 0xD800 <= c <= 0xDFFF}
    chars |= {chr(c) for c in range(0x10000, 0x110000, 37)}
    # Every character the table of differences names, wherever it is.
    chars |= _SQLITE_KEEPS | _SQLITE_SEPARATES | _DROPPED_MARKS | set(_SQLITE_SPECIAL)
    expected = sqlite_folds(chars)
    wrong = {f"U+{ord(c):04X}": (expected[c], fold_char(c)) for c in sorted(chars) if fold_char(c) != expected[c]}
    assert wrong == {}


def test_marks_cases_and_separators() -> None:
    assert fold_tokens("Ça  va? NAÏVE e\u0301te\u0301 İstanbul µ") == ["ca", "va", "naive", "ete", "istanbul", "μ"]
    assert fold_char("\u0301") == ""  # a combining acute accent is part of a word, and dropped
    assert fold_char("-") is None
    assert fold_char("\ud800") is None  # a lone surrogate is never part of a stored word


def test_parsing_reads_no_database(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> sqlite3.Connection:
        raise AssertionError("the parser opened a database")

    monkeypatch.setattr(sqlite3, "connect", refuse)
    query = parse("Ωmega-λ ñandú 日本語 title:Ärger")
    assert query.typed_words == ("ωmega", "λ", "nandu", "日本語", "arger")


def test_the_query_package_does_not_import_the_store() -> None:
    code = "import sys, bot.query; print(sorted(m for m in sys.modules if m.startswith('bot.store')))"
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == "[]"
