"""The results message of /paper search: paging for the searcher, a card menu, and "Post to channel".

Its controls are persistent items whose custom ids say what they do: the menu's options carry the paper
ids and "Post" its paper, so those work on any results message, after restarts too. Turning a page needs
the search as asked, which `SearchPages` remembers for the latest searches with more than one page, by the
id of the command's interaction (which Discord names on the results message). Nothing else is kept per
message: a busy bot answers thousands of searches, and a view held for each (with its menu, buttons and
page of papers) is work for every garbage collection.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import logging
import math
import re
from typing import Any, Literal, Protocol, cast

import discord

from bot.client import dispatch_only_view
from bot.errors import UserError
from bot.render import result_options, results_page
from bot.search import SearchResults, Sort
from cogs.paper_views import CardMenu, PostCardButton, answer_error, fits_custom_id, select_options

log = logging.getLogger(__name__)

PAGE_SIZE = 10
CHOICE_LIMIT = 100  # Discord's limit for an autocomplete choice's name and value
# Searches whose pages can still be turned; each is its text and a few fields (under a kilobyte).
REMEMBERED_SEARCHES = 5_000

Step = Literal["previous", "next"]

__all__ = [
    "PAGE_SIZE",
    "PageButton",
    "PagedSearch",
    "SearchPages",
    "Step",
    "choice_name",
    "page_count",
    "results_embed",
    "results_view",
]


def choice_name(paper_id: str, title: str) -> str:
    """'Title (2406.12345)' cut to Discord's 100 characters, keeping the id visible."""
    suffix = f" ({paper_id})"
    room = CHOICE_LIMIT - len(suffix)
    shown = title if len(title) <= room else title[: room - 1].rstrip() + "…"
    return (shown + suffix)[:CHOICE_LIMIT]


@dataclasses.dataclass(slots=True)
class PagedSearch:
    """What turning a results message's pages needs: the search as asked, who asked it, and the page shown."""

    query: str
    sort: Sort
    since: dt.date | None
    owner_id: int
    page: int = 0


class SearchPages:
    """The latest searches with more than one page, by their command's interaction id: the oldest are forgotten."""

    def __init__(self, limit: int = REMEMBERED_SEARCHES) -> None:
        self.limit = limit
        self._by_interaction: collections.OrderedDict[int, PagedSearch] = collections.OrderedDict()

    def remember(self, interaction_id: int, search: PagedSearch) -> None:
        """Keep `search` for the results of that interaction, forgetting the oldest beyond the limit."""
        self._by_interaction[interaction_id] = search
        self._by_interaction.move_to_end(interaction_id)
        while len(self._by_interaction) > self.limit:
            self._by_interaction.popitem(last=False)

    def get(self, interaction_id: int) -> PagedSearch | None:
        """The search an interaction asked, if it is still remembered."""
        found = self._by_interaction.get(interaction_id)
        if found is not None:
            self._by_interaction.move_to_end(interaction_id)
        return found


def page_count(results: SearchResults) -> int:
    """How many pages the results fill."""
    return max(1, math.ceil(results.total / PAGE_SIZE))


def results_embed(results: SearchResults, page: int) -> discord.Embed:
    """Page `page` (from 0) of the results as an embed."""
    return results_page(
        results.papers,
        query=results.query,
        page=page + 1,
        pages=page_count(results),
        total=results.total,
        start_index=page * PAGE_SIZE + 1,
        total_exact=results.total_exact,
    )


def results_view(results: SearchResults, page: int, *, private: bool) -> discord.ui.View:
    """The card menu; ◀ ▶ with more than one page; on a private answer, "Post #N to channel" for the page's
    first result (a card opened from the menu renames it)."""
    start = page * PAGE_SIZE + 1
    view = dispatch_only_view()
    view.add_item(CardMenu("search", select_options(result_options(results.papers, start))))
    pages = page_count(results)
    if pages > 1:
        view.add_item(PageButton("previous", disabled=page == 0))
        view.add_item(PageButton("next", disabled=page + 1 >= pages))
    first = results.papers[0] if results.papers else None
    if private and first is not None and fits_custom_id(first.id):
        post = PostCardButton(first.id, label=f"Post #{start} to channel")
        post.row = 1
        view.add_item(post)
    return view


class Pager(Protocol):
    """The cog that turns results pages (it holds the search engine and `SearchPages`)."""

    async def turn_page(self, interaction: discord.Interaction[Any], step: Step) -> None: ...


class PageButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=r"search:(?P<step>previous|next)",
):
    """◀ or ▶ on a results message: the searcher turns the page (the search cog does the turning)."""

    def __init__(self, step: Step, *, disabled: bool = False) -> None:
        super().__init__(
            discord.ui.Button(
                label="◀" if step == "previous" else "▶",
                style=discord.ButtonStyle.secondary,
                custom_id=f"search:{step}",
                disabled=disabled,
                row=1,
            )
        )
        self.step: Step = step

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> PageButton:
        """Rebuild the button from a click on any results message."""
        return cls(cast(Step, match["step"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """Turn the page, through the search cog."""
        try:
            pager = cast(Pager | None, interaction.client.get_cog("SearchCog"))
            if pager is None:
                raise UserError("Search is not available right now. Please try again later.")
            await pager.turn_page(interaction, self.step)
        except Exception as error:
            await answer_error(interaction, error, "turn page")
