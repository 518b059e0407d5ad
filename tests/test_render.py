"""Rendering papers, digests, alerts and results: what users see, and Discord's limits under hostile input."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import unicodedata
from collections.abc import Iterable

import discord
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.models import Paper, Subscription
from bot.render import (
    NO_MENTIONS,
    MessagePayload,
    PayloadError,
    alert_messages,
    digest_empty_text,
    digest_messages,
    digest_missed_text,
    embed_size,
    escape_text,
    paper_card,
    paper_links,
    paper_text,
    results_page,
    results_text,
    status_embed,
    validate_payload,
)

DAY = dt.date(2026, 6, 12)
ZWSP = "\u200b"
HOSTILE_BITS = [
    "**bold**", "__under__", "~~strike~~", "||spoiler||", "`code`", "```block```", "*", "_", "\\",
    "@everyone", "@here", "@EVERYONE", "<@123456789012345678>", "<@!42>", "<@&987>", "<#42>",
    "</alerts test:1>", "<t:1700000000:R>", "<:emoji:123>", "<a:x:1>",
    "[x](http://e)", "[click](https://evil.example/)", "](", ")[", "[", "]", "(", ")",
    "# heading", "## h", "> quote", ">>> quote", "-# small", "- item", "1. item", " ",
    "\u200b", "\u200d", "\u2060", "\ufeff", "\u202e", "\u2066", "\u200f", "עברית", "عربي",
    "\n", "\t", "\r\n", "\x1b[2J", "\x00", "https://example.com/a_b*c", "é", "👨‍👩‍👧",
    "\ufdd0", "\ufdd1", "\ufdd2", "\ud800",
]
LIMITS = {"title": 256, "description": 4096, "field_name": 256, "field_value": 1024, "footer": 2048,
          "author": 256, "fields": 25, "embeds": 10, "total": 6000, "content": 2000}

hostile_text = st.lists(
    st.one_of(st.sampled_from(HOSTILE_BITS), st.text(max_size=12)), max_size=30
).map("".join)
huge_text = st.builds(
    lambda text, times: (text * times)[:20_000], hostile_text.filter(bool), st.integers(1, 3000)
)
any_text = st.one_of(hostile_text, huge_text)
authors = st.one_of(
    st.lists(hostile_text, max_size=40).map(tuple),
    st.builds(lambda name, n: tuple(f"{name}{i}" for i in range(n)), hostile_text, st.integers(1000, 3000)),
)
urls = st.one_of(
    st.none(), hostile_text, st.sampled_from([
        "https://github.com/owner/repo", "https://project.example.org/page", "http://insecure.example",
        "javascript:alert(1)", "https://github.com/a/b)[x](https://evil", "https://evil.example/x",
        "https://example.org/" + "a" * 3000,
    ]),
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


def make_paper(number: int, **changes: object) -> Paper:
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


# ---------------------------------------------------------------- escape_text


def test_markdown_in_text_is_shown_literally() -> None:
    shown = escape_text("**bold** _it_ ~~gone~~ ||secret|| `code` # heading", 200)
    assert "**" not in shown.replace("\\*", "")
    assert visible(shown) == "**bold** _it_ ~~gone~~ ||secret|| `code` # heading"


def test_masked_link_in_text_does_not_become_a_link() -> None:
    shown = escape_text("[click](https://evil.example) and [a](b)", 200)
    assert masked_links(shown) == []
    assert visible(shown) == "[click](https://evil.example) and [a](b)"


def test_mentions_are_broken_but_still_readable() -> None:
    shown = escape_text("@everyone @here <@123> <@!4> <@&5> <#6> </cmd:7> <t:8:R>", 200)
    assert_no_mentions(shown)
    assert visible(shown) == "@everyone @here <@123> <@!4> <@&5> <#6> </cmd:7> <t:8:R>"


def test_line_start_markdown_is_escaped() -> None:
    for text in ("# Heading", "> quote", "- item", "-# small", "1. first"):
        assert visible(escape_text(text, 100)) == text
        assert escape_text(text, 100) != text


def test_truncation_adds_an_ellipsis_and_fits() -> None:
    shown = escape_text("word " * 1000, 50)
    assert len(shown) <= 50
    assert shown.endswith("…")
    assert ("word " * 1000).startswith(visible(shown[:-1]))


def test_truncation_counts_the_escapes() -> None:
    shown = escape_text("*" * 100, 21)
    assert len(shown) <= 21
    assert shown == "\\*" * 10 + "…"


def test_truncation_never_leaves_a_dangling_backslash() -> None:
    for limit in range(2, 30):
        shown = escape_text("a_b*c" * 20, limit)
        body = shown.removesuffix("…")
        trailing = len(body) - len(body.rstrip("\\"))
        assert trailing % 2 == 0, shown


def test_truncation_keeps_combining_marks_and_emoji_whole() -> None:
    accented = "e\u0301" * 100
    for limit in range(2, 20):
        body = escape_text(accented, limit)[:-1]
        assert re.fullmatch(r"(e\u0301)*", body), repr(body)
    family = "👨\u200d👩\u200d👧" * 50
    for limit in range(2, 20):
        body = escape_text(family, limit)[:-1]
        assert re.fullmatch(r"(👨\u200d👩\u200d👧)*", body), repr(body)


def test_short_text_is_not_truncated() -> None:
    assert escape_text("Attention is all you need", 25) == "Attention is all you need"
    assert escape_text(None, 10) == ""


def test_controls_and_bidi_overrides_are_removed() -> None:
    shown = escape_text("a\x1b[2Jb\u202ec\nd\ufdd0e", 100)
    assert "\x1b" not in shown and "\u202e" not in shown and "\n" not in shown
    assert visible(shown) == "a [2Jbc de"


def test_placeholder_characters_in_input_cannot_create_brackets() -> None:
    shown = escape_text("\ufdd0click\ufdd1(https://evil.example)", 100)
    assert masked_links(shown) == []
    assert "\ufdd0" not in shown


def test_quadratic_escape_patterns_finish() -> None:
    for text in ("[a](" * 5000, "<" * 20_000, "[x] " * 5000):
        assert len(escape_text(text, 4096)) <= 4096


@given(text=any_text, limit=st.integers(1, 5000))
@SLOW
def test_escape_text_always_fits_and_is_safe(text: str, limit: int) -> None:
    shown = escape_text(text, limit)
    assert len(shown) <= limit
    assert_no_mentions(shown)
    assert masked_links(shown) == []
    if len(escape_text(text, 100_000)) > limit:
        assert shown.endswith("…")


readable = st.characters(codec="utf-8", exclude_characters=":\\\u200b", categories=["L", "N", "P", "S", "Zs"])


@given(text=st.text(alphabet=readable))
@SLOW
def test_escaping_loses_nothing_a_user_would_read(text: str) -> None:
    expected = " ".join(text.split())
    assert visible(escape_text(text, 100_000)) == expected


# ---------------------------------------------------------------- paper_card


def test_paper_card_shows_the_paper() -> None:
    paper = make_paper(1, github_stars=1234)
    card = paper_card(paper)
    data = card.to_dict()
    assert data["title"] == "Paper number 1: sparse attention for long video"
    assert data["url"] == "https://huggingface.co/papers/2606.00001"
    facts, summary = data["description"].split("\n\n")
    assert facts == "▲ 99 · 💬 2 · [code ★ 1.2k](https://github.com/owner/repo) · 📅 <t:1781265600:D>"
    assert summary == "Summary of paper 1."
    assert "fields" not in data
    assert [(link.label, link.url) for link in paper_links(paper)] == [
        ("Hugging Face", "https://huggingface.co/papers/2606.00001"), ("arXiv", "https://arxiv.org/abs/2606.00001"),
        ("PDF", "https://arxiv.org/pdf/2606.00001"), ("Code ★ 1.2k", "https://github.com/owner/repo"),
        ("Project page", "https://project.example.org/page"),
    ]
    assert data["thumbnail"]["url"].endswith("2606.00001.png")
    assert data["footer"]["text"] == "Ada Lovelace, Alan Turing, Grace Hopper · arXiv 2606.00001"


def test_paper_card_shows_no_zero_counters_and_no_day_label() -> None:
    card = paper_card(make_paper(1, upvotes=0, num_comments=0, github_repo=None, day=None))
    assert card.description == "Summary of paper 1."
    card = paper_card(make_paper(1, upvotes=0, num_comments=0, github_stars=0, organization="Org"))
    assert card.description is not None
    assert card.description.split("\n")[0] == "[code](https://github.com/owner/repo) · Org · 📅 <t:1781265600:D>"
    assert "Day" not in str(card.to_dict())


def test_paper_card_falls_back_to_the_first_sentences_of_the_abstract() -> None:
    abstract = "First finding is here. " + "Second sentence goes on and on. " * 1000
    card = paper_card(make_paper(2, ai_summary=None, summary=abstract))
    assert card.description is not None
    assert card.description.split("\n\n")[1] == "First finding is here. Second sentence goes on and on."
    long_sentence = "Word " * 200
    card = paper_card(make_paper(2, ai_summary=None, summary=long_sentence))
    assert card.description is not None
    summary = card.description.split("\n\n")[1]
    assert summary.endswith("Word…") and len(summary) <= 350


def test_paper_card_with_thousands_of_authors_says_how_many_more() -> None:
    card = paper_card(make_paper(3, authors=tuple(f"Author {i}" for i in range(3000))))
    value = (card.footer.text or "").removesuffix(" · arXiv 2606.00003")
    match = re.fullmatch(r"(.*) \+(\d+) more", value)
    assert match is not None
    shown, more = match.groups()
    assert len(shown.split(", ")) + int(more) == 3000
    assert shown.startswith("Author 0, Author 1, Author 2")


def test_paper_card_drops_unsafe_links() -> None:
    paper = make_paper(
        4, github_repo="https://evil.example/owner/repo", project_page="javascript:alert(1)",
        thumbnail="http://cdn.example/x.png",
    )
    card = paper_card(paper, inline_links=True)
    links = (card.description or "").split("\n\n")[-1]
    assert masked_links(links) == [paper.url, paper.arxiv_url, paper.pdf_url]
    assert [link.url for link in paper_links(paper)] == [paper.url, paper.arxiv_url, paper.pdf_url]
    assert "evil" not in links and "javascript" not in links
    assert card.thumbnail.url is None


def test_paper_card_never_links_from_a_hostile_title() -> None:
    paper = make_paper(5, title="[click](https://evil.example) **bold** @everyone <@123>")
    card = paper_card(paper)
    assert card.title is not None
    assert visible(card.title) == "[click](https://evil.example) **bold** @everyone <@123>"
    assert masked_links(card.title) == []
    assert_no_mentions(card.title)


def test_paper_card_hostile_id_leaves_no_link() -> None:
    card = paper_card(make_paper(6, id="1)](https://evil.example"))
    markdown = all_markdown([MessagePayload(embeds=[card])])
    assert card.url is None
    assert all("evil" not in url for url in masked_links(markdown))


def test_paper_card_with_empty_fields_is_still_valid() -> None:
    paper = Paper(id="2606.00007", title="", authors=("", "  "), summary="", ai_summary="   ")
    card = paper_card(paper)
    assert card.title == "(untitled)"
    assert card.description == "▲ 0".removeprefix("▲ 0") or card.description is None
    assert card.footer.text == "arXiv 2606.00007"
    assert_within_limits(MessagePayload(embeds=[card]))


@given(paper=papers)
@SLOW
def test_paper_card_within_limits_for_any_paper(paper: Paper) -> None:
    card = paper_card(paper, inline_links=True)
    payload = MessagePayload(embeds=[card])
    assert_within_limits(payload)
    assert all(len(link.label) <= 80 for link in paper_links(paper))
    markdown = all_markdown([payload])
    assert_no_mentions(markdown)
    assert set(masked_links(markdown)) <= trusted_urls(paper)
    assert_plain_urls(masked_links(markdown))


# ---------------------------------------------------------------- results


def test_results_page_numbered_lines_and_footer() -> None:
    found = [make_paper(i) for i in (1, 2)]
    embed = results_page(found, query="sparse **attention**", page=2, pages=5, total=42, start_index=11)
    assert embed.title == "Search: sparse \\*\\*attention\\*\\*"
    assert embed.description is not None
    lines = embed.description.split("\n")
    code = "[code](https://github.com/owner/repo)"
    assert lines == [
        "**11.** [Paper number 1: sparse attention for long video](https://huggingface.co/papers/2606.00001)",
        f"▲ 99 · 💬 2 · {code} · 12\u00a0Jun\u00a02026",
        "**12.** [Paper number 2: sparse attention for long video](https://huggingface.co/papers/2606.00002)",
        f"▲ 98 · 💬 2 · {code} · 12\u00a0Jun\u00a02026",
    ]
    assert embed.footer.text == "page 2/5 · 42 results"


def test_results_page_shows_a_lower_bound_total_with_a_plus() -> None:
    embed = results_page([make_paper(1)], query="q", page=1, pages=100, total=1000, total_exact=False)
    assert embed.footer.text == "page 1/100 · 1,000+ results"


def test_results_page_empty() -> None:
    embed = results_page([], query="nothing", page=1, pages=1, total=0, start_index=1)
    assert embed.description == "No papers match this search."
    assert embed.footer.text == "page 1/1 · 0 results"


def test_results_page_link_label_cannot_break_out() -> None:
    paper = make_paper(1, title="a](https://evil.example) [b")
    embed = results_page([paper], query="q", page=1, pages=1, total=1, start_index=1)
    assert embed.description is not None
    assert masked_links(embed.description) == [paper.url, "https://github.com/owner/repo"]


@given(found=st.lists(papers, max_size=60), query=any_text)
@SLOW
def test_results_page_within_limits(found: list[Paper], query: str) -> None:
    embed = results_page(found, query=query, page=1, pages=1, total=len(found), start_index=1)
    payload = MessagePayload(embeds=[embed])
    assert_within_limits(payload)
    markdown = all_markdown([payload])
    assert_no_mentions(markdown)
    assert set(masked_links(markdown)) <= {url for paper in found for url in trusted_urls(paper)}


def test_results_text_for_the_terminal() -> None:
    paper = make_paper(1, title="**Raw** title \x1b[31m red")
    text = results_text([paper, make_paper(2)])
    lines = text.split("\n")
    assert lines[0] == "1. **Raw** title [31m red"
    assert lines[1] == "   2606.00001 · ▲ 99 · 2026-06-12 · code · https://huggingface.co/papers/2606.00001"
    assert lines[2].startswith("2. Paper number 2")
    assert "\x1b" not in text
    assert results_text([]) == "No papers."


def test_paper_text_for_the_terminal() -> None:
    paper = make_paper(1, authors=tuple(f"A{i}" for i in range(30)), summary="Abstract text.\nSecond line.")
    text = paper_text(paper)
    assert text.startswith("Paper number 1: sparse attention for long video\nby A0, A1,")
    assert "A11 +18 more" in text
    assert "day 2026-06-12 · ▲ 99 · 2 comments" in text
    assert "AI summary: Summary of paper 1." in text
    assert "Abstract: Abstract text. Second line." in text
    assert "Code: https://github.com/owner/repo" in text
    assert "PDF: https://arxiv.org/pdf/2606.00001" in text


# ---------------------------------------------------------------- digest


def test_compact_digest_header_and_lines() -> None:
    messages = digest_messages([make_paper(1), make_paper(2)], day=DAY, total_that_day=30, style="compact",
                               late_note=None)
    assert len(messages) == 1
    assert messages[0].content is None
    (embed,) = messages[0].embeds
    assert embed.title == "Daily Papers · Fri 2026-06-12"
    assert embed.url == "https://huggingface.co/papers/date/2026-06-12"
    code = "[code](https://github.com/owner/repo)"
    assert embed.description == (
        "Top 2 of 30 papers that day\n\n"
        "**1. [Paper number 1: sparse attention for long video](https://huggingface.co/papers/2606.00001)**\n"
        f"▲ 99 · 💬 2 · {code}\nSummary of paper 1.\n"
        "**2. [Paper number 2: sparse attention for long video](https://huggingface.co/papers/2606.00002)**\n"
        f"▲ 98 · 💬 2 · {code}\nSummary of paper 2."
    )


def test_digest_late_note_comes_first() -> None:
    note = "Posted 2 h 5 min late: the bot was offline when this digest was due."
    messages = digest_messages([make_paper(1)], day=DAY, total_that_day=1, style="compact", late_note=note)
    assert messages[0].content == note
    assert messages[0].embeds[0].description is not None
    assert messages[0].embeds[0].description.startswith("The only paper that day")


def test_digest_of_no_papers_is_one_line() -> None:
    (message,) = digest_messages([], day=DAY, total_that_day=0, style="cards", late_note=None)
    assert message.content == digest_empty_text(DAY)
    assert message.embeds == []


def test_digest_rejects_an_unknown_style() -> None:
    with pytest.raises(ValueError, match="style"):
        digest_messages([make_paper(1)], day=DAY, total_that_day=1, style="poster", late_note=None)


def _huge(number: int) -> Paper:
    """A paper whose title and summary are far over every budget."""
    return make_paper(
        number, title=f"T{number} " + "**x** " * 300, ai_summary=f"S{number} " + "[y](z) " * 3000
    )


def test_compact_digest_of_huge_papers_splits_and_keeps_every_paper() -> None:
    found = [_huge(i) for i in range(1, 26)]
    messages = digest_messages(found, day=DAY, total_that_day=80, style="compact", late_note=None)
    assert len(messages) > 1
    for message in messages:
        assert_within_limits(message)
    markdown = all_markdown(messages)
    ranks = re.findall(r"^\*\*(\d+)\. ", markdown, re.MULTILINE)
    assert ranks == [str(i) for i in range(1, 26)]
    assert [url for url in masked_links(markdown) if "github" not in url] == [paper.url for paper in found]
    assert markdown.count("…") >= 50
    assert "Top 25 of 80 papers that day" in markdown
    continued = "Daily Papers · Fri 2026-06-12 (continued)"
    assert [m.embeds[0].title for m in messages[1:]] == [continued] * (len(messages) - 1)


def test_card_digest_splits_into_messages_of_at_most_ten_cards() -> None:
    found = [_huge(i) for i in range(1, 26)]
    messages = digest_messages(found, day=DAY, total_that_day=25, style="cards", late_note="Late.")
    assert len(messages) >= 3
    for message in messages:
        assert_within_limits(message)
    assert messages[0].content is not None
    assert messages[0].content == (
        "Late.\n**[Daily Papers · Fri 2026-06-12](<https://huggingface.co/papers/date/2026-06-12>)**"
        " · All 25 papers that day"
    )
    assert all(m.content is None for m in messages[1:])
    cards = [embed for message in messages for embed in message.embeds]
    assert [card.url for card in cards] == [paper.url for paper in found]
    assert [card.title.split(". ", 1)[0] for card in cards if card.title] == [str(i) for i in range(1, 26)]


@given(found=st.lists(papers, max_size=30), style=st.sampled_from(["compact", "cards"]),
       late=st.one_of(st.none(), any_text), total=st.integers(0, 500))
@SLOW
def test_digest_within_limits_for_any_papers(
    found: list[Paper], style: str, late: str | None, total: int
) -> None:
    messages = digest_messages(found, day=DAY, total_that_day=total, style=style, late_note=late)
    assert messages
    for message in messages:
        assert_within_limits(message)
    markdown = all_markdown(messages)
    assert_no_mentions(markdown)
    if style == "compact":
        ranks = re.findall(r"^\*\*(\d+)\. ", markdown, re.MULTILINE)
        assert ranks == [str(i) for i in range(1, len(found) + 1)]
    else:
        assert sum(len(m.embeds) for m in messages) == len(found)


def test_digest_day_lines() -> None:
    assert digest_empty_text(DAY) == "No papers on Hugging Face Daily Papers for Fri 2026-06-12."
    missed = digest_missed_text(DAY)
    assert "Fri 2026-06-12" in missed and "\n" not in missed and len(missed) < 200
    assert "<https://huggingface.co/papers/date/2026-06-12>" in missed


# ---------------------------------------------------------------- alerts


def test_alert_bundle_names_the_matching_subscriptions() -> None:
    subscription = Subscription(id=7, guild_id=1, channel_id=2, query='"video diffusion"', normalized="x",
                                created_by=3, created_at=dt.datetime(2026, 6, 1, tzinfo=dt.UTC))
    messages = alert_messages([(make_paper(1), [subscription, "llm agent"]), (make_paper(2), ["mamba"])],
                              more=0, more_query=None)
    assert len(messages) == 1
    (embed,) = messages[0].embeds
    code = "[code](https://github.com/owner/repo)"
    assert embed.description == (
        "**[Paper number 1: sparse attention for long video](https://huggingface.co/papers/2606.00001)**\n"
        f"▲ 99 · 💬 2 · {code}\n"
        'Matched `#7 "video diffusion"`, `llm agent`\n'
        "> Paper number 1: sparse attention for long **video**\n"
        "Summary of paper 1.\n\n"
        "**[Paper number 2: sparse attention for long video](https://huggingface.co/papers/2606.00002)**\n"
        f"▲ 98 · 💬 2 · {code}\n"
        "Matched `mamba`\n"
        "Summary of paper 2."
    )


def test_alert_more_line_ends_the_last_message() -> None:
    matches = [(_huge(i), [f"query {i} " + "@everyone `tick` " * 40]) for i in range(1, 41)]
    messages = alert_messages(matches, more=17, more_query="diffusion `x` @here <@1>")
    assert len(messages) > 1
    for message in messages:
        assert_within_limits(message)
    markdown = all_markdown(messages)
    assert_no_mentions(markdown)
    assert [url for url in masked_links(markdown) if "github" not in url] == [paper.url for paper, _ in matches]
    last = messages[-1].embeds[-1].description
    assert last is not None
    assert last.split("\n")[-1] == "…and 17 more: `/alerts test query:diffusion ˋxˋ @\u200bhere <\u200b@1>`"
    assert markdown.count("…and 17 more") == 1


def test_alert_more_line_alone() -> None:
    (message,) = alert_messages([], more=3, more_query=None)
    assert message.embeds[0].description == "…and 3 more."
    assert alert_messages([], more=0, more_query="x") == []


@given(matches=st.lists(st.tuples(papers, st.lists(any_text, max_size=50)), max_size=25),
       more=st.integers(0, 10**6), more_query=st.one_of(st.none(), any_text))
@SLOW
def test_alerts_within_limits_for_any_input(matches: list[tuple[Paper, list[str]]], more: int,
                                            more_query: str | None) -> None:
    messages = alert_messages(matches, more=more, more_query=more_query)
    for message in messages:
        assert_within_limits(message)
    markdown = all_markdown(messages)
    assert_no_mentions(markdown)
    assert len([url for url in masked_links(markdown) if "huggingface.co/papers/" in url]) == len(matches)
    assert_plain_urls(masked_links(markdown))
    if more > 0:
        last = messages[-1].embeds[-1].description or ""
        assert last.split("\n")[-1].startswith(f"…and {more:,} more")


# ---------------------------------------------------------------- status and validation


def test_status_embed_lists_keys_and_values() -> None:
    embed = status_embed({"Papers cached": "12,345", "Last scrape": "2026-06-12 09:00 UTC (ok)"})
    assert embed.title == "Paperboy status"
    assert [(f.name, f.value) for f in embed.fields] == [
        ("Papers cached", "12,345"), ("Last scrape", "2026-06-12 09:00 UTC (ok)")]


def test_status_embed_with_too_many_or_huge_values_stays_valid() -> None:
    many = {f"key {i} @everyone": "v" * 5000 for i in range(40)}
    embed = status_embed(many)
    assert_within_limits(MessagePayload(embeds=[embed]))
    assert embed.fields[-1].name == "More"
    shown = len(embed.fields) - 1
    assert embed.fields[-1].value == f"{40 - shown} more not shown"
    small = status_embed({f"k{i}": "v" for i in range(40)})
    assert len(small.fields) == 25
    assert small.fields[-1].value == "16 more not shown"
    assert status_embed({"empty": ""}).fields[0].value == "—"


def test_validate_payload_rejects_each_broken_limit() -> None:
    def embed(**kwargs: str) -> discord.Embed:
        return discord.Embed(**kwargs)

    bad = [
        MessagePayload(content="x" * 2001),
        MessagePayload(),
        MessagePayload(embeds=[embed(title="t")] * 11),
        MessagePayload(embeds=[embed(title="t" * 257)]),
        MessagePayload(embeds=[embed(description="d" * 4097)]),
        MessagePayload(embeds=[embed(description="d" * 4000), embed(description="d" * 2001)]),
        MessagePayload(embeds=[embed(title="t").add_field(name="n", value="v" * 1025)]),
        MessagePayload(embeds=[embed(title="t").add_field(name="n", value="")]),
        MessagePayload(embeds=[embed(title="t").set_footer(text="f" * 2049)]),
        MessagePayload(embeds=[embed(title="t").set_author(name="a" * 257)]),
        MessagePayload(embeds=[embed(title="t", url="javascript:alert(1)")]),
        MessagePayload(content="hi @everyone"),
        MessagePayload(content="hi <@123>"),
    ]
    too_many_fields = embed(title="t")
    for i in range(26):
        too_many_fields.add_field(name=str(i), value="v")
    bad.append(MessagePayload(embeds=[too_many_fields]))
    for payload in bad:
        with pytest.raises(PayloadError):
            validate_payload(payload)
    validate_payload(MessagePayload(content="fine", embeds=[embed(title="t", description="d" * 4096)]))


def test_embed_size_counts_the_limited_parts() -> None:
    embed = discord.Embed(title="ab", description="cde", url="https://huggingface.co")
    embed.add_field(name="f", value="gh").set_footer(text="ijkl").set_author(name="mn")
    assert embed_size(embed) == 2 + 3 + 1 + 2 + 4 + 2


def test_senders_get_no_mentions() -> None:
    assert NO_MENTIONS.everyone is False and NO_MENTIONS.users is False and NO_MENTIONS.roles is False
    assert NO_MENTIONS.replied_user is False


def test_terminal_text_has_no_control_characters() -> None:
    paper = make_paper(1, title="a\x1b]0;owned\x07b", summary="x\x1b[2Jy", authors=("\x1b[31mred",))
    text = paper_text(paper)
    assert not any(unicodedata.category(ch) == "Cc" and ch != "\n" for ch in text)
