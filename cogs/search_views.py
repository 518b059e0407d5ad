"""The results message of /paper search: paging buttons for the searcher and a card menu for everyone."""

from __future__ import annotations

import datetime as dt
import logging
import math
from typing import Any, cast

import discord

from bot.client import PaperBot, describe_error, send_ephemeral
from bot.errors import UnknownPaper
from bot.models import Paper
from bot.render import NO_MENTIONS, paper_card, results_page
from bot.search import Search, SearchResults, Sort

log = logging.getLogger(__name__)

PAGE_SIZE = 10
VIEW_TIMEOUT_SECONDS = 300.0
CHOICE_LIMIT = 100  # Discord's limit for an autocomplete choice's name and value


def choice_name(paper_id: str, title: str) -> str:
    """'Title (2406.12345)' cut to Discord's 100 characters, keeping the id visible."""
    suffix = f" ({paper_id})"
    room = CHOICE_LIMIT - len(suffix)
    shown = title if len(title) <= room else title[: room - 1].rstrip() + "…"
    return (shown + suffix)[:CHOICE_LIMIT]


def option_label(number: int, paper: Paper) -> str:
    """A select option's label (at most 100 characters)."""
    text = f"{number}. {paper.title}"
    return text if len(text) <= CHOICE_LIMIT else text[: CHOICE_LIMIT - 1] + "…"


class ResultsView(discord.ui.View):
    """◀ ▶ paging for the searcher, and a menu anyone can use to open a result as a card (privately)."""

    def __init__(
        self,
        search: Search,
        first: SearchResults,
        *,
        owner_id: int,
        sort: Sort,
        since: dt.date | None,
        timeout: float = VIEW_TIMEOUT_SECONDS,
    ) -> None:
        super().__init__(timeout=timeout)
        self.search = search
        self.results = first
        self.owner_id = owner_id
        self.sort: Sort = sort
        self.since = since
        self.page = 0
        self.message: discord.InteractionMessage | None = None
        self.refresh_items()

    @property
    def pages(self) -> int:
        """How many pages the results fill."""
        return max(1, math.ceil(self.results.total / PAGE_SIZE))

    def embed(self) -> discord.Embed:
        """The current page as an embed."""
        return results_page(
            self.results.papers,
            query=self.results.query,
            page=self.page + 1,
            pages=self.pages,
            total=self.results.total,
            start_index=self.page * PAGE_SIZE + 1,
            total_exact=self.results.total_exact,
        )

    def refresh_items(self) -> None:
        """Enable the buttons that lead somewhere and list this page's papers in the menu."""
        self.previous_page.disabled = self.page == 0
        self.next_page.disabled = self.page + 1 >= self.pages
        menu = cast("discord.ui.Select[ResultsView]", self.open_paper)
        menu.options = [
            discord.SelectOption(label=option_label(number, paper), value=paper.id)
            for number, paper in enumerate(self.results.papers, self.page * PAGE_SIZE + 1)
        ] or [discord.SelectOption(label="(no results)", value="-")]
        menu.disabled = not self.results.papers

    async def turn(self, interaction: discord.Interaction[PaperBot], step: int) -> None:
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

    @discord.ui.button(label="◀", style=discord.ButtonStyle.secondary, custom_id="search:previous")
    async def previous_page(
        self, interaction: discord.Interaction[PaperBot], button: discord.ui.Button[ResultsView]
    ) -> None:
        """Show the previous page."""
        await self.turn(interaction, -1)

    @discord.ui.button(label="▶", style=discord.ButtonStyle.secondary, custom_id="search:next")
    async def next_page(
        self, interaction: discord.Interaction[PaperBot], button: discord.ui.Button[ResultsView]
    ) -> None:
        """Show the next page."""
        await self.turn(interaction, 1)

    @discord.ui.select(placeholder="Open a paper as a card…", custom_id="search:open")
    async def open_paper(
        self, interaction: discord.Interaction[PaperBot], select: discord.ui.Select[ResultsView]
    ) -> None:
        """Show the chosen paper's card to whoever chose it."""
        paper = await self.search.store.get_paper(select.values[0])
        if paper is None:
            raise UnknownPaper(select.values[0])
        await interaction.response.send_message(embed=paper_card(paper), ephemeral=True, allowed_mentions=NO_MENTIONS)

    async def on_timeout(self) -> None:
        """Grey out the controls once they stop working."""
        for item in self.children:
            if isinstance(item, discord.ui.Button | discord.ui.Select):
                item.disabled = True
        if self.message is not None:
            try:
                await self.message.edit(view=self)
            except discord.HTTPException:
                log.info("could not disable the buttons of an old search (message gone)")

    async def on_error(
        self, interaction: discord.Interaction[Any], error: Exception, item: discord.ui.Item[Any]
    ) -> None:
        """Send component errors through the same handler as commands."""
        message = describe_error(error)
        if message is None:
            log.exception("search view action failed", exc_info=error)
            message = "Something went wrong on our side; it has been logged. Please try again later."
        await send_ephemeral(interaction, message)
