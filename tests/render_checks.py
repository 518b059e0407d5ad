"""Strategies and checks shared by the rendering tests: hostile text, papers, and what Discord would show."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterable
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from bot.models import Paper
from bot.render import (
    MessagePayload,
    embed_size,
    validate_payload,
)

DAY = dt.date(2026, 6, 12)
ZWSP = "\u200b"
HOSTILE_BITS = [
    "**bold**",
    "__under__",
    "~~strike~~",
    "||spoiler||",
    "`code`",
    "```block```",
    "*",
    "_",
    "\\",
    "@everyone",
    "@here",
    "@EVERYONE",
    "<@123456789012345678>",
    "<@!42>",
    "<@&987>",
    "<#42>",
    "</alerts test:1>",
    "<t:1700000000:R>",
    "<:emoji:123>",
    "<a:x:1>",
    "[x](http://e)",
    "[click](https://evil.example/)",
    "](",
    ")[",
    "[",
    "]",
    "(",
    ")",
    "# heading",
    "## h",
    "> quote",
    ">>> quote",
    "-# small",
    "- item",
    "1. item",
    " ",
    "\u200b",
    "\u200d",
    "\u2060",
    "\ufeff",
    "\u202e",
    "\u2066",
    "\u200f",
    "עברית",
    "عربي",
    "\n",
    "\t",
    "\r\n",
    "\x1b[2J",
    "\x00",
    "https://example.com/a_b*c",
    "é",
    "👨‍👩‍👧",
    "\ufdd0",
    "\ufdd1",
    "\ufdd2",
    "\ud800",
]
LIMITS = {
    "title": 256,
    "description": 4096,
    "field_name": 256,
    "field_value": 1024,
    "footer": 2048,
    "author": 256,
    "fields": 25,
    "embeds": 10,
    "total": 6000,
    "content": 2000,
}

hostile_text = st.lists(st.one_of(st.sampled_from(HOSTILE_BITS), st.text(max_size=12)), max_size=30).map("".join)
huge_text = st.builds(lambda text, times: (text * times)[:20_000], hostile_text.filter(bool), st.integers(1, 3000))
any_text = st.one_of(hostile_text, huge_text)
authors = st.one_of(
    st.lists(hostile_text, max_size=40).map(tuple),
    st.builds(lambda name, n: tuple(f"{name}{i}" for i in range(n)), hostile_text, st.integers(1000, 3000)),
)
urls = st.one_of(
    st.none(),
    hostile_text,
    st.sampled_from(
        [
            "https://github.com/owner/repo",
            "https://project.example.org/page",
            "http://insecure.example",
            "javascript:alert(1)",
            "https://github.com/a/b)[x](https://evil",
            "https://evil.example/x",
            "https://example.org/" + "a" * 3000,
        ]
    ),
)
papers = st.builds(
    Paper,
    id=st.from_regex(r"2[0-9]{3}\.[0-9]{5}", fullmatch=True),
    title=st.one_of(any_text, st.builds(lambda t: (t * 1000)[:1000], hostile_text.filter(bool))),
    authors=authors,
    summary=any_text,
    day=st.one_of(st.none(), st.dates()),
    upvotes=st.integers(-5, 10**15),
    ai_summary=st.one_of(st.none(), any_text),
    github_repo=urls,
    github_stars=st.one_of(st.none(), st.integers(0, 10**9)),
    project_page=urls,
    thumbnail=urls,
    num_comments=st.integers(0, 10**6),
    organization=st.one_of(st.none(), hostile_text),
)
SLOW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------- what a user sees


def visible(markdown: str) -> str:
    """Text as Discord shows it: backslash escapes of punctuation resolved, zero-width spaces invisible."""
    return re.sub(r"\\([^0-9A-Za-z\s])", r"\1", markdown).replace(ZWSP, "")


def without_code_spans(markdown: str) -> str:
    """The text outside inline code spans (whose content Discord shows literally)."""
    kept, index, escaped = [], 0, False
    while index < len(markdown):
        char = markdown[index]
        if char == "`" and not escaped:
            end = markdown.find("`", index + 1)
            if end != -1:
                index = end + 1
                continue
        kept.append(char)
        escaped = char == "\\" and not escaped
        index += 1
    return "".join(kept)


def masked_links(markdown: str) -> list[str]:
    """URLs of the masked links Discord would render: [label](url) whose '[' is not backslash-escaped."""
    markdown = without_code_spans(markdown)
    found = []
    for match in re.finditer(r"\[([^\[\]]*)\]\(([^()\s]+)\)", markdown):
        backslashes = len(markdown[: match.start()]) - len(markdown[: match.start()].rstrip("\\"))
        if backslashes % 2 == 0:
            found.append(match.group(2))
    return found


def markdown_texts(payload: MessagePayload) -> Iterable[str]:
    """Every string of a payload that Discord renders as markdown (not footers nor author names)."""
    if payload.content:
        yield payload.content
    for embed in payload.embeds:
        data = embed.to_dict()
        yield data.get("title", "")
        yield data.get("description", "")
        for item in data.get("fields", []):
            yield item["name"]
            yield item["value"]


def all_markdown(payloads: Iterable[MessagePayload]) -> str:
    """Everything the payloads show as markdown, one string."""
    return "\n".join(text for payload in payloads for text in markdown_texts(payload))


def assert_within_limits(payload: MessagePayload) -> None:
    """Every Discord limit, checked from the JSON that would be sent, then the module's own net."""
    assert payload.content is None or len(payload.content) <= LIMITS["content"]
    assert payload.content or payload.embeds
    assert len(payload.embeds) <= LIMITS["embeds"]
    total = 0
    for embed in payload.embeds:
        data = embed.to_dict()
        assert len(data.get("title", "")) <= LIMITS["title"]
        assert len(data.get("description", "")) <= LIMITS["description"]
        assert len(data.get("footer", {}).get("text", "")) <= LIMITS["footer"]
        assert len(data.get("author", {}).get("name", "")) <= LIMITS["author"]
        fields = data.get("fields", [])
        assert len(fields) <= LIMITS["fields"]
        for item in fields:
            assert 0 < len(item["name"]) <= LIMITS["field_name"]
            assert 0 < len(item["value"]) <= LIMITS["field_value"]
        for key in ("url",):
            assert key not in data or data[key].startswith(("https://", "http://"))
        if "thumbnail" in data:
            assert data["thumbnail"]["url"].startswith("https://")
        total += len(embed)
        assert embed_size(embed) == len(embed)
    assert total <= LIMITS["total"]
    validate_payload(payload)


