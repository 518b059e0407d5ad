"""Keyword alerts end to end: the real bot against the loopback Discord and Hugging Face, manual clock."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import discord
import pytest

from tests.fakes.discord_records import RecordedMessage
from tests.fakes.harness import BotHarness, eventually, wait_until
from tests.fakes.hf_items import make_daily_item

if TYPE_CHECKING:
    from cogs.alerts import AlertsCog

TODAY = dt.date(2026, 6, 13)  # the harness clock starts on the morning of this day
YESTERDAY = TODAY - dt.timedelta(days=1)


def item(number: int, title: str, *, upvotes: int = 5, day: dt.date = TODAY, **extra: Any) -> dict[str, Any]:
    return make_daily_item(f"2606.{number:05d}", title, day=day, upvotes=upvotes, **extra)


def cog_of(harness: BotHarness) -> AlertsCog:
    # Imported here: each bot start loads the extension afresh, replacing the module.
    from cogs.alerts import AlertsCog

    cog = harness.running.get_cog("AlertsCog")
    assert isinstance(cog, AlertsCog)
    return cog


async def scrape(harness: BotHarness) -> None:
    """One scrape cycle, then wait until the alerts have handled what it brought."""
    cog = cog_of(harness)
    summary = await harness.scrape()
    await wait_until(lambda: any(s is summary for s in cog.handled), what="the alerts pass after the scrape")


async def reply(result: Any) -> RecordedMessage:
    """What the user sees in the end (a deferred answer once it is filled in)."""
    message: RecordedMessage = await result.wait_final()
    return message


async def add_alert(harness: BotHarness, query: str, **options: Any) -> RecordedMessage:
    result = await harness.discord.slash(
        "alerts",
        "add",
        as_user=options.pop("as_user", harness.admin),
        channel=harness.channel,
        options={"query": query, **options},
    )
    message = await reply(result)
    assert message.ephemeral
    return message


def posted(harness: BotHarness, channel: Any = None) -> list[RecordedMessage]:
    return harness.discord.messages_in(channel or harness.channel)


async def _retried(harness: BotHarness, channel: Any, now: dt.datetime) -> bool:
    """Whether the post went out, or every open post was tried and put off past `now`."""
    if posted(harness, channel):
        return True
    waiting = await harness.store.open_deliveries(["alert_batch"])
    return all(d.next_attempt_at is not None and d.next_attempt_at > now for d in waiting)


async def _all_sent(harness: BotHarness) -> bool:
    return not await harness.store.open_deliveries(["alert_batch"])


async def retry_until_posted(harness: BotHarness, channel: Any = None) -> RecordedMessage:
    """Move the clock a minute at a time, each time until the open post was tried again, until it is sent."""
    for _ in range(30):
        if posted(harness, channel):
            break
        harness.clock.advance(dt.timedelta(minutes=1))
        await eventually(
            lambda: _retried(harness, channel, harness.clock.now()),
            timeout=10.0,
            what="the alert post to be tried again",
        )
    (message,) = posted(harness, channel)
    return message


class _QuickRetries:
    """asyncio as discord.py's HTTP client sees it, with its 5xx retry pauses (real seconds) shortened."""

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)

    @staticmethod
    async def sleep(delay: float, result: Any = None) -> Any:
        await asyncio.sleep(min(delay, 0.01))
        return result


@pytest.fixture
async def capped(tmp_path: Path) -> AsyncIterator[BotHarness]:
    """A bot whose channels take at most 2 alerted papers an hour and hold at most 2 alerts."""
    running = await BotHarness.create(tmp_path, alerts={"hourly_cap_per_channel": 2, "max_per_channel": 2})
    try:
        yield running
    finally:
        await running.close()


# ---------------------------------------------------------------- delivery


async def test_new_day_brings_one_bundled_alert_to_the_right_channel_once(harness: BotHarness) -> None:
    added = await add_alert(harness, "diffusion OR mamba", channel=harness.other_channel)
    assert "#1" in added.text and "diffusion OR mamba" in added.text
    await add_alert(harness, '"state space"')  # in #papers, matching nothing today
    harness.hf.set_day(
        TODAY,
        [
            item(1, "Video Diffusion Without Tears", upvotes=30),
            item(2, "Mamba Goes Multimodal", upvotes=80),
            item(3, "A Study of Tokenizers"),
        ],
    )
    await scrape(harness)
    (message,) = await harness.discord.wait_for_messages(harness.other_channel, 1)
    text = message.text
    assert "Mamba Goes Multimodal" in text and "Video Diffusion Without Tears" in text
    assert text.index("Mamba Goes") < text.index("Video Diffusion")  # most upvoted first
    assert "A Study of Tokenizers" not in text and "#1 diffusion OR mamba" in text
    assert message.nonce and message.allowed_mentions == {"parse": []}
    assert posted(harness) == []
    # The same day scraped again, with new upvotes: nothing new to say.
    harness.hf.set_day(
        TODAY, [item(1, "Video Diffusion Without Tears", upvotes=31), item(2, "Mamba Goes Multimodal", upvotes=90)]
    )
    await scrape(harness)
    assert len(posted(harness, harness.other_channel)) == 1


