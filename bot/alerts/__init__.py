"""Keyword alerts: match new papers against every channel's standing queries, at scale, and plan the posts.

The matcher compiles each distinct query once (channels often share one) and indexes it under terms it
requires: a paper holding none of them never looks at it. A term is a stem, or an adjacent pair of stems
("mixture experts" style keys make a two-word phrase one lookup). Where a query offers a choice (the parts
of an AND, the words of a phrase) the rarest term is taken, by counts over papers seen before. With each
key goes what is left to check once a paper holds it, often nothing ("diffusion"), or a set test over
the paper's terms ("agent -survey": survey absent): these are grouped by word in the key's bucket and
decided with set operations, so a paper costs a few dozen bucket visits rather than one call per query.
Queries with no required term (filters alone, exclusions alone) are checked against every paper.

`ReferenceMatcher` (in _matcher) is the plain definition (`Query.matches` for every subscription and paper); the
indexed matcher must agree with it exactly (tests check this on random corpora and queries).

New papers are checked against every query. Papers whose upvotes changed are checked only against queries
with an `upvotes:` filter, the only ones whose answer can change with upvotes, so a paper crossing a
threshold fires then. A paper goes to a channel at most once (the delivery records see to that), so a
threshold crossed once fires once.

Modules: `_predicates` (a paper's terms, queries compiled to predicates over them), `_planning` (the keys a
query is filed under), `_matcher` (the index and AlertMatcher), `_cursor` (how far the alerts have looked),
`_batches` (one channel's post: grouping, hourly cap, keys), `_backtest` (checking and trying a query).
"""

from __future__ import annotations

import logging

from bot.alerts._backtest import BACKTEST_LIMIT, Backtest, backtest, check_alert_query
from bot.alerts._batches import (
    ALERT_KIND,
    BATCH_KIND,
    CAP_WINDOW,
    AlertBatch,
    ChannelMatches,
    batch_key,
    group_by_channel,
    more_query,
    papers_in_digest,
    plan_batch,
    stamp,
    window_start_key,
)
from bot.alerts._cursor import CURSOR_KEY, CURSOR_OVERLAP, ListingCursor
from bot.alerts._matcher import (
    LEARN_LIMIT,
    PAUSE_EVERY,
    AlertMatcher,
    CompiledQuery,
    Group,
    Match,
    PaperMatches,
    ReferenceMatcher,
    SubscriptionGroup,
    pairs_of,
)
from bot.alerts._planning import Plan, depends_on_upvotes, index_keys, index_plan
from bot.alerts._predicates import Key, PaperTerms, Predicate, compile_predicate, term_keys

log = logging.getLogger(__name__)

__all__ = [
    "ALERT_KIND",
    "BACKTEST_LIMIT",
    "BATCH_KIND",
    "CAP_WINDOW",
    "CURSOR_KEY",
    "CURSOR_OVERLAP",
    "LEARN_LIMIT",
    "PAUSE_EVERY",
    "AlertBatch",
    "AlertMatcher",
    "Backtest",
    "ChannelMatches",
    "CompiledQuery",
    "Group",
    "Key",
    "ListingCursor",
    "Match",
    "PaperMatches",
    "PaperTerms",
    "Plan",
    "Predicate",
    "ReferenceMatcher",
    "SubscriptionGroup",
    "backtest",
    "batch_key",
    "check_alert_query",
    "compile_predicate",
    "depends_on_upvotes",
    "group_by_channel",
    "index_keys",
    "index_plan",
    "more_query",
    "pairs_of",
    "papers_in_digest",
    "plan_batch",
    "stamp",
    "term_keys",
    "window_start_key",
]
