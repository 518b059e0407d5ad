"""Lexemes to a Query: recursive descent over OR, AND and unary operators, then checks on the filters.

No I/O: words are folded by `_fold` in pure Python.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable

from bot.query._ast import (
    COMMON_WORDS,
    MAX_DEPTH,
    MAX_QUERY_LENGTH,
    And,
    Column,
    Filter,
    FilterField,
    Node,
    Not,
    Op,
    Or,
    QueryError,
    Term,
)
from bot.query._category import canonical_category
from bot.query._fold import fold_tokens
from bot.query._lexer import Lexeme, LexemeKind, lex
from bot.query._query import Query

log = logging.getLogger(__name__)

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_NUMBER = re.compile(r"\d{1,9}")
_COMPARISON = re.compile(r"(>=|<=|>|<|=)?(.*)", re.DOTALL)
_INVERSE: dict[str, Op] = {">": "<=", ">=": "<", "<": ">=", "<=": ">"}
_STARTS_UNARY: frozenset[LexemeKind] = frozenset({"(", "word", "phrase", "NOT", "-", "field", "filter"})


class _Parser:
    def __init__(self, text: str, *, skip_common: bool) -> None:
        self.text = text
        self.lexemes = lex(text)
        self.index = 0
        self.skip_common = skip_common

    def peek(self) -> Lexeme:
        return self.lexemes[self.index]

    def take(self) -> Lexeme:
        lexeme = self.lexemes[self.index]
        self.index += 1
        return lexeme

    def parse(self) -> Node | None:
        node = self.parse_or(0, None)
        lexeme = self.peek()
        if lexeme.kind == ")":
            raise QueryError(
                f"unmatched ) at {lexeme.position}",
                lexeme.position,
                "remove it or add a matching ( before it",
            )
        assert lexeme.kind == "end"
        return node

    def parse_or(self, depth: int, field_name: str | None) -> Node | None:
        branches = [self.parse_and(depth, field_name)]
        while self.peek().kind == "OR":
            operator = self.take()
            if self.peek().kind not in _STARTS_UNARY:
                raise QueryError(
                    f"OR at {operator.position} has nothing after it",
                    operator.position,
                    "put a word or phrase after OR, or remove it",
                )
            branches.append(self.parse_and(depth, field_name))
        kept = [b for b in branches if b is not None]
        if not kept:
            return None
        return kept[0] if len(kept) == 1 else Or(tuple(kept))

    def parse_and(self, depth: int, field_name: str | None) -> Node | None:
        lexeme = self.peek()
        if lexeme.kind in ("OR", "AND"):
            raise QueryError(
                f"{lexeme.kind} at {lexeme.position} has nothing before it",
                lexeme.position,
                f"put a word or phrase before {lexeme.kind}, or remove it",
            )
        if lexeme.kind not in _STARTS_UNARY:
            if lexeme.kind == ")":
                raise QueryError(
                    f"unmatched ) at {lexeme.position}",
                    lexeme.position,
                    "remove it or add a matching ( before it",
                )
            raise QueryError("empty query", lexeme.position, "type words to search for or a filter like code:yes")
        parts = [self.parse_unary(depth, field_name)]
        while True:
            lexeme = self.peek()
            if lexeme.kind == "AND":
                self.take()
                if self.peek().kind not in _STARTS_UNARY:
                    raise QueryError(
                        f"AND at {lexeme.position} has nothing after it",
                        lexeme.position,
                        "put a word or phrase after AND, or remove it",
                    )
            elif lexeme.kind not in _STARTS_UNARY:
                break
            parts.append(self.parse_unary(depth, field_name))
        kept = [p for p in parts if p is not None]
        if not kept:
            return None
        return kept[0] if len(kept) == 1 else And(tuple(kept))

    def parse_unary(self, depth: int, field_name: str | None) -> Node | None:
        lexeme = self.peek()
        if lexeme.kind in ("NOT", "-"):
            self.take()
            if self.peek().kind not in _STARTS_UNARY:
                word = "NOT" if lexeme.kind == "NOT" else "-"
                raise QueryError(
                    f"{word} at {lexeme.position} has nothing after it",
                    lexeme.position,
                    f"put the word to exclude right after {word}, or remove it",
                )
            child = self.parse_unary(depth, field_name)
            return None if child is None else Not(child, lexeme.position)
        return self.parse_primary(depth, field_name)

    def parse_primary(self, depth: int, field_name: str | None) -> Node | None:
        lexeme = self.take()
        if lexeme.kind == "(":
            if depth + 1 > MAX_DEPTH:
                raise QueryError(
                    f"parentheses nested deeper than {MAX_DEPTH} at {lexeme.position}",
                    lexeme.position,
                    f"use at most {MAX_DEPTH} levels of parentheses",
                )
            if self.peek().kind == ")":
                raise QueryError(
                    f"empty parentheses at {lexeme.position}",
                    lexeme.position,
                    "put words inside the parentheses or remove them",
                )
            node = self.parse_or(depth + 1, field_name)
            if self.peek().kind != ")":
                raise QueryError(
                    f"unclosed ( at {lexeme.position}",
                    lexeme.position,
                    f"add a ) to close the ( at {lexeme.position}, or remove it",
                )
            self.take()
            return node
        if lexeme.kind in ("word", "phrase"):
            tokens = tuple(fold_tokens(lexeme.text))
            if not tokens:
                return None
            if (
                self.skip_common
                and lexeme.kind == "word"
                and field_name is None
                and len(tokens) == 1
                and tokens[0] in COMMON_WORDS
            ):
                return None
            return Term(tokens, field_name, lexeme.position, lexeme.kind == "phrase")
        if lexeme.kind == "field":
            if field_name is not None and field_name != lexeme.name:
                raise QueryError(
                    f"{lexeme.name}: inside {field_name}:( ) at {lexeme.position}",
                    lexeme.position,
                    f"a group searches one field; move {lexeme.name}: out of the {field_name}:( ) group",
                )
            following = self.peek()
            if following.kind not in ("word", "phrase", "("):
                raise QueryError(
                    f"{lexeme.name}: at {lexeme.position} has nothing after it",
                    lexeme.position,
                    f'write {lexeme.name}:word, {lexeme.name}:"a phrase" or {lexeme.name}:(one OR other)',
                )
            return self.parse_primary(depth, lexeme.name)
        if lexeme.kind == "filter":
            if field_name is not None:
                raise QueryError(
                    f"{lexeme.name}: inside {field_name}:( ) at {lexeme.position}",
                    lexeme.position,
                    f"filters apply to the whole query; move {lexeme.name}: out of the group",
                )
            return _parse_filter(lexeme)
        raise QueryError(  # pragma: no cover - callers check _STARTS_UNARY first
            f"unexpected {lexeme.kind} at {lexeme.position}", lexeme.position, "check the query's syntax"
        )


def _parse_filter(lexeme: Lexeme) -> Node:
    """A filter lexeme as a Filter (or the AND of two for a range)."""
    name, raw, position = lexeme.name, lexeme.text, lexeme.position
    if name == "category":
        category = canonical_category(raw)
        if category is None:
            raise QueryError(
                f"category: cannot read {raw!r} at {position}",
                position,
                "write an arXiv category such as category:cs.CL, category:hep-th or category:cs.*",
            )
        return Filter("category", "=", category, position)
    if name == "code":
        answer = raw.lower()
        if answer not in ("yes", "no"):
            raise QueryError(f"code: takes yes or no, not {raw!r}", position, "write code:yes or code:no")
        return Filter("code", "=", answer == "yes", position)
    field: FilterField = "upvotes" if name == "upvotes" else "day"
    parse_value: Callable[[str], int | dt.date | None]
    if name == "upvotes":
        parse_value = _parse_number
        example = "upvotes:>=50, upvotes:10..100 or upvotes:0"
    else:
        parse_value = _parse_day
        example = "day:2026-06-12, day:>=2026-06-01 or day:2026-06-01..2026-06-12"
    bad = QueryError(f"{name}: cannot read {raw!r} at {position}", position, f"write {example}")
    if ".." in raw:
        low_text, _, high_text = raw.partition("..")
        low, high = parse_value(low_text), parse_value(high_text)
        if low is None or high is None:
            raise bad
        if low > high:  # type: ignore[operator]
            raise QueryError(
                f"{name}: range {raw!r} at {position} is empty",
                position,
                "put the smaller value first, as in " + example.split(", ")[-1].split(" or ")[-1],
            )
        return And((Filter(field, ">=", low, position), Filter(field, "<=", high, position)))
    matched = _COMPARISON.fullmatch(raw)
    assert matched is not None
    value = parse_value(matched.group(2))
    if value is None:
        raise bad
    op: Op = matched.group(1) or "="  # type: ignore[assignment]
    return Filter(field, op, value, position)


def _parse_number(text: str) -> int | None:
    return int(text) if _NUMBER.fullmatch(text) else None


def _parse_day(text: str) -> dt.date | None:
    if not _DATE.fullmatch(text):
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


# ---------------------------------------------------------------- checks after parsing


def _flatten(node: Node) -> Node:
    """Merge nested ANDs (filter ranges parse as an AND of two filters) and ORs."""
    if isinstance(node, Not):
        return Not(_flatten(node.child), node.position)
    if isinstance(node, And | Or):
        kind = type(node)
        flat: list[Node] = []
        for child in (_flatten(c) for c in node.children):
            flat.extend(child.children if isinstance(child, kind) else (child,))
        return kind(tuple(flat))
    return node


def _place_filters(node: Node, top_level: bool) -> Node:
    """Check that filters only combine with AND at the top, and turn -filter into the opposite filter."""
    if isinstance(node, Filter):
        if not top_level:
            raise QueryError(
                f"{node.field}: inside OR or a negated group at {node.position}",
                node.position,
                f"filters apply to the whole query: move {node.field}: outside the parentheses and OR",
            )
        return node
    if isinstance(node, Not):
        inner = node.child
        if isinstance(inner, Filter) and top_level:
            return _negate_filter(inner, node.position)
        if top_level and _is_range(inner):
            raise QueryError(
                f"a range filter cannot be negated at {node.position}",
                node.position,
                "write the comparisons you want instead, e.g. upvotes:<10 or day:<2026-06-01",
            )
        return Not(_place_filters(inner, False), node.position)
    if isinstance(node, And):
        return And(tuple(_place_filters(c, top_level) for c in node.children))
    if isinstance(node, Or):
        return Or(tuple(_place_filters(c, False) for c in node.children))
    return node


def _is_range(node: Node) -> bool:
    """A `field:low..high` filter, which parses as two filters at one position."""
    return (
        isinstance(node, And)
        and len(node.children) == 2
        and all(isinstance(c, Filter) for c in node.children)
        and len({c.position for c in node.children if isinstance(c, Filter)}) == 1
    )


def _negate_filter(node: Filter, position: int) -> Filter:
    if node.field == "category":
        return Filter("category", "!=" if node.op == "=" else "=", node.value, node.position)
    if node.field == "code":
        return Filter("code", "=", not node.value, node.position)
    if node.op == "=":
        raise QueryError(
            f"-{node.field}: with one value at {position}",
            position,
            f"write a comparison instead, e.g. {node.field}:<value or {node.field}:>value",
        )
    return Filter(node.field, _INVERSE[node.op], node.value, node.position)


def parse(text: str) -> Query:
    """Parse a query; raises QueryError (with position and hint) for anything it cannot read."""
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryError(
            f"query longer than {MAX_QUERY_LENGTH} characters",
            MAX_QUERY_LENGTH,
            f"shorten the query to {MAX_QUERY_LENGTH} characters",
        )
    parser = _Parser(text, skip_common=True)
    root = parser.parse()
    if root is None:
        # Only common words: search for them after all.
        root = _Parser(text, skip_common=False).parse()
    if root is None:
        raise QueryError(
            "nothing to search for",
            0,
            "type words (letters or digits) to search for, or a filter such as day:2026-06-12",
        )
    root = _place_filters(_flatten(root), True)
    typed = tuple(
        token for lexeme in parser.lexemes if lexeme.kind in ("word", "phrase") for token in fold_tokens(lexeme.text)
    )
    return Query(text, _flatten(root), typed)


def normalize(query: str | Query) -> str:
    """The canonical text of a query (raises QueryError for text that does not parse)."""
    return (query if isinstance(query, Query) else parse(query)).normalized()


def required_terms(query: str | Query) -> frozenset[tuple[Column, str]] | None:
    """See Query.required_terms."""
    return (query if isinstance(query, Query) else parse(query)).required_terms()
