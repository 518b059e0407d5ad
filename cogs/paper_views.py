"""A paper's card as a message: link buttons, a "Full abstract" button that survives restarts, and card menus."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any, cast

import discord

from bot.client import PaperBot, describe_error, send_ephemeral
from bot.errors import UnknownPaper
from bot.models import Paper
from bot.render import (
    NO_MENTIONS,
    MenuOption,
    escape_text,
    full_abstract_messages,
    has_more_abstract,
    paper_card,
    paper_links,
)
from bot.store import Store

log = logging.getLogger(__name__)

VIEW_TIMEOUT_SECONDS = 300.0
LINK_BUTTONS_PER_ROW = 5
SHARER_CHARS = 80
CUSTOM_ID_LIMIT = 100
PAPER_ID_PATTERN = r"[0-9A-Za-z._/-]{1,80}"


class FullAbstractButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=rf"paper:abstract:(?P<paper_id>{PAPER_ID_PATTERN})",
):
    """Shows the paper's whole abstract to whoever clicks; its custom_id names the paper, so it outlives the bot."""

    def __init__(self, paper_id: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Full abstract", style=discord.ButtonStyle.secondary, custom_id=f"paper:abstract:{paper_id}"
            )
        )
        self.paper_id = paper_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> FullAbstractButton:
        """Rebuild the button from a click on any card, even one posted before a restart."""
        return cls(match["paper_id"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """Answer privately with the whole abstract, over as many messages as it needs."""
        try:
            paper = await stored_paper(interaction, self.paper_id)
            first, *rest = full_abstract_messages(paper)
            await interaction.response.send_message(
                content=first.content, embeds=first.embeds, ephemeral=True, allowed_mentions=NO_MENTIONS
            )
            for payload in rest:
                await interaction.followup.send(
                    content=payload.content or discord.utils.MISSING,
                    embeds=payload.embeds,
                    ephemeral=True,
                    allowed_mentions=NO_MENTIONS,
                )
        except Exception as error:  # a persistent item has no view of ours to route errors through
            await answer_error(interaction, error, "full abstract")


class PostCardButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=rf"paper:post:(?P<paper_id>{PAPER_ID_PATTERN})",
):
    """On a private answer: posts that paper's card in the channel for everyone."""

    def __init__(self, paper_id: str, label: str = "Post to channel") -> None:
        super().__init__(
            discord.ui.Button(label=label, style=discord.ButtonStyle.primary, custom_id=f"paper:post:{paper_id}")
        )
        self.paper_id = paper_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> PostCardButton:
        """Rebuild the button from a click, whichever message carries it."""
        return cls(match["paper_id"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """Post the card publicly, as the answer to this click."""
        try:
            paper = await stored_paper(interaction, self.paper_id)
            sharer = escape_text(interaction.user.display_name, SHARER_CHARS) or "a member"
            await send_card(interaction, paper, private=False, content=f"Shared by {sharer}")
        except Exception as error:
            await answer_error(interaction, error, "post to channel")


async def stored_paper(interaction: discord.Interaction[Any], paper_id: str) -> Paper:
    """The stored paper a button names; UnknownPaper if it has left the cache since the button was made."""
    bot = cast(PaperBot, interaction.client)
    paper = await bot.store.get_paper(paper_id)
    if paper is None:
        raise UnknownPaper(paper_id)
    return paper


def fits_custom_id(paper_id: str) -> bool:
    """Whether a paper id can ride in a persistent button's custom_id."""
    return re.fullmatch(PAPER_ID_PATTERN, paper_id) is not None and len(f"paper:abstract:{paper_id}") <= CUSTOM_ID_LIMIT


def card_view(paper: Paper, *, shareable: bool = False) -> discord.ui.View | None:
    """Link buttons for the paper's pages, "Full abstract" when the card leaves some out, and "Post to channel"."""
    view = discord.ui.View(timeout=None)
    for link in paper_links(paper)[:LINK_BUTTONS_PER_ROW]:
        view.add_item(discord.ui.Button(style=discord.ButtonStyle.link, label=link.label, url=link.url, row=0))
    actions: list[discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]]] = []
    if fits_custom_id(paper.id):
        if has_more_abstract(paper):
            actions.append(FullAbstractButton(paper.id))
        if shareable:
            actions.append(PostCardButton(paper.id))
    for action in actions:  # a row of their own: the links fill the first
        action.row = 1
        view.add_item(action)
    return view if view.children else None


async def send_card(
    interaction: discord.Interaction[Any],
    paper: Paper,
    *,
    private: bool,
    shareable: bool = False,
    content: str | None = None,
) -> None:
    """Answer with the paper's card and its buttons (after a deferral, its visibility is already fixed)."""
    embed = paper_card(paper, inline_links=False)
    view = card_view(paper, shareable=shareable and private)
    extra: dict[str, Any] = {"view": view} if view is not None else {}
    if content is not None:
        extra["content"] = content
    if interaction.response.is_done():
        await interaction.followup.send(embed=embed, ephemeral=private, allowed_mentions=NO_MENTIONS, **extra)
    else:
        await interaction.response.send_message(
            embed=embed, ephemeral=private, allowed_mentions=NO_MENTIONS, **extra
        )


async def answer_error(interaction: discord.Interaction[Any], error: Exception, action: str) -> None:
    """Tell the user privately what went wrong (a known error) or that it was logged (a bug)."""
    message = describe_error(error)
    if message is None:
        log.exception("%s failed", action, exc_info=error)
        message = "Something went wrong on our side; it has been logged. Please try again later."
    await send_ephemeral(interaction, message)


def select_options(options: Sequence[MenuOption]) -> list[discord.SelectOption]:
    """Rendered menu options as discord.py's."""
    return [
        discord.SelectOption(label=option.label, value=option.value, description=option.description)
        for option in options
    ]


class CardMenuView(discord.ui.View):
    """A menu anyone can use to open one of the listed papers as a card, shown only to them."""

    def __init__(self, store: Store, options: Sequence[MenuOption], *, menu_id: str, timeout: float | None) -> None:
        super().__init__(timeout=timeout)
        self.store = store
        self.message: discord.InteractionMessage | None = None
        self.share_opened = False  # whether an opened card offers "Post to channel" (lists that are private)
        self.menu: discord.ui.Select[CardMenuView] = discord.ui.Select(
            placeholder="Open a paper as a card…", custom_id=menu_id, options=select_options(options), row=0
        )
        self.menu.callback = self.open_card  # type: ignore[method-assign]
        self.add_item(self.menu)

    def set_options(self, options: Sequence[MenuOption]) -> None:
        """List other papers in the menu (e.g. after turning a page)."""
        self.menu.options = select_options(options)

    async def open_card(self, interaction: discord.Interaction[Any]) -> None:
        """Show the chosen paper's card to whoever chose it."""
        paper = await self.store.get_paper(self.menu.values[0])
        if paper is None:
            raise UnknownPaper(self.menu.values[0])
        await self.on_pick(paper)  # first, so the list already names the pick when the card appears
        await send_card(interaction, paper, private=True, shareable=self.share_opened)

    async def on_pick(self, paper: Paper) -> None:
        """Hook for views that follow what was opened (nothing here)."""

    async def on_timeout(self) -> None:
        """Grey out the controls once they stop working."""
        for item in self.children:
            inner = item.item if isinstance(item, discord.ui.DynamicItem) else item
            if isinstance(inner, discord.ui.Button | discord.ui.Select):
                inner.disabled = True
        await self.redraw(log_gone="could not disable the controls of an old list (message gone)")

    async def redraw(self, *, log_gone: str = "could not update a list (message gone)", **changes: Any) -> None:
        """Edit the list's message to show the view as it is now."""
        if self.message is None:
            return
        try:
            await self.message.edit(view=self, allowed_mentions=NO_MENTIONS, **changes)
        except discord.HTTPException:
            log.info(log_gone)

    async def on_error(
        self, interaction: discord.Interaction[Any], error: Exception, item: discord.ui.Item[Any]
    ) -> None:
        """Send component errors through the same handler as commands."""
        await answer_error(interaction, error, "list action")
