"""Daily digest end to end: real bot, loopback Discord and Hugging Face, manual clock."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from bot.sources.huggingface import parse_daily_papers
from tests.fakes.discord_records import RecordedMessage
from tests.fakes.harness import BotHarness, eventually, wait_until
from tests.fakes.hf_items import load_fixture, make_daily_item

DAY = dt.date(2026, 6, 12)
UPVOTES = [12, 40, 3, 25, 7]


def serve_day(harness: BotHarness, day: dt.date = DAY, upvotes: list[int] = UPVOTES) -> list[dict[str, Any]]:
    items = [
        make_daily_item(
            f"2606.{i:05d}", f"Paper {i} on sparse routing", day=day, upvotes=u, ai_summary=f"Summary of paper {i}."
        )
        for i, u in enumerate(upvotes)
    ]
    harness.hf.set_day(day, items)
    return items


def at(hour: int, minute: int = 0, day: int = 13) -> dt.datetime:
    return dt.datetime(2026, 6, day, hour, minute, tzinfo=dt.UTC)


def stamps(moment: dt.datetime) -> str:
    """A moment as the bot shows it: Discord timestamps, the reader's own date and time, then how long until."""
    return f"<t:{int(moment.timestamp())}:f> (<t:{int(moment.timestamp())}:R>)"


def visible(markdown: str) -> str:
    """Text as a member sees it: link labels without URLs, no bold markers or escapes, timestamps as a date."""
    text = re.sub(r"\[([^\]]*)\]\((https?://[^)]*)\)", r"\1", markdown).replace("**", "")
    text = re.sub(r"<t:-?\d+:\w>", "4 Dec 2026", text)
    return re.sub(r"\\([^0-9A-Za-z\s])", r"\1", text).replace("\u200b", "")


def text_of(messages: list[RecordedMessage]) -> str:
    return "\n".join(m.text for m in messages)


async def set_digest(harness: BotHarness, **options: Any) -> Any:
    options.setdefault("time", "09:00")
    options.setdefault("timezone", "UTC")
    result = await harness.discord.slash("digest", "set", as_user=harness.admin, channel=harness.channel, **options)
    assert result.ephemeral, result.content
    return result


async def test_set_then_due_posts_once_with_the_right_papers(harness: BotHarness) -> None:
    serve_day(harness)
    result = await set_digest(harness, top=3)
    assert f"Next one: {stamps(at(9))}, papers of Fri 12 Jun 2026" in (result.content or "")
    harness.clock.set(at(9))
    (posted,) = await harness.discord.wait_for_messages(harness.channel, 1)
    shown = posted.text
    assert "2026-06-12" in shown and "Top 3 of 5" in shown
    assert shown.index("Paper 1 ") < shown.index("Paper 3 ") < shown.index("Paper 0 ")
    assert "Paper 4 " not in shown and "Paper 2 " not in shown
    assert posted.nonce and posted.allowed_mentions == {"parse": []}
    # Nothing more at the next wake-ups of the same day; the next day's digest comes the next morning.
    harness.clock.set(at(12))
    serve_day(harness, DAY + dt.timedelta(days=1), [1, 2])
    harness.clock.set(at(9, day=14))
    messages = await harness.discord.wait_for_messages(harness.channel, 2)
    assert len(messages) == 2 and "2026-06-13" in messages[1].text


async def test_restart_after_posting_does_not_post_again(harness: BotHarness) -> None:
    serve_day(harness)
    await set_digest(harness)
    harness.clock.set(at(9))
    await harness.discord.wait_for_messages(harness.channel, 1)
    await harness.restart()
    harness.clock.set(at(9, 30))
    await wait_until(lambda: harness.clock.sleepers != [], what="scheduler asleep again")
    assert len(harness.discord.messages_in(harness.channel)) == 1
    delivery = await harness.store.get_delivery(harness.channel.id, "digest", DAY.isoformat())
    assert delivery is not None and delivery.status == "sent"


