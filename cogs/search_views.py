"""The results message of /paper search: paging for the searcher, a card menu, and "Post to channel"."""

from __future__ import annotations

import datetime as dt
import logging
import math
from typing import Any

import discord

from bot.models import Paper
from bot.render import NO_MENTIONS, result_options, results_page
from bot.search import SearchResults, Sort
from bot.search.factory import SearchEngine
from cogs.paper_views import VIEW_TIMEOUT_SECONDS, CardMenuView, PostCardButton, fits_custom_id

log = logging.getLogger(__name__)

PAGE_SIZE = 10
CHOICE_LIMIT = 100  # Discord's limit for an autocomplete choice's name and value

__all__ = ["PAGE_SIZE", "VIEW_TIMEOUT_SECONDS", "ResultsView", "choice_name"]


def choice_name(paper_id: str, title: str) -> str:
    """'Title (2406.12345)' cut to Discord's 100 characters, keeping the id visible."""
    suffix = f" ({paper_id})"
    room = CHOICE_LIMIT - len(suffix)
    shown = title if len(title) <= room else title[: room - 1].rstrip() + "…"
    return (shown + suffix)[:CHOICE_LIMIT]


class ResultsView(CardMenuView):
    """◀ ▶ paging for the searcher (only with more than one page), a card menu, and on a private answer
    a "Post #N to channel" button for the card last opened from the menu (else the page's first result)."""

    def __init__(
        self,
        search: SearchEngine,
        first: SearchResults,
        *,
        owner_id: int,
        sort: Sort,
        since: dt.date | None,
        private: bool,
        timeout: float = VIEW_TIMEOUT_SECONDS,
    ) -> None:
        super().__init__(search.store, result_options(first.papers), menu_id="search:open", timeout=timeout)
        self.search = search
        self.results = first
        self.owner_id = owner_id
        self.sort: Sort = sort
        self.since = since
        self.private = private
        self.share_opened = private
        self.page = 0
        self.chosen: tuple[int, Paper] | None = None  # (number shown, paper) last opened from the menu
        self.post_button: PostCardButton | None = None
        self.previous_page: discord.ui.Button[ResultsView] = discord.ui.Button(
            label="◀", style=discord.ButtonStyle.secondary, custom_id="search:previous", row=1
        )
        self.next_page: discord.ui.Button[ResultsView] = discord.ui.Button(
            label="▶", style=discord.ButtonStyle.secondary, custom_id="search:next", row=1
        )
        self.previous_page.callback = self.show_previous  # type: ignore[method-assign]
        self.next_page.callback = self.show_next  # type: ignore[method-assign]
        if self.pages > 1:
            self.add_item(self.previous_page)
            self.add_item(self.next_page)
        self.refresh_items()

    @property
    def pages(self) -> int:
        """How many pages the results fill."""
        return max(1, math.ceil(self.results.total / PAGE_SIZE))

    @property
    def start_index(self) -> int:
        """The number shown for the first paper of the current page."""
        return self.page * PAGE_SIZE + 1

    def embed(self) -> discord.Embed:
        """The current page as an embed."""
        return results_page(
            self.results.papers,
            query=self.results.query,
            page=self.page + 1,
            pages=self.pages,
            total=self.results.total,
            start_index=self.start_index,
            total_exact=self.results.total_exact,
        )

    def post_target(self) -> tuple[int, Paper] | None:
        """What "Post to channel" posts: the card opened last, else the first result on this page."""
        if self.chosen is not None:
            return self.chosen
        return (self.start_index, self.results.papers[0]) if self.results.papers else None

    def refresh_items(self) -> None:
        """Enable the page buttons that lead somewhere, list this page in the menu, name what Post posts."""
        self.previous_page.disabled = self.page == 0
        self.next_page.disabled = self.page + 1 >= self.pages
        self.set_options(result_options(self.results.papers, self.start_index))
        if not self.private:
            return
        if self.post_button is not None:
            self.remove_item(self.post_button)
            self.post_button = None
        target = self.post_target()
        if target is not None and fits_custom_id(target[1].id):
            self.post_button = PostCardButton(target[1].id, label=f"Post #{target[0]} to channel")
            self.post_button.row = 1
            self.add_item(self.post_button)

    async def turn(self, interaction: discord.Interaction[Any], step: int) -> None:
        """Move by `step` pages (only for the person who searched)."""
        if interaction.user.id != self.owner_id:
            await interaction.response.send_message(
                "Only the person who searched can turn these pages: run `/paper search` yourself.",
                ephemeral=True,
                allowed_mentions=NO_MENTIONS,
            )
            return
        page = min(max(0, self.page + step), self.pages - 1)
        self.results = await self.search.search(
            self.results.query, sort=self.sort, since=self.since, limit=PAGE_SIZE, offset=page * PAGE_SIZE
        )
        self.page = page
        self.refresh_items()
        await interaction.response.edit_message(embed=self.embed(), view=self, allowed_mentions=NO_MENTIONS)

    async def show_previous(self, interaction: discord.Interaction[Any]) -> None:
        """Show the previous page."""
        await self.turn(interaction, -1)

    async def show_next(self, interaction: discord.Interaction[Any]) -> None:
        """Show the next page."""
        await self.turn(interaction, 1)

    async def on_pick(self, paper: Paper) -> None:
        """On a private answer, let "Post to channel" name the card just opened."""
        if not self.private:
            return
        numbers = {option.value: number for number, option in enumerate(self.menu.options, self.start_index)}
        self.chosen = (numbers.get(paper.id, self.start_index), paper)
        self.refresh_items()
        await self.redraw()
