"""Papers, digests, alerts and search results as Discord embeds and as plain text, within Discord's limits."""

from __future__ import annotations

import datetime as dt
import logging
import re
import textwrap
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import discord

from bot.models import HF_BASE, Paper, Subscription

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()

# Discord's documented limits, in code points.
CONTENT_LIMIT = 2000
EMBEDS_PER_MESSAGE = 10
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELDS_PER_EMBED = 25
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
AUTHOR_NAME_LIMIT = 256
MESSAGE_EMBED_CHARS = 6000

ELLIPSIS = "…"
ZWSP = "\u200b"
COLOUR = discord.Colour(0xFFD21E)
URL_LIMIT = 512

# Budgets inside the limits, so that several papers share one embed or one message.
CARD_SUMMARY_CHARS = 1000
DIGEST_CARD_SUMMARY_CHARS = 350
AUTHORS_CHARS = 400
AUTHOR_NAME_CHARS = 80
LINE_TITLE_CHARS = 200
LINE_SUMMARY_CHARS = 300
MATCHED_CHARS = 300
QUERY_CHARS = 200
NOTE_CHARS = 500
TERMINAL_AUTHORS = 12
TERMINAL_WIDTH = 100


@dataclass(frozen=True, slots=True)
class MessagePayload:
    """One Discord message to send: optional content and up to ten embeds."""

    content: str | None = None
    embeds: list[discord.Embed] = field(default_factory=list)


class PayloadError(ValueError):
    """A message payload breaks one of Discord's limits or lets a mention through."""


AlertSubscription = str | Subscription
AlertMatch = tuple[Paper, Sequence[AlertSubscription]]

# ---------------------------------------------------------------- cleaning and escaping

# Dropped from all text: lone surrogates, bidi embeddings/overrides/isolates (they would reorder the
# text around them), and the noncharacters this module uses as placeholders.
_DROP_RE = re.compile("[\ud800-\udfff\u202a-\u202e\u2066-\u2069\ufdd0-\ufdef\ufffe\uffff]")
_CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f]")
_OPEN, _CLOSE, _LT = "\ufdd0", "\ufdd1", "\ufdd2"
# Brackets and "<" are hidden from escape_markdown: its link and URL patterns are quadratic or worse
# on hostile input, and both are escaped here instead.
_PROTECT = str.maketrans({"[": _OPEN, "]": _CLOSE, "<": _LT})
_ORDERED_LIST_RE = re.compile(r"^(\d+)\.(?=\s)")
_EVERYONE_RE = re.compile(r"@(?=everyone|here)", re.IGNORECASE)
# "<" opens user/role/channel mentions, slash-command mentions, emoji, timestamps and guild links.
_ANGLE_RE = re.compile(r"<(?=[@#/:]|[A-Za-z]{1,2}:)")
_SENTENCE_END_RE = re.compile(r"(?<=[.!?])\s+")
_URL_RE = re.compile(r"https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:/[A-Za-z0-9\-._~%!$&+,;=:@/?#]*)?")
_GITHUB_HOSTS = ("github.com", "www.github.com")


def _clean(text: str | None) -> str:
    """Text with control and reordering characters removed and all whitespace collapsed to single spaces."""
    if not text:
        return ""
    text = _DROP_RE.sub("", text)
    text = _CONTROL_RE.sub(" ", text)
    return " ".join(text.split())


def _neutralise_mentions(text: str) -> str:
    """Break @everyone, @here and every <...> construct that Discord renders (mentions, emoji, timestamps)."""
    text = _EVERYONE_RE.sub("@" + ZWSP, text)
    return _ANGLE_RE.sub("<" + ZWSP, text)


def _markdown(text: str) -> str:
    """Cleaned text escaped for Discord markdown, with brackets escaped and mentions broken."""
    escaped = discord.utils.escape_markdown(text.translate(_PROTECT))
    escaped = _ORDERED_LIST_RE.sub(r"\1\\.", escaped)
    escaped = escaped.replace(_OPEN, "\\[").replace(_CLOSE, "\\]").replace(_LT, "<")
    return _neutralise_mentions(escaped)


