"""Cards and lists end to end: link buttons, "Full abstract" across a restart, "Post to channel", menus, errors."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.fakes.discord_records import RecordedMessage
from tests.fakes.harness import BotHarness, open_card
from tests.fakes.hf_items import make_daily_item

DAY = dt.date(2026, 6, 12)
NEXT_DAY = dt.date(2026, 6, 13)  # the harness scrapes yesterday and today
LINK_STYLE = 5
LONG_ABSTRACT = (
    " ".join(f"Sentence number {i} explains one more part of the method in some detail." for i in range(1, 31))
    + " The final sentence is the one only the full abstract shows."
)
LONG_TITLE = " ".join(["Scalable"] + ["sparse mixture of experts routing"] * 6)


async def serve_papers(harness: BotHarness) -> None:
    items = [
        make_daily_item(
            "2606.30001",
            "Mamba: Linear-Time Sequence Modeling",
            day=DAY,
            upvotes=99,
            summary=LONG_ABSTRACT,
            github_repo="https://github.com/state-spaces/mamba",
            github_stars=12000,
            project_page="https://mamba.example.org",
        ),
        make_daily_item("2606.30002", "Mamba two: state space duality", day=DAY, upvotes=40),
        make_daily_item(
            "2606.30003", LONG_TITLE, day=DAY, upvotes=7, organization=("bigorg", "A Very Long Organisation Name " * 5)
        ),
        make_daily_item("2606.30004", "Mamba meets vision transformers", day=NEXT_DAY, upvotes=12),
    ]
    harness.hf.set_day(DAY, items[:3])
    harness.hf.set_day(NEXT_DAY, items[3:])
    await harness.scrape()


def link_buttons(message: RecordedMessage) -> dict[str, str]:
    return {c["label"]: c["url"] for c in message.walk_components() if c.get("style") == LINK_STYLE}


def options(message: RecordedMessage, custom_id: str) -> list[dict[str, Any]]:
    return list(message.component(custom_id)["options"])


async def test_a_single_page_has_no_paging_buttons_and_no_page_footer(harness: BotHarness) -> None:
    await serve_papers(harness)
    result = await harness.discord.slash(
        "paper", "search", as_user=harness.member, channel=harness.channel, query="duality"
    )
    page = result.message
    assert page is not None and "Mamba two" in page.text
    assert "search:previous" not in page.custom_ids and "search:next" not in page.custom_ids
    assert page.embeds[0]["footer"]["text"] == "1 result"
    assert page.custom_ids == ["search:open", "paper:post:2606.30002"]  # the menu first, then what Post posts


async def test_menu_options_have_short_descriptions_and_labels_cut_between_words(harness: BotHarness) -> None:
    await serve_papers(harness)
    result = await harness.discord.slash(
        "paper",
        "search",
        as_user=harness.member,
        channel=harness.channel,
        query="sparse experts routing OR mamba",
        sort="top",
    )
    assert result.message is not None
    shown = options(result.message, "search:open")
    assert [o["value"] for o in shown] == ["2606.30001", "2606.30002", "2606.30004", "2606.30003"]
    for option in shown:
        assert 1 <= len(option["label"]) <= 100 and 1 <= len(option.get("description") or "") <= 100
    assert shown[0]["label"] == "1. Mamba: Linear-Time Sequence Modeling"
    assert shown[0]["description"].startswith("▲ 99 · 12 Jun 2026 · code ★ 12")
    long = shown[3]
    assert long["label"].startswith("4. Scalable sparse") and long["label"].endswith("…")
    kept = long["label"].removeprefix("4. ").removesuffix("…").rstrip()
    assert LONG_TITLE.startswith(kept) and LONG_TITLE[len(kept)] == " "  # cut between words
    described = long["description"]
    assert described.endswith("…") and "A Very Long Organisation Name A Very" in described
    assert (described.removesuffix("…").rstrip() + " ").startswith("▲ 7 · 12 Jun 2026 · A Very")


async def test_post_to_channel_posts_exactly_the_card_opened(harness: BotHarness) -> None:
    await serve_papers(harness)
    result = await harness.discord.slash(
        "paper", "search", as_user=harness.member, channel=harness.channel, query="mamba", sort="top"
    )
    results = result.message
    assert results is not None and result.ephemeral
    assert results.component("paper:post:2606.30001")["label"] == "Post #1 to channel"
    opened = await open_card(harness.discord, results, "search:open", "2606.30004", as_user=harness.member)
    assert opened.ephemeral and opened.embeds[0]["title"] == "Mamba meets vision transformers"
    assert "paper:post:2606.30004" in opened.custom_ids  # on the card too
    assert results.component("paper:post:2606.30004")["label"] == "Post #3 to channel"
    assert "paper:post:2606.30001" not in results.custom_ids
    assert harness.discord.messages_in(harness.channel) == []

    posted = await harness.discord.click(results, "paper:post:2606.30004", as_user=harness.member)
    assert not posted.ephemeral
    (card,) = harness.discord.messages_in(harness.channel)
    assert card is posted.message and not card.pings.anyone and card.allowed_mentions == {"parse": []}
    assert card.content == f"Shared by {harness.member.name}"  # who shared it, as plain text
    assert [embed["title"] for embed in card.embeds] == ["Mamba meets vision transformers"]
    assert link_buttons(card)["arXiv"] == "https://arxiv.org/abs/2606.30004"
    assert not any(custom_id.startswith("paper:post:") for custom_id in card.custom_ids)  # public already
    assert results.ephemeral and "Mamba two" in results.text  # the list stays private


async def test_post_to_channel_without_a_pick_posts_the_first_result(harness: BotHarness) -> None:
    await serve_papers(harness)
    result = await harness.discord.slash(
        "paper", "search", as_user=harness.member, channel=harness.channel, query="mamba", sort="top"
    )
    assert result.message is not None
    await harness.discord.click(result.message, "paper:post:2606.30001", as_user=harness.member)
    (card,) = harness.discord.messages_in(harness.channel)
    assert card.embeds[0]["title"] == "Mamba: Linear-Time Sequence Modeling"


async def test_public_search_keeps_todays_behaviour(harness: BotHarness) -> None:
    await serve_papers(harness)
    result = await harness.discord.slash(
        "paper", "search", as_user=harness.member, channel=harness.channel, query="mamba", public=True
    )
    assert result.message is not None and not result.ephemeral
    assert harness.discord.messages_in(harness.channel) == [result.message]
    assert result.message.custom_ids == ["search:open"]  # no Post button: it is public already
    command = next(c for c in harness.discord.synced_commands() if c["name"] == "paper")
    search = next(o for o in command["options"] if o["name"] == "search")
    public = next(o for o in search["options"] if o["name"] == "public")
    assert public["type"] == 5 and not public.get("required") and "only you" in public["description"]


async def test_a_paper_url_typed_into_search_opens_its_card(harness: BotHarness) -> None:
    await serve_papers(harness)
    for typed in ("https://huggingface.co/papers/2606.30001", "arxiv.org/abs/2606.30001v2", "2606.30001"):
        result = await harness.discord.slash(
            "paper", "search", as_user=harness.member, channel=harness.channel, query=typed
        )
        assert result.ephemeral and result.message is not None, typed
        (embed,) = result.embeds
        assert embed["title"] == "Mamba: Linear-Time Sequence Modeling" and "Search" not in embed["title"]
        links = ["Hugging Face", "arXiv", "PDF", "Code ★ 12k", "Project page"]
        assert list(link_buttons(result.message)) == links
        rows = [[c["label"] for c in row["components"]] for row in result.message.components]
        assert rows == [links, ["Full abstract", "Post to channel", "Save", "Similar", "Cite"]]  # links fill a row
    assert result.message is not None
    await harness.discord.click(result.message, "paper:post:2606.30001", as_user=harness.member)
    assert [m.embeds[0]["title"] for m in harness.discord.messages_in(harness.channel)] == [
        "Mamba: Linear-Time Sequence Modeling"
    ]
    public = await harness.discord.slash(
        "paper",
        "search",
        as_user=harness.member,
        channel=harness.channel,
        query="https://arxiv.org/pdf/2606.30002",
        public=True,
    )
    assert not public.ephemeral and public.embeds[0]["title"] == "Mamba two: state space duality"


async def test_full_abstract_button_works_on_a_card_posted_before_a_restart(harness: BotHarness) -> None:
    await serve_papers(harness)
    shown = await harness.discord.slash(
        "paper", "show", as_user=harness.member, channel=harness.channel, paper="2606.30001"
    )
    card = shown.message
    assert card is not None and not shown.ephemeral
    assert "only the full abstract shows" not in card.text  # the card keeps it short
    assert card.component("paper:abstract:2606.30001")["label"] == "Full abstract"
    short = await harness.discord.slash(
        "paper", "show", as_user=harness.member, channel=harness.channel, paper="2606.30002"
    )
    assert short.message is not None  # nothing more to show: no abstract button
    assert short.message.custom_ids == ["paper:save:2606.30002", "paper:similar:2606.30002", "paper:cite:2606.30002"]

    await harness.restart()
    answer = await harness.discord.click(card, "paper:abstract:2606.30001", as_user=harness.admin)
    assert answer.ephemeral and answer.message is not None
    texts = "\n".join(m.text for m in answer.messages)
    assert all(m.ephemeral for m in answer.messages)
    assert "Sentence number 1 explains" in texts
    assert "The final sentence is the one only the full abstract shows." in texts
    assert answer.embeds[0]["title"].startswith("Abstract: Mamba")
    assert harness.discord.messages_in(harness.channel) == [card, short.message]  # nothing new in public


async def test_trending_menu_numbers_match_the_list_and_open_cards(harness: BotHarness) -> None:
    await serve_papers(harness)
    result = await harness.discord.slash(
        "paper", "trending", as_user=harness.member, channel=harness.channel, period="week"
    )
    listing = result.message
    assert listing is not None and not result.ephemeral
    description = listing.embeds[0]["description"]
    shown = options(listing, "trending:open")
    assert len(shown) == 4
    for option in shown:
        number, title = option["label"].split(". ", 1)
        assert f"**{number}.** [{title.removesuffix('…').rstrip()}" in description, (option, description)
        assert len(option["label"]) <= 100 and len(option.get("description") or "") <= 100
    assert shown[0]["value"] == "2606.30004"  # the newer day comes first, as listed, though it has fewer upvotes
    opened = await harness.discord.select(listing, "trending:open", ["2606.30004"], as_user=harness.admin)
    assert opened.ephemeral and opened.embeds[0]["title"] == "Mamba meets vision transformers"
    assert opened.message is not None and link_buttons(opened.message)["arXiv"].endswith("2606.30004")
    assert not any(c.startswith("paper:post:") for c in opened.message.custom_ids)  # the list is public already


async def test_a_query_error_points_at_the_one_based_position(harness: BotHarness) -> None:
    await serve_papers(harness)
    result = await harness.discord.slash(
        "paper", "search", as_user=harness.member, channel=harness.channel, query='mamba "state space'
    )
    assert result.ephemeral
    text = result.content or ""
    sentence, block, hint = text.split("```")
    assert sentence.strip().endswith("(character 7).") and sentence.count("\n") == 1
    query_line, caret_line = block.strip("\n").split("\n")
    assert query_line == 'mamba "state space' and caret_line == "      ^"  # under the quote, column 7
    assert hint.strip() and "Traceback" not in text and " at 6" not in text
    assert harness.discord.messages_in(harness.channel) == []