@pytest.mark.parametrize("history_readable", [True, False])
async def test_crash_between_send_and_record_neither_duplicates_nor_loses(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch, history_readable: bool
) -> None:
    serve_day(harness)
    await set_digest(harness)
    store = harness.store
    original = store.record_part_sent

    async def crash(*args: Any, **kwargs: Any) -> None:
        raise SystemError("process died before recording the message id")

    monkeypatch.setattr(store, "record_part_sent", crash)
    harness.clock.set(at(9))
    await harness.discord.wait_for_messages(harness.channel, 1)
    await wait_until(lambda: harness.clock.sleepers != [], what="scheduler pass finished")
    open_ = await store.open_deliveries(["digest"])
    assert len(open_) == 1 and open_[0].attempts == 1
    monkeypatch.setattr(store, "record_part_sent", original)
    if not history_readable:
        # Without Read Message History the bot cannot look; the nonce must stop the duplicate.
        harness.discord.set_overwrite(
            harness.channel, harness.discord.bot_member(harness.guild), deny=["read_message_history"]
        )
    await harness.restart()

    async def sent() -> bool:
        delivery = await store.get_delivery(harness.channel.id, "digest", DAY.isoformat())
        return delivery is not None and delivery.status == "sent"

    await eventually(sent, what="the open digest to be finished")
    assert len(harness.discord.messages_in(harness.channel)) == 1


async def test_down_past_due_posts_late_with_a_note(harness: BotHarness) -> None:
    serve_day(harness)
    await set_digest(harness)
    await harness.stop_bot()
    harness.clock.set(at(11, 5))
    await harness.start_bot()
    (posted,) = await harness.discord.wait_for_messages(harness.channel, 1)
    assert "2 h 5 min late" in posted.text and "Paper 1 " in posted.text


async def test_down_past_grace_posts_one_missed_line(harness: BotHarness) -> None:
    serve_day(harness)
    await set_digest(harness)
    await harness.stop_bot()
    harness.clock.set(at(15, 30))
    await harness.start_bot()
    (posted,) = await harness.discord.wait_for_messages(harness.channel, 1)
    assert "was skipped" in posted.text and "grace window" in posted.text and not posted.embeds
    await harness.restart()
    harness.clock.set(at(16))
    await wait_until(lambda: harness.clock.sleepers != [], what="scheduler asleep again")
    assert len(harness.discord.messages_in(harness.channel)) == 1


async def test_member_without_manage_channels_is_refused(harness: BotHarness) -> None:
    result = await harness.discord.slash("digest", "set", as_user=harness.member, channel=harness.channel, time="09:00")
    assert result.ephemeral and "Manage Channels" in (result.content or "")
    assert await harness.store.list_digest_settings() == []


async def test_channel_of_another_guild_is_refused(harness: BotHarness) -> None:
    result = await harness.discord.slash(
        "digest", "set", as_user=harness.admin, channel=harness.channel, options={"channel": harness.foreign_channel}
    )
    assert result.ephemeral and "channel" in (result.content or "").lower()
    assert await harness.store.list_digest_settings() == []


@pytest.mark.parametrize(
    ("options", "needle"),
    [({"time": "25:00"}, "Time"), ({"timezone": "Mars/Olympus"}, "Time zone"), ({"time": "9am"}, "Time")],
)
async def test_bad_values_are_explained_and_change_nothing(
    harness: BotHarness, options: dict[str, str], needle: str
) -> None:
    result = await harness.discord.slash(
        "digest", "set", as_user=harness.admin, channel=harness.channel, options=options
    )
    assert result.ephemeral and needle in (result.content or "")
    assert await harness.store.list_digest_settings() == []


async def test_bot_without_send_permission_says_so(harness: BotHarness) -> None:
    harness.discord.deny_bot(harness.channel, send=True, embed=False)
    result = await set_digest(harness)
    assert "Send Messages" in (result.content or "")
    assert await harness.store.list_digest_settings() == []


