"""Pure parsers for arXiv: the API's Atom pages and a category's listing RSS, to Papers in listing order."""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import re
import xml.etree.ElementTree as ET  # noqa: S405 - see _parse_xml: no DTD is ever accepted
from dataclasses import dataclass

from bot.models import Paper
from bot.sources.arxiv_ids import split_version
from bot.sources.http import InvalidPayload

log = logging.getLogger(__name__)

SOURCE_NAME = "arxiv"
ATOM = "{http://www.w3.org/2005/Atom}"
ARXIV = "{http://arxiv.org/schemas/atom}"
OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"
DC = "{http://purl.org/dc/elements/1.1/}"
LISTED_KINDS = ("new", "cross")
_AUTHOR, _NAME, _CATEGORY, _PRIMARY = f"{ATOM}author", f"{ATOM}name", f"{ATOM}category", f"{ARXIV}primary_category"
_ENTRY_TEXTS = frozenset(
    {f"{ATOM}{name}" for name in ("id", "title", "summary", "published", "updated")}
    | {f"{ARXIV}comment", f"{ARXIV}journal_ref"}
)  # announce types kept: replacements are not news
_ABSTRACT = re.compile(r"^.*?\bAbstract:\s*", re.DOTALL)
_AUTHOR_SPLIT = re.compile(r",\s*(?:and\s+)?|\s+and\s+")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


class ArxivFeedError(InvalidPayload):
    """An arXiv answer that is not a complete feed (truncated, malformed, or an API error entry)."""


@dataclass(frozen=True, slots=True)
class ApiPage:
    """One page of an API query: its papers in order, where it starts, how many the query has in all."""

    papers: tuple[Paper, ...]
    start: int
    total: int
    skipped: int


@dataclass(frozen=True, slots=True)
class CategoryListing:
    """A category's listing feed: the announcement day it shows and its new and cross-listed papers in order."""

    category: str
    day: dt.date | None  # None: the feed names no date
    papers: tuple[Paper, ...]
    kinds: tuple[str, ...]  # "new" | "cross", one per paper
    skipped: int


def _parse_xml(text: str, what: str) -> ET.Element:
    """The root element of a feed; ArxivFeedError for a truncated or malformed one, or one with a DTD."""
    # A feed never needs a DTD; refusing one rules out entity expansion of any kind.
    if "<!DOCTYPE" in text[:2048] or "<!ENTITY" in text:
        raise ArxivFeedError(f"the {what} carries a DTD, which no arXiv feed has")
    try:
        return ET.fromstring(text)  # noqa: S314 - DTDs refused above
    except ET.ParseError as exc:
        raise ArxivFeedError(f"the {what} is not complete XML ({exc}); nothing was saved") from exc


def _clean(text: str | None) -> str:
    """Whitespace runs made one space, control characters dropped (as bot.sources.huggingface.clean_text).

    XML text holds no C0 control character but tab, newline and return, which split() removes; the C1
    ones are not ASCII, so only non-ASCII text needs the (slower) search for them.
    """
    if not text:
        return ""
    if not text.isascii() and _CONTROL.search(text):
        text = _CONTROL.sub(" ", text)
    return " ".join(text.split())


def _text(element: ET.Element | None) -> str:
    return _clean(element.text) if element is not None else ""


def _instant_date(text: str) -> dt.date | None:
    """The UTC date of an Atom timestamp such as 2026-06-11T17:59:49Z."""
    try:
        moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).astimezone(dt.UTC).date()


def _rfc822_date(text: str) -> dt.date | None:
    """The calendar date of an RSS date as written (arXiv dates its listings in New York time)."""
    try:
        return email.utils.parsedate_to_datetime(text.strip()).date()
    except (TypeError, ValueError, IndexError):
        return None


def _ordered_categories(primary: str, others: list[str]) -> tuple[str, ...]:
    """Categories without repeats, the primary first."""
    seen = [primary] if primary else []
    seen += [name for name in others if name and name not in seen]
    return tuple(seen)


