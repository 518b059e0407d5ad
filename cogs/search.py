"""/paper search · show · trending: answers from the cache, with pages, card menus and cards with buttons."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import PaperBot
from bot.errors import BadQuery, UnknownPaper, UserError
from bot.models import Paper
from bot.query import QueryError
from bot.render import NO_MENTIONS, result_options, trending_order, trending_page
from bot.search import Period, SearchResults
from bot.services.index import IndexMaintenance
from bot.sources.huggingface import parse_paper_ref
from cogs.paper_views import (
    VIEW_TIMEOUT_SECONDS,
    CardMenu,
    CiteButton,
    DigestSaveMenu,
    FullAbstractButton,
    PostCardButton,
    SaveButton,
    SimilarButton,
    answer_cite,
    answer_similar,
    card_menu_view,
    send_card,
)
from cogs.saved_views import ClearSavedView, SavedListView
from cogs.search_views import (
    PAGE_SIZE,
    PageButton,
    PagedSearch,
    SearchPages,
    Step,
    choice_name,
    page_count,
    results_embed,
    results_view,
)

log = logging.getLogger(__name__)

PERIOD_NAMES = {"day": "the latest day", "week": "the last 7 days", "month": "the last 30 days"}


class SearchCog(commands.Cog):
    """Searching the cache."""

    group = app_commands.Group(name="paper", description="Find and show Hugging Face Daily Papers")

    def __init__(self, bot: PaperBot) -> None:
        self.bot = bot
        self.search = bot.search
        self.view_timeout = VIEW_TIMEOUT_SECONDS  # the reading list's views
        self.pages = SearchPages()
        self.index = IndexMaintenance(self.search, bot.clock)

    async def cog_unload(self) -> None:
        """Stop a merge of the full-text index that is under way (the next one picks it up)."""
        await self.index.stop()

    @commands.Cog.listener()
    async def on_papers_scraped(self, summary: object) -> None:
        """Keep the title index in step with new papers, and the full-text index compact."""
        await self.index.after_scrape()

    @group.command(
        name="search", description='Search cached papers: words, "phrases", OR, -exclude, title:, author:, …'
    )
    @app_commands.describe(
        query='What to look for, e.g. diffusion video -survey, "mixture of experts", author:"Tri Dao", upvotes:>=50',
        sort="relevance (default), new (latest day first) or top (most upvoted)",
        since="Only papers from this Daily Papers day on, YYYY-MM-DD",
        public="Show the results to the whole channel (default: only you see them, with a Post to channel button)",
    )
    async def search_command(
        self,
        interaction: discord.Interaction[PaperBot],
        query: app_commands.Range[str, 1, 300],
        sort: Literal["relevance", "new", "top"] = "relevance",
        since: str | None = None,
        public: bool = False,
    ) -> None:
        """First page of results (private unless `public`), or the card when the query is a paper's id or URL."""
        if parse_paper_ref(query) is not None:
            paper = await self.find_paper(interaction, query)
            # Fetching an uncached paper defers privately, and a deferral's visibility cannot change.
            private = not public or interaction.response.is_done()
            await send_card(interaction, paper, private=private, shareable=True)
            return
        since_day = None
        if since is not None:
            try:
                since_day = dt.date.fromisoformat(since.strip())
            except ValueError as exc:
                raise UserError(f"`since` must be a date like 2026-06-12, not {since[:40]!r}.") from exc
        try:
            results = await self.search.search(query, sort=sort, since=since_day, limit=PAGE_SIZE)
        except QueryError as error:
            raise BadQuery(query, error) from error
        if not results.papers:
            raise UserError("No cached papers match that. Try fewer words, or check `/paper trending`.")
        if page_count(results) > 1:  # before answering: the pages may be turned as soon as they show
            asked = PagedSearch(query, sort, since_day, owner_id=interaction.user.id)
            self.pages.remember(interaction.id, asked)
        await interaction.response.send_message(
            embed=results_embed(results, 0),
            view=results_view(results, 0, private=not public),
            ephemeral=not public,
            allowed_mentions=NO_MENTIONS,
        )

    async def turn_page(self, interaction: discord.Interaction[PaperBot], step: Step) -> None:
        """Show the previous or next page of a results message, for the person who searched."""
        # The results message answers the search command: its metadata names that interaction.
        asked_by = interaction.message.interaction_metadata if interaction.message is not None else None
        asked = self.pages.get(asked_by.id) if asked_by is not None else None
        if asked is None:
            raise UserError("These results are from a search the bot no longer holds: run `/paper search` again.")
        if interaction.user.id != asked.owner_id:
            raise UserError("Only the person who searched can turn these pages: run `/paper search` yourself.")
        page = max(0, asked.page + (1 if step == "next" else -1))
        results = await self.page_of(asked, page)
        if not results.papers and page > 0:  # fewer results than when it was asked: show the last page
            page = page_count(results) - 1
            results = await self.page_of(asked, page)
        if not results.papers:
            raise UserError("None of these papers are cached any more: run `/paper search` again.")
        asked.page = page
        private = interaction.message is not None and interaction.message.flags.ephemeral
        await interaction.response.edit_message(
            embed=results_embed(results, page),
            view=results_view(results, page, private=private),
            allowed_mentions=NO_MENTIONS,
        )

    async def page_of(self, asked: PagedSearch, page: int) -> SearchResults:
        """Page `page` (from 0) of a search as asked."""
        return await self.search.search(
            asked.query, sort=asked.sort, since=asked.since, limit=PAGE_SIZE, offset=page * PAGE_SIZE
        )

    @group.command(name="show", description="Show one paper as a card")
    @app_commands.describe(paper="arXiv id (2406.12345), a paper URL, or start typing a title")
    async def show(self, interaction: discord.Interaction[PaperBot], paper: app_commands.Range[str, 1, 300]) -> None:
        """One paper's card, fetched from the source if it isn't cached."""
        found = await self.find_paper(interaction, paper)
        # After a private deferral (a fetch) the card can only be private: offer "Post to channel" then.
        await send_card(interaction, found, private=interaction.response.is_done(), shareable=True)

    async def find_paper(self, interaction: discord.Interaction[PaperBot], text: str) -> Paper:
        """The paper an id, URL or title names; fetching an uncached id first defers the answer privately."""
        ref = parse_paper_ref(text)
        found: Paper | None = None
        if ref is not None:
            found = await self.bot.store.get_paper(ref)
            if found is None:
                # The fetch may fail, and a public deferral could only answer publicly: defer privately.
                await interaction.response.defer(ephemeral=True, thinking=True)
                found = await self.bot.scraper.ensure_paper(ref)
        else:
            titled = await self.search.autocomplete(text, limit=1)
            if titled:
                found = await self.bot.store.get_paper(titled[0][0])
        if found is None:
            raise UnknownPaper(text[:100])
        return found

    @show.autocomplete("paper")
    async def show_autocomplete(
        self, interaction: discord.Interaction[PaperBot], current: str
    ) -> list[app_commands.Choice[str]]:
        """Titles and ids matching what was typed (at most 25)."""
        return await self.paper_choices(current)

    async def paper_choices(self, current: str) -> list[app_commands.Choice[str]]:
        """Autocomplete choices for a `paper` option: titles and ids matching what was typed (at most 25)."""
        if not current.strip():
            return []
        suggestions = await self.search.autocomplete(current[:300], limit=25)
        return [app_commands.Choice(name=choice_name(pid, title), value=pid) for pid, title in suggestions[:25]]

    @group.command(name="similar", description="The cached papers closest in content to one paper (only you see them)")
    @app_commands.describe(paper="arXiv id (2406.12345), a paper URL, or start typing a title")
    async def similar(self, interaction: discord.Interaction[PaperBot], paper: app_commands.Range[str, 1, 300]) -> None:
        """Papers sharing the paper's most distinctive words, with a menu that opens one as a card."""
        found = await self.find_paper(interaction, paper)
        await answer_similar(interaction, found)

    @group.command(name="cite", description="A BibTeX entry for a paper (only you see it)")
    @app_commands.describe(paper="arXiv id (2406.12345), a paper URL, or start typing a title")
    async def cite(self, interaction: discord.Interaction[PaperBot], paper: app_commands.Range[str, 1, 300]) -> None:
        """The paper's BibTeX entry in a code block, or as a .bib file when it is too long for a message."""
        found = await self.find_paper(interaction, paper)
        await answer_cite(interaction, found)

    @similar.autocomplete("paper")
    async def similar_autocomplete(
        self, interaction: discord.Interaction[PaperBot], current: str
    ) -> list[app_commands.Choice[str]]:
        """Titles and ids matching what was typed, as for /paper show."""
        return await self.paper_choices(current)

    @cite.autocomplete("paper")
    async def cite_autocomplete(
        self, interaction: discord.Interaction[PaperBot], current: str
    ) -> list[app_commands.Choice[str]]:
        """Titles and ids matching what was typed, as for /paper show."""
        return await self.paper_choices(current)

    @group.command(name="saved", description="Your reading list: the papers you saved (only you see it)")
    @app_commands.describe(
        export="Also attach the whole list as a BibTeX .bib file",
        clear="Empty your reading list (you confirm with a button first)",
    )
    async def saved(
        self, interaction: discord.Interaction[PaperBot], export: bool = False, clear: bool = False
    ) -> None:
        """The member's own reading list, privately: pages, a remove menu, a .bib export, or clearing it."""
        if clear:
            total = await self.bot.store.saved_count(interaction.user.id)
            confirm = ClearSavedView(self.bot.store, interaction.user.id, timeout=self.view_timeout)
            await interaction.response.send_message(
                f"Remove all {total} papers from your reading list?", view=confirm, ephemeral=True
            )
            return
        view = SavedListView(self.bot.store, interaction.user.id, timeout=self.view_timeout)
        await view.load(1)
        extra: dict[str, Any] = {"file": await view.export()} if export and view.total else {}
        await interaction.response.send_message(
            embed=view.embed(), view=view, ephemeral=True, allowed_mentions=NO_MENTIONS, **extra
        )
        view.message = await interaction.original_response()

    @group.command(name="trending", description="The most upvoted cached papers of a recent period")
    @app_commands.describe(period="day: the latest day; week: the last 7 days; month: the last 30 days")
    async def trending(
        self, interaction: discord.Interaction[PaperBot], period: Literal["day", "week", "month"] = "day"
    ) -> None:
        """Top papers of the period, from the cache, with a menu that opens one as a card."""
        chosen: Period = period
        found = await self.search.trending(chosen, self.bot.clock.now(), limit=PAGE_SIZE)
        if not found.papers or found.first is None or found.last is None:
            raise UserError(f"No papers cached for {PERIOD_NAMES[period]} yet: the scraper may still be catching up.")
        embed = trending_page(found.papers, period=period, first=found.first, last=found.last)
        options = result_options(trending_order(found.papers))
        await interaction.response.send_message(
            embed=embed, view=card_menu_view("trending", options), allowed_mentions=NO_MENTIONS
        )


async def setup(bot: PaperBot) -> None:
    """Extension entry point."""
    bot.add_dynamic_items(
        FullAbstractButton, PostCardButton, SaveButton, SimilarButton, CiteButton, DigestSaveMenu, CardMenu, PageButton
    )
    await bot.add_cog(SearchCog(bot))
