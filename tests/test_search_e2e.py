"""/paper search · show · trending end to end through the loopback Discord."""

from __future__ import annotations

import datetime as dt
import gc
import re

import discord
import pytest

from bot.search import MERGED_AT_KEY
from tests.fakes.discord_records import RecordedMessage
from tests.fakes.harness import BotHarness, eventually, open_card, wait_until
from tests.fakes.hf_items import make_daily_item, paper_object

DAY = dt.date(2026, 6, 12)


async def serve_corpus(harness: BotHarness) -> None:
    items = [
        make_daily_item(
            f"2606.{i:05d}",
            f"Diffusion models for video number {i}",
            day=DAY,
            upvotes=i,
            authors=("Tri Dao", f"Author {i}"),
        )
        for i in range(25)
    ]
    items.append(
        make_daily_item(
            "2606.10000",
            "Mamba: Linear-Time Sequence Modeling with Selective State Spaces",
            day=DAY,
            upvotes=99,
            authors=("Albert Gu", "Tri Dao"),
        )
    )
    items.append(
        make_daily_item(
            "2606.10001", "A survey of @everyone **bold** [click](https://evil.example)", day=DAY, upvotes=1
        )
    )
    harness.hf.set_day(DAY, items)
    await harness.scrape()


async def test_search_results_are_private_and_page_for_the_searcher(harness: BotHarness) -> None:
    await serve_corpus(harness)
    result = await harness.discord.slash(
        "paper", "search", as_user=harness.member, channel=harness.channel, query="diffusion video", sort="top"
    )
    assert result.ephemeral and result.elapsed is not None and result.elapsed < 3
    assert harness.discord.messages_in(harness.channel) == []  # nothing in front of everyone
    first = result.message
    assert first is not None
    assert "page 1/3" in first.text and "25 results" in first.text
    assert "number 24" in first.text and "number 14" not in first.text  # top: most upvoted first
    assert {"search:previous", "search:next", "search:open", "paper:post:2606.00024"} <= set(first.custom_ids)
    assert first.component("search:previous")["disabled"] is True
    assert first.component("paper:post:2606.00024")["label"] == "Post #1 to channel"

    await harness.discord.click(first, "search:next", as_user=harness.member)
    assert "page 2/3" in first.text and "number 14" in first.text and "number 24" not in first.text
    assert first.component("paper:post:2606.00014")["label"] == "Post #11 to channel"  # this page's first
    await harness.discord.click(first, "search:next", as_user=harness.member)
    assert "page 3/3" in first.text and first.component("search:next")["disabled"] is True
    await harness.discord.click(first, "search:previous", as_user=harness.member)
    assert "page 2/3" in first.text
    assert first.ephemeral and harness.discord.messages_in(harness.channel) == []


async def test_public_results_page_for_the_searcher_only(harness: BotHarness) -> None:
    await serve_corpus(harness)
    result = await harness.discord.slash(
        "paper",
        "search",
        as_user=harness.member,
        channel=harness.channel,
        query="diffusion video",
        sort="top",
        public=True,
    )
    first = result.message
    assert first is not None and not result.ephemeral
    assert harness.discord.messages_in(harness.channel) == [first]
    assert not any(custom_id.startswith("paper:post:") for custom_id in first.custom_ids)  # already public
    refused = await harness.discord.click(first, "search:next", as_user=harness.admin)
    assert refused.ephemeral and "Only the person who searched" in (refused.content or "")
    assert "page 1/3" in first.text
    await harness.discord.click(first, "search:next", as_user=harness.member)
    assert "page 2/3" in first.text