def _label_markdown(text: str) -> str:
    """Cleaned text made safe as the label of a masked link."""
    # A bracket, even escaped, can end or break the label; a URL inside a label can become its own link.
    text = text.replace("[", "\uff3b").replace("]", "\uff3d").replace("://", ":" + ZWSP + "//")
    return _markdown(text)


def _grapheme_cut(text: str, n: int) -> int:
    """The largest cut position <= n that does not split a character from its combining marks or joiners."""
    while 0 < n < len(text):
        ch, before = text[n], text[n - 1]
        joins = (
            unicodedata.category(ch) in ("Mn", "Mc", "Me")
            or ch in "\u200d\ufe0e\ufe0f"
            or 0x1F3FB <= ord(ch) <= 0x1F3FF
            or 0xE0020 <= ord(ch) <= 0xE007F
            or before == "\u200d"
        )
        if not joins:
            break
        n -= 1
    return n


def _fit(text: str, limit: int, transform: Callable[[str], str]) -> str:
    """transform(text), or transform of the longest prefix that fits `limit` with an ellipsis appended."""
    if limit < 1:
        raise ValueError(f"limit must be positive, got {limit}")
    whole = transform(text)
    if len(whole) <= limit:
        return whole
    best = ELLIPSIS
    # Transforms never shorten text, so the answer is a prefix of at most `limit` characters.
    low, high = 1, min(len(text) - 1, limit - 1)
    while low <= high:
        middle = (low + high) // 2
        candidate = transform(text[: _grapheme_cut(text, middle)].rstrip()) + ELLIPSIS
        if len(candidate) <= limit:
            best, low = candidate, middle + 1
        else:
            high = middle - 1
    return best


def escape_text(text: str | None, limit: int) -> str:
    """Paper or user text for Discord: one line, markdown escaped, mentions broken, at most `limit` chars."""
    return _fit(_clean(text), limit, _markdown)


def escape_plain(text: str | None, limit: int) -> str:
    """Text for fields Discord shows without markdown (footer, author name): cleaned, mentions broken, cut."""
    return _fit(_clean(text), limit, _neutralise_mentions)


def _label(text: str | None, limit: int) -> str:
    """Text escaped as a masked link's label, at most `limit` chars."""
    return _fit(_clean(text), limit, _label_markdown)


def _code_span(text: str | None, limit: int) -> str:
    """User text shown literally inside an inline code span of at most `limit` chars."""
    # Nothing is escaped inside a code span, so a backtick is replaced rather than escaped.
    cleaned = _clean(text).replace("`", "\u02cb") or " "
    return "`" + _fit(cleaned, max(1, limit - 2), _neutralise_mentions) + "`"


def safe_url(url: str | None, *, https_only: bool = True) -> str | None:
    """The URL if it is a plain http(s) URL safe inside a masked link, else None."""
    if not url or len(url) > URL_LIMIT or not _URL_RE.fullmatch(url):
        return None
    if https_only and not url.startswith("https://"):
        return None
    return url


def _github_url(url: str | None) -> str | None:
    """The code repository URL if it is an https github.com URL, else None."""
    safe = safe_url(url)
    if safe is None:
        return None
    host = safe.removeprefix("https://").split("/", 1)[0].lower()
    return safe if host in _GITHUB_HOSTS else None


def _link(text: str | None, url: str | None, limit: int) -> str:
    """A masked link to `url` labelled with `text`, or the escaped text alone when the URL is not safe."""
    safe = safe_url(url, https_only=False)
    if safe is None:
        return escape_text(text, limit) or "(untitled)"
    return f"[{_label(text, limit) or '(untitled)'}]({safe})"


def _count(value: int) -> str:
    """A counter for display: never negative, never absurdly long."""
    return f"{max(0, min(int(value), 10**12)):,}"


def _plural(count: int, word: str) -> str:
    """'1 paper', '2 papers'."""
    return f"{_count(count)} {word}{'' if count == 1 else 's'}"


