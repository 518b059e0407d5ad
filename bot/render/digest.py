"""The daily or weekly digest: compact (one embed, three lines per paper) or cards (one short embed per paper)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

from bot.models import Paper
from bot.render.cards import LINE_SUMMARY_CHARS, facts_line, short_summary
from bot.render.lists import result_options
from bot.render.markup import count, day_url, escape_text, escape_words, link, plural, safe_url, short_day
from bot.render.payload import TITLE_LIMIT, MessagePayload, new_embed, pack_blocks, pack_embeds, validated
from bot.sources.arxiv_ids import listing_page

log = logging.getLogger(__name__)

DIGEST_TITLE_CHARS = 90
DIGEST_SUMMARY_CHARS = 105  # with the titles, keeps a top-10 digest near 2,000 visible characters
NOTE_CHARS = 500
# Discord's component JSON: type numbers, the secondary button style, and its limits.
ACTION_ROW, BUTTON, STRING_SELECT, SECONDARY = 1, 2, 3, 2
ROW_WIDTH = 5
MENU_OPTIONS = 25
CUSTOM_ID_LIMIT = 100
DIGEST_SAVE_ID = "digest:save"


def _digest_day(day: dt.date) -> str:
    """'Fri 2026-06-12': the weekday for people, the ISO date for searching the channel."""
    return f"{day:%a} {day.isoformat()}"


def week_span(first_day: dt.date, last_day: dt.date) -> str:
    """'28 Nov – 4 Dec': the papers days a weekly digest covers."""
    return f"{short_day(first_day)} – {short_day(last_day)}"


def _period(day: dt.date, first_day: dt.date | None) -> str:
    """The days a digest covers as its messages name them: one day, or a week's span."""
    return week_span(first_day, day) if first_day is not None else _digest_day(day)


def digest_title(day: dt.date, first_day: dt.date | None = None) -> str:
    """'Daily Papers · Fri 2026-06-12', or 'Weekly Papers · 28 Nov – 4 Dec' when a first day is given."""
    if first_day is not None:
        return f"Weekly Papers · {week_span(first_day, day)}"
    return f"Daily Papers · {_digest_day(day)}"


def digest_count_line(shown: int, total_that_day: int, period: str = "day") -> str:
    """'Top 10 of 30 papers that day', 'All 4 papers that day' or 'The only paper that day' (or week)."""
    total = max(total_that_day, shown)
    if shown == total:
        return f"All {plural(total, 'paper')} that {period}" if total != 1 else f"The only paper that {period}"
    return f"Top {count(shown)} of {plural(total, 'paper')} that {period}"


def paper_page(paper: Paper) -> str:
    """Where a digest links a paper: its Hugging Face page, or its arXiv page when only arXiv listed it."""
    return paper.url if "huggingface" in paper.sources else paper.arxiv_url


def digest_block(rank: int, paper: Paper) -> str:
    """One paper in a compact digest: rank and linked title; facts; a summary of at most ~160 characters."""
    lines = [f"**{rank}. {link(paper.title, paper_page(paper), DIGEST_TITLE_CHARS)}**"]
    facts = facts_line(paper)
    if facts:
        lines.append(facts)
    summary = short_summary(paper, DIGEST_SUMMARY_CHARS)
    if summary:
        lines.append(summary)
    return "\n".join(lines)


def digest_card(rank: int, paper: Paper) -> MessagePayload:
    """One paper of a cards digest as its own short embed (title linked, facts, summary)."""
    prefix = f"{rank}. "
    embed = new_embed(
        prefix + (escape_words(paper.title, TITLE_LIMIT - len(prefix)) or "(untitled)"), safe_url(paper_page(paper))
    )
    parts = [facts_line(paper), short_summary(paper, LINE_SUMMARY_CHARS)]
    embed.description = "\n".join(part for part in parts if part) or None
    thumbnail = safe_url(paper.thumbnail)
    if thumbnail:
        embed.set_thumbnail(url=thumbnail)
    return MessagePayload(embeds=[embed])