def assert_no_mentions(markdown: str) -> None:
    """Nothing that Discord would render as a mention, ping or rich tag, except Discord timestamps."""
    assert not re.search(r"@(everyone|here)", markdown, re.IGNORECASE)
    assert not re.search(r"<(?!t:-?\d{1,13}:[tTdDfFR]>)(?:[@#/:]|[A-Za-z]{1,2}:)", markdown)


def checked_markdown(payloads: Iterable[MessagePayload]) -> str:
    """Assert every payload is within Discord's limits and mentions no one; return all their markdown."""
    payloads = list(payloads)
    for payload in payloads:
        assert_within_limits(payload)
    markdown = all_markdown(payloads)
    assert_no_mentions(markdown)
    return markdown


def trusted_urls(paper: Paper) -> set[str]:
    """Where a rendered paper may link: its own pages, its https code repository and project page."""
    trusted = {paper.url, paper.arxiv_url, paper.pdf_url}
    if paper.github_repo and paper.github_repo.startswith("https://github.com/"):
        trusted.add(paper.github_repo)
    if paper.project_page and paper.project_page.startswith("https://"):
        trusted.add(paper.project_page)
    return trusted


def assert_plain_urls(urls: Iterable[str]) -> None:
    """Linked URLs are short http(s) URLs without characters that could end or nest markdown."""
    for url in urls:
        assert re.fullmatch(r"https?://[^\s()<>\[\]\\`*|]{1,505}", url), url


def make_paper(number: int, **changes: Any) -> Paper:
    """A plausible paper with a distinct id."""
    base = Paper(
        id=f"2606.{number:05d}",
        title=f"Paper number {number}: sparse attention for long video",
        authors=("Ada Lovelace", "Alan Turing", "Grace Hopper"),
        summary="We study attention. It scales. Results improve by 3%.",
        day=DAY,
        upvotes=100 - number,
        ai_summary=f"Summary of paper {number}.",
        github_repo="https://github.com/owner/repo",
        project_page="https://project.example.org/page",
        thumbnail=f"https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2606.{number:05d}.png",
        num_comments=2,
    )
    return dataclasses.replace(base, **changes)