def _names_line(names: Iterable[str], limit: int, show: Callable[[str, int], str]) -> str:
    """Names joined by commas, each shown by show(name, budget), as many as fit in `limit`, then '+N more'."""
    cleaned = [name for name in (_clean(n) for n in names) if name]
    total = len(cleaned)
    parts: list[str] = []
    length = 0
    for index, name in enumerate(cleaned):
        left_after = total - index - 1
        reserve = len(f" +{left_after} more") if left_after else 0
        # The first name is cut to fit, so the line always names someone.
        budget = AUTHOR_NAME_CHARS if parts else max(1, min(AUTHOR_NAME_CHARS, limit - reserve))
        piece = show(name, budget)
        grown = length + (2 if parts else 0) + len(piece)
        if grown + reserve > limit:
            break
        parts.append(piece)
        length = grown
    hidden = total - len(parts)
    return ", ".join(parts) + (f" +{hidden} more" if hidden else "")


def _lead(text: str | None, limit: int) -> str:
    """Escaped text within `limit`: all of it, else its first whole sentences, else cut with an ellipsis."""
    cleaned = _clean(text)
    whole = _markdown(cleaned)
    if len(whole) <= limit:
        return whole
    sentences = _SENTENCE_END_RE.split(cleaned)
    kept = ""
    for count in range(1, len(sentences)):
        candidate = _markdown(" ".join(sentences[:count])) + " " + ELLIPSIS
        if len(candidate) > limit:
            break
        kept = candidate
    return kept or _fit(cleaned, limit, _markdown)


def _summary_source(paper: Paper) -> str:
    """The AI summary when there is one, else the abstract."""
    return paper.ai_summary if paper.ai_summary and _clean(paper.ai_summary) else paper.summary


def day_url(day: dt.date) -> str:
    """The Hugging Face Daily Papers page of one day."""
    return f"{HF_BASE}/papers/date/{day.isoformat()}"


# ---------------------------------------------------------------- sizes and validation


def embed_size(embed: discord.Embed) -> int:
    """Characters that count towards the 6000 per message: title, description, fields, footer, author."""
    total = len(embed.title or "") + len(embed.description or "")
    for embed_field in embed.fields:
        total += len(embed_field.name or "") + len(embed_field.value or "")
    total += len(embed.footer.text or "") + len(embed.author.name or "")
    return total


def _embed_problems(embed: discord.Embed, where: str) -> list[str]:
    """Every limit one embed breaks, described."""
    problems: list[str] = []
    checks = [
        ("title", embed.title, TITLE_LIMIT),
        ("description", embed.description, DESCRIPTION_LIMIT),
        ("footer", embed.footer.text, FOOTER_LIMIT),
        ("author name", embed.author.name, AUTHOR_NAME_LIMIT),
    ]
    for name, value, limit in checks:
        if value is not None and len(value) > limit:
            problems.append(f"{where} {name} has {len(value)} characters (limit {limit})")
        if value is not None and not value.strip():
            problems.append(f"{where} {name} is empty")
    if len(embed.fields) > FIELDS_PER_EMBED:
        problems.append(f"{where} has {len(embed.fields)} fields (limit {FIELDS_PER_EMBED})")
    for number, embed_field in enumerate(embed.fields, 1):
        name, value = embed_field.name or "", embed_field.value or ""
        if not name.strip() or len(name) > FIELD_NAME_LIMIT:
            problems.append(f"{where} field {number} name has {len(name)} characters (1..{FIELD_NAME_LIMIT})")
        if not value.strip() or len(value) > FIELD_VALUE_LIMIT:
            problems.append(
                f"{where} field {number} value has {len(value)} characters (1..{FIELD_VALUE_LIMIT})"
            )
    if embed_size(embed) == 0:
        problems.append(f"{where} has no text")
    for name, url in (
        ("url", embed.url),
        ("thumbnail", embed.thumbnail.url),
        ("image", embed.image.url),
        ("author url", embed.author.url),
    ):
        if url is not None and safe_url(url, https_only=False) is None:
            problems.append(f"{where} {name} is not a plain http(s) URL")
    return problems


_RAW_MENTION_RE = re.compile(r"@(?:everyone|here)|<(?:[@#/:]|[A-Za-z]{1,2}:)", re.IGNORECASE)


