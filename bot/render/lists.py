"""Lists of papers: search result pages, trending, select-menu options, and the terminal list."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

import discord

from bot.models import Paper
from bot.render.cards import SEPARATOR, facts_line
from bot.render.markup import (
    clean,
    count,
    day_url,
    escape_words,
    github_url,
    link,
    long_day,
    month_url,
    plain_words,
    plural,
    safe_url,
    short_count,
    short_day,
    week_url,
)
from bot.render.payload import (
    DESCRIPTION_LIMIT,
    SELECT_DESCRIPTION_LIMIT,
    SELECT_LABEL_LIMIT,
    TITLE_LIMIT,
    MenuOption,
    fit_lines,
    new_embed,
    validated_embed,
)

log = logging.getLogger(__name__)

LINE_TITLE_CHARS = 200
NBSP = "\u00a0"
PERIOD_URLS = {"day": day_url, "week": week_url, "month": month_url}


def _unbroken_day(day: dt.date) -> str:
    """'4 Dec 2026' with no-break spaces, so a line never wraps inside the date."""
    return NBSP.join((str(day.day), f"{day:%b}", str(day.year)))


def _result_block(number: int, paper: Paper, title_chars: int, *, with_day: bool = True) -> str:
    """A numbered linked title, then its facts on the line under it."""
    facts = facts_line(paper)
    if with_day and paper.day is not None:
        facts = SEPARATOR.join(part for part in (facts, _unbroken_day(paper.day)) if part)
    heading = f"**{number}.** {link(paper.title, paper.url, title_chars)}"
    return f"{heading}\n{facts}" if facts else heading


def results_page(
    papers: Sequence[Paper],
    *,
    query: str,
    page: int,
    pages: int,
    total: int,
    start_index: int = 1,
    total_exact: bool = True,
) -> discord.Embed:
    """One page of search results; `start_index` is the number shown for the first paper on the page.

    `total_exact` False: at least `total` papers match (shown as "1,000+ results").
    """
    heading = escape_words(query, TITLE_LIMIT - len("Search: "))
    embed = new_embed(f"Search: {heading}" if heading else "Search results")
    title_chars = max(30, min(LINE_TITLE_CHARS, DESCRIPTION_LIMIT // max(1, len(papers)) - 160))
    blocks = [_result_block(number, paper, title_chars) for number, paper in enumerate(papers, start_index)]
    embed.description = fit_lines(blocks, DESCRIPTION_LIMIT) if blocks else "No papers match this search."
    found = plural(total, "result") if total_exact else f"{count(total)}+ results"
    # One page needs no "page 1/1": the count alone says it all.
    embed.set_footer(text=f"page {count(page)}/{count(pages)} · {found}" if pages > 1 else found)
    return validated_embed(embed)


def option_description(paper: Paper) -> str:
    """A menu option's description: '▲ 38 · 4 Dec 2026 · code ★ 1.2k', within Discord's 100 characters."""
    parts = [f"▲ {count(paper.upvotes)}" if paper.upvotes > 0 else ""]
    if paper.day is not None:
        parts.append(f"{short_day(paper.day)} {paper.day.year}")
    if github_url(paper.github_repo):
        parts.append(f"code ★ {short_count(paper.github_stars)}" if paper.github_stars else "code")
    if clean(paper.organization):
        parts.append(clean(paper.organization))
    return plain_words(SEPARATOR.join(part for part in parts if part), SELECT_DESCRIPTION_LIMIT)


def result_options(papers: Sequence[Paper], start_index: int = 1) -> list[MenuOption]:
    """Select-menu options opening each paper as a card: '3. Title' and its facts, cut between words."""
    options = []
    for number, paper in enumerate(papers, start_index):
        prefix = f"{number}. "
        shown = plain_words(paper.title, SELECT_LABEL_LIMIT - len(prefix)) or "(untitled)"
        options.append(MenuOption(label=prefix + shown, value=paper.id, description=option_description(paper) or None))
    return options


def option_number(label: str) -> int | None:
    """The number a result option shows ('3. Title' gives 3), as `result_options` writes it."""
    number, dot, _ = label.partition(". ")
    return int(number) if dot and number.isdigit() else None


def trending_order(papers: Sequence[Paper]) -> list[Paper]:
    """Papers grouped by day, newest day first, keeping their order within each day (the order shown)."""
    days = sorted({paper.day for paper in papers if paper.day is not None}, reverse=True)
    ordered = [paper for day in days for paper in papers if paper.day == day]
    return ordered + [paper for paper in papers if paper.day is None]


def trending_page(papers: Sequence[Paper], *, period: str, first: dt.date, last: dt.date) -> discord.Embed:
    """Trending papers of a period: title linked to the period's page, grouped by day, numbered as in the menu."""
    if period not in PERIOD_URLS:
        raise ValueError(f"unknown period {period!r}: use 'day', 'week' or 'month'")
    top = f"Top {count(len(papers))}" if len(papers) != 1 else "Top paper"
    span = long_day(last) if first == last else f"{short_day(first)} – {short_day(last)} {last.year}"
    names = {"day": "of the day", "week": "of the week", "month": "of the month"}
    embed = new_embed(f"{top} {names[period]} · {span}", PERIOD_URLS[period](last))
    ordered = trending_order(papers)
    grouped = len({paper.day for paper in ordered}) > 1
    blocks: list[str] = []
    current: dt.date | None = None
    title_chars = max(30, min(LINE_TITLE_CHARS, DESCRIPTION_LIMIT // max(1, len(papers)) - 200))
    for number, paper in enumerate(ordered, 1):
        if grouped and paper.day != current and paper.day is not None:
            current = paper.day
            blocks.append(f"**[{long_day(current)}]({day_url(current)})**")
        blocks.append(_result_block(number, paper, title_chars, with_day=False))
    embed.description = fit_lines(blocks, DESCRIPTION_LIMIT) if blocks else "No papers in this period yet."
    embed.set_footer(text="by upvotes · open one as a card from the menu")
    return validated_embed(embed)


def results_text(papers: Sequence[Paper], *, start_index: int = 1) -> str:
    """Numbered search results for the terminal, two lines each."""
    if not papers:
        return "No papers."
    lines = []
    for number, paper in enumerate(papers, start_index):
        facts = [clean(paper.id), f"▲ {count(paper.upvotes)}"]
        if paper.day is not None:
            facts.append(paper.day.isoformat())
        if paper.has_code:
            facts.append("code")
        url = safe_url(paper.url)
        if url:
            facts.append(url)
        lines.append(f"{number}. {clean(paper.title) or '(untitled)'}")
        lines.append(" " * (len(str(number)) + 2) + " · ".join(facts))
    return "\n".join(lines)


def similar_page(paper: Paper, similar: Sequence[Paper]) -> discord.Embed:
    """The papers closest in content to `paper`: numbered linked titles with their facts, most similar first."""
    heading = escape_words(paper.title, TITLE_LIMIT - len("Similar to: "))
    embed = new_embed(f"Similar to: {heading}" if heading else "Similar papers", safe_url(paper.url))
    title_chars = max(30, min(LINE_TITLE_CHARS, DESCRIPTION_LIMIT // max(1, len(similar)) - 160))
    blocks = [_result_block(number, found, title_chars) for number, found in enumerate(similar, 1)]
    embed.description = (
        fit_lines(blocks, DESCRIPTION_LIMIT) if blocks else "No cached paper is close enough in content yet."
    )
    embed.set_footer(text=f"{plural(len(similar), 'paper')} sharing its most distinctive words")
    return validated_embed(embed)


def saved_page(papers: Sequence[Paper], *, page: int, pages: int, total: int, start_index: int = 1) -> discord.Embed:
    """One page of a member's reading list, the latest saved first."""
    embed = new_embed("Your reading list")
    title_chars = max(30, min(LINE_TITLE_CHARS, DESCRIPTION_LIMIT // max(1, len(papers)) - 160))
    blocks = [_result_block(number, paper, title_chars) for number, paper in enumerate(papers, start_index)]
    embed.description = (
        fit_lines(blocks, DESCRIPTION_LIMIT) if blocks else "Nothing saved yet: press Save under a paper's card."
    )
    saved = f"{plural(total, 'paper')} saved"
    embed.set_footer(text=f"page {count(page)}/{count(pages)} · {saved}" if pages > 1 else saved)
    return validated_embed(embed)
