"""The query AST: terms, filters and the boolean nodes over them, the error type and the language's limits."""

from __future__ import annotations

import datetime as dt
import logging
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any, Literal, TypeAlias, get_args

from bot.models import Paper
from bot.query._category import category_matches
from bot.query._tokens import stem
from bot.query.columns import ALL_COLUMNS, FIELD_COLUMNS

log = logging.getLogger(__name__)

MAX_QUERY_LENGTH = 300
MAX_TERMS = 20
MAX_DEPTH = 5

FilterField: TypeAlias = Literal["upvotes", "day", "code", "category"]
FILTER_FIELDS: tuple[FilterField, ...] = get_args(FilterField)
Op: TypeAlias = Literal["=", ">", ">=", "<", "<=", "!="]  # "!=" only for category (a negated category:)
FilterValue: TypeAlias = int | dt.date | bool | str

# Words in nearly every abstract: a bare one is left out of a query that has other words (it would
# match almost everything and cost the index a full read). Quoted or in a phrase, it counts.
COMMON_WORDS = frozenset(
    str.split(
        "a also an and are as at based be been both by can for from has have however in into is it its of on "
        "or our such than that the their these this to using via was we were which while with"
    )
)


class QueryError(ValueError):
    """A query that cannot be parsed: what is wrong, where (0-based character index), and how to fix it."""

    def __init__(self, message: str, position: int, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.position = position
        self.hint = hint

    def describe(self) -> str:
        """One line for a user: the problem, its position and the hint."""
        return f"{self.message} (at character {self.position}): {self.hint}"


@dataclass(frozen=True, slots=True)
class Term:
    """A word or phrase: its folded tokens in order in one column of `field` (any column if None)."""

    tokens: tuple[str, ...]
    field: str | None = None
    position: int = dc_field(default=0, compare=False)
    quoted: bool = dc_field(default=False, compare=False)  # typed in quotes (same meaning either way)

    @property
    def stems(self) -> tuple[str, ...]:
        """The tokens as the index stores them."""
        return tuple(stem(t) for t in self.tokens)

    @property
    def columns(self) -> tuple[str, ...]:
        """The FTS columns this term may match in."""
        return FIELD_COLUMNS[self.field] if self.field else ALL_COLUMNS


@dataclass(frozen=True, slots=True)
class Filter:
    """A condition on a paper's metadata: upvotes or day compared with a value, code yes/no, or a category."""

    field: FilterField
    op: Op
    value: FilterValue
    position: int = dc_field(default=0, compare=False)

    def holds(self, paper: Paper) -> bool:
        """Whether `paper` passes this filter (as the store's SQL decides it)."""
        if self.field == "code":
            return paper.has_code == self.value
        if self.field == "category":
            return category_matches(paper.categories, str(self.value)) == (self.op == "=")
        if self.field == "upvotes":
            return _compare(paper.upvotes, self.op, self.value)
        # A paper never featured on a day has no day: no day filter holds (as NULL in SQL).
        return paper.day is not None and _compare(paper.day, self.op, self.value)


_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


def _compare(left: object, op: Op, right: object) -> bool:
    """`left op right` for values of one kind (ints or dates)."""
    return _OPERATORS[op](left, right)


@dataclass(frozen=True, slots=True)
class Not:
    """Papers that do not match `child`."""

    child: Node
    position: int = dc_field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class And:
    """Papers that match every child."""

    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    """Papers that match at least one child."""

    children: tuple[Node, ...]


Node: TypeAlias = Term | Filter | Not | And | Or
Column: TypeAlias = str | None


def leaves(node: Node) -> Iterable[Node]:
    """Every term and filter under `node`."""
    if isinstance(node, And | Or):
        for child in node.children:
            yield from leaves(child)
    elif isinstance(node, Not):
        yield from leaves(node.child)
    else:
        yield node


def split_filters(root: Node) -> tuple[Node | None, tuple[Filter, ...]]:
    """The words part of a parsed root and its top-level filters (combined with AND)."""
    if isinstance(root, Filter):
        return None, (root,)
    if isinstance(root, And):
        filters = tuple(c for c in root.children if isinstance(c, Filter))
        words = [c for c in root.children if not isinstance(c, Filter)]
        if not words:
            return None, filters
        return (words[0] if len(words) == 1 else And(tuple(words))), filters
    return root, ()