def _payload_texts(payload: MessagePayload) -> Iterable[str]:
    """Every piece of text a payload shows."""
    if payload.content:
        yield payload.content
    for embed in payload.embeds:
        yield from (embed.title or "", embed.description or "")
        yield from (embed.footer.text or "", embed.author.name or "")
        for embed_field in embed.fields:
            yield from (embed_field.name or "", embed_field.value or "")


def validate_payload(payload: MessagePayload) -> None:
    """Raise PayloadError naming every Discord limit the payload breaks, or any mention it would show."""
    problems: list[str] = []
    content = payload.content
    if content is not None and len(content) > CONTENT_LIMIT:
        problems.append(f"content has {len(content)} characters (limit {CONTENT_LIMIT})")
    if not (content and content.strip()) and not payload.embeds:
        problems.append("message has neither content nor embeds")
    if len(payload.embeds) > EMBEDS_PER_MESSAGE:
        problems.append(f"message has {len(payload.embeds)} embeds (limit {EMBEDS_PER_MESSAGE})")
    for number, embed in enumerate(payload.embeds, 1):
        problems.extend(_embed_problems(embed, f"embed {number}"))
    total = sum(embed_size(embed) for embed in payload.embeds)
    if total > MESSAGE_EMBED_CHARS:
        problems.append(f"embeds have {total} characters together (limit {MESSAGE_EMBED_CHARS})")
    for text in _payload_texts(payload):
        found = _RAW_MENTION_RE.search(text)
        if found:
            problems.append(f"text shows a mention-like {found.group()!r}")
    if problems:
        raise PayloadError("; ".join(problems))


# ---------------------------------------------------------------- packing into messages


def _new_embed(title: str | None, url: str | None = None) -> discord.Embed:
    """An empty embed in Paperboy's colour."""
    return discord.Embed(title=title, url=safe_url(url, https_only=False), colour=COLOUR)


def _pack_embeds(embeds: Sequence[discord.Embed], first_content: str | None) -> list[MessagePayload]:
    """Embeds spread over as few messages as the 10-embed and 6000-character limits allow, in order."""
    messages: list[MessagePayload] = []
    current: list[discord.Embed] = []
    used = 0
    for embed in embeds:
        size = embed_size(embed)
        if current and (len(current) >= EMBEDS_PER_MESSAGE or used + size > MESSAGE_EMBED_CHARS):
            messages.append(MessagePayload(content=None if messages else first_content, embeds=current))
            current, used = [], 0
        current.append(embed)
        used += size
    if current or first_content:
        messages.append(MessagePayload(content=None if messages else first_content, embeds=current))
    return messages


def _pack_blocks(
    blocks: Sequence[str],
    *,
    title: str,
    url: str | None,
    continued_title: str,
    first_content: str | None = None,
    separator: str = "\n\n",
) -> list[MessagePayload]:
    """Text blocks flowed through embed descriptions, then messages, never splitting a block."""
    messages: list[MessagePayload] = []
    embeds: list[discord.Embed] = []
    used = 0  # embed characters in the message being filled
    lines: list[str] = []
    embed = _new_embed(title, url)

    def close_embed() -> None:
        nonlocal used, lines
        embed.description = separator.join(lines)
        embeds.append(embed)
        used += embed_size(embed)
        lines = []

    def room() -> int:
        return min(DESCRIPTION_LIMIT, MESSAGE_EMBED_CHARS - used - len(embed.title or ""))

    for block in blocks:
        grown = len(separator.join([*lines, block]))
        if lines and grown <= room():
            lines.append(block)
            continue
        if lines:
            close_embed()
            if len(embeds) >= EMBEDS_PER_MESSAGE or MESSAGE_EMBED_CHARS - used < len(block) + TITLE_LIMIT:
                messages.append(MessagePayload(content=None if messages else first_content, embeds=embeds))
                embeds, used = [], 0
            # The first embed of every later message says it continues; embeds after it need no title.
            embed = _new_embed(continued_title if not embeds else None)
        if len(block) > room():
            raise ValueError(f"a block of {len(block)} characters cannot fit in one embed")
        lines.append(block)
    if lines:
        close_embed()
    if embeds or first_content:
        messages.append(MessagePayload(content=None if messages else first_content, embeds=embeds))
    return messages


