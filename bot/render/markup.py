"""Cleaning, escaping and cutting user-visible text for Discord markdown; safe links; counters and timestamps."""

from __future__ import annotations

import datetime as dt
import logging
import re
import unicodedata
from collections.abc import Callable, Iterable

import discord

from bot.models import HF_BASE
from bot.text import ELLIPSIS, word_cut_positions

log = logging.getLogger(__name__)

ZWSP = "\u200b"
URL_LIMIT = 512
AUTHOR_NAME_CHARS = 80

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
_URL_RE = re.compile(r"https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:/[A-Za-z0-9\-._~%!$&+,;=:@/?#]*)?")
_GITHUB_HOSTS = ("github.com", "www.github.com")
# Punctuation a word-boundary cut drops before its ellipsis.
_TRAILING = " ,;:-–—/(["
TIMESTAMP_STYLES = "tTdDfFR"


def clean(text: str | None) -> str:
    """Text with control and reordering characters removed and all whitespace collapsed to single spaces."""
    if not text:
        return ""
    text = _DROP_RE.sub("", text)
    text = _CONTROL_RE.sub(" ", text)
    return " ".join(text.split())


def neutralise_mentions(text: str) -> str:
    """Break @everyone, @here and every <...> construct that Discord renders (mentions, emoji, timestamps)."""
    text = _EVERYONE_RE.sub("@" + ZWSP, text)
    return _ANGLE_RE.sub("<" + ZWSP, text)


def markdown(text: str) -> str:
    """Cleaned text escaped for Discord markdown, with brackets escaped and mentions broken."""
    escaped = discord.utils.escape_markdown(text.translate(_PROTECT))
    escaped = _ORDERED_LIST_RE.sub(r"\1\\.", escaped)
    escaped = escaped.replace(_OPEN, "\\[").replace(_CLOSE, "\\]").replace(_LT, "<")
    return neutralise_mentions(escaped)


def _label_markdown(text: str) -> str:
    """Cleaned text made safe as the label of a masked link."""
    # A bracket, even escaped, can end or break the label; a URL inside a label can become its own link.
    text = text.replace("[", "\uff3b").replace("]", "\uff3d").replace("://", ":" + ZWSP + "//")
    return markdown(text)


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


def fit(text: str, limit: int, transform: Callable[[str], str]) -> str:
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


def fit_words(text: str, limit: int, transform: Callable[[str], str]) -> str:
    """Like fit, but cut only between words; inside a word only when no whole word fits."""
    if limit < 1:
        raise ValueError(f"limit must be positive, got {limit}")
    whole = transform(text)
    if len(whole) <= limit:
        return whole
    cuts = [position for position in word_cut_positions(text) if position < limit]
    best = ""
    low, high = 0, len(cuts) - 1
    while low <= high:
        middle = (low + high) // 2
        kept = text[: cuts[middle]].rstrip(_TRAILING)
        candidate = transform(kept) + ELLIPSIS if kept else ""
        if candidate and len(candidate) <= limit:
            best, low = candidate, middle + 1
        else:
            high = middle - 1
    return best or fit(text, limit, transform)


def escape_text(text: str | None, limit: int) -> str:
    """Paper or user text for Discord: one line, markdown escaped, mentions broken, at most `limit` chars."""
    return fit(clean(text), limit, markdown)


def escape_words(text: str | None, limit: int) -> str:
    """Like escape_text, but a cut falls between words."""
    return fit_words(clean(text), limit, markdown)


def escape_plain(text: str | None, limit: int) -> str:
    """Text for fields Discord shows without markdown (footer, author name): cleaned, mentions broken, cut."""
    return fit(clean(text), limit, neutralise_mentions)


def plain_words(text: str | None, limit: int) -> str:
    """Text shown without markdown (menu labels, button labels): cleaned, cut between words."""
    return fit_words(clean(text), limit, lambda shown: shown)


def label(text: str | None, limit: int) -> str:
    """Text escaped as a masked link's label, at most `limit` chars, cut between words."""
    return fit_words(clean(text), limit, _label_markdown)


def code_span(text: str | None, limit: int) -> str:
    """User text shown literally inside an inline code span of at most `limit` chars."""
    # Nothing is escaped inside a code span, so a backtick is replaced rather than escaped.
    cleaned = clean(text).replace("`", "\u02cb") or " "
    return "`" + fit(cleaned, max(1, limit - 2), neutralise_mentions) + "`"