def parse_api_entry(entry: ET.Element) -> Paper | None:
    """A Paper from one Atom `<entry>` of the arXiv API; None without a readable id or title."""
    # One pass over the children: a thousand entries a page make repeated find() calls add up.
    texts: dict[str, str] = {}
    authors: list[str] = []
    categories: list[str] = []
    primary = ""
    for child in entry:
        tag = child.tag
        if tag == _AUTHOR:
            name = _text(child.find(_NAME))
            if name:
                authors.append(name)
        elif tag == _CATEGORY:
            categories.append(child.get("term", "").strip())
        elif tag == _PRIMARY:
            primary = child.get("term", "").strip()
        elif tag in _ENTRY_TEXTS:
            texts[tag] = _clean(child.text)
    split = split_version(texts.get(f"{ATOM}id", ""))
    title = texts.get(f"{ATOM}title", "")
    if split is None or not title:
        return None
    paper_id, version = split
    published = _instant_date(texts.get(f"{ATOM}published", ""))
    return Paper(
        id=paper_id,
        title=title,
        authors=tuple(authors),
        summary=texts.get(f"{ATOM}summary", ""),
        published=published,
        day=published,
        categories=_ordered_categories(primary, categories),
        sources=(SOURCE_NAME,),
        comments=texts.get(f"{ARXIV}comment") or None,
        journal_ref=texts.get(f"{ARXIV}journal_ref") or None,
        version=version,
        updated=_instant_date(texts.get(f"{ATOM}updated", "")),
    )


def _count(root: ET.Element, name: str) -> int | None:
    text = _text(root.find(f"{OPENSEARCH}{name}"))
    return int(text) if text.isdigit() else None


def parse_api_page(text: str) -> ApiPage:
    """One Atom page of `export.arxiv.org/api/query`; ArxivFeedError if it is incomplete or an API error."""
    root = _parse_xml(text, "arXiv API answer")
    if root.tag != f"{ATOM}feed":
        raise ArxivFeedError(f"the arXiv API answer is not an Atom feed (root element {root.tag!r})")
    entries = root.findall(f"{ATOM}entry")
    for entry in entries:
        if "api/errors" in _text(entry.find(f"{ATOM}id")):
            reason = _text(entry.find(f"{ATOM}summary")) or "no reason given"
            raise ArxivFeedError(f"the arXiv API refused the query: {reason}")
    total = _count(root, "totalResults")
    if total is None:
        raise ArxivFeedError("the arXiv API answer has no totalResults (incomplete feed?)")
    papers: dict[str, Paper] = {}
    skipped = 0
    for entry in entries:
        paper = parse_api_entry(entry)
        if paper is None:
            skipped += 1
        else:
            papers.setdefault(paper.id, paper)
    return ApiPage(tuple(papers.values()), _count(root, "startIndex") or 0, total, skipped)


def _listing_item(item: ET.Element, day: dt.date | None) -> tuple[Paper, str] | None:
    """A listed paper and how it is listed, or None for an item that is unreadable or not new or cross."""
    kind = _text(item.find(f"{ARXIV}announce_type")).lower()
    if kind not in LISTED_KINDS:
        return None
    split = split_version(_text(item.find("guid"))) or split_version(_text(item.find("link")))
    title = _text(item.find("title"))
    if split is None or not title:
        return None
    paper_id, version = split
    summary = _ABSTRACT.sub("", item.findtext("description") or "", count=1)
    creators = _text(item.find(f"{DC}creator"))
    return (
        Paper(
            id=paper_id,
            title=title,
            authors=tuple(name.strip() for name in _AUTHOR_SPLIT.split(creators) if name.strip()),
            summary=_clean(summary),
            # The day it was announced: for a new submission that is its first appearance.
            published=day if kind == "new" and version in (None, 1) else None,
            day=day,
            categories=_ordered_categories("", [_text(c) for c in item.findall("category")]),
            sources=(SOURCE_NAME,),
            version=version,
        ),
        kind,
    )


def parse_listing(text: str, category: str) -> CategoryListing:
    """A category's listing RSS (`rss.arxiv.org/rss/CAT`): its day and new and cross-listed papers in order.

    A feed without items is a day without an announcement (a weekend or holiday): it parses to no papers.
    """
    root = _parse_xml(text, f"{category} listing feed")
    channel = root.find("channel")
    if root.tag != "rss" or channel is None:
        raise ArxivFeedError(f"the {category} listing is not an RSS feed (root element {root.tag!r})")
    day = _rfc822_date(_text(channel.find("pubDate")))
    papers: list[Paper] = []
    kinds: list[str] = []
    seen: set[str] = set()
    skipped = 0
    for item in channel.findall("item"):
        listed = _listing_item(item, day)
        if listed is None:
            kind = _text(item.find(f"{ARXIV}announce_type")).lower()
            skipped += int(kind in LISTED_KINDS or not kind)  # replacements are left out on purpose
            continue
        paper, kind = listed
        if paper.id not in seen:
            seen.add(paper.id)
            papers.append(paper)
            kinds.append(kind)
    return CategoryListing(category, day, tuple(papers), tuple(kinds), skipped)
