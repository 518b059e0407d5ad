"""Index plans: the keys under which the matcher files a query, and what is left to check per key."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TypeAlias

from bot.alerts._predicates import Key, single_column, term_keys
from bot.query import And, Filter, Node, Not, Or, Query, Term

log = logging.getLogger(__name__)


Plan: TypeAlias = dict[Key, Node | None]


def index_plan(node: Node, frequency: Callable[[str], float] = lambda _: 0.0) -> Plan | None:
    """Keys of which every paper matching `node` holds at least one, each with what is left to check once
    a paper is known to hold it (None: nothing, the paper matches); None when no such keys exist.

    A key is (column or None for any column, term), a term being a stem or an adjacent pair "a b" (see
    PaperTerms). Like `Query.required_terms`, but a phrase is keyed by a pair of its words, and where
    there is a choice (a phrase's pairs, the parts of an AND) the rarest by `frequency` (the share of
    papers holding a term) is taken, so that fewer papers reach the query.
    """
    if isinstance(node, Term):
        keys = term_keys(node)
        rarest = min(keys, key=lambda k: (frequency(k), -len(k), k))
        return {(single_column(node), rarest): None if len(keys) == 1 else node}
    if isinstance(node, Filter | Not):
        return None
    plans = [index_plan(child, frequency) for child in node.children]
    if isinstance(node, And):
        options = [(plan, child) for plan, child in zip(plans, node.children, strict=True) if plan is not None]
        if not options:
            return None
        plan, chosen = min(options, key=lambda option: _cost(option[0], frequency))
        others = [child for child in node.children if child is not chosen]
        return {key: _conjunction([rest, *others]) for key, rest in plan.items()}
    if any(plan is None for plan in plans):
        return None
    merged: dict[Key, list[Node | None]] = {}
    for part in plans:
        for key, rest in (part or {}).items():
            merged.setdefault(key, []).append(rest)
    # A key shared by several parts of an OR leaves the OR of what each part leaves (nothing if one does).
    return {
        key: None if any(r is None for r in rests) else _disjunction([r for r in rests if r is not None])
        for key, rests in merged.items()
    }


def _conjunction(parts: Sequence[Node | None]) -> Node | None:
    kept = [p for p in parts if p is not None]
    if not kept:
        return None
    return kept[0] if len(kept) == 1 else And(tuple(kept))


def _disjunction(parts: Sequence[Node]) -> Node:
    return parts[0] if len(parts) == 1 else Or(tuple(parts))


def _cost(plan: Plan, frequency: Callable[[str], float]) -> tuple[float, int, list[str]]:
    """How many papers a plan's keys let through, roughly; smaller is better (ties broken stably)."""
    return sum(frequency(term) for _, term in plan), len(plan), sorted(map(str, plan))


def index_keys(node: Node, frequency: Callable[[str], float] = lambda _: 0.0) -> frozenset[Key] | None:
    """The keys of `index_plan`: every paper matching `node` holds one of them (None: no such set)."""
    plan = index_plan(node, frequency)
    return None if plan is None else frozenset(plan)


def depends_on_upvotes(query: Query) -> bool:
    """Whether a paper's upvotes can change the query's answer (it has an upvotes: filter)."""
    return any(f.field == "upvotes" for f in query.filters)