async def test_show_preview_now_off(harness: BotHarness) -> None:
    serve_day(harness)
    await harness.scrape()
    await set_digest(harness, timezone="Europe/Berlin", top=2, weekdays_only=True)
    shown = await harness.discord.slash("digest", "show", as_user=harness.member, channel=harness.channel)
    assert "09:00 Europe/Berlin, weekdays, top 2" in (shown.content or "")
    monday = dt.datetime(2026, 6, 15, 7, tzinfo=dt.UTC)  # 09:00 in Berlin
    assert f"Next: {stamps(monday)}, papers of Sun 14 Jun 2026" in (shown.content or "")

    preview = await harness.discord.slash("digest", "preview", as_user=harness.member, channel=harness.channel)
    await wait_until(lambda: "Paper 1 " in text_of(preview.messages), what="the preview")
    assert preview.ephemeral and "Paper 0 " not in text_of(preview.messages)
    assert harness.discord.messages_in(harness.channel) == []

    now = await harness.discord.slash("digest", "now", as_user=harness.admin, channel=harness.channel)
    await wait_until(lambda: "Posted the digest of Fri 12 Jun 2026" in text_of(now.messages), what="the confirmation")
    assert f"Next one: {stamps(monday)}" in text_of(now.messages)
    assert "Top 2 of 5" in harness.discord.messages_in(harness.channel)[0].text
    again = await harness.discord.slash("digest", "now", as_user=harness.admin, channel=harness.channel)
    await wait_until(lambda: "already posted" in text_of(again.messages), what="the refusal")
    assert now.ephemeral and len(harness.discord.messages_in(harness.channel)) == 1

    off = await harness.discord.slash("digest", "off", as_user=harness.admin, channel=harness.channel)
    assert "turned off" in (off.content or "")
    assert await harness.store.list_digest_settings() == []


async def test_timezone_autocomplete(harness: BotHarness) -> None:
    choices = await harness.discord.autocomplete(
        "digest", "set", focused="timezone", value="kolk", as_user=harness.admin, channel=harness.channel
    )
    assert [c["value"] for c in choices] == ["Asia/Kolkata"]
    many = await harness.discord.autocomplete(
        "digest", "set", focused="timezone", value="america", as_user=harness.admin, channel=harness.channel
    )
    assert len(many) == 25


async def test_deleted_channel_disables_the_digest_with_a_reason(harness: BotHarness) -> None:
    serve_day(harness)
    await set_digest(harness)
    harness.discord.delete_channel(harness.channel)
    harness.clock.set(at(9))

    async def disabled() -> bool:
        settings = await harness.store.get_digest_settings(harness.channel.id)
        return settings is not None and not settings.enabled

    await eventually(disabled, what="the digest to be disabled")
    shown = await harness.discord.slash("digest", "show", as_user=harness.member, channel=harness.other_channel)
    content = shown.content or ""
    assert "**off**: the channel no longer exists" in content and content.count("no longer exists") == 1
    assert "Last: papers of Fri 12 Jun 2026: not posted" in content


async def test_show_after_digest_now_names_the_run_that_really_posts_next(harness: BotHarness) -> None:
    serve_day(harness)
    await harness.scrape()
    await set_digest(harness)
    before = await harness.discord.slash("digest", "show", as_user=harness.member, channel=harness.channel)
    assert f"Next: {stamps(at(9))}, papers of Fri 12 Jun 2026" in (before.content or "")
    assert "Last:" not in (before.content or "")

    now = await harness.discord.slash("digest", "now", as_user=harness.admin, channel=harness.channel)
    await wait_until(lambda: "Posted the digest of Fri 12 Jun 2026" in text_of(now.messages), what="the confirmation")
    # This morning's 09:00 run would cover 12 Jun again, so the next digest that posts is tomorrow's.
    tomorrow = at(9, day=14)
    assert f"Next one: {stamps(tomorrow)}" in text_of(now.messages)
    shown = await harness.discord.slash("digest", "show", as_user=harness.member, channel=harness.channel)
    content = shown.content or ""
    assert f"Next: {stamps(tomorrow)}, papers of Sat 13 Jun 2026" in content
    assert f"Last: posted {stamps(harness.clock.now())}, papers of Fri 12 Jun 2026" in content

    # And that is what happens: nothing at 09:00 today, the 13 Jun digest tomorrow.
    harness.clock.set(at(9))
    await wait_until(lambda: harness.clock.sleepers != [], what="scheduler asleep again")
    assert len(harness.discord.messages_in(harness.channel)) == 1
    serve_day(harness, DAY + dt.timedelta(days=1), [4, 9])
    harness.clock.set(tomorrow)
    messages = await harness.discord.wait_for_messages(harness.channel, 2)
    assert "2026-06-13" in messages[1].text