def safe_url(url: str | None, *, https_only: bool = True) -> str | None:
    """The URL if it is a plain http(s) URL safe inside a masked link, else None."""
    if not url or len(url) > URL_LIMIT or not _URL_RE.fullmatch(url):
        return None
    if https_only and not url.startswith("https://"):
        return None
    return url


def github_url(url: str | None) -> str | None:
    """The code repository URL if it is an https github.com URL, else None."""
    safe = safe_url(url)
    if safe is None:
        return None
    host = safe.removeprefix("https://").split("/", 1)[0].lower()
    return safe if host in _GITHUB_HOSTS else None


def link(text: str | None, url: str | None, limit: int) -> str:
    """A masked link to `url` labelled with `text`, or the escaped text alone when the URL is not safe."""
    safe = safe_url(url, https_only=False)
    if safe is None:
        return escape_words(text, limit) or "(untitled)"
    return f"[{label(text, limit) or '(untitled)'}]({safe})"


def count(value: int | None) -> str:
    """A counter for display: never negative, never absurdly long."""
    return f"{max(0, min(int(value or 0), 10**12)):,}"


def short_count(value: int | None) -> str:
    """A compact counter: 999, 1.2k, 12k, 3.4M."""
    number = max(0, min(int(value or 0), 10**12))
    for size, suffix in ((10**9, "B"), (10**6, "M"), (10**3, "k")):
        if number >= size:
            shown = f"{number / size:.1f}".removesuffix(".0") if number < size * 10 else f"{number // size}"
            return shown + suffix
    return str(number)


def plural(amount: int, word: str, many: str | None = None) -> str:
    """'1 paper', '2 papers' (counter shown with separators, never negative)."""
    return f"{count(amount)} {word if amount == 1 else (many or word + 's')}"


def names_line(names: Iterable[str], limit: int, show: Callable[[str, int], str], max_names: int | None = None) -> str:
    """Names joined by commas, each shown by show(name, budget), as many as fit in `limit`, then '+N more'."""
    cleaned = [name for name in (clean(n) for n in names) if name]
    total = len(cleaned)
    parts: list[str] = []
    length = 0
    for index, name in enumerate(cleaned):
        if max_names is not None and len(parts) >= max_names:
            break
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


def discord_time(moment: dt.datetime, style: str = "f") -> str:
    """A Discord timestamp (`<t:UNIX:style>`) that each reader sees in their own time zone."""
    if moment.tzinfo is None:
        raise ValueError("a Discord timestamp needs a timezone-aware datetime")
    if style not in TIMESTAMP_STYLES:
        raise ValueError(f"unknown timestamp style {style!r}")
    return f"<t:{int(moment.timestamp())}:{style}>"


def discord_date(day: dt.date) -> str:
    """A day as a Discord date timestamp (`<t:UNIX:D>`, midday UTC so every zone shows the same date)."""
    return discord_time(dt.datetime.combine(day, dt.time(12, 0), tzinfo=dt.UTC), "D")


def when(moment: dt.datetime) -> str:
    """A moment as the reader's local date and time, then how long ago or until: '<t:…:f> (<t:…:R>)'."""
    return f"{discord_time(moment, 'f')} ({discord_time(moment, 'R')})"


def short_day(day: dt.date) -> str:
    """'4 Dec' (with the year when asked through long_day)."""
    return f"{day.day} {day:%b}"


def long_day(day: dt.date) -> str:
    """'Fri 4 Dec 2026'."""
    return f"{day:%a} {day.day} {day:%b %Y}"


def day_url(day: dt.date) -> str:
    """The Hugging Face Daily Papers page of one day."""
    return f"{HF_BASE}/papers/date/{day.isoformat()}"


def week_url(day: dt.date) -> str:
    """The Hugging Face Daily Papers page of the ISO week containing `day`."""
    year, week, _ = day.isocalendar()
    return f"{HF_BASE}/papers/week/{year}-W{week:02d}"


def month_url(day: dt.date) -> str:
    """The Hugging Face Daily Papers page of the month containing `day`."""
    return f"{HF_BASE}/papers/month/{day:%Y-%m}"
