"""A paper's card as a message: link buttons, a "Full abstract" button that survives restarts, and card menus."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Sequence
from typing import Any, cast

import discord

from bot.bibtex import bibtex_entry
from bot.client import PaperBot, describe_error, dispatch_only_view, send_ephemeral
from bot.errors import UnknownPaper, UserError
from bot.models import Paper
from bot.render import (
    NO_MENTIONS,
    MenuOption,
    citation_block,
    escape_text,
    full_abstract_messages,
    has_more_abstract,
    option_number,
    paper_card,
    paper_links,
    result_options,
    similar_page,
)
from bot.store import ReadingListFull

log = logging.getLogger(__name__)

VIEW_TIMEOUT_SECONDS = 300.0
LINK_BUTTONS_PER_ROW = 5
SHARER_CHARS = 80
CUSTOM_ID_LIMIT = 100
PAPER_ID_PATTERN = r"[0-9A-Za-z._/-]{1,80}"
MAX_SAVED_PER_MEMBER = 500
LIST_KINDS = "search|similar|trending"  # lists whose card menu is a CardMenu
SIMILAR_LIMIT = 10
TITLE_CHARS = 120


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
    """Link buttons for the paper's pages; "Full abstract" when the card leaves some out, "Post to channel",
    Save, Similar and Cite (at most five: one row)."""
    view = dispatch_only_view()
    for link in paper_links(paper)[:LINK_BUTTONS_PER_ROW]:
        view.add_item(discord.ui.Button(style=discord.ButtonStyle.link, label=link.label, url=link.url, row=0))
    actions: list[discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]]] = []
    if fits_custom_id(paper.id):
        if has_more_abstract(paper):
            actions.append(FullAbstractButton(paper.id))
        if shareable:
            actions.append(PostCardButton(paper.id))
        actions += [SaveButton(paper.id), SimilarButton(paper.id), CiteButton(paper.id)]
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
        await interaction.response.send_message(embed=embed, ephemeral=private, allowed_mentions=NO_MENTIONS, **extra)


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


class CardMenu(
    discord.ui.DynamicItem[discord.ui.Select[discord.ui.View]],
    template=rf"(?P<kind>{LIST_KINDS}):open",
):
    """A list's "Open a paper as a card…" menu: shows the picked paper's card to whoever picked it, privately.

    Its custom_id names only the kind of list and its options carry the paper ids, so it keeps working after
    a restart and nothing is held in memory for it. A card opened from a private list offers "Post to
    channel"; a private list with a Post button of its own has that button name the card just opened.
    """

    def __init__(self, kind: str, options: Sequence[discord.SelectOption] = ()) -> None:
        super().__init__(
            discord.ui.Select(
                placeholder="Open a paper as a card…", custom_id=f"{kind}:open", options=list(options), row=0
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> CardMenu:
        """Rebuild the menu, with the options the message shows, from a pick on any list."""
        return cls(match["kind"], item.options if isinstance(item, discord.ui.Select) else ())

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """Show the chosen paper's card to whoever chose it."""
        try:
            picked = self.item.values
            if not picked:
                raise UserError("Pick a paper to open.")
            paper = await stored_paper(interaction, str(picked[0]))
            private_list = interaction.message is not None and interaction.message.flags.ephemeral
            renamed = self.post_button_naming(paper) if private_list else None
            if renamed is not None:
                # First, so the list already names the pick when the card appears.
                await interaction.response.edit_message(view=renamed, allowed_mentions=NO_MENTIONS)
            await send_card(interaction, paper, private=True, shareable=private_list)
        except Exception as error:
            await answer_error(interaction, error, "open card")

    def post_button_naming(self, paper: Paper) -> discord.ui.View | None:
        """The list's controls with its "Post #N to channel" button naming `paper`; None without such a button."""
        view = self.view
        if not isinstance(view, discord.ui.View) or not fits_custom_id(paper.id):
            return None
        post = next(
            (
                child
                for child in view.children
                if isinstance(child, discord.ui.Button) and (child.custom_id or "").startswith("paper:post:")
            ),
            None,
        )
        picked = next((option for option in self.item.options if option.value == paper.id), None)
        number = option_number(picked.label) if picked is not None else None
        if post is None or number is None:
            return None
        button = PostCardButton(paper.id, label=f"Post #{number} to channel")
        button.row = post.row
        view.remove_item(post)
        view.add_item(button)
        # Rebuilt from the message: its items are dispatched by their custom ids, so the view is not kept.
        view.stop()
        return view


def card_menu_view(kind: str, options: Sequence[MenuOption]) -> discord.ui.View:
    """A list's controls: the menu that opens one of its papers as a card."""
    view = dispatch_only_view()
    view.add_item(CardMenu(kind, select_options(options)))
    return view


async def paper_or_unknown(bot: PaperBot, paper_id: str) -> Paper:
    """The cached paper, or UnknownPaper."""
    paper = await bot.store.get_paper(paper_id)
    if paper is None:
        raise UnknownPaper(paper_id)
    return paper