def _fit_lines(lines: Sequence[str], limit: int) -> str:
    """Lines joined by newlines, as many as fit in `limit`, then a line saying how many were left out."""
    kept: list[str] = []
    length = 0
    for index, line in enumerate(lines):
        left_after = len(lines) - index - 1
        reserve = len(f"\n{ELLIPSIS}and {left_after} more") if left_after else 0
        grown = length + (1 if kept else 0) + len(line)
        if grown + reserve > limit:
            return "\n".join([*kept, f"{ELLIPSIS}and {len(lines) - len(kept)} more"])
        kept.append(line)
        length = grown
    return "\n".join(kept)


# ---------------------------------------------------------------- one paper


def _authors_value(paper: Paper, limit: int) -> str:
    """The authors for an embed field, with '+N more' when they do not all fit."""
    return _names_line(paper.authors, limit, escape_text)


def _links_value(paper: Paper) -> str:
    """Masked links to the paper's pages that pass URL validation."""
    links = [("Hugging Face", safe_url(paper.url)), ("arXiv", safe_url(paper.arxiv_url))]
    links.append(("PDF", safe_url(paper.pdf_url)))
    code = _github_url(paper.github_repo)
    if code:
        stars = f" ★ {_count(paper.github_stars)}" if paper.github_stars else ""
        links.append((f"Code{stars}", code))
    links.append(("Project page", safe_url(paper.project_page)))
    return " · ".join(f"[{label}]({url})" for label, url in links if url)


def paper_card(
    paper: Paper, *, rank: int | None = None, summary_chars: int = CARD_SUMMARY_CHARS
) -> discord.Embed:
    """One paper as an embed: linked title, summary, authors, upvotes, comments, day, links and thumbnail."""
    prefix = f"{rank}. " if rank is not None else ""
    title = prefix + (escape_text(paper.title, TITLE_LIMIT - len(prefix)) or "(untitled)")
    summary = _lead(_summary_source(paper), min(summary_chars, DESCRIPTION_LIMIT))
    embed = _new_embed(title, safe_url(paper.url))
    embed.description = summary or None
    authors = _authors_value(paper, min(AUTHORS_CHARS, FIELD_VALUE_LIMIT))
    if authors:
        embed.add_field(name="Authors", value=authors, inline=False)
    embed.add_field(name="Upvotes", value=f"▲ {_count(paper.upvotes)}", inline=True)
    embed.add_field(name="Comments", value=_count(paper.num_comments), inline=True)
    if paper.day is not None:
        embed.add_field(name="Day", value=paper.day.isoformat(), inline=True)
    links = _links_value(paper)
    if links:
        embed.add_field(name="Links", value=links, inline=False)
    footer_parts = (f"arXiv {escape_plain(paper.id, 64)}", escape_plain(paper.organization, 100))
    footer = " · ".join(part for part in footer_parts if part)
    embed.set_footer(text=footer)
    thumbnail = safe_url(paper.thumbnail)
    if thumbnail:
        embed.set_thumbnail(url=thumbnail)
    return embed


def paper_text(paper: Paper) -> str:
    """One paper for the terminal: title, authors, numbers, summaries and links."""
    shown = [_clean(name) for name in paper.authors[:TERMINAL_AUTHORS]]
    authors = ", ".join(name for name in shown if name)
    hidden = len(paper.authors) - TERMINAL_AUTHORS
    if hidden > 0:
        authors += f" +{hidden} more"
    facts = [f"▲ {_count(paper.upvotes)}", _plural(paper.num_comments, "comment")]
    if paper.day is not None:
        facts.insert(0, f"day {paper.day.isoformat()}")
    if paper.published is not None:
        facts.append(f"published {paper.published.isoformat()}")
    lines = [_clean(paper.title) or "(untitled)"]
    if authors:
        lines.append(f"by {authors}")
    lines.append(" · ".join(facts))
    for label, text in (("AI summary", paper.ai_summary), ("Abstract", paper.summary)):
        if _clean(text):
            lines.append("")
            lines.append(textwrap.fill(f"{label}: {_clean(text)}", TERMINAL_WIDTH))
    lines.append("")
    links = [
        ("Hugging Face", safe_url(paper.url)),
        ("arXiv", safe_url(paper.arxiv_url)),
        ("PDF", safe_url(paper.pdf_url)),
        ("Code", _github_url(paper.github_repo)),
        ("Project page", safe_url(paper.project_page)),
    ]
    lines.extend(f"{label}: {url}" for label, url in links if url)
    return "\n".join(lines)


