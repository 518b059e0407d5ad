"""The reading list end to end: Save, Similar and Cite on cards (across a restart) and /paper saved."""

from __future__ import annotations

import dataclasses
import datetime as dt

from bot.bibtex import bibtex_file
from bot.models import Paper
from tests.fakes.discord_records import RecordedMessage
from tests.fakes.harness import BotHarness
from tests.fakes.hf_items import make_daily_item

DAY = dt.date(2026, 6, 12)
NEXT_DAY = dt.date(2026, 6, 13)  # the harness scrapes yesterday and today
DIFFUSION = "Video diffusion models denoise latent video frames with temporal attention for video generation."
ROBOTS = "Robot manipulation policies learn grasping from teleoperated demonstrations on real robot arms."


async def serve_topics(harness: BotHarness) -> None:
    items = [
        make_daily_item("2606.50001", "Latent Video Diffusion at Scale", day=DAY, upvotes=50, summary=DIFFUSION),
        make_daily_item("2606.50002", "Temporal Attention for Video Diffusion", day=DAY, upvotes=20,
                        summary=DIFFUSION + " We study temporal consistency."),
        make_daily_item("2606.50003", "Grasping with Robot Arms", day=DAY, upvotes=30, summary=ROBOTS),
        make_daily_item("2606.50004", "Dexterous Robot Manipulation", day=NEXT_DAY, upvotes=10,
                        summary=ROBOTS + " Dexterous hands too."),
    ]  # fmt: skip
    harness.hf.set_day(DAY, items[:3])
    harness.hf.set_day(NEXT_DAY, items[3:])
    await harness.scrape()


async def show_card(harness: BotHarness, paper_id: str) -> RecordedMessage:
    shown = await harness.discord.slash("paper", "show", as_user=harness.member, channel=harness.channel,
                                        paper=paper_id)  # fmt: skip
    assert shown.message is not None and not shown.ephemeral
    return shown.message


async def saved_ids(harness: BotHarness, member_id: int) -> list[str]:
    return [p.id for p in await harness.store.saved_papers(member_id, limit=1000)]


async def test_save_from_a_card_is_private_idempotent_and_per_member(harness: BotHarness) -> None:
    await serve_topics(harness)
    card = await show_card(harness, "2606.50001")
    assert card.custom_ids[-3:] == ["paper:save:2606.50001", "paper:similar:2606.50001", "paper:cite:2606.50001"]
    saved = await harness.discord.click(card, "paper:save:2606.50001", as_user=harness.admin)
    assert saved.ephemeral and "Saved **Latent Video Diffusion at Scale**" in saved.text
    again = await harness.discord.click(card, "paper:save:2606.50001", as_user=harness.admin)
    assert again.ephemeral and "already on your reading list" in again.text
    assert await saved_ids(harness, harness.admin.id) == ["2606.50001"]
    assert await saved_ids(harness, harness.member.id) == []  # saving is for whoever clicked
    assert harness.discord.messages_in(harness.channel) == [card]  # nothing new in public


async def test_similar_and_cite_buttons_answer_privately_after_a_restart(harness: BotHarness) -> None:
    await serve_topics(harness)
    card = await show_card(harness, "2606.50001")
    await harness.restart()
    similar = await harness.discord.click(card, "paper:similar:2606.50001", as_user=harness.admin)
    listing = await similar.wait_final()
    assert similar.ephemeral and listing.embeds[0]["title"] == "Similar to: Latent Video Diffusion at Scale"
    assert listing.component("similar:open")["options"][0]["value"] == "2606.50002"
    opened = await harness.discord.select(listing, "similar:open", ["2606.50002"], as_user=harness.admin)
    assert opened.ephemeral and opened.embeds[0]["title"] == "Temporal Attention for Video Diffusion"
    cite = await harness.discord.click(card, "paper:cite:2606.50001", as_user=harness.admin)
    entry = await cite.wait_final()
    assert cite.ephemeral and entry.content.startswith("```bibtex\n@misc{")
    assert "eprint = {2606.50001}" in entry.content
    saved = await harness.discord.click(card, "paper:save:2606.50001", as_user=harness.admin)
    assert saved.ephemeral and "Saved" in saved.text
    assert harness.discord.messages_in(harness.channel) == [card]