async def test_a_total_counted_only_within_the_ranking_window_shows_as_at_least(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    await serve_corpus(harness)
    monkeypatch.setattr("bot.search.answer.DENSE_WINDOW", 20)  # 25 papers match: more than the window
    result = await harness.discord.slash(
        "paper", "search", as_user=harness.member, channel=harness.channel, query="diffusion video"
    )
    assert result.message is not None
    assert "page 1/2" in result.message.text and "20+ results" in result.message.text
    exact = await harness.discord.slash(
        "paper", "search", as_user=harness.member, channel=harness.channel, query="mamba"
    )
    assert exact.message is not None and "1 result" in exact.message.text and "+" not in exact.message.text


async def test_the_running_bot_merges_the_search_index_once_a_day_after_a_scrape(harness: BotHarness) -> None:
    last_merge: str | None = None

    async def merged_again() -> bool:
        return await harness.store.get_meta(MERGED_AT_KEY) not in (None, last_merge)

    await serve_corpus(harness)
    await eventually(merged_again, what="the first merge")
    last_merge = await harness.store.get_meta(MERGED_AT_KEY)
    harness.hf.set_day(DAY, [make_daily_item("2606.20000", "A paper stored after the merge", day=DAY)])
    await harness.scrape()  # the same day: no second merge, so the new paper's b-tree stays apart
    assert not await merged_again()

    harness.clock.advance(dt.timedelta(days=1))
    await harness.scrape()
    await eventually(merged_again, what="the next day's merge")
    assert await harness.store.merge_search_index(10, start=True) is False  # in one piece again
    found = await harness.discord.slash(
        "paper", "search", as_user=harness.member, channel=harness.channel, query="stored after the merge"
    )
    assert found.message is not None and "A paper stored after the merge" in found.message.text


async def test_a_result_opens_as_a_card(harness: BotHarness) -> None:
    await serve_corpus(harness)
    result = await harness.discord.slash(
        "paper", "search", as_user=harness.member, channel=harness.channel, query="mamba"
    )
    assert result.message is not None and "Mamba" in result.message.text
    card = await open_card(harness.discord, result.message, "search:open", "2606.10000", as_user=harness.member)
    assert card.ephemeral
    embed = card.embeds[0]
    assert embed["title"].startswith("Mamba") and embed["url"] == "https://huggingface.co/papers/2606.10000"
    assert "Albert Gu" in card.text
    links = {c["label"]: c["url"] for c in card.walk_components() if c.get("style") == 5}
    assert links["arXiv"] == "https://arxiv.org/abs/2606.10000" and links["PDF"].startswith("https://arxiv.org/pdf/")
    assert "](https://arxiv.org" not in card.text  # the links are buttons, not a line of text

    public = await harness.discord.slash(
        "paper", "search", as_user=harness.member, channel=harness.channel, query="mamba selective", public=True
    )
    assert public.message is not None and not public.ephemeral
    opened = await harness.discord.select(public.message, "search:open", ["2606.10000"], as_user=harness.admin)
    assert opened.ephemeral and opened.embeds[0]["title"].startswith("Mamba")  # anyone opens it, privately


async def test_typo_in_a_title_still_finds_the_paper_first(harness: BotHarness) -> None:
    await serve_corpus(harness)
    result = await harness.discord.slash(
        "paper", "search", as_user=harness.member, channel=harness.channel, query="mamba linear tme sequence modelling"
    )
    assert result.message is not None
    assert result.message.text.index("Mamba") < result.message.text.find("Diffusion") or "Diffusion" not in (
        result.message.text
    )


@pytest.mark.parametrize(
    ("query", "needle"),
    [
        ('"unclosed phrase', "quote"),
        ("(diffusion OR video", "add a )"),
        ("upvotes:>=many", "upvotes"),
        ("day:2026-13-45", "day"),
        ("code:maybe", "code"),
        ("OR", "OR"),
        ("a " * 40, "at most 20"),
        ("auther:dao", "did you mean author:?"),
    ],
)
async def test_bad_queries_get_an_ephemeral_hint(harness: BotHarness, query: str, needle: str) -> None:
    result = await harness.discord.slash(
        "paper", "search", as_user=harness.member, channel=harness.channel, query=query.strip()
    )
    assert result.ephemeral
    text = result.content or ""
    assert needle.lower() in text.lower() and re.search(r"\(character \d+\)\.\n```\n", text), text
    assert text.count("```") == 2 and "^" in text
    assert "Traceback" not in text and " at 0" not in text


async def test_no_results_and_bad_since_are_explained(harness: BotHarness) -> None:
    await serve_corpus(harness)
    none = await harness.discord.slash(
        "paper", "search", as_user=harness.member, channel=harness.channel, query="quantum gravity"
    )
    assert none.ephemeral and "No cached papers match" in (none.content or "")
    bad = await harness.discord.slash(
        "paper", "search", as_user=harness.member, channel=harness.channel, query="diffusion", since="yesterday"
    )
    assert bad.ephemeral and "2026-06-12" in (bad.content or "")
    later = await harness.discord.slash(
        "paper", "search", as_user=harness.member, channel=harness.channel, query="diffusion", since="2026-06-13"
    )
    assert later.ephemeral and "No cached papers match" in (later.content or "")


async def test_show_autocomplete_and_card(harness: BotHarness) -> None:
    await serve_corpus(harness)
    choices = await harness.discord.autocomplete(
        "paper", "show", focused="paper", value="mamb", as_user=harness.member, channel=harness.channel
    )
    assert choices and choices[0]["value"] == "2606.10000"
    assert all(len(c["name"]) <= 100 for c in choices) and len(choices) <= 25
    many = await harness.discord.autocomplete(
        "paper", "show", focused="paper", value="diffusion", as_user=harness.member, channel=harness.channel
    )
    assert 1 <= len(many) <= 25
    by_id = await harness.discord.autocomplete(
        "paper", "show", focused="paper", value="2606.1000", as_user=harness.member, channel=harness.channel
    )
    assert "2606.10000" in [c["value"] for c in by_id]

    shown = await harness.discord.slash(
        "paper", "show", as_user=harness.member, channel=harness.channel, paper="https://arxiv.org/abs/2606.10000v2"
    )
    assert shown.embeds and shown.embeds[0]["title"].startswith("Mamba")
    titled = await harness.discord.slash(
        "paper", "show", as_user=harness.member, channel=harness.channel, paper="mamba selective state spaces"
    )
    assert titled.embeds and titled.embeds[0]["title"].startswith("Mamba")


async def test_show_fetches_an_uncached_paper_and_explains_unknown_ones(harness: BotHarness) -> None:
    item = make_daily_item("2405.12345", "A paper from last year", day=dt.date(2024, 5, 20), upvotes=7)
    harness.hf.add_paper(paper_object(item))
    fetched = await harness.discord.slash(
        "paper", "show", as_user=harness.member, channel=harness.channel, paper="2405.12345"
    )
    await wait_until(lambda: bool(fetched.embeds), what="the card")
    assert fetched.embeds[0]["title"] == "A paper from last year"
    assert await harness.store.get_paper("2405.12345") is not None
    # The fetch deferred privately, so the card is private: it offers to post itself to the channel.
    assert fetched.ephemeral and fetched.message is not None
    await harness.discord.click(fetched.message, "paper:post:2405.12345", as_user=harness.member)
    (posted,) = harness.discord.messages_in(harness.channel)
    assert posted.embeds[0]["title"] == "A paper from last year" and "paper:post:2405.12345" not in posted.custom_ids
    unknown = await harness.discord.slash(
        "paper", "show", as_user=harness.member, channel=harness.channel, paper="2401.99999"
    )
    await wait_until(lambda: "No paper found" in unknown.text, what="the refusal")
    assert unknown.ephemeral, "the refusal must be private: a public deferral cannot turn ephemeral"


async def test_hostile_paper_text_does_not_ping_or_inject(harness: BotHarness) -> None:
    await serve_corpus(harness)
    result = await harness.discord.slash(
        "paper", "search", as_user=harness.member, channel=harness.channel, query="survey"
    )
    assert result.message is not None
    assert not result.message.pings.anyone
    assert "](https://evil.example)" not in result.message.text


async def test_trending_periods(harness: BotHarness) -> None:
    await serve_corpus(harness)
    day = await harness.discord.slash("paper", "trending", as_user=harness.member, channel=harness.channel)
    assert day.message is not None and not day.ephemeral
    assert day.embeds[0]["title"] == "Top 10 of the day · Fri 12 Jun 2026", day.embeds[0]["title"]
    assert day.message.text.index("Mamba") < day.message.text.index("number 24")
    week = await harness.discord.slash(
        "paper", "trending", as_user=harness.member, channel=harness.channel, period="week"
    )
    assert week.message is not None and "of the week" in week.embeds[0]["title"]
    assert "page" not in week.message.text


async def three_pages_of_results(harness: BotHarness) -> RecordedMessage:
    """The member's private results for "diffusion video", most upvoted first: 25 papers on three pages."""
    await serve_corpus(harness)
    result = await harness.discord.slash(
        "paper", "search", as_user=harness.member, channel=harness.channel, query="diffusion video", sort="top"
    )
    assert result.message is not None and "page 1/3" in result.message.text
    return result.message


async def test_results_controls_after_a_restart(harness: BotHarness) -> None:
    results = await three_pages_of_results(harness)
    await harness.restart()

    # The menu and "Post" name their papers in their custom ids: they work on results from before the restart.
    card = await open_card(harness.discord, results, "search:open", "2606.00022", as_user=harness.member)
    assert card.ephemeral and card.embeds[0]["title"] == "Diffusion models for video number 22"
    assert results.component("paper:post:2606.00022")["label"] == "Post #3 to channel"
    posted = await harness.discord.click(results, "paper:post:2606.00022", as_user=harness.member)
    assert not posted.ephemeral and posted.embeds[0]["title"] == "Diffusion models for video number 22"

    # Turning the page needs the search itself, which the new process does not hold: it says what to do.
    turned = await harness.discord.click(results, "search:next", as_user=harness.member)
    assert turned.ephemeral and "run `/paper search` again" in turned.text
    assert "page 1/3" in results.text and "number 24" in results.text  # the results are unchanged


async def test_only_the_latest_searches_can_turn_pages(harness: BotHarness) -> None:
    await serve_corpus(harness)
    cog = harness.running.get_cog("SearchCog")
    cog.pages.limit = 2  # type: ignore[union-attr]
    answers = []
    for query in ("diffusion video", "diffusion models", "video number"):
        answer = await harness.discord.slash(
            "paper", "search", as_user=harness.member, channel=harness.channel, query=query
        )
        assert answer.message is not None and "page 1/3" in answer.message.text
        answers.append(answer.message)
    oldest, *latest = answers
    forgotten = await harness.discord.click(oldest, "search:next", as_user=harness.member)
    assert forgotten.ephemeral and "no longer holds" in forgotten.text and "page 1/3" in oldest.text
    for message in latest:
        await harness.discord.click(message, "search:next", as_user=harness.member)
        assert "page 2/3" in message.text


async def test_turning_past_results_that_left_the_cache_shows_the_last_page(harness: BotHarness) -> None:
    results = await three_pages_of_results(harness)
    await harness.discord.click(results, "search:next", as_user=harness.member)
    assert "page 2/3" in results.text
    for number in range(10):  # 25 matches become 15: page 3 no longer exists
        assert await harness.store.delete_paper(f"2606.{number:05d}")
    await harness.discord.click(results, "search:next", as_user=harness.member)
    assert "page 2/2" in results.text and "15 results" in results.text
    assert results.component("search:next")["disabled"] is True
    for number in range(10, 25):  # none is left
        assert await harness.store.delete_paper(f"2606.{number:05d}")
    gone = await harness.discord.click(results, "search:previous", as_user=harness.member)
    assert gone.ephemeral and "None of these papers are cached any more" in gone.text
    assert "page 2/2" in results.text  # unchanged


async def test_answered_searches_keep_no_view_alive(harness: BotHarness) -> None:
    await serve_corpus(harness)
    for public in (False, True):
        answer = await harness.discord.slash(
            "paper", "search", as_user=harness.member, channel=harness.channel, query="diffusion", public=public
        )
        assert answer.message is not None
        await harness.discord.click(answer.message, "search:next", as_user=harness.member)
        assert "page 2/3" in answer.message.text
        first = answer.message.component("search:open")["options"][0]["value"]
        await open_card(harness.discord, answer.message, "search:open", first, as_user=harness.member)
    trending = await harness.discord.slash("paper", "trending", as_user=harness.member, channel=harness.channel)
    assert trending.message is not None

    # Every control is dispatched by its custom id: once the commands return, no view is left in memory.
    def views_alive() -> int:
        gc.collect()
        return sum(isinstance(found, discord.ui.View) for found in gc.get_objects())

    await wait_until(lambda: views_alive() == 0, what="no view left alive")


async def test_since_combines_with_the_query_filters(harness: BotHarness) -> None:
    await serve_corpus(harness)
    result = await harness.discord.slash(
        "paper",
        "search",
        as_user=harness.member,
        channel=harness.channel,
        query="diffusion upvotes:>=20",
        since="2026-06-01",
        sort="top",
    )
    assert result.message is not None and result.ephemeral
    assert "5 results" in result.message.text and "number 24" in result.message.text
    assert "number 19" not in result.message.text
