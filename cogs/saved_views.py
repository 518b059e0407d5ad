"""The reading list's private views: pages with a "Remove…" menu, and the confirmation before clearing it."""

from __future__ import annotations

import io
import logging
from typing import Any

import discord

from bot.bibtex import bibtex_file
from bot.models import Paper
from bot.render import NO_MENTIONS, result_options, saved_page
from bot.store import AnyStore
from cogs.paper_views import MAX_SAVED_PER_MEMBER, answer_error, select_options

log = logging.getLogger(__name__)

SAVED_PAGE_SIZE = 10


class SavedListView(discord.ui.View):
    """One member's reading list, a page at a time, with a menu that takes a paper off it."""

    def __init__(self, store: AnyStore, member_id: int, *, timeout: float | None) -> None:
        super().__init__(timeout=timeout)
        self.store = store
        self.member_id = member_id
        self.page = 1
        self.pages = 1
        self.total = 0
        self.papers: list[Paper] = []
        self.message: discord.InteractionMessage | None = None
        self.remove_menu: discord.ui.Select[SavedListView] = discord.ui.Select(
            placeholder="Remove…", custom_id="saved:remove", row=0
        )
        self.remove_menu.callback = self.remove  # type: ignore[method-assign]
        self.previous: discord.ui.Button[SavedListView] = discord.ui.Button(
            emoji="◀", style=discord.ButtonStyle.secondary, custom_id="saved:previous", row=1
        )
        self.previous.callback = self.show_previous  # type: ignore[method-assign]
        self.next: discord.ui.Button[SavedListView] = discord.ui.Button(
            emoji="▶", style=discord.ButtonStyle.secondary, custom_id="saved:next", row=1
        )
        self.next.callback = self.show_next  # type: ignore[method-assign]

    async def load(self, page: int) -> None:
        """Read the page (kept within the list's pages) and set the controls it needs."""
        self.total = await self.store.saved_count(self.member_id)
        self.pages = max(1, -(-self.total // SAVED_PAGE_SIZE))
        self.page = min(max(1, page), self.pages)
        start = (self.page - 1) * SAVED_PAGE_SIZE
        self.papers = await self.store.saved_papers(self.member_id, offset=start, limit=SAVED_PAGE_SIZE)
        self.clear_items()
        if self.papers:
            self.remove_menu.options = select_options(result_options(self.papers, start + 1))
            self.add_item(self.remove_menu)
        if self.pages > 1:
            self.previous.disabled = self.page == 1
            self.next.disabled = self.page == self.pages
            self.add_item(self.previous)
            self.add_item(self.next)

    def embed(self) -> discord.Embed:
        """The page as it is now."""
        start = (self.page - 1) * SAVED_PAGE_SIZE + 1
        return saved_page(self.papers, page=self.page, pages=self.pages, total=self.total, start_index=start)

    async def export(self) -> discord.File:
        """The whole list as a BibTeX file, latest saved first."""
        papers = await self.store.saved_papers(self.member_id, limit=MAX_SAVED_PER_MEMBER)
        return discord.File(io.BytesIO(bibtex_file(papers).encode()), filename="reading-list.bib")

    async def turn_to(self, interaction: discord.Interaction[Any], page: int) -> None:
        """Show another page in the same message."""
        await self.load(page)
        await interaction.response.edit_message(embed=self.embed(), view=self, allowed_mentions=NO_MENTIONS)

    async def show_previous(self, interaction: discord.Interaction[Any]) -> None:
        """The page before."""
        await self.turn_to(interaction, self.page - 1)

    async def show_next(self, interaction: discord.Interaction[Any]) -> None:
        """The page after."""
        await self.turn_to(interaction, self.page + 1)

    async def remove(self, interaction: discord.Interaction[Any]) -> None:
        """Take the chosen paper off the list and show the page again."""
        await self.store.unsave_paper(self.member_id, self.remove_menu.values[0])
        await self.turn_to(interaction, self.page)

    async def on_timeout(self) -> None:
        """Grey out the controls once they stop working."""
        for item in self.children:
            if isinstance(item, discord.ui.Button | discord.ui.Select):
                item.disabled = True
        if self.message is None:
            return
        try:
            await self.message.edit(view=self, allowed_mentions=NO_MENTIONS)
        except discord.HTTPException:
            log.info("could not disable the controls of an old reading list (message gone)")

    async def on_error(
        self, interaction: discord.Interaction[Any], error: Exception, item: discord.ui.Item[Any]
    ) -> None:
        """Send component errors through the same handler as commands."""
        await answer_error(interaction, error, "reading list")


class ClearSavedView(discord.ui.View):
    """Asks before emptying a member's reading list."""

    def __init__(self, store: AnyStore, member_id: int, *, timeout: float | None) -> None:
        super().__init__(timeout=timeout)
        self.store = store
        self.member_id = member_id

    @discord.ui.button(label="Clear my reading list", style=discord.ButtonStyle.danger, custom_id="saved:clear")
    async def confirm(self, interaction: discord.Interaction[Any], button: discord.ui.Button[ClearSavedView]) -> None:
        """Empty the list and say how many papers it held."""
        removed = await self.store.clear_saved(self.member_id)
        self.stop()
        await interaction.response.edit_message(
            content=f"Cleared your reading list ({removed} removed).", embed=None, view=None
        )

    @discord.ui.button(label="Keep it", style=discord.ButtonStyle.secondary, custom_id="saved:keep")
    async def keep(self, interaction: discord.Interaction[Any], button: discord.ui.Button[ClearSavedView]) -> None:
        """Leave the list as it is."""
        self.stop()
        await interaction.response.edit_message(content="Your reading list is unchanged.", view=None)

    async def on_error(
        self, interaction: discord.Interaction[Any], error: Exception, item: discord.ui.Item[Any]
    ) -> None:
        """Send component errors through the same handler as commands."""
        await answer_error(interaction, error, "clear reading list")
