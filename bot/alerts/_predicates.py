"""A paper's terms read once for all queries, and queries compiled to predicates over them."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from itertools import islice
from typing import TypeAlias

from bot.models import Paper
from bot.query import SEARCH_COLUMNS, And, Column, Filter, Node, Not, Or, Term, fold_tokens, stem

log = logging.getLogger(__name__)

Key: TypeAlias = tuple[Column, str]  # (FTS column or None for any column, stem or "stem stem")


class PaperTerms:
    """A paper's FTS columns as stemmed tokens and term sets, read once for all queries.

    The columns (bot.query.columns) and tokens are those of `bot.query.PaperText` (and so of `papers_fts`).
    A column's set holds its stems and its adjacent pairs of stems written "a b" (a stem never holds a
    space), so that two-word phrases are looked up like words; positions, needed only for longer phrases,
    are worked out on first use.
    """

    __slots__ = ("_joined", "columns", "every", "paper", "sets")

    def __init__(self, paper: Paper) -> None:
        self.paper = paper
        self.columns: dict[str, list[str]] = {}
        self.sets: dict[str, set[str]] = {}
        for column in SEARCH_COLUMNS:
            tokens = _stems(column.text(paper))
            terms = set(tokens)
            terms.update(map(" ".join, zip(tokens, islice(tokens, 1, None), strict=False)))
            self.columns[column.name] = tokens
            self.sets[column.name] = terms
        self.every: set[str] = set().union(*self.sets.values())
        self._joined: dict[str, str] = {}

    def has_phrase(self, stems: tuple[str, ...], columns: Iterable[str]) -> bool:
        """Whether the stems occur consecutively in one of `columns`."""
        # Stems hold no spaces, so in the column's stems joined by single spaces (and padded) the phrase
        # occurs exactly where its stems are consecutive.
        needle = " " + " ".join(stems) + " "
        for column in columns:
            joined = self._joined.get(column)
            if joined is None:
                joined = self._joined[column] = " " + " ".join(self.columns[column]) + " "
            if needle in joined:
                return True
        return False


def term_keys(term: Term) -> tuple[str, ...]:
    """What PaperTerms sets hold for a term: its stem, or the adjacent pairs "a b" of a phrase's stems."""
    stems = term.stems
    if len(stems) == 1:
        return stems
    return tuple(f"{a} {b}" for a, b in zip(stems, stems[1:], strict=False))


def _stems(text: str) -> list[str]:
    """The stemmed tokens of `text` as `bot.query.tokenize` reads them."""
    return list(map(stem, fold_tokens(text)))


# ---------------------------------------------------------------- predicates compiled from the AST

Predicate: TypeAlias = Callable[[PaperTerms], bool]


def single_column(term: Term) -> str | None:
    """The one column a fielded term searches; None for a term searching every column."""
    columns = term.columns
    return columns[0] if len(columns) == 1 else None


def is_word(node: Node) -> bool:
    """A term decided by one set lookup: a word or a two-word phrase."""
    return isinstance(node, Term) and len(node.tokens) <= 2


def compile_predicate(node: Node) -> Predicate:
    """A function over PaperTerms that decides `node` exactly as `Query.matches` does."""
    if isinstance(node, Term):
        return _compile_term(node)
    if isinstance(node, Filter):
        return _compile_filter(node)
    if isinstance(node, Not):
        return _compile_not(node)
    if isinstance(node, And):
        return _compile_and(node)
    return _compile_or(node)


def _compile_not(node: Not) -> Predicate:
    child = node.child
    if is_word(child) or (isinstance(child, Or) and all(is_word(c) for c in child.children)):
        # not (a or b ...) over one-lookup terms: none of their keys present.
        words, _ = _words_by_column(child.children if isinstance(child, Or) else (child,))
        return _all_of([_no_words(column, keys) for column, keys in words.items()])
    inner = compile_predicate(child)
    return lambda terms: not inner(terms)


def _compile_term(term: Term) -> Predicate:
    column = single_column(term)
    keys = term_keys(term)
    if len(keys) == 1:  # a word or a two-word phrase: one lookup
        key = keys[0]
        if column is None:
            return lambda terms: key in terms.every
        return lambda terms: key in terms.sets[column]
    # Every adjacent pair present is necessary, not sufficient: confirm the positions.
    needed = frozenset(keys)
    stems = term.stems
    columns = term.columns
    if column is None:
        return lambda terms: needed <= terms.every and terms.has_phrase(stems, columns)
    return lambda terms: needed <= terms.sets[column] and terms.has_phrase(stems, columns)


def _compile_filter(node: Filter) -> Predicate:
    return lambda terms: node.holds(terms.paper)


def _words_by_column(children: Sequence[Node]) -> tuple[dict[str | None, frozenset[str]], list[Node]]:
    """Terms decided by one lookup, their keys grouped by column (None: any column); and the other children."""
    words: dict[str | None, set[str]] = {}
    rest: list[Node] = []
    for child in children:
        if isinstance(child, Term) and is_word(child):
            words.setdefault(single_column(child), set()).add(term_keys(child)[0])
        else:
            rest.append(child)
    return {column: frozenset(stems) for column, stems in words.items()}, rest


def _compile_and(node: And) -> Predicate:
    words, others = _words_by_column(node.children)
    negated = [c.child for c in others if isinstance(c, Not) and is_word(c.child)]
    rest = [c for c in others if not (isinstance(c, Not) and is_word(c.child))]
    excluded, _ = _words_by_column(negated)
    checks: list[Predicate] = []
    # Cheap and selective first: metadata filters, then word sets, then phrases and groups.
    checks.extend(compile_predicate(c) for c in rest if isinstance(c, Filter))
    checks.extend(_all_words(column, keys) for column, keys in words.items())
    checks.extend(_no_words(column, keys) for column, keys in excluded.items())
    checks.extend(compile_predicate(c) for c in rest if not isinstance(c, Filter))
    return _all_of(checks)


def _no_words(column: str | None, keys: frozenset[str]) -> Predicate:
    if len(keys) == 1:
        (key,) = keys
        if column is None:
            return lambda terms: key not in terms.every
        return lambda terms: key not in terms.sets[column]
    if column is None:
        return lambda terms: terms.every.isdisjoint(keys)
    return lambda terms: terms.sets[column].isdisjoint(keys)


def _all_words(column: str | None, stems: frozenset[str]) -> Predicate:
    if column is None:
        return lambda terms: stems <= terms.every
    return lambda terms: stems <= terms.sets[column]


def _all_of(checks: Sequence[Predicate]) -> Predicate:
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda terms: first(terms) and second(terms)
    if len(checks) == 3:
        first, second, third = checks
        return lambda terms: first(terms) and second(terms) and third(terms)
    frozen = tuple(checks)
    return lambda terms: all(check(terms) for check in frozen)


def _compile_or(node: Or) -> Predicate:
    words, rest = _words_by_column(node.children)
    checks: list[Predicate] = [_any_word(column, stems) for column, stems in words.items()]
    checks.extend(compile_predicate(c) for c in rest)
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda terms: first(terms) or second(terms)
    frozen = tuple(checks)
    return lambda terms: any(check(terms) for check in frozen)


def _any_word(column: str | None, stems: frozenset[str]) -> Predicate:
    if column is None:
        return lambda terms: not terms.every.isdisjoint(stems)
    return lambda terms: not terms.sets[column].isdisjoint(stems)
