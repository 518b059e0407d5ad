"""Rendering digests, alert posts and status: what channels see, within Discord's limits under hostile input."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

import discord
import pytest
from hypothesis import given
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
    paper_text,
    status_embed,
    validate_payload,
)
from tests.render_checks import (
    DAY,
    SLOW,
    all_markdown,
    any_text,
    assert_plain_urls,
    assert_within_limits,
    checked_markdown,
    make_paper,
    masked_links,
    papers,
)

# ---------------------------------------------------------------- digest


def test_compact_digest_header_and_lines() -> None:
    messages = digest_messages(
        [make_paper(1), make_paper(2)], day=DAY, total_that_day=30, style="compact", late_note=None
    )
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
    return make_paper(number, title=f"T{number} " + "**x** " * 300, ai_summary=f"S{number} " + "[y](z) " * 3000)


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


@given(
    found=st.lists(papers, max_size=30),
    style=st.sampled_from(["compact", "cards"]),
    late=st.one_of(st.none(), any_text),
    total=st.integers(0, 500),
)
@SLOW
def test_digest_within_limits_for_any_papers(found: list[Paper], style: str, late: str | None, total: int) -> None:
    messages = digest_messages(found, day=DAY, total_that_day=total, style=style, late_note=late)
    assert messages
    markdown = checked_markdown(messages)
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
    subscription = Subscription(
        id=7,
        guild_id=1,
        channel_id=2,
        query='"video diffusion"',
        normalized="x",
        created_by=3,
        created_at=dt.datetime(2026, 6, 1, tzinfo=dt.UTC),
    )
    messages = alert_messages(
        [(make_paper(1), [subscription, "llm agent"]), (make_paper(2), ["mamba"])], more=0, more_query=None
    )
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
    markdown = checked_markdown(messages)
    assert [url for url in masked_links(markdown) if "github" not in url] == [paper.url for paper, _ in matches]
    last = messages[-1].embeds[-1].description
    assert last is not None
    assert last.split("\n")[-1] == "…and 17 more: `/alerts test query:diffusion ˋxˋ @\u200bhere <\u200b@1>`"
    assert markdown.count("…and 17 more") == 1


def test_alert_more_line_alone() -> None:
    (message,) = alert_messages([], more=3, more_query=None)
    assert message.embeds[0].description == "…and 3 more."
    assert alert_messages([], more=0, more_query="x") == []


@given(
    matches=st.lists(st.tuples(papers, st.lists(any_text, max_size=50)), max_size=25),
    more=st.integers(0, 10**6),
    more_query=st.one_of(st.none(), any_text),
)
@SLOW
def test_alerts_within_limits_for_any_input(
    matches: list[tuple[Paper, list[str]]], more: int, more_query: str | None
) -> None:
    messages = alert_messages(matches, more=more, more_query=more_query)
    markdown = checked_markdown(messages)
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
        ("Papers cached", "12,345"),
        ("Last scrape", "2026-06-12 09:00 UTC (ok)"),
    ]


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


def test_status_values_keep_their_lines_each_escaped() -> None:
    processes = "host-a: shard 0 of 2, leader\nhost_b*: shard 1 of 2, follower"
    embed = status_embed({"Processes": processes})
    assert embed.fields[0].value == "host-a: shard 0 of 2, leader\nhost\\_b\\*: shard 1 of 2, follower"
    many = status_embed({"Processes": "\n".join(f"process {n}: " + "x" * 90 for n in range(40))})
    assert_within_limits(MessagePayload(embeds=[many]))
    many_value = many.fields[0].value
    assert many_value is not None
    lines = many_value.split("\n")
    assert 1 < len(lines) < 40 and all(line.startswith("process ") for line in lines)


def test_validate_payload_rejects_each_broken_limit() -> None:
    def embed(*, title: str | None = None, description: str | None = None, url: str | None = None) -> discord.Embed:
        return discord.Embed(title=title, description=description, url=url)

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
