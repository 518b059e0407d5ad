"""Rendering text, cards and result lists: what users see, and Discord's limits under hostile input."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from bot.models import Paper
from bot.render import (
    MessagePayload,
    escape_text,
    paper_card,
    paper_links,
    paper_text,
    results_page,
    results_text,
)
from tests.render_checks import (
    SLOW,
    all_markdown,
    any_text,
    assert_no_mentions,
    assert_plain_urls,
    assert_within_limits,
    checked_markdown,
    make_paper,
    masked_links,
    papers,
    trusted_urls,
    visible,
)

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
    card = paper_card(paper, inline_links=False)
    data = card.to_dict()
    assert data["title"] == "Paper number 1: sparse attention for long video"
    assert data["url"] == "https://huggingface.co/papers/2606.00001"
    facts, summary = data["description"].split("\n\n")
    assert facts == "▲ 99 · 💬 2 · [code ★ 1.2k](https://github.com/owner/repo) · 📅 <t:1781265600:D>"
    assert summary == "Summary of paper 1."
    assert data["fields"] == [{"name": "Authors", "value": "Ada Lovelace, Alan Turing, Grace Hopper", "inline": False}]
    assert [(link.label, link.url) for link in paper_links(paper)] == [
        ("Hugging Face", "https://huggingface.co/papers/2606.00001"),
        ("arXiv", "https://arxiv.org/abs/2606.00001"),
        ("PDF", "https://arxiv.org/pdf/2606.00001"),
        ("Code ★ 1.2k", "https://github.com/owner/repo"),
        ("Project page", "https://project.example.org/page"),
    ]
    assert data["thumbnail"]["url"].endswith("2606.00001.png")
    assert data["footer"]["text"] == "arXiv 2606.00001"


def test_paper_card_shows_no_zero_counters_and_no_day_label() -> None:
    card = paper_card(
        make_paper(1, upvotes=0, num_comments=0, github_repo=None, project_page=None, day=None), inline_links=False
    )
    assert card.description == "Summary of paper 1."
    card = paper_card(make_paper(1, upvotes=0, num_comments=0, github_stars=0, organization="Org"), inline_links=False)
    assert card.description is not None
    assert card.description.split("\n")[0] == "[code](https://github.com/owner/repo) · Org · 📅 <t:1781265600:D>"
    assert "Day" not in str(card.to_dict())


def test_paper_card_falls_back_to_the_first_sentences_of_the_abstract() -> None:
    abstract = "First finding is here. " + "Second sentence goes on and on. " * 1000
    card = paper_card(make_paper(2, ai_summary=None, summary=abstract), inline_links=False)
    assert card.description is not None
    assert card.description.split("\n\n")[1] == "First finding is here. Second sentence goes on and on."
    long_sentence = "Word " * 200
    card = paper_card(make_paper(2, ai_summary=None, summary=long_sentence), inline_links=False)
    assert card.description is not None
    summary = card.description.split("\n\n")[1]
    assert summary.endswith("Word…") and len(summary) <= 350


def test_paper_card_with_thousands_of_authors_says_how_many_more() -> None:
    card = paper_card(make_paper(3, authors=tuple(f"Author {i}" for i in range(3000))))
    value = card.fields[0].value or ""
    match = re.fullmatch(r"(.*) \+(\d+) more", value)
    assert match is not None
    shown, more = match.groups()
    assert len(shown.split(", ")) + int(more) == 3000
    assert shown.startswith("Author 0, Author 1, Author 2")


def test_paper_card_drops_unsafe_links() -> None:
    paper = make_paper(
        4,
        github_repo="https://evil.example/owner/repo",
        project_page="javascript:alert(1)",
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
    card = paper_card(paper, inline_links=False)
    assert card.title == "(untitled)"
    assert card.description is None
    assert card.footer.text == "arXiv 2606.00007"
    assert_within_limits(MessagePayload(embeds=[card]))


@given(paper=papers)
@SLOW
def test_paper_card_within_limits_for_any_paper(paper: Paper) -> None:
    card = paper_card(paper, inline_links=True)
    markdown = checked_markdown([MessagePayload(embeds=[card])])
    assert all(len(link.label) <= 80 for link in paper_links(paper))
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
    assert embed.footer.text == "0 results"


def test_results_page_link_label_cannot_break_out() -> None:
    paper = make_paper(1, title="a](https://evil.example) [b")
    embed = results_page([paper], query="q", page=1, pages=1, total=1, start_index=1)
    assert embed.description is not None
    assert masked_links(embed.description) == [paper.url, "https://github.com/owner/repo"]


@given(found=st.lists(papers, max_size=60), query=any_text)
@SLOW
def test_results_page_within_limits(found: list[Paper], query: str) -> None:
    embed = results_page(found, query=query, page=1, pages=1, total=len(found), start_index=1)
    markdown = checked_markdown([MessagePayload(embeds=[embed])])
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
