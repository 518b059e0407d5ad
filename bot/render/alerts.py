"""Keyword alert posts: each paper with the alert it matched and the matched words shown in context."""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Sequence

from bot.models import Paper, Subscription
from bot.query import tokenize
from bot.render.cards import LINE_SUMMARY_CHARS, facts_line, short_summary
from bot.render.markup import clean, code_span, count, link, markdown, names_line
from bot.render.payload import MessagePayload, pack_blocks, validated
from bot.text import ELLIPSIS

log = logging.getLogger(__name__)

AlertSubscription = str | Subscription
AlertMatch = tuple[Paper, Sequence[AlertSubscription]]

LINE_TITLE_CHARS = 200
MATCHED_CHARS = 300
QUERY_CHARS = 200
SNIPPET_CHARS = 180
_WORD_RE = re.compile(r"\w+")
# Query words that are operators or field names, not words to find.
_QUERY_WORDS = frozenset({"and", "or", "not", "title", "abstract", "author", "authors", "summary", "code"})


def query_stems(queries: Collection[str]) -> frozenset[str]:
    """The stems of the words of alert queries, as the search index reads them (operators left out)."""
    stems: set[str] = set()
    for query in queries:
        for word in _WORD_RE.findall(query):
            if word.lower() not in _QUERY_WORDS and not word.isdigit():
                stems.update(tokenize(word))
    return frozenset(stems)


def _hits(text: str, stems: Collection[str]) -> list[tuple[int, int, str]]:
    """(start, end, stem) of each word of `text` whose stem is one of `stems`."""
    found = []
    for match in _WORD_RE.finditer(text):
        matched = next((stem for stem in tokenize(match.group()) if stem in stems), None)
        if matched is not None:
            found.append((*match.span(), matched))
    return found


def _best_anchor(hits: list[tuple[int, int, str]], reach: int) -> tuple[int, int, str]:
    """The hit from which a window of `reach` characters shows the most different matched words (earliest on ties)."""

    def distinct_from(first: int) -> int:
        start = hits[first][0]
        return len({stem for hit_start, hit_end, stem in hits[first:] if hit_end <= start + reach})

    best = max(range(len(hits)), key=lambda index: (distinct_from(index), -index))
    return hits[best]


def snippet(text: str | None, stems: Collection[str], limit: int = SNIPPET_CHARS) -> str:
    """Markdown of the words around the matched words, matches in bold, the rest escaped; '' if none."""
    cleaned = clean(text)
    hits = _hits(cleaned, stems)
    if not hits:
        return ""
    # Centre on the stretch that shows the most different query words (not just the first hit).
    anchor = _best_anchor(hits, limit - limit // 3)
    first_start = anchor[0]
    # Start a little before it, at a word boundary.
    start = max(0, first_start - limit // 3)
    if start > 0:
        space = cleaned.find(" ", start)
        start = space + 1 if 0 <= space < first_start else first_start
    end = min(len(cleaned), start + limit)
    if end < len(cleaned):
        space = cleaned.rfind(" ", start, end)
        # Never past `limit`: a "word" can be thousands of characters (underscores count as letters).
        end = space if space > anchor[1] else min(max(end, anchor[1]), start + limit)
    pieces: list[str] = [ELLIPSIS] if start > 0 else []
    position = start
    for hit_start, whole_end, _ in hits:
        if hit_start < start or hit_start >= end:
            continue
        hit_end = min(whole_end, end)  # a hit cut by the window is bolded as far as it is shown
        pieces.append(markdown(cleaned[position:hit_start]))
        pieces.append(f"**{markdown(cleaned[hit_start:hit_end])}**")
        position = hit_end
    pieces.append(markdown(cleaned[position:end]))
    if end < len(cleaned):
        pieces.append(ELLIPSIS)
    return "".join(pieces)


def _subscription_label(subscription: AlertSubscription) -> str:
    """How a matched subscription is named: its query, with its id when known."""
    if isinstance(subscription, Subscription):
        return f"#{subscription.id} {subscription.query}"
    return subscription


def _subscription_query(subscription: AlertSubscription) -> str:
    """The query text of a matched subscription."""
    return subscription.query if isinstance(subscription, Subscription) else subscription


def matched_snippet(paper: Paper, subscriptions: Sequence[AlertSubscription]) -> str:
    """The matched words in context from the abstract, else the AI summary, else the title."""
    stems = query_stems([_subscription_query(subscription) for subscription in subscriptions])
    for text in (paper.summary, paper.ai_summary, paper.title):
        shown = snippet(text, stems)
        if shown:
            return shown
    return ""


def alert_block(paper: Paper, subscriptions: Sequence[AlertSubscription]) -> str:
    """One alerted paper: linked title, facts, which alert matched and why, then the summary line."""
    lines = [f"**{link(paper.title, paper.url, LINE_TITLE_CHARS)}**"]
    facts = facts_line(paper)
    if facts:
        lines.append(facts)
    labels = [_subscription_label(subscription) for subscription in subscriptions]
    matched = names_line(labels, MATCHED_CHARS, code_span)
    if matched:
        lines.append(f"Matched {matched}")
    context = matched_snippet(paper, subscriptions)
    if context:
        lines.append(f"> {context}")
    summary = short_summary(paper, LINE_SUMMARY_CHARS)
    if summary and summary not in context.replace("**", ""):  # the quote may already hold it, hits bolded
        lines.append(summary)
    return "\n".join(lines)


def alert_more_line(more: int, more_query: str | None) -> str:
    """The single line for papers over the hourly cap, pointing at an /alerts test query when given."""
    text = f"{ELLIPSIS}and {count(more)} more"
    if clean(more_query):
        return f"{text}: {code_span('/alerts test query:' + clean(more_query), QUERY_CHARS)}"
    return text + "."


def alert_messages(
    matches: Sequence[AlertMatch], *, more: int = 0, more_query: str | None = None
) -> list[MessagePayload]:
    """New papers for one channel bundled into as few messages as fit, ending with '…and N more' if any."""
    blocks = [alert_block(paper, subscriptions) for paper, subscriptions in matches]
    if more > 0:
        blocks.append(alert_more_line(more, more_query))
    if not blocks:
        return []
    title = "New papers for this channel's alerts"
    return validated(pack_blocks(blocks, title=title, url=None, continued_title=f"{title} (continued)"))