def digest_messages(
    papers: Sequence[Paper],
    *,
    day: dt.date,
    total_that_day: int,
    style: str = "compact",
    late_note: str | None = None,
    first_day: dt.date | None = None,
    title: str | None = None,
    url: str | None = None,
    last_line: str | None = None,
) -> list[MessagePayload]:
    """A digest as messages: "compact" lists papers in one embed, "cards" gives each paper an embed.

    With `first_day` it is a weekly digest of `first_day` to `day`; `total_that_day` then counts the week.
    `title` and `url` replace the Daily Papers ones; `last_line` closes the digest (e.g. "and 12 more").
    """
    if style not in ("compact", "cards"):
        raise ValueError(f"unknown digest style {style!r}: use 'compact' or 'cards'")
    note = escape_text(late_note, NOTE_CHARS) or None
    if not papers:
        text = digest_empty_text(day, first_day)
        return validated([MessagePayload(content=f"{note}\n{text}" if note else text)])
    title = title or digest_title(day, first_day)
    url = url or day_url(day)
    count_line = digest_count_line(len(papers), total_that_day, "week" if first_day is not None else "day")
    if style == "compact":
        blocks = [count_line + "\n"] + [digest_block(rank, paper) for rank, paper in enumerate(papers, 1)]
        if last_line:
            blocks.append("\n" + last_line)
        packed = pack_blocks(
            blocks,
            title=title,
            url=url,
            continued_title=f"{title} (continued)",
            first_content=note,
            separator="\n",
        )
        packed[-1] = dataclasses.replace(packed[-1], components=save_menu(papers))
        return validated(packed)
    # The angle brackets keep Discord from adding a preview of the day's page under the header.
    header = f"**[{title}](<{url}>)** · {count_line}"
    content = f"{note}\n{header}" if note else header
    cards = [digest_card(rank, paper).embeds[0] for rank, paper in enumerate(papers, 1)]
    messages, first_rank = [], 1
    for message in pack_embeds(cards, content):
        shown = len(message.embeds)
        buttons = save_buttons(papers[first_rank - 1 : first_rank - 1 + shown], first_rank)
        messages.append(dataclasses.replace(message, components=buttons))
        first_rank += shown
    if last_line:
        messages.append(MessagePayload(content=last_line))
    return validated(messages)


def save_buttons(papers: Sequence[Paper], first_rank: int) -> list[dict[str, Any]]:
    """Action rows of "Save N" buttons, one per card (custom ids the persistent Save button answers)."""
    buttons = [
        {"type": BUTTON, "style": SECONDARY, "label": f"Save {rank}", "custom_id": f"paper:save:{paper.id}"}
        for rank, paper in enumerate(papers, first_rank)
        if len(f"paper:save:{paper.id}") <= CUSTOM_ID_LIMIT
    ]
    return [{"type": ACTION_ROW, "components": buttons[i : i + ROW_WIDTH]} for i in range(0, len(buttons), ROW_WIDTH)]


def save_menu(papers: Sequence[Paper]) -> list[dict[str, Any]]:
    """One action row with a "Save a paper…" menu whose values are the papers' ids."""
    options = [
        {"label": o.label, "value": o.value, "description": o.description} if o.description
        else {"label": o.label, "value": o.value}
        for o in result_options(papers)[:MENU_OPTIONS]
        if len(o.value) <= CUSTOM_ID_LIMIT
    ]  # fmt: skip
    if not options:
        return []
    menu = {"type": STRING_SELECT, "custom_id": DIGEST_SAVE_ID, "placeholder": "Save a paper…", "options": options}
    return [{"type": ACTION_ROW, "components": [menu]}]


def digest_empty_text(day: dt.date, first_day: dt.date | None = None) -> str:
    """The one line posted for a day (or, with `first_day`, a week) without papers."""
    return f"No papers on Hugging Face Daily Papers for {_period(day, first_day)}."


def digest_missed_text(day: dt.date, first_day: dt.date | None = None) -> str:
    """The one line posted instead of a digest that came due too long ago while the bot was down."""
    kind = "weekly digest" if first_day is not None else "digest"
    return (
        f"The {kind} for {_period(day, first_day)} was skipped: the bot was offline past the grace window. "
        f"The papers are at <{day_url(day)}>."
    )


def arxiv_digest_title(category: str, day: dt.date, first_day: dt.date | None = None) -> str:
    """'arXiv cs.CL · Fri 2026-06-12', or 'arXiv cs.CL · 8 Jun – 12 Jun' for a week of announcements."""
    return f"arXiv {category} · {_period(day, first_day)}"


def arxiv_digest_messages(
    papers: Sequence[Paper],
    *,
    category: str,
    day: dt.date,
    total: int,
    style: str = "compact",
    late_note: str | None = None,
    first_day: dt.date | None = None,
    post_empty: bool = True,
) -> list[MessagePayload]:
    """An arXiv digest of a category's announcement (`day`, or `first_day` to `day`); none for a quiet empty day.

    When more papers matched than are shown, a last line "and M more" links the category's listing page.
    """
    page = listing_page(category)
    if not papers:
        if not post_empty:
            return []
        period = _period(day, first_day)
        text = f"No new arXiv papers in {escape_text(category, 40)} for {period} (no announcement, or none matched)."
        note = escape_text(late_note, NOTE_CHARS)
        return validated([MessagePayload(content=f"{note}\n{text}" if note else text)])
    more = total - len(papers)
    last_line = link(f"…and {plural(more, 'more paper')} in {category}", page, 80) if more > 0 else None
    return digest_messages(
        papers,
        day=day,
        total_that_day=total,
        style=style,
        late_note=late_note,
        first_day=first_day,
        title=arxiv_digest_title(category, day, first_day),
        url=page,
        last_line=last_line,
    )
