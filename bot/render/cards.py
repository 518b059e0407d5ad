"""One paper: the facts line, the card embed with its link buttons, the full abstract, and the terminal text."""

from __future__ import annotations

import logging
import textwrap

import discord

from bot.models import Paper
from bot.render.markup import (
    clean,
    count,
    discord_date,
    escape_plain,
    escape_words,
    github_url,
    markdown,
    names_line,
    plain_words,
    safe_url,
    short_count,
)
from bot.render.payload import (
    BUTTON_LABEL_LIMIT,
    CONTENT_LIMIT,
    DESCRIPTION_LIMIT,
    EMBEDS_PER_MESSAGE,
    FOOTER_LIMIT,
    MESSAGE_EMBED_CHARS,
    TITLE_LIMIT,
    LinkButton,
    MessagePayload,
    new_embed,
    validated,
    validated_embed,
)
from bot.text import ELLIPSIS, first_sentences, split_sentences

log = logging.getLogger(__name__)

CARD_SUMMARY_CHARS = 350
LINE_SUMMARY_CHARS = 160
AUTHORS_CHARS = 120
AUTHORS_SHOWN = 5
ORGANIZATION_CHARS = 40
TERMINAL_AUTHORS = 12
TERMINAL_WIDTH = 100
SEPARATOR = " · "


def facts_line(paper: Paper, *, with_day: bool = False, link_code: bool = True) -> str:
    """'▲ 38 · 💬 4 · code ★ 1.2k · Org': upvotes, comments, code and organisation, never a zero counter."""
    facts: list[str] = []
    if paper.upvotes > 0:
        facts.append(f"▲ {count(paper.upvotes)}")
    if paper.num_comments > 0:
        facts.append(f"💬 {count(paper.num_comments)}")
    code = github_url(paper.github_repo)
    if code:
        marker = f"code ★ {short_count(paper.github_stars)}" if paper.github_stars else "code"
        facts.append(f"[{marker}]({code})" if link_code else marker)
    organization = escape_words(paper.organization, ORGANIZATION_CHARS)
    if organization:
        facts.append(organization)
    if with_day and paper.day is not None:
        facts.append(f"📅 {discord_date(paper.day)}")
    return SEPARATOR.join(facts)


def summary_source(paper: Paper, sentences: int) -> str:
    """The AI summary when Hugging Face has one, else the abstract's first `sentences` sentences."""
    if paper.ai_summary and clean(paper.ai_summary):
        return clean(paper.ai_summary)
    return first_sentences(clean(paper.summary), sentences)


def short_summary(paper: Paper, limit: int = LINE_SUMMARY_CHARS, sentences: int = 1) -> str:
    """The summary as escaped markdown of at most `limit` characters, cut only between words."""
    return escape_words(summary_source(paper, sentences), limit)


def paper_links(paper: Paper) -> list[LinkButton]:
    """The paper's pages as link-button specs: Hugging Face, arXiv, PDF, Code ★, project page."""
    links = [
        LinkButton("Hugging Face", safe_url(paper.url) or ""),
        LinkButton("arXiv", safe_url(paper.arxiv_url) or ""),
        LinkButton("PDF", safe_url(paper.pdf_url) or ""),
    ]
    code = github_url(paper.github_repo)
    if code:
        stars = f" ★ {short_count(paper.github_stars)}" if paper.github_stars else ""
        links.append(LinkButton(f"Code{stars}", code))
    links.append(LinkButton("Project page", safe_url(paper.project_page) or ""))
    return [LinkButton(plain_words(item.label, BUTTON_LABEL_LIMIT), item.url) for item in links if item.url]


def links_line(paper: Paper) -> str:
    """The same links as masked links on one line, for messages that cannot carry buttons."""
    return SEPARATOR.join(f"[{item.label}]({item.url})" for item in paper_links(paper))


def paper_card(
    paper: Paper, *, rank: int | None = None, summary_chars: int = CARD_SUMMARY_CHARS, inline_links: bool = True
) -> discord.Embed:
    """One paper as an embed: linked title, the facts line first, a short summary, then authors and the id.

    `inline_links` writes the links as a line of masked links; a sender that attaches the link
    buttons of paper_links() passes inline_links=False.
    """
    prefix = f"{rank}. " if rank is not None else ""
    title = prefix + (escape_words(paper.title, TITLE_LIMIT - len(prefix)) or "(untitled)")
    embed = new_embed(title, safe_url(paper.url))
    parts = [facts_line(paper, with_day=True)]
    summary = escape_words(summary_source(paper, 2), min(summary_chars, DESCRIPTION_LIMIT - 1000))
    if summary:
        parts.append(summary)
    if inline_links:
        parts.append(links_line(paper))
    embed.description = "\n\n".join(part for part in parts if part) or None
    authors = names_line(paper.authors, AUTHORS_CHARS, escape_words, max_names=AUTHORS_SHOWN)
    if authors:
        embed.add_field(name="Authors", value=authors, inline=False)
    embed.set_footer(text=f"arXiv {escape_plain(paper.id, FOOTER_LIMIT - 6)}")
    thumbnail = safe_url(paper.thumbnail)
    if thumbnail:
        embed.set_thumbnail(url=thumbnail)
    return validated_embed(embed)


