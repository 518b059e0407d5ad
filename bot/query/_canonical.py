"""The canonical text of a query: equal for queries that differ only in order, case or spacing."""

from __future__ import annotations

import datetime as dt
import logging

from bot.query._ast import COMMON_WORDS, FILTER_FIELDS, And, Filter, Node, Not, Or, Term

log = logging.getLogger(__name__)

_FILTER_PREFIXES = (*(f"{name}:" for name in FILTER_FIELDS), "-category:")


def canonical(node: Node) -> Node:
    """Flatten, sort and de-duplicate AND/OR operands; drop double negation."""
    if isinstance(node, Not):
        child = canonical(node.child)
        return child.child if isinstance(child, Not) else Not(child)
    if isinstance(node, And | Or):
        kind = type(node)
        flat: list[Node] = []
        for child in (canonical(c) for c in node.children):
            flat.extend(child.children if isinstance(child, kind) else (child,))
        unique = {render(c): c for c in flat}
        ordered = [unique[k] for k in sorted(unique, key=lambda k: (k.startswith(_FILTER_PREFIXES), k))]
        return ordered[0] if len(ordered) == 1 else kind(tuple(ordered))
    return node


def render(node: Node, top: bool = False) -> str:
    """`node` written as query text (parenthesised unless `top`)."""
    if isinstance(node, Term):
        bare = len(node.tokens) == 1 and (node.field or node.tokens[0] not in COMMON_WORDS)
        words = node.tokens[0] if bare else '"' + " ".join(node.tokens) + '"'
        return f"{node.field}:{words}" if node.field else words
    if isinstance(node, Filter):
        if node.field == "code":
            return "code:yes" if node.value else "code:no"
        if node.field == "category":
            return f"{'-' if node.op == '!=' else ''}category:{node.value}"
        value = node.value.isoformat() if isinstance(node.value, dt.date) else str(node.value)
        return f"{node.field}:{'' if node.op == '=' else node.op}{value}"
    if isinstance(node, Not):
        return "-" + render(node.child)
    parts = [render(c) for c in node.children]
    if isinstance(node, And):
        parts = _join_ranges(parts)
    joined = (" " if isinstance(node, And) else " OR ").join(parts)
    return joined if top else f"({joined})"


def _join_ranges(parts: list[str]) -> list[str]:
    """Write `f:>=a f:<=b` as `f:a..b`, the form a user types (and one term, not two)."""
    for name in ("upvotes", "day"):
        lows = [p for p in parts if p.startswith(f"{name}:>=")]
        highs = [p for p in parts if p.startswith(f"{name}:<=")]
        if len(lows) == 1 and len(highs) == 1:
            at = parts.index(lows[0])
            merged = f"{name}:{lows[0][len(name) + 3 :]}..{highs[0][len(name) + 3 :]}"
            parts = [p for p in parts if p not in (lows[0], highs[0])]
            parts.insert(min(at, len(parts)), merged)
    return parts
