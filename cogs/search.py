"""/paper search · show · trending: answers from the cache, with pages, buttons and a card view."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
from typing import Any, Literal, cast

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import PaperBot, describe_error, send_ephemeral
from bot.clock import stop_task
from bot.errors import UnknownPaper, UserError
from bot.models import Paper
from bot.render import NO_MENTIONS, paper_card, results_page
from bot.search import Period, Search, SearchResults, Sort
from bot.sources.huggingface import parse_paper_ref
from bot.store import StoreError

log = logging.getLogger(__name__)

PAGE_SIZE = 10
VIEW_TIMEOUT_SECONDS = 300.0
CHOICE_LIMIT = 100  # Discord's limit for an autocomplete choice's name and value
PERIOD_NAMES = {"day": "the latest day", "week": "the last 7 days", "month": "the last 30 days"}


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


class SearchCog(commands.Cog):
    """Searching the cache."""

    group = app_commands.Group(name="paper", description="Find and show Hugging Face Daily Papers")

    def __init__(self, bot: PaperBot) -> None:
        self.bot = bot
        self.search = Search.of(bot.store)
        self.view_timeout = VIEW_TIMEOUT_SECONDS
        self.merging: asyncio.Task[None] | None = None  # the latest merge of the full-text index

    async def cog_unload(self) -> None:
        """Stop a merge of the full-text index that is under way (the next one picks it up)."""
        await stop_task(self.merging)

    @commands.Cog.listener()
    async def on_papers_scraped(self, summary: object) -> None:
        """Keep the title index in step with new papers, and the full-text index compact."""
        await self.search.refresh(force=True)
        if self.merging is None or self.merging.done():
            self.merging = asyncio.create_task(self._merge_index(), name="search-index-merge")

    async def _merge_index(self) -> None:
        try:
            await self.search.merge_index_if_due(self.bot.clock.now())
        except StoreError as exc:
            # Searches still work on an unmerged index, only slower; the next scrape tries again.
            log.warning("could not merge the search index: %s", exc)

    @group.command(
        name="search", description='Search cached papers: words, "phrases", OR, -exclude, title:, author:, …'
    )
    @app_commands.describe(
        query='What to look for, e.g. diffusion video -survey, "mixture of experts", author:"Tri Dao", upvotes:>=50',
        sort="relevance (default), new (latest day first) or top (most upvoted)",
        since="Only papers from this Daily Papers day on, YYYY-MM-DD",
    )
    async def search_command(
        self,
        interaction: discord.Interaction[PaperBot],
        query: app_commands.Range[str, 1, 300],
        sort: Literal["relevance", "new", "top"] = "relevance",
        since: str | None = None,
    ) -> None:
        """First page of results, with paging buttons and a card menu."""
        since_day = None
        if since is not None:
            try:
                since_day = dt.date.fromisoformat(since.strip())
            except ValueError as exc:
                raise UserError(f"`since` must be a date like 2026-06-12, not {since[:40]!r}.") from exc
        results = await self.search.search(query, sort=sort, since=since_day, limit=PAGE_SIZE)
        if not results.papers:
            raise UserError("No cached papers match that. Try fewer words, or check `/paper trending`.")
        view = ResultsView(
            self.search, results, owner_id=interaction.user.id, sort=sort, since=since_day, timeout=self.view_timeout
        )
        await interaction.response.send_message(embed=view.embed(), view=view, allowed_mentions=NO_MENTIONS)
        view.message = await interaction.original_response()

    @group.command(name="show", description="Show one paper as a card")
    @app_commands.describe(paper="arXiv id (2406.12345), a paper URL, or start typing a title")
    async def show(self, interaction: discord.Interaction[PaperBot], paper: app_commands.Range[str, 1, 300]) -> None:
        """One paper's card, fetched from the source if it isn't cached."""
        ref = parse_paper_ref(paper)
        found: Paper | None = None
        if ref is not None:
            found = await self.bot.store.get_paper(ref)
            if found is None:
                # The fetch may fail, and a public deferral could only answer publicly: defer privately.
                await interaction.response.defer(ephemeral=True, thinking=True)
                found = await self.bot.scraper.ensure_paper(ref)
        else:
            titled = await self.search.autocomplete(paper, limit=1)
            if titled:
                found = await self.bot.store.get_paper(titled[0][0])
        if found is None:
            raise UnknownPaper(paper[:100])
        embed = paper_card(found)
        if interaction.response.is_done():
            await interaction.followup.send(embed=embed, allowed_mentions=NO_MENTIONS)
        else:
            await interaction.response.send_message(embed=embed, allowed_mentions=NO_MENTIONS)

    @show.autocomplete("paper")
    async def show_autocomplete(
        self, interaction: discord.Interaction[PaperBot], current: str
    ) -> list[app_commands.Choice[str]]:
        """Titles and ids matching what was typed (at most 25)."""
        if not current.strip():
            return []
        suggestions = await self.search.autocomplete(current[:300], limit=25)
        return [app_commands.Choice(name=choice_name(pid, title), value=pid) for pid, title in suggestions[:25]]

    @group.command(name="trending", description="The most upvoted cached papers of a recent period")
    @app_commands.describe(period="day: the latest day; week: the last 7 days; month: the last 30 days")
    async def trending(
        self, interaction: discord.Interaction[PaperBot], period: Literal["day", "week", "month"] = "day"
    ) -> None:
        """Top papers of the period, from the cache."""
        chosen: Period = period
        found = await self.search.trending(chosen, self.bot.clock.now(), limit=PAGE_SIZE)
        if not found.papers:
            raise UserError(f"No papers cached for {PERIOD_NAMES[period]} yet: the scraper may still be catching up.")
        span = f"{found.first}" if found.first == found.last else f"{found.first} to {found.last}"
        embed = results_page(found.papers, query=f"trending, {span}", page=1, pages=1, total=len(found.papers))
        embed.title = f"Trending: {PERIOD_NAMES[period]} ({span})"
        await interaction.response.send_message(embed=embed, allowed_mentions=NO_MENTIONS)


async def setup(bot: PaperBot) -> None:
    """Extension entry point."""
    await bot.add_cog(SearchCog(bot))