def has_more_abstract(paper: Paper, summary_chars: int = CARD_SUMMARY_CHARS) -> bool:
    """Whether the card leaves out part of the abstract (so a "Full abstract" button is worth showing)."""
    abstract = clean(paper.summary)
    if not abstract:
        return False
    return summary_source(paper, 2) != abstract or len(markdown(abstract)) > summary_chars


def full_abstract_messages(paper: Paper) -> list[MessagePayload]:
    """The whole abstract for a private answer, split between sentences over embeds and messages."""
    title = escape_words(f"Abstract: {clean(paper.title) or paper.id}", TITLE_LIMIT)
    sentences = split_sentences(clean(paper.summary)) or ["No abstract is stored for this paper."]
    chunk_limit = DESCRIPTION_LIMIT - 100
    chunks: list[str] = []
    current = ""
    for sentence in sentences:
        shown = markdown(sentence)
        while len(shown) > chunk_limit:  # a single sentence longer than an embed: cut between words
            piece = escape_words(sentence, chunk_limit)
            chunks.append(piece)
            sentence = sentence[len(clean(piece.removesuffix(ELLIPSIS))) :].strip()
            shown = markdown(sentence)
        if current and len(current) + 1 + len(shown) > chunk_limit:
            chunks.append(current)
            current = ""
        current = f"{current} {shown}" if current else shown
    if current:
        chunks.append(current)
    messages: list[MessagePayload] = []
    embeds: list[discord.Embed] = []
    used = 0
    for number, chunk in enumerate(chunks):
        embed = new_embed(title if number == 0 else None, safe_url(paper.url) if number == 0 else None)
        embed.description = chunk
        size = len(chunk) + len(embed.title or "")
        if embeds and (len(embeds) >= EMBEDS_PER_MESSAGE or used + size > MESSAGE_EMBED_CHARS):
            messages.append(MessagePayload(embeds=embeds))
            embeds, used = [], 0
        embeds.append(embed)
        used += size
    messages.append(MessagePayload(embeds=embeds))
    return validated(messages)


def paper_text(paper: Paper) -> str:
    """One paper for the terminal: title, authors, numbers, summaries and links."""
    shown = [clean(name) for name in paper.authors[:TERMINAL_AUTHORS]]
    authors = ", ".join(name for name in shown if name)
    hidden = len(paper.authors) - TERMINAL_AUTHORS
    if hidden > 0:
        authors += f" +{hidden} more"
    facts = [f"▲ {count(paper.upvotes)}"]
    if paper.num_comments > 0:
        facts.append(f"{count(paper.num_comments)} comment{'' if paper.num_comments == 1 else 's'}")
    if paper.day is not None:
        facts.insert(0, f"day {paper.day.isoformat()}")
    if paper.published is not None:
        facts.append(f"published {paper.published.isoformat()}")
    lines = [clean(paper.title) or "(untitled)"]
    if authors:
        lines.append(f"by {authors}")
    lines.append(SEPARATOR.join(facts))
    for heading, text in (("AI summary", paper.ai_summary), ("Abstract", paper.summary)):
        if clean(text):
            lines.append("")
            lines.append(textwrap.fill(f"{heading}: {clean(text)}", TERMINAL_WIDTH))
    lines.append("")
    links = [
        ("Hugging Face", safe_url(paper.url)),
        ("arXiv", safe_url(paper.arxiv_url)),
        ("PDF", safe_url(paper.pdf_url)),
        ("Code", github_url(paper.github_repo)),
        ("Project page", safe_url(paper.project_page)),
    ]
    lines.extend(f"{name}: {url}" for name, url in links if url)
    return "\n".join(lines)


def citation_block(entry: str) -> str | None:
    """A BibTeX entry as a code block for a message, or None when it is too long for one (send it as a file)."""
    # Entries never hold a backtick (bot.bibtex writes it as a macro), so the block cannot be closed early.
    block = f"```bibtex\n{entry.rstrip()}\n```"
    return block if len(block) <= CONTENT_LIMIT and "`" not in entry else None
