"""Terms a query requires: a set of which every matching paper holds at least one."""

from __future__ import annotations

import logging

from bot.query._ast import And, Column, Filter, Node, Not, Term

log = logging.getLogger(__name__)


def required(node: Node) -> frozenset[tuple[Column, str]] | None:
    """(column or None, stem) pairs of which every paper matching `node` holds one; None if none exist."""
    if isinstance(node, Term):
        columns = node.columns
        column = columns[0] if len(columns) == 1 else None
        # Every token is required; the longest is likely the rarest.
        chosen = max(node.stems, key=lambda s: (len(s), s))
        return frozenset({(column, chosen)})
    if isinstance(node, Filter | Not):
        return None
    parts = [required(c) for c in node.children]
    if isinstance(node, And):
        known = [p for p in parts if p is not None]
        if not known:
            return None
        return min(known, key=lambda p: (len(p), sorted(str(t) for t in p)))
    if any(p is None for p in parts):
        return None
    return frozenset().union(*(p for p in parts if p is not None))