# ---------------------------------------------------------------- search results


def results_page(
    papers: Sequence[Paper],
    *,
    query: str,
    page: int,
    pages: int,
    total: int,
    start_index: int = 1,
    total_exact: bool = True,
) -> discord.Embed:
    """One page of search results; `start_index` is the number shown for the first paper on the page.

    `total_exact` False: at least `total` papers match (shown as "1,000+ results").
    """
    heading = escape_text(query, TITLE_LIMIT - len("Search: "))
    embed = _new_embed(f"Search: {heading}" if heading else "Search results")
    title_chars = max(30, min(LINE_TITLE_CHARS, DESCRIPTION_LIMIT // max(1, len(papers)) - 60))
    lines = []
    for number, paper in enumerate(papers, start_index):
        parts = [f"{number}. {_link(paper.title, paper.url, title_chars)}", f"▲ {_count(paper.upvotes)}"]
        if paper.day is not None:
            parts.append(paper.day.isoformat())
        lines.append(" · ".join(parts))
    embed.description = _fit_lines(lines, DESCRIPTION_LIMIT) if lines else "No papers match this search."
    found = _plural(total, "result") if total_exact else f"{_count(total)}+ results"
    embed.set_footer(text=f"page {_count(page)}/{_count(pages)} · {found}")
    return embed


def results_text(papers: Sequence[Paper], *, start_index: int = 1) -> str:
    """Numbered search results for the terminal, two lines each."""
    if not papers:
        return "No papers."
    lines = []
    for number, paper in enumerate(papers, start_index):
        facts = [_clean(paper.id), f"▲ {_count(paper.upvotes)}"]
        if paper.day is not None:
            facts.append(paper.day.isoformat())
        if paper.has_code:
            facts.append("code")
        url = safe_url(paper.url)
        if url:
            facts.append(url)
        lines.append(f"{number}. {_clean(paper.title) or '(untitled)'}")
        lines.append(" " * (len(str(number)) + 2) + " · ".join(facts))
    return "\n".join(lines)


# ---------------------------------------------------------------- daily digest


def _digest_count_line(shown: int, total_that_day: int) -> str:
    """'Top 10 of 30 papers that day.' or 'All 4 papers that day.'"""
    total = max(total_that_day, shown)
    if shown == total:
        return f"All {_plural(total, 'paper')} that day." if total != 1 else "The only paper that day."
    return f"Top {_count(shown)} of {_plural(total, 'paper')} that day."


def _digest_block(rank: int, paper: Paper) -> str:
    """One paper in a compact digest: rank, linked title, upvotes, then a one-line summary."""
    line = f"**{rank}.** {_link(paper.title, paper.url, LINE_TITLE_CHARS)} · ▲ {_count(paper.upvotes)}"
    summary = _lead(_summary_source(paper), LINE_SUMMARY_CHARS)
    return f"{line}\n{summary}" if summary else line


def digest_messages(
    papers: Sequence[Paper],
    *,
    day: dt.date,
    total_that_day: int,
    style: str = "compact",
    late_note: str | None = None,
) -> list[MessagePayload]:
    """A day's digest as messages: "compact" lists papers in embeds, "cards" gives each paper an embed."""
    if style not in ("compact", "cards"):
        raise ValueError(f"unknown digest style {style!r}: use 'compact' or 'cards'")
    note = escape_text(late_note, NOTE_CHARS) or None
    if not papers:
        text = digest_empty_text(day)
        return [MessagePayload(content=f"{note}\n{text}" if note else text)]
    title = f"Hugging Face Daily Papers · {day.isoformat()}"
    count_line = _digest_count_line(len(papers), total_that_day)
    if style == "compact":
        blocks = [count_line] + [_digest_block(rank, paper) for rank, paper in enumerate(papers, 1)]
        return _pack_blocks(
            blocks, title=title, url=day_url(day), continued_title=f"{title} (continued)", first_content=note
        )
    header = f"**{title}** · {count_line} <{day_url(day)}>"
    content = f"{note}\n{header}" if note else header
    cards = [
        paper_card(paper, rank=rank, summary_chars=DIGEST_CARD_SUMMARY_CHARS)
        for rank, paper in enumerate(papers, 1)
    ]
    return _pack_embeds(cards, content)


def digest_empty_text(day: dt.date) -> str:
    """The one line posted for a day without papers."""
    return f"No papers on Hugging Face Daily Papers for {day.isoformat()}."


def digest_missed_text(day: dt.date) -> str:
    """The one line posted instead of a digest that came due too long ago while the bot was down."""
    return (
        f"The digest for {day.isoformat()} was skipped: the bot was offline past the grace window. "
        f"The papers are at <{day_url(day)}>."
    )


# ---------------------------------------------------------------- keyword alerts


def _subscription_label(subscription: AlertSubscription) -> str:
    """How a matched subscription is named: its query, with its id when known."""
    if isinstance(subscription, Subscription):
        return f"#{subscription.id} {subscription.query}"
    return subscription


def _alert_block(paper: Paper, subscriptions: Sequence[AlertSubscription]) -> str:
    """One alerted paper: linked title and upvotes, then the subscriptions it matched."""
    line = f"{_link(paper.title, paper.url, LINE_TITLE_CHARS)} · ▲ {_count(paper.upvotes)}"
    labels = [_subscription_label(subscription) for subscription in subscriptions]
    matched = _names_line(labels, MATCHED_CHARS, _code_span)
    return f"{line}\nMatched: {matched}" if matched else line


def alert_more_line(more: int, more_query: str | None) -> str:
    """The single line for papers over the hourly cap, pointing at an /alerts test query when given."""
    text = f"{ELLIPSIS}and {_count(more)} more"
    if _clean(more_query):
        return f"{text}: {_code_span('/alerts test query:' + _clean(more_query), QUERY_CHARS)}"
    return text + "."


def alert_messages(
    matches: Sequence[AlertMatch], *, more: int = 0, more_query: str | None = None
) -> list[MessagePayload]:
    """New papers for one channel bundled into as few messages as fit, ending with '…and N more' if any."""
    blocks = [_alert_block(paper, subscriptions) for paper, subscriptions in matches]
    if more > 0:
        blocks.append(alert_more_line(more, more_query))
    if not blocks:
        return []
    title = "New papers for this channel's alerts"
    return _pack_blocks(blocks, title=title, url=None, continued_title=f"{title} (continued)")


# ---------------------------------------------------------------- status


def status_embed(fields: Mapping[str, str], *, title: str = "Paperboy status") -> discord.Embed:
    """A simple key/value embed; keys beyond what fits are counted in a last field."""
    embed = _new_embed(escape_text(title, TITLE_LIMIT) or "Status")
    items = list(fields.items())
    reserve = 60  # room for the closing "More" field
    for index, (key, value) in enumerate(items):
        name = escape_text(key, FIELD_NAME_LIMIT) or "—"
        shown = escape_text(value, FIELD_VALUE_LIMIT) or "—"
        left = len(items) - index
        last_slot = len(embed.fields) == FIELDS_PER_EMBED - 1 and left > 1
        too_big = embed_size(embed) + len(name) + len(shown) + reserve > MESSAGE_EMBED_CHARS
        if last_slot or too_big:
            embed.add_field(name="More", value=f"{_count(left)} more not shown", inline=False)
            break
        embed.add_field(name=name, value=shown, inline=True)
    if not items:
        embed.description = "Nothing to report."
    return embed
