"""Compiling a query's words to an FTS5 expression in which every term is a quoted string of folded tokens."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.query._ast import And, Filter, Node, Not, Term
from bot.query.columns import FIELD_COLUMNS

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FtsQuery:
    """A query compiled for the store.

    `match` is an FTS5 expression (None when the query has no words); `exclude` says the query wants the
    papers that do NOT match it. `filters` are to be combined with AND.
    """

    match: str | None
    exclude: bool
    filters: tuple[Filter, ...]


def _fts_string(term: Term) -> str:
    # Folded tokens hold only word characters, which fold to themselves: FTS5 reads back the same tokens.
    quoted = '"' + " ".join(term.tokens).replace('"', '""') + '"'
    if term.field is None:
        return quoted
    return "{" + " ".join(FIELD_COLUMNS[term.field]) + "} : " + quoted


def _group(parts: list[str], op: str) -> str:
    return parts[0] if len(parts) == 1 else "(" + f" {op} ".join(parts) + ")"


def compile_fts(node: Node) -> tuple[bool, str]:
    """(positive, expression): the papers matching `node` (no filters) are MATCH(expression), or the rest."""
    if isinstance(node, Term):
        return True, _fts_string(node)
    if isinstance(node, Not):
        positive, expression = compile_fts(node.child)
        return not positive, expression
    if isinstance(node, Filter):  # filters are split off before compiling
        raise TypeError("a filter has no FTS5 form")
    compiled = [compile_fts(c) for c in node.children]
    positives = [e for p, e in compiled if p]
    negatives = [e for p, e in compiled if not p]
    if isinstance(node, And):
        if not positives:  # not a and not b = not (a or b)
            return False, _group(negatives, "OR")
        if not negatives:
            return True, _group(positives, "AND")
        return True, f"({_group(positives, 'AND')} NOT {_group(negatives, 'OR')})"
    if not negatives:
        return True, _group(positives, "OR")
    # a or not b = not (b and not a)
    if not positives:
        return False, _group(negatives, "AND")
    return False, f"({_group(negatives, 'AND')} NOT {_group(positives, 'OR')})"
