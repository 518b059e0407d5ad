"""An arXiv digest: one category's announcement of the day, narrowed by a query, papers with upvotes first."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from bot.errors import UserError
from bot.models import DigestSettings, Paper
from bot.query import Query, QueryError, canonical_category, parse

if TYPE_CHECKING:
    from bot.digest import DigestPlan

log = logging.getLogger(__name__)

WEEK_DAYS = 7


class ListingReader(Protocol):
    """The store's reads of arXiv listings (both backends have them)."""

    async def listing_papers(self, category: str, day: dt.date) -> list[Paper]:
        """The papers a category announced on `day`, in listing order."""
        ...


def announcement_day(papers_day: dt.date) -> dt.date:
    """The arXiv announcement a digest of `papers_day` shows: the one dated the day after.

    A digest posted on a local morning covers the papers day before it; arXiv's announcement of that
    morning went out the evening before (New York time) and carries the morning's date.
    """
    return papers_day + dt.timedelta(days=1)


def checked_arxiv_settings(settings: DigestSettings, followed: Sequence[str]) -> DigestSettings:
    """Settings of an arXiv digest with the category written as arXiv does; UserError when unusable.

    The category must be one the bot reads (`[arxiv] categories`), and the query must parse.
    """
    if settings.source != "arxiv":
        return settings
    if not followed:
        raise UserError("This bot does not read arXiv: its operator sets [arxiv] categories in the config file.")
    if settings.category is None:
        raise UserError(f"An arXiv digest needs a category: one of {', '.join(followed)}.")
    category = canonical_category(settings.category)
    if category is None or category.endswith("*") or category not in followed:
        raise UserError(
            f"Category: {settings.category!r} is not one this bot reads from arXiv; pick one of {', '.join(followed)}."
        )
    if settings.query:
        try:
            parse(settings.query)
        except QueryError as exc:
            raise UserError(f"Query: {exc.describe()}.") from exc
    return dataclasses.replace(settings, category=category)


def category_suggestions(followed: Sequence[str], typed: str, limit: int = 25) -> list[str]:
    """The categories the bot reads that contain what was typed (case aside)."""
    needle = typed.strip().lower()
    return [name for name in followed if needle in name.lower()][:limit]


def choose(papers: Sequence[Paper], *, query: Query | None, top: int, min_upvotes: int) -> tuple[list[Paper], int]:
    """The papers an arXiv digest shows, and how many matched: upvoted ones first (most first), then listing order."""
    matched = [p for p in papers if (query is None or query.matches(p)) and p.upvotes >= min_upvotes]
    ranked = sorted(enumerate(matched), key=lambda item: (item[1].upvotes == 0, -item[1].upvotes, item[0]))
    return [paper for _, paper in ranked[:top]], len(matched)


async def plan_arxiv_digest(
    store: ListingReader, settings: DigestSettings, day: dt.date, *, top: int | None = None
) -> DigestPlan:
    """The plan of an arXiv digest of papers day `day` (a weekly one: the announcements of its seven days)."""
    from bot.digest import DigestPlan  # the digest planner calls this module: import at use

    weekly = settings.frequency == "weekly"
    days = [day - dt.timedelta(days=n) for n in range(WEEK_DAYS - 1, -1, -1)] if weekly else [day]
    category = settings.category or ""
    seen: dict[str, Paper] = {}
    for each in days:
        for paper in await store.listing_papers(category, announcement_day(each)):
            seen.setdefault(paper.id, paper)
    query = parse(settings.query) if settings.query else None
    chosen, total = choose(list(seen.values()), query=query, top=top or settings.top, min_upvotes=settings.min_upvotes)
    return DigestPlan(day=day, papers=chosen, total=total, first_day=days[0] if weekly else None)