async def test_default_compact_digest_of_a_full_day_fits_one_screen(harness: BotHarness) -> None:
    harness.hf.set_day(DAY, load_fixture("hf_daily_2026-06-12.json"))
    await set_digest(harness)
    harness.clock.set(at(9))
    (posted,) = await harness.discord.wait_for_messages(harness.channel, 1)
    assert len(posted.embeds) == 1
    embed = posted.embeds[0]
    shown = visible(
        "\n".join(
            [
                posted.content or "",
                embed.get("title", ""),
                embed.get("description", ""),
                (embed.get("footer") or {}).get("text", ""),
            ]
        )
    )
    assert len(shown) <= 2200, len(shown)
    assert "Top 10 of 30" in shown
    assert embed["description"].count("](https://huggingface.co/papers/26") == 10
    # Nothing cut inside a word: every word before an ellipsis is a whole word of the day's papers.
    words = set(re.findall(r"\w+", " ".join(str(item["paper"]) for item in load_fixture("hf_daily_2026-06-12.json"))))
    for cut in re.findall(r"(\w+)…", shown):
        assert cut in words, cut


async def test_cards_digest_shows_one_short_embed_per_paper(harness: BotHarness) -> None:
    harness.hf.set_day(DAY, load_fixture("hf_daily_2026-06-12.json"))
    await set_digest(harness, style="cards", top=5)
    harness.clock.set(at(9))
    messages = await harness.discord.wait_for_messages(harness.channel, 1)
    embeds = [embed for message in messages for embed in message.embeds]
    cards = [embed for embed in embeds if embed.get("url", "").startswith("https://huggingface.co/papers/26")]
    assert len(cards) == 5
    for card in cards:
        description = card.get("description", "")
        assert description.startswith("▲ ") and len(visible(description)) < 400, description


async def test_a_weekly_digest_posts_on_its_weekday_only(harness: BotHarness) -> None:
    # The week before Sat 13 Jun: one paper a day, more upvotes later in the week, the last day served by HF.
    for offset in range(1, 7):
        day = DAY - dt.timedelta(days=offset)
        items = [make_daily_item(f"2606.{90 + offset:05d}", f"Week paper {offset} days back", day=day,
                                 upvotes=50 - offset)]  # fmt: skip
        harness.hf.set_day(day, items)
        await harness.store.upsert_papers(parse_daily_papers(items, day).papers, day=day)
    serve_day(harness)
    result = await set_digest(harness, top=3, frequency="weekly", weekday="sat")
    content = result.content or ""
    assert "weekly on Saturdays" in content and f"Next one: {stamps(at(9))}, papers of 6 Jun – 12 Jun" in content
    harness.clock.set(at(9))
    (posted,) = await harness.discord.wait_for_messages(harness.channel, 1)
    shown = posted.text
    assert "Weekly Papers · 6 Jun – 12 Jun" in shown and "Top 3 of 11 papers that week" in shown
    assert shown.index("Week paper 1 days") < shown.index("Week paper 2 days") < shown.index("Week paper 3 days")
    assert "Paper 1 " not in shown and "Week paper 4 days" not in shown
    for day_of_month in range(14, 20):  # Sunday to Friday: nothing
        harness.clock.set(at(9, day=day_of_month))
        await wait_until(lambda: harness.clock.sleepers != [], what="scheduler asleep again")
        assert len(harness.discord.messages_in(harness.channel)) == 1
    serve_day(harness, dt.date(2026, 6, 19), [5])
    harness.clock.set(at(9, day=20))
    messages = await harness.discord.wait_for_messages(harness.channel, 2)
    assert "Weekly Papers · 13 Jun – 19 Jun" in messages[1].text


async def test_a_weekday_on_a_daily_digest_is_explained(harness: BotHarness) -> None:
    result = await set_digest(harness, weekday="fri")
    assert "every day" in (result.content or "") and "only applies to weekly digests" in (result.content or "")
