"""/paper similar and /paper cite end to end: private answers, a card menu, autocomplete, BibTeX in a code block."""

from __future__ import annotations

import datetime as dt

from tests.fakes.harness import BotHarness
from tests.fakes.hf_items import make_daily_item

DAY = dt.date(2026, 6, 12)
NEXT_DAY = dt.date(2026, 6, 13)  # the harness scrapes yesterday and today

DIFFUSION = "Video diffusion models denoise latent video frames with temporal attention for video generation."
ROBOTS = "Robot manipulation policies learn grasping from teleoperated demonstrations on real robot arms."


async def serve_topics(harness: BotHarness) -> None:
    items = [
        make_daily_item("2606.40001", "Latent Video Diffusion at Scale", day=DAY, upvotes=50, summary=DIFFUSION),
        make_daily_item(
            "2606.40002",
            "Temporal Attention for Video Diffusion",
            day=DAY,
            upvotes=20,
            summary=DIFFUSION + " We study temporal consistency.",
        ),
        make_daily_item("2606.40003", "Grasping with Robot Arms", day=DAY, upvotes=30, summary=ROBOTS),
        make_daily_item(
            "2606.40004",
            "Dexterous Robot Manipulation",
            day=NEXT_DAY,
            upvotes=10,
            summary=ROBOTS + " Dexterous hands too.",
        ),
        make_daily_item(
            "2606.40005",
            "A {Braced} Title & 100% Escapes",
            day=NEXT_DAY,
            upvotes=5,
            authors=["Ada Lovelace", "José Núñez"],
            summary="Nothing in common with anything else.",
        ),
    ]
    harness.hf.set_day(DAY, items[:3])
    harness.hf.set_day(NEXT_DAY, items[3:])
    await harness.scrape()


async def test_similar_lists_the_same_topic_privately_with_a_card_menu(harness: BotHarness) -> None:
    await serve_topics(harness)
    result = await harness.discord.slash(
        "paper", "similar", as_user=harness.member, channel=harness.channel, paper="2606.40001"
    )
    listing = await result.wait_final()
    assert result.ephemeral
    embed = listing.embeds[0]
    assert embed["title"] == "Similar to: Latent Video Diffusion at Scale"
    description = embed["description"]
    assert "Temporal Attention for Video Diffusion" in description
    assert "Latent Video Diffusion at Scale" not in description  # never the paper itself
    if "Robot" in description:  # another topic may follow, never lead
        assert description.index("Temporal Attention") < description.index("Robot")
    menu = listing.component("similar:open")
    assert menu["options"][0]["value"] == "2606.40002"
    opened = await harness.discord.select(listing, "similar:open", ["2606.40002"], as_user=harness.member)
    assert opened.ephemeral and opened.embeds[0]["title"] == "Temporal Attention for Video Diffusion"
    assert any(c.startswith("paper:post:") for c in (opened.message.custom_ids if opened.message else []))
    assert harness.discord.messages_in(harness.channel) == []  # nothing posted for everyone


async def test_similar_autocompletes_titles_and_explains_unknown_papers(harness: BotHarness) -> None:
    await serve_topics(harness)
    choices = await harness.discord.autocomplete(
        "paper", "similar", focused="paper", value="dexterous robot", as_user=harness.member, channel=harness.channel
    )
    assert choices and choices[0]["value"] == "2606.40004"
    unknown = await harness.discord.slash(
        "paper", "similar", as_user=harness.member, channel=harness.channel, paper="2401.99999"
    )
    final = await unknown.wait_final()
    assert unknown.ephemeral and "No paper found" in final.text


async def test_a_paper_with_nothing_in_common_gets_a_plain_answer(harness: BotHarness) -> None:
    await serve_topics(harness)
    result = await harness.discord.slash(
        "paper", "similar", as_user=harness.member, channel=harness.channel, paper="2606.40005"
    )
    final = await result.wait_final()
    assert result.ephemeral
    assert "No cached paper is close enough" in final.embeds[0]["description"]
    assert not final.components


async def test_cite_answers_privately_with_an_escaped_bibtex_block(harness: BotHarness) -> None:
    await serve_topics(harness)
    result = await harness.discord.slash(
        "paper", "cite", as_user=harness.member, channel=harness.channel, paper="2606.40005"
    )
    final = await result.wait_final()
    assert result.ephemeral
    text = final.content
    assert text.startswith("```bibtex\n@misc{") and text.endswith("\n```")
    assert "eprint = {2606.40005}" in text and "archivePrefix = {arXiv}" in text
    assert "Lovelace, Ada and Núñez, José" in text
    assert "\\&" in text and "100\\%" in text and "\\textbraceleft{}" in text
    assert final.pings.anyone is False