async def test_saved_lists_pages_removes_and_stays_private(harness: BotHarness) -> None:
    await serve_topics(harness)
    stored = await harness.store.get_paper("2606.50001")
    assert stored is not None
    extra = [dataclasses.replace(stored, id=f"2606.6{n:04d}", title=f"Reading list paper {n}") for n in range(1, 11)]
    await harness.store.upsert_papers(extra, day=DAY)
    for paper in extra:  # saved in order: the last saved comes first
        assert await harness.store.save_paper(harness.member.id, paper.id, limit=500)
    await harness.store.save_paper(harness.admin.id, "2606.50003", limit=500)
    card = await show_card(harness, "2606.50004")
    await harness.discord.click(card, "paper:save:2606.50004", as_user=harness.member)

    result = await harness.discord.slash("paper", "saved", as_user=harness.member, channel=harness.channel)
    page = result.message
    assert result.ephemeral and page is not None
    assert page.embeds[0]["title"] == "Your reading list"
    assert page.embeds[0]["footer"]["text"] == "page 1/2 · 11 papers saved"
    assert "Dexterous Robot Manipulation" in page.text and "Grasping" not in page.text  # not another's list
    assert page.custom_ids == ["saved:remove", "saved:previous", "saved:next"]
    assert page.component("saved:previous")["disabled"] is True
    assert page.component("saved:remove")["options"][0]["value"] == "2606.50004"
    turned = await harness.discord.click(page, "saved:next", as_user=harness.member)
    assert turned.message is not None and "Reading list paper 1" in turned.text
    shown = turned.message.component("saved:remove")["options"]
    assert [(o["label"], o["value"]) for o in shown] == [("11. Reading list paper 1", "2606.60001")]
    removed = await harness.discord.select(page, "saved:remove", ["2606.60001"], as_user=harness.member)
    assert removed.message is not None
    assert removed.message.embeds[0]["footer"]["text"] == "10 papers saved"  # one page: no paging buttons
    assert removed.message.custom_ids == ["saved:remove"]
    assert "2606.60001" not in await saved_ids(harness, harness.member.id)

    theirs = await harness.discord.slash("paper", "saved", as_user=harness.admin, channel=harness.channel)
    assert theirs.ephemeral and "Grasping with Robot Arms" in theirs.text
    assert "Dexterous" not in theirs.text and theirs.embeds[0]["footer"]["text"] == "1 paper saved"


async def test_export_attaches_the_whole_list_as_bibtex(harness: BotHarness) -> None:
    await serve_topics(harness)
    for paper_id in ("2606.50002", "2606.50004"):
        await harness.store.save_paper(harness.member.id, paper_id, limit=500)
    result = await harness.discord.slash("paper", "saved", as_user=harness.member, channel=harness.channel,
                                         export=True)  # fmt: skip
    assert result.ephemeral and result.message is not None
    [attachment] = result.message.attachments
    papers = [p for p in [await harness.store.get_paper(i) for i in ("2606.50004", "2606.50002")] if p]
    expected = bibtex_file(papers)
    assert "2606.50004" in expected.split("@misc")[1] and "2606.50002" in expected.split("@misc")[2]
    assert attachment["filename"] == "reading-list.bib" and attachment["size"] == len(expected.encode())
    empty = await harness.discord.slash("paper", "saved", as_user=harness.admin, channel=harness.channel,
                                        export=True)  # fmt: skip
    assert empty.message is not None and empty.message.attachments == [] and empty.message.custom_ids == []
    assert "Nothing saved yet" in empty.text


