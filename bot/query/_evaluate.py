"""Deciding a query over one paper in Python, exactly as the FTS5 query decides it in SQLite."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.models import Paper
from bot.query._ast import And, Column, Filter, Node, Not, Term
from bot.query._tokens import tokenize
from bot.query.columns import SEARCH_COLUMNS

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PaperText:
    """A paper's FTS columns as stemmed token positions, ready for many queries."""

    paper: Paper
    positions: dict[str, dict[str, frozenset[int]]]

    @classmethod
    def of(cls, paper: Paper) -> PaperText:
        """Tokenize a paper's columns as the papers_fts triggers fill them."""
        positions: dict[str, dict[str, frozenset[int]]] = {}
        for column in SEARCH_COLUMNS:
            found: dict[str, set[int]] = {}
            for index, token in enumerate(tokenize(column.text(paper))):
                found.setdefault(token, set()).add(index)
            positions[column.name] = {token: frozenset(where) for token, where in found.items()}
        return cls(paper, positions)

    def has_phrase(self, stems: tuple[str, ...], columns: tuple[str, ...]) -> bool:
        """Whether the stems occur consecutively in one of `columns`."""
        for column in columns:
            index = self.positions[column]
            starts = index.get(stems[0])
            if not starts:
                continue
            rest = [index.get(s) for s in stems[1:]]
            if any(r is None for r in rest):
                continue
            for start in starts:
                if all(start + i + 1 in r for i, r in enumerate(rest) if r is not None):
                    return True
        return False

    def terms(self) -> set[tuple[Column, str]]:
        """Every (column, stem) and (None, stem) in the paper: what `required_terms` are checked against."""
        found: set[tuple[Column, str]] = set()
        for column, index in self.positions.items():
            for token in index:
                found.add((column, token))
                found.add((None, token))
        return found


def evaluate(node: Node, text: PaperText) -> bool:
    """Whether the paper behind `text` matches `node`."""
    if isinstance(node, Term):
        return text.has_phrase(node.stems, node.columns)
    if isinstance(node, Filter):
        return node.holds(text.paper)
    if isinstance(node, Not):
        return not evaluate(node.child, text)
    if isinstance(node, And):
        return all(evaluate(c, text) for c in node.children)
    return any(evaluate(c, text) for c in node.children)
