"""Query text to lexemes: parentheses, quoted phrases, words, OR/AND/NOT, minus, fields and filters."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Literal, TypeAlias

from rapidfuzz.distance import Levenshtein

from bot.query._ast import FILTER_FIELDS, MAX_TERMS, QueryError
from bot.query.columns import FIELD_COLUMNS

log = logging.getLogger(__name__)

LexemeKind: TypeAlias = Literal["(", ")", "word", "phrase", "OR", "AND", "NOT", "-", "field", "filter", "end"]

FIELD_ALIASES = {"authors": "author", "keywords": "keyword", "summary": "abstract", "cat": "category"}
KNOWN_NAMES = (*FIELD_COLUMNS, *FILTER_FIELDS)
_NAMED = re.compile(r"([A-Za-z]+):(.*)", re.DOTALL)
_OPERATORS: dict[str, LexemeKind] = {"OR": "OR", "AND": "AND", "NOT": "NOT"}
_PARENTHESES: dict[str, LexemeKind] = {"(": "(", ")": ")"}


@dataclass(frozen=True, slots=True)
class Lexeme:
    """One lexeme: its kind, where it starts, its text (words, phrases, filter values) and field name."""

    kind: LexemeKind
    position: int
    text: str = ""
    name: str = ""


def field_meant(name: str) -> str | None:
    """The field or filter a name that is none of them was likely meant to be (a slip or two)."""
    if name == "date":
        return "day"
    for known in (*KNOWN_NAMES, *FIELD_ALIASES):
        slips = 1 if len(known) <= 4 else 2
        if name[:1] == known[0] and Levenshtein.distance(name, known, score_cutoff=slips) <= slips:
            return FIELD_ALIASES.get(known, known)
    return None


class _Lexer:
    """Reads one query's text left to right, counting its words and filters against MAX_TERMS."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lexemes: list[Lexeme] = []
        self.terms = 0

    def count_term(self, position: int) -> None:
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise QueryError(
                f"more than {MAX_TERMS} words and filters",
                position,
                f"a query may hold at most {MAX_TERMS}; remove some or split the query",
            )

    def run(self) -> list[Lexeme]:
        text, i, n = self.text, 0, len(self.text)
        while i < n:
            char = text[i]
            if char.isspace():
                i += 1
            elif char in _PARENTHESES:
                self.lexemes.append(Lexeme(_PARENTHESES[char], i))
                i += 1
            elif char == '"':
                close = text.find('"', i + 1)
                if close < 0:
                    raise QueryError(f"unclosed quote at {i}", i, f'add a closing " or remove the one at {i}')
                self.count_term(i)
                self.lexemes.append(Lexeme("phrase", i, text[i + 1 : close]))
                i = close + 1
            elif char == "-" and i + 1 < n and not text[i + 1].isspace() and text[i + 1] != ")":
                self.lexemes.append(Lexeme("-", i))
                i += 1
            else:
                start = i
                while i < n and not text[i].isspace() and text[i] not in '()"':
                    i += 1
                self.word(start, i)
        self.lexemes.append(Lexeme("end", n))
        return self.lexemes

    def word(self, start: int, end: int) -> None:
        """One run of non-space text: an operator, a field with its first word, a filter, or a word."""
        word = self.text[start:end]
        if word in _OPERATORS:
            self.lexemes.append(Lexeme(_OPERATORS[word], start))
            return
        named = _NAMED.fullmatch(word)
        name = named.group(1).lower() if named else ""
        name = FIELD_ALIASES.get(name, name)
        if named and name in FIELD_COLUMNS:
            self.field(name, named, start, end)
        elif named and name in FILTER_FIELDS:
            self.count_term(start)
            self.lexemes.append(Lexeme("filter", start, named.group(2), name))
        else:
            if named and named.group(2) and (meant := field_meant(name)):
                raise QueryError(
                    f"no field {named.group(1)}: at {start}",
                    start,
                    f"did you mean {meant}:? Fields are {', '.join(KNOWN_NAMES)}; "
                    f'put the text in quotes to search for it as written: "{word}"',
                )
            # Other names stay text, so that pasted titles such as "Mamba: ..." still work.
            self.count_term(start)
            self.lexemes.append(Lexeme("word", start, word))

    def field(self, name: str, named: re.Match[str], start: int, end: int) -> None:
        """`name:` and the word right after the colon, if any (else a phrase or group follows)."""
        value = named.group(2)
        self.lexemes.append(Lexeme("field", start, name=name))
        if value:
            if value.startswith("-"):
                raise QueryError(
                    f"a minus after {name}: at {start}",
                    start,
                    f"put the minus before the field to exclude: -{name}:{value[1:]}",
                )
            self.count_term(start)
            self.lexemes.append(Lexeme("word", start + len(named.group(1)) + 1, value))
        elif end >= len(self.text) or self.text[end].isspace():
            raise QueryError(
                f"{name}: at {start} has nothing after it",
                start,
                f'write the word right after the colon: {name}:word, {name}:"a phrase" or {name}:(one OR other)',
            )


def lex(text: str) -> list[Lexeme]:
    """The lexemes of `text`, ending with an "end" lexeme; raises QueryError for what cannot be read."""
    return _Lexer(text).run()