async def test_clear_asks_first_and_empties_only_the_own_list(harness: BotHarness) -> None:
    await serve_topics(harness)
    for member in (harness.member, harness.admin):
        await harness.store.save_paper(member.id, "2606.50001", limit=500)
    asked = await harness.discord.slash("paper", "saved", as_user=harness.member, channel=harness.channel,
                                        clear=True)  # fmt: skip
    assert asked.ephemeral and asked.message is not None and "Remove all 1 papers" in asked.text
    kept = await harness.discord.click(asked.message, "saved:keep", as_user=harness.member)
    assert kept.message is not None and "unchanged" in kept.text
    assert await saved_ids(harness, harness.member.id) == ["2606.50001"]
    asked = await harness.discord.slash("paper", "saved", as_user=harness.member, channel=harness.channel,
                                        clear=True)  # fmt: skip
    assert asked.message is not None
    cleared = await harness.discord.click(asked.message, "saved:clear", as_user=harness.member)
    assert cleared.message is not None and "Cleared your reading list (1 removed)" in cleared.text
    assert await saved_ids(harness, harness.member.id) == []
    assert await saved_ids(harness, harness.admin.id) == ["2606.50001"]


async def test_the_bound_is_explained_at_500_papers(harness: BotHarness) -> None:
    await serve_topics(harness)
    stored = await harness.store.get_paper("2606.50002")
    assert stored is not None
    many: list[Paper] = [dataclasses.replace(stored, id=f"2606.7{n:04d}") for n in range(500)]
    await harness.store.upsert_papers(many, day=DAY)
    for paper in many:
        await harness.store.save_paper(harness.member.id, paper.id, limit=500)
    card = await show_card(harness, "2606.50001")
    full = await harness.discord.click(card, "paper:save:2606.50001", as_user=harness.member)
    assert full.ephemeral and "Your reading list is full (500 papers)" in full.text
    assert await harness.store.saved_count(harness.member.id) == 500
    again = await harness.discord.click(card, "paper:save:2606.50001", as_user=harness.admin)
    assert "Saved" in again.text  # the bound is per member


async def post_digest(harness: BotHarness, style: str) -> list[RecordedMessage]:
    await harness.discord.slash("digest", "set", as_user=harness.admin, channel=harness.channel, time="09:00",
                                timezone="UTC", style=style)  # fmt: skip
    await harness.discord.slash("digest", "now", as_user=harness.admin, channel=harness.channel)
    return await harness.discord.wait_for_messages(harness.channel, 1)


async def test_a_cards_digest_has_a_save_button_per_card_that_outlives_a_restart(harness: BotHarness) -> None:
    await serve_topics(harness)
    (digest,) = await post_digest(harness, "cards")
    ids = [c for c in digest.custom_ids if c.startswith("paper:save:")]
    assert len(ids) == len(digest.embeds) >= 2
    assert digest.component(ids[0])["label"] == "Save 1"
    await harness.restart()
    saved = await harness.discord.click(digest, ids[1], as_user=harness.member)
    assert saved.ephemeral and "Saved **" in saved.text
    assert await saved_ids(harness, harness.member.id) == [ids[1].removeprefix("paper:save:")]


async def test_a_compact_digest_offers_a_save_menu_that_outlives_a_restart(harness: BotHarness) -> None:
    await serve_topics(harness)
    (digest,) = await post_digest(harness, "compact")
    menu = digest.component("digest:save")
    assert menu["placeholder"] == "Save a paper…" and menu["options"][0]["label"].startswith("1. ")
    first = menu["options"][0]["value"]
    await harness.restart()
    saved = await harness.discord.select(digest, "digest:save", [first], as_user=harness.member)
    assert saved.ephemeral and "Saved **" in saved.text
    again = await harness.discord.select(digest, "digest:save", [first], as_user=harness.member)
    assert "already on your reading list" in again.text
    assert await saved_ids(harness, harness.member.id) == [first]
    assert await saved_ids(harness, harness.admin.id) == []