async def save_for_member(interaction: discord.Interaction[Any], paper_id: str) -> None:
    """Put a paper on the clicking member's reading list and tell them privately how it went."""
    bot = cast(PaperBot, interaction.client)
    paper = await paper_or_unknown(bot, paper_id)
    try:
        added = await bot.store.save_paper(interaction.user.id, paper.id, limit=MAX_SAVED_PER_MEMBER)
    except ReadingListFull as full:
        raise UserError(
            f"Your reading list is full ({full.limit} papers). Remove some with `/paper saved` to save more."
        ) from full
    title = escape_text(paper.title, TITLE_CHARS)
    if added:
        message = f"Saved **{title}** to your reading list: see it with `/paper saved`."
    else:
        message = f"**{title}** is already on your reading list (`/paper saved`)."
    await send_ephemeral(interaction, message)


async def answer_similar(interaction: discord.Interaction[Any], paper: Paper) -> None:
    """Privately list the cached papers closest to `paper`, with a menu that opens one as a card."""
    bot = cast(PaperBot, interaction.client)
    if not interaction.response.is_done():
        # Counting the index's frequent terms may take a moment on the first lookup after start.
        await interaction.response.defer(ephemeral=True, thinking=True)
    closest = await bot.similar.similar(paper, limit=SIMILAR_LIMIT)
    embed = similar_page(paper, closest)
    if not closest:
        await interaction.followup.send(embed=embed, ephemeral=True, allowed_mentions=NO_MENTIONS)
        return
    # Fills the private "thinking" placeholder.
    await interaction.edit_original_response(
        embed=embed, view=card_menu_view("similar", result_options(closest)), allowed_mentions=NO_MENTIONS
    )


async def answer_cite(interaction: discord.Interaction[Any], paper: Paper) -> None:
    """Privately, the paper's BibTeX entry in a code block, or as a .bib file when too long for a message."""
    entry = bibtex_entry(paper)
    block = citation_block(entry)
    if not interaction.response.is_done():
        await interaction.response.defer(ephemeral=True, thinking=True)
    if block is not None:
        await interaction.followup.send(block, ephemeral=True, allowed_mentions=NO_MENTIONS)
        return
    entry_file = discord.File(io.BytesIO(entry.encode()), filename=f"{paper.id.replace('/', '_')}.bib")
    await interaction.followup.send(
        "The entry is too long for a message: here it is as a file.",
        file=entry_file, ephemeral=True, allowed_mentions=NO_MENTIONS,
    )  # fmt: skip


class SaveButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=rf"paper:save:(?P<paper_id>{PAPER_ID_PATTERN})",
):
    """Saves the paper to the reading list of whoever clicks; works on cards posted before a restart."""

    def __init__(self, paper_id: str) -> None:
        super().__init__(
            discord.ui.Button(label="Save", style=discord.ButtonStyle.secondary, custom_id=f"paper:save:{paper_id}")
        )
        self.paper_id = paper_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> SaveButton:
        """Rebuild the button from a click on any card."""
        return cls(match["paper_id"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """Save the paper for the member who clicked and tell only them."""
        try:
            await save_for_member(interaction, self.paper_id)
        except Exception as error:
            await answer_error(interaction, error, "save")


class SimilarButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=rf"paper:similar:(?P<paper_id>{PAPER_ID_PATTERN})",
):
    """Lists the papers closest to this one, privately, as /paper similar does."""

    def __init__(self, paper_id: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Similar", style=discord.ButtonStyle.secondary, custom_id=f"paper:similar:{paper_id}"
            )
        )
        self.paper_id = paper_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> SimilarButton:
        """Rebuild the button from a click on any card."""
        return cls(match["paper_id"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """Answer the clicking member with the similar papers."""
        try:
            paper = await paper_or_unknown(cast(PaperBot, interaction.client), self.paper_id)
            await answer_similar(interaction, paper)
        except Exception as error:
            await answer_error(interaction, error, "similar")


class CiteButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=rf"paper:cite:(?P<paper_id>{PAPER_ID_PATTERN})",
):
    """Gives the paper's BibTeX entry privately, as /paper cite does."""

    def __init__(self, paper_id: str) -> None:
        super().__init__(
            discord.ui.Button(label="Cite", style=discord.ButtonStyle.secondary, custom_id=f"paper:cite:{paper_id}")
        )
        self.paper_id = paper_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> CiteButton:
        """Rebuild the button from a click on any card."""
        return cls(match["paper_id"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """Answer the clicking member with the BibTeX entry."""
        try:
            paper = await paper_or_unknown(cast(PaperBot, interaction.client), self.paper_id)
            await answer_cite(interaction, paper)
        except Exception as error:
            await answer_error(interaction, error, "cite")


class DigestSaveMenu(
    discord.ui.DynamicItem[discord.ui.Select[discord.ui.View]],
    template=r"digest:save",
):
    """A compact digest's "Save a paper…" menu: saves the chosen paper for whoever picked it, after restarts too."""

    def __init__(self) -> None:
        super().__init__(discord.ui.Select(placeholder="Save a paper…", custom_id="digest:save"))

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> DigestSaveMenu:
        """Rebuild the menu from a pick on any digest."""
        return cls()

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """Save the picked paper for the member who picked it and tell only them."""
        try:
            picked = self.item.values
            if not picked:
                raise UserError("Pick a paper to save.")
            await save_for_member(interaction, str(picked[0]))
        except Exception as error:
            await answer_error(interaction, error, "save from digest")