async def test_restart_does_not_repeat_and_papers_stored_while_down_are_not_lost(harness: BotHarness) -> None:
    await add_alert(harness, "agents")
    harness.hf.set_day(TODAY, [item(1, "Agents All the Way Down")])
    await scrape(harness)
    await harness.discord.wait_for_messages(harness.channel, 1)
    await harness.restart()
    await wait_until(lambda: cog_of(harness).caught_up, what="the catch-up pass")
    await scrape(harness)
    assert len(posted(harness)) == 1
    # While the bot is down, a terminal scrape stores a new agent paper: the next start alerts it.
    await harness.stop_bot()
    harness.hf.set_day(TODAY, [item(1, "Agents All the Way Down"), item(2, "Agentic Retrieval", upvotes=9)])
    await harness.make_scraper().scrape_days([TODAY])
    await harness.start_bot()
    messages = await harness.discord.wait_for_messages(harness.channel, 2)
    assert "Agentic Retrieval" in messages[1].text and "Agents All the Way Down" not in messages[1].text
    await wait_until(lambda: cog_of(harness).caught_up, what="the catch-up pass")
    assert len(posted(harness)) == 2


async def test_discord_failing_500_for_a_while_delivers_once_after_recovery(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(discord.http, "asyncio", _QuickRetries())
    await add_alert(harness, "retrieval")
    harness.hf.set_day(TODAY, [item(1, "Retrieval at Scale")])
    # discord.py tries each post 5 times on a 500; 8 failures outlast its first attempt and part of the next.
    harness.discord.fail_next_posts(8, 500)
    await scrape(harness)
    assert posted(harness) == []
    (pending,) = await harness.store.open_deliveries(["alert_batch"])
    assert pending.error and "500" in pending.error and pending.next_attempt_at is not None
    message = await retry_until_posted(harness)
    assert "Retrieval at Scale" in message.text
    await eventually(lambda: _all_sent(harness), what="the post to be recorded as sent")
    harness.clock.advance(dt.timedelta(hours=1))
    await scrape(harness)
    assert len(posted(harness)) == 1


async def test_an_outage_across_a_restart_loses_nothing_and_sends_once(harness: BotHarness) -> None:
    await add_alert(harness, "robot")
    harness.hf.set_day(TODAY, [item(1, "Robot Learning From Play")])
    harness.discord.fail_next_posts(3, 503)
    await scrape(harness)
    assert posted(harness) == [] and len(await harness.store.open_deliveries(["alert_batch"])) == 1
    await harness.restart()
    message = await retry_until_posted(harness)
    assert "Robot Learning From Play" in message.text
    await eventually(lambda: _all_sent(harness), what="the post to be recorded as sent")
    assert len(posted(harness)) == 1


async def test_crash_after_sending_before_recording_is_not_sent_twice(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    await add_alert(harness, "tokenizer")
    store = harness.store
    original = store.record_part_sent

    async def crash(*args: Any, **kwargs: Any) -> None:
        raise SystemError("process died before recording the message id")

    monkeypatch.setattr(store, "record_part_sent", crash)
    harness.hf.set_day(TODAY, [item(1, "Tokenizer-Free Models")])
    await scrape(harness)
    await harness.discord.wait_for_messages(harness.channel, 1)
    monkeypatch.setattr(store, "record_part_sent", original)
    await harness.restart()

    await eventually(lambda: _all_sent(harness), what="the open alert post to be finished")
    assert len(posted(harness)) == 1


async def test_upvote_threshold_fires_once_when_crossed(harness: BotHarness) -> None:
    await add_alert(harness, "sparse upvotes:>=50")
    await add_alert(harness, "sparse attention", channel=harness.other_channel)
    harness.hf.set_day(TODAY, [item(1, "Sparse Attention Revisited", upvotes=12)])
    await scrape(harness)
    assert posted(harness) == []  # not yet popular enough
    assert len(await harness.discord.wait_for_messages(harness.other_channel, 1)) == 1
    for upvotes in (49, 63, 70):
        harness.hf.set_day(TODAY, [item(1, "Sparse Attention Revisited", upvotes=upvotes)])
        harness.clock.advance(dt.timedelta(minutes=30))
        await scrape(harness)
    (message,) = posted(harness)
    assert "Sparse Attention Revisited" in message.text and "▲ 63" in message.text
    # The channel without a threshold heard of it once, when it was new.
    assert len(posted(harness, harness.other_channel)) == 1


async def test_hourly_cap_spills_the_rest_into_one_line(capped: BotHarness) -> None:
    harness = capped
    await add_alert(harness, "graph")
    harness.hf.set_day(TODAY, [item(n, f"Graph Paper {n}", upvotes=10 * n) for n in range(1, 6)])
    await scrape(harness)
    (message,) = await harness.discord.wait_for_messages(harness.channel, 1)
    text = message.text
    assert "Graph Paper 5" in text and "Graph Paper 4" in text
    assert "Graph Paper 3" not in text and "Graph Paper 1" not in text
    assert text.rstrip().endswith("…and 3 more: `/alerts test query:graph`")
    # Within the hour, the next new paper only makes the count line; an hour later it is listed again.
    harness.hf.set_day(TODAY, [item(n, f"Graph Paper {n}", upvotes=10 * n) for n in range(1, 7)])
    harness.clock.advance(dt.timedelta(minutes=30))
    await scrape(harness)
    second = (await harness.discord.wait_for_messages(harness.channel, 2))[1].text
    assert "Graph Paper 6" not in second and "…and 1 more" in second
    harness.hf.set_day(TODAY, [item(n, f"Graph Paper {n}", upvotes=10 * n) for n in range(1, 8)])
    harness.clock.advance(dt.timedelta(minutes=61))
    await scrape(harness)
    third = (await harness.discord.wait_for_messages(harness.channel, 3))[2].text
    assert "Graph Paper 7" in third and "more" not in third


async def test_skip_papers_the_digest_already_posted(harness: BotHarness) -> None:
    harness.hf.set_day(YESTERDAY, [item(1, "Protein Folding Again", day=YESTERDAY, upvotes=40)])
    await scrape(harness)
    set_digest = await harness.discord.slash(
        "digest", "set", as_user=harness.admin, channel=harness.channel, time="09:00", timezone="UTC"
    )
    assert set_digest.ephemeral
    harness.clock.set(dt.datetime(2026, 6, 13, 9, tzinfo=dt.UTC))
    (digest,) = await harness.discord.wait_for_messages(harness.channel, 1)
    assert "Protein Folding Again" in digest.text
    await add_alert(harness, "protein upvotes:>=50", skip_digest_papers=True)
    await add_alert(harness, "protein upvotes:>=50", channel=harness.other_channel)
    harness.hf.set_day(YESTERDAY, [item(1, "Protein Folding Again", day=YESTERDAY, upvotes=60)])
    await scrape(harness)
    (alert,) = await harness.discord.wait_for_messages(harness.other_channel, 1)
    assert "Protein Folding Again" in alert.text
    assert len(posted(harness)) == 1  # only the digest


async def test_an_alert_post_says_which_alert_matched_and_shows_the_words_in_context(harness: BotHarness) -> None:
    await add_alert(harness, "agent memory")
    await add_alert(harness, "sparse attention")
    abstract = (
        "Long contexts strain accelerators. We present MiniMax Sparse Attention, which serves agentic "
        "workloads with bounded GPU memory and keeps quality. Experiments on long documents follow."
    )
    harness.hf.set_day(
        TODAY,
        [
            item(
                1,
                "MiniMax Sparse Attention",
                upvotes=40,
                summary=abstract,
                ai_summary="A sparse attention kernel that cuts memory for long contexts.",
            ),
            item(2, "Unrelated Protein Work", upvotes=90),
            item(
                3,
                "Episodic Stores for Web Agents",
                upvotes=20,
                summary="Web agents forget. We give each agent an episodic memory store; success rises.",
            ),
        ],
    )
    await scrape(harness)
    (message,) = await harness.discord.wait_for_messages(harness.channel, 1)
    description = message.embeds[0]["description"]
    first, second = description.split("\n\n")
    # The quote already holds the abstract's first sentence: no summary line repeats it.
    assert second.split("\n")[3:] == [
        "> Web **agents** forget. We give each **agent** an episodic **memory** store; success rises."
    ]
    block = first.split("\n")
    assert block[0].startswith("**[MiniMax Sparse Attention](https://huggingface.co/papers/2606.00001)**")
    assert block[1].startswith("▲ 40")
    assert block[2] == "Matched `#1 agent memory`, `#2 sparse attention`"
    # The abstract around the first hit, hits in bold, before the summary line.
    assert block[3].startswith("> ") and "serves **agentic** workloads with bounded GPU **memory**" in block[3]
    assert "**Sparse** **Attention**" in block[3]
    assert block[4] == "A sparse attention kernel that cuts memory for long contexts."
    assert "Unrelated Protein Work" not in message.text
    listed = await reply(await harness.discord.slash("alerts", "list", as_user=harness.member, channel=harness.channel))
    moment = int(harness.clock.now().timestamp())
    assert listed.text.endswith(f"Last post <t:{moment}:f> (<t:{moment}:R>): 2 papers.")


# ---------------------------------------------------------------- commands


async def test_add_shows_recent_matches_and_test_is_private(harness: BotHarness) -> None:
    harness.hf.set_day(TODAY, [item(1, "Speculative Decoding Explained"), item(2, "Decoding Music")])
    await scrape(harness)
    added = await add_alert(harness, "decoding -music")
    assert "would have matched 1 paper" in added.text and "Speculative Decoding Explained" in added.text
    assert "Decoding Music" not in added.text
    result = await harness.discord.slash(
        "alerts", "test", as_user=harness.member, channel=harness.channel, query="decoding", days=3
    )
    message = await reply(result)
    assert message.ephemeral and "2 cached papers of the last 3 days match `decoding`." in message.text
    assert "Decoding Music" in message.text and "footer" not in message.embeds[0]  # the count is said once
    nothing = await reply(
        await harness.discord.slash(
            "alerts", "test", as_user=harness.member, channel=harness.channel, query="quantum", days=1
        )
    )
    assert nothing.ephemeral and nothing.text == "No cached paper of today matches `quantum`."
    assert nothing.embeds == []
    # The alert does not announce the papers that were listed before it was added.
    await scrape(harness)
    assert posted(harness) == []


async def test_bad_query_and_paper_links_are_refused_with_a_hint(harness: BotHarness) -> None:
    bad = await add_alert(harness, '"mixture of experts')
    assert "does not parse" in bad.text and 'closing "' in bad.text
    link = await add_alert(harness, "https://huggingface.co/papers/2405.12345")
    assert "one paper's id or link" in link.text
    listed = await reply(await harness.discord.slash("alerts", "list", as_user=harness.member, channel=harness.channel))
    assert "has no alerts" in listed.text


async def test_member_without_manage_channels_is_refused(harness: BotHarness) -> None:
    refused = await add_alert(harness, "diffusion", as_user=harness.member)
    assert "Manage Channels" in refused.text and "alerts" in refused.text
    await add_alert(harness, "diffusion")
    removal = await reply(
        await harness.discord.slash("alerts", "remove", as_user=harness.member, channel=harness.channel, id=1)
    )
    assert "Manage Channels" in removal.text
    assert len(await harness.store.list_subscriptions()) == 1
    listed = await reply(await harness.discord.slash("alerts", "list", as_user=harness.member, channel=harness.channel))
    assert "#1" in listed.text and "`diffusion`" in listed.text


async def test_duplicates_are_refused_politely(harness: BotHarness) -> None:
    await add_alert(harness, "Video  Diffusion")
    again = await add_alert(harness, "diffusion video")
    assert "already has this alert as #1" in again.text and "nothing was added" in again.text
    elsewhere = await add_alert(harness, "diffusion video", channel=harness.other_channel)
    assert "#2" in elsewhere.text


async def test_limits_per_channel_say_what_to_do(capped: BotHarness) -> None:
    harness = capped
    await add_alert(harness, "one")
    await add_alert(harness, "two")
    third = await add_alert(harness, "three")
    assert "already has 2 alerts, the most a channel may have" in third.text and "/alerts remove" in third.text
    assert len(await harness.store.list_subscriptions()) == 2


async def test_remove_with_autocomplete(harness: BotHarness) -> None:
    await add_alert(harness, "diffusion")
    await add_alert(harness, '"mixture of experts"', channel=harness.other_channel)
    choices = await harness.discord.autocomplete(
        "alerts", "remove", focused="id", value="mixture", as_user=harness.admin, channel=harness.channel
    )
    assert choices == [{"name": '#2 in #general: "mixture of experts"', "value": 2}]
    everything = await harness.discord.autocomplete(
        "alerts", "remove", focused="id", value="", as_user=harness.admin, channel=harness.channel
    )
    assert [c["value"] for c in everything] == [1, 2]
    removed = await reply(
        await harness.discord.slash("alerts", "remove", as_user=harness.admin, channel=harness.channel, id=2)
    )
    assert "Removed alert **#2**" in (removed.content or "")
    missing = await reply(
        await harness.discord.slash("alerts", "remove", as_user=harness.admin, channel=harness.channel, id=2)
    )
    assert "no alert #2 in this server" in missing.text
    assert [s.id for s in await harness.store.list_subscriptions()] == [1]
