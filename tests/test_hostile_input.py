"""Hostile input end to end: fuzzed slash-command options and hostile paper text through the loopback fakes.

Every interaction must be answered within Discord's 3 seconds with a body Discord accepts, no message may
ping anyone, and commands that only read (or refuse bad input) must leave the database as it was.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
import zoneinfo
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, TypedDict

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from bot.alerts import BATCH_KIND, CURSOR_KEY, ListingCursor
from bot.query import MAX_QUERY_LENGTH
from tests.fakes.discord_interaction_result import InteractionResult
from tests.fakes.discord_model import FakeChannel
from tests.fakes.discord_records import RecordedMessage
from tests.fakes.harness import BotHarness, eventually, open_card, wait_until
from tests.fakes.hf_items import make_daily_item

DAY = dt.date(2026, 6, 12)
DISCORD_STRING_MAX = 6000  # the longest string option Discord delivers when a command declares no max_length
ACK_SECONDS = 3.0
EXAMPLES = 100
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Fragments that have broken bots before: FTS5 syntax, SQL, Discord mentions and markdown, invisible and
# reordering characters, and text shaped like the values the commands do accept.
HOSTILE_PIECES = [
    "AND",
    "OR",
    "NOT",
    "NEAR",
    "NEAR(a b, 3)",
    "*",
    "^",
    ":",
    "-",
    "+",
    "(",
    ")",
    '"',
    "'",
    '""',
    "{",
    "}",
    "title:",
    "author:",
    "abstract:",
    "keyword:",
    "upvotes:>=",
    "day:2026-13-45",
    "code:maybe",
    "papers_fts:",
    "'; DROP TABLE papers; --",
    '" OR 1=1 --',
    "'); DELETE FROM subscriptions; --",
    "%",
    "_",
    "\\",
    "/*",
    "*/",
    "@everyone",
    "@here",
    "<@123>",
    "<@!123>",
    "<@&456>",
    "<#789>",
    "</paper search:1>",
    "<t:0:R>",
    "<:e:1>",
    "**bold**",
    "__u__",
    "~~s~~",
    "||spoiler||",
    "`code`",
    "```py\nx\n```",
    "> quote",
    "# heading",
    "-# small",
    "[click](https://evil.example)",
    "[a](<https://evil.example>)",
    "<https://evil.example>",
    "https://evil.example",
    "\u200b",
    "\u200c",
    "\u200d",
    "\u2060",
    "\ufeff",
    "\u202e",
    "\u202d",
    "\u2067",
    "\u200f",
    "\u061c",
    "مرحبا",
    "שלום",
    "Zalgo\u0336\u0337\u0338",
    "e\u0301",
    "👩\u200d👩\u200d👧",
    "🇺🇳",
    "\x00",
    "\x1b[31m",
    "\r\n",
    "\t",
    "09:00",
    "23:59",
    "24:00",
    "9:5",
    "Europe/Berlin",
    "UTC",
    "../../etc/passwd",
    "Europe",
    "2406.12345",
    "https://huggingface.co/papers/2606.00001",
    "arxiv.org/abs/2606.00001v2",
    "2026-06-12",
    " ",
    "\n",
]

_any_char = st.characters(exclude_categories=["Cs"])  # lone surrogates cannot travel in Discord's JSON
_piece = st.one_of(st.sampled_from(HOSTILE_PIECES), st.text(_any_char, min_size=1, max_size=12))


def hostile_text(max_size: int, *, min_size: int = 1) -> st.SearchStrategy[str]:
    """Strings a user could send in an option of at most `max_size` characters: mixtures or one piece repeated."""
    mixed = st.lists(_piece, min_size=1, max_size=10).flatmap(
        lambda parts: st.sampled_from([" ".join(parts), "".join(parts)])
    )
    longest = st.sampled_from(HOSTILE_PIECES).map(lambda p: (p * (max_size // len(p) + 1))[:max_size])
    return st.one_of(mixed, longest).map(lambda s: s[:max_size]).filter(lambda s: len(s) >= min_size)


def query_text() -> st.SearchStrategy[str]:
    """Hostile queries, half of them around words the corpus contains, so that many of them find papers."""
    word = st.sampled_from(["diffusion", "video", "models", "everyone", "bold", "click", "summary", "W" * 40])
    around = st.tuples(word, hostile_text(120, min_size=0), word).map(lambda parts: " ".join(parts).strip())
    return st.one_of(hostile_text(MAX_QUERY_LENGTH), around, word)


def table_snapshot(database: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (the full-text index excepted: triggers keep it in step with `papers`)."""
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        names = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'papers_fts%' ORDER BY name"
            )
        ]
        return {name: sorted(connection.execute(f'SELECT * FROM "{name}"'), key=repr) for name in names}
    finally:
        connection.close()


def every_message(harness: BotHarness) -> list[RecordedMessage]:
    """Every message the bot sent anywhere, ephemeral ones included."""
    return list(harness.discord.messages.values())


class InChannel(TypedDict):
    """The channel keyword shared by several slash calls."""

    channel: FakeChannel


class DiscordWatch:
    """What the loopback Discord has seen so far, to check only what one example added."""

    def __init__(self, harness: BotHarness) -> None:
        self.harness = harness
        self.rejected = harness.discord.stats.rejected_bodies
        self.errors = len(harness.discord.internal_errors)
        self.requests = len(harness.discord.requests)

    def assert_all_accepted(self) -> None:
        """No request body was rejected, the fake understood every request, and nothing pings anyone."""
        server = self.harness.discord
        refused = [r for r in server.requests[self.requests :] if r.status == 400]
        assert server.stats.rejected_bodies == self.rejected, refused[:3]
        assert server.internal_errors[self.errors :] == []
        for message in every_message(self.harness):
            assert not message.pings.anyone, (message.pings, message.content[:200])
            assert message.allowed_mentions is not None and message.allowed_mentions.get("parse") == [], message


async def answered(result: InteractionResult) -> str:
    """Check the 3-second acknowledgement and return the text the user finally sees."""
    assert result.acknowledged and not result.rejected, result
    assert result.elapsed is not None and result.elapsed < ACK_SECONDS, result.elapsed
    if result.deferred:
        final = await result.wait_final()
        await wait_until(lambda: bool(result.followups) or not final.loading, what="the deferred answer")
    # A button that edits its own message answers with that message rather than a new one.
    messages = result.messages or ([result.original] if result.original is not None else [])
    shown = "\n".join(m.text for m in messages)
    assert shown.strip(), "the user saw an empty answer"
    assert "Something went wrong" not in shown and "Traceback" not in shown, shown[:500]
    return shown


def hostile_corpus(day: dt.date = DAY, prefix: str = "2606") -> list[dict[str, Any]]:
    """A few ordinary papers and papers whose every field is hostile or huge (ids start with `prefix`)."""
    nasty = "@everyone **bold** [click](https://evil.example) <@123> <@&456> <#789> ||x|| `c` \u202e \u200b "
    items = [
        make_daily_item(
            f"{prefix}.{i:05d}",
            f"Diffusion models for video number {i}",
            day=day,
            upvotes=i,
            authors=("Tri Dao", f"Author {i}"),
            ai_summary=f"Summary {i}.",
            ai_keywords=["video"],
        )
        for i in range(12)
    ]
    items += [
        make_daily_item(
            f"{prefix}.20000",
            ("@everyone " + nasty * 20)[:1000],
            day=day,
            upvotes=500,
            authors=[f"<@{n}> @here Author **{n}**" for n in range(3000)],
            summary=("We [click](https://evil.example) @everyone. " * 1200)[:50_000],
            ai_summary=nasty * 40,
            ai_keywords=["@everyone", "<@123>", "**kw**"],
            github_repo="https://evil.example/)[x](https://evil.example",
            project_page="javascript:alert(1)",
            organization=("evil", "@everyone <@&456>"),
        ),
        make_daily_item(
            f"{prefix}.20001",
            "```\n@here\n```" + "\u202e" * 50 + "# Heading <t:0:R>",
            day=day,
            upvotes=400,
            authors=["@everyone"] * 50,
            summary="x" * 50_000,
            github_repo="https://github.com/a/b",
        ),
        make_daily_item(
            f"{prefix}.20002",
            "W" * 1000,
            day=day,
            upvotes=300,
            authors=["A" * 500, "</paper search:1>"],
            summary=" ".join(["supercalifragilistic" * 20] * 100),
            ai_summary="",
        ),
    ]
    return items


async def serve_corpus(harness: BotHarness) -> None:
    """Serve and scrape the hostile corpus once per harness."""
    if await harness.store.get_paper("2606.20000") is None:
        harness.hf.set_day(DAY, hostile_corpus())
        await harness.scrape()
        assert await harness.store.get_paper("2606.20002") is not None
        await alerts_caught_up(harness)


async def alerts_caught_up(harness: BotHarness) -> None:
    """Wait until the alerts pass that follows a scrape has looked at every listed paper."""
    latest = await harness.store.last_listed_at() or ""

    async def caught_up() -> bool:
        stored = await harness.store.get_meta(CURSOR_KEY)
        return stored is not None and ListingCursor.from_text(stored).at == latest

    await eventually(caught_up, what="the alerts pass after the scrape")


# ---------------------------------------------------------------- fuzzed options


@FUZZ
@example(query="'; DROP TABLE papers; --", sort="relevance", since="'; DROP TABLE papers; --")
@example(query="NEAR(a b, 3) OR title:* ^x:y", sort="top", since="9" * DISCORD_STRING_MAX)
@given(
    query=query_text(),
    sort=st.sampled_from(["relevance", "new", "top"]),
    since=st.none() | st.sampled_from(["2026-06-01"]) | hostile_text(DISCORD_STRING_MAX),
)
async def test_paper_search_survives_hostile_options(
    harness: BotHarness, query: str, sort: str, since: str | None
) -> None:
    await serve_corpus(harness)
    before = table_snapshot(harness.config.database.path)
    watch = DiscordWatch(harness)
    options: dict[str, Any] = {"query": query, "sort": sort}
    if since is not None:
        options["since"] = since
    result = await harness.discord.slash(
        "paper", "search", as_user=harness.member, channel=harness.channel, options=options
    )
    shown = await answered(result)
    assert result.ephemeral  # results, cards and refusals alike: private unless public:true
    page = result.message
    if not result.embeds:
        event("refused")
        query_error = "\n```\n" in shown and "^" in shown
        assert query_error or shown.startswith(("No cached papers", "`since`", "No paper found")), shown[:300]
    elif page is not None and "search:open" in page.custom_ids:
        event("results")
        paged = "search:next" in page.custom_ids
        assert ("page 1/" in page.text) == paged, page.text[-200:]
        first = page.component("search:open")["options"][0]["value"]
        card = await open_card(harness.discord, page, "search:open", first, as_user=harness.member)
        assert card.ephemeral and card.embeds
        if paged and not page.component("search:next")["disabled"]:
            await answered(await harness.discord.click(page, "search:next", as_user=harness.member))
            assert "page 2/" in page.text
    else:
        event("card")  # an arXiv id or paper URL opens the card
        assert result.embeds[0]["footer"]["text"].startswith("arXiv")
    assert table_snapshot(harness.config.database.path) == before
    watch.assert_all_accepted()


@FUZZ
@given(paper=hostile_text(300), typed=hostile_text(300, min_size=0))
async def test_paper_show_and_its_autocomplete_survive_hostile_options(
    harness: BotHarness, paper: str, typed: str
) -> None:
    await serve_corpus(harness)
    before = table_snapshot(harness.config.database.path)
    watch = DiscordWatch(harness)
    choices = await harness.discord.autocomplete(
        "paper", "show", focused="paper", value=typed, as_user=harness.member, channel=harness.channel
    )
    assert len(choices) <= 25 and all(1 <= len(c["name"]) <= 100 and len(c["value"]) <= 100 for c in choices)
    result = await harness.discord.slash("paper", "show", as_user=harness.member, channel=harness.channel, paper=paper)
    shown = await answered(result)
    found = bool(result.embeds or (result.followups and result.followups[0].embeds))
    event("card" if found else "not found")
    assert found or "No paper found" in shown
    assert table_snapshot(harness.config.database.path) == before
    watch.assert_all_accepted()


_VALID_TIME = re.compile(r"([01]?[0-9]|2[0-3]):[0-5][0-9]")
_ZONES = zoneinfo.available_timezones()


@FUZZ
# Found by this test: an echoed 6000-character value broke the 2000-character limit of the error reply;
# "Europe" (a folder) and over-long names raised OSError; "²" passed str.isdigit() and then failed int().
@example(time="9" * DISCORD_STRING_MAX, timezone=None, top=None, min_upvotes=None, style=None, typed_zone="")
@example(time=None, timezone="Europe", top=None, min_upvotes=None, style=None, typed_zone="Europe")
@example(time=None, timezone="a" * DISCORD_STRING_MAX, top=None, min_upvotes=None, style=None, typed_zone="")
@example(time="²:00", timezone="UTC", top=1, min_upvotes=0, style="cards", typed_zone="\x00")
@given(
    time=st.none() | st.sampled_from(["09:00", "7:30", "23:59"]) | hostile_text(DISCORD_STRING_MAX),
    timezone=st.none() | st.sampled_from(["Europe/Berlin", "America/New_York"]) | hostile_text(DISCORD_STRING_MAX),
    top=st.none() | st.integers(1, 25),
    min_upvotes=st.none() | st.integers(0, 100_000),
    style=st.none() | st.sampled_from(["compact", "cards"]),
    typed_zone=hostile_text(DISCORD_STRING_MAX, min_size=0),
)
async def test_digest_set_refuses_hostile_values_without_writing(
    harness: BotHarness,
    time: str | None,
    timezone: str | None,
    top: int | None,
    min_upvotes: int | None,
    style: str | None,
    typed_zone: str,
) -> None:
    before = table_snapshot(harness.config.database.path)
    watch = DiscordWatch(harness)
    choices = await harness.discord.autocomplete(
        "digest", "set", focused="timezone", value=typed_zone, as_user=harness.admin, channel=harness.channel
    )
    assert len(choices) <= 25 and all(c["value"] in _ZONES for c in choices)
    given_options = {"time": time, "timezone": timezone, "top": top, "min_upvotes": min_upvotes, "style": style}
    options: dict[str, Any] = {k: v for k, v in given_options.items() if v is not None}
    result = await harness.discord.slash(
        "digest", "set", as_user=harness.admin, channel=harness.channel, options=options
    )
    shown = await answered(result)
    assert result.ephemeral
    valid = (time is None or _VALID_TIME.fullmatch(time) is not None) and (timezone is None or timezone in _ZONES)
    event("valid" if valid else "invalid")
    if not valid:
        assert shown.startswith(("Time:", "Time zone:")), shown[:300]
        assert table_snapshot(harness.config.database.path) == before
    else:
        assert shown.startswith("Digest for"), shown[:300]
        stored = await harness.store.get_digest_settings(harness.channel.id)
        assert stored is not None
        if time is not None:
            assert stored.time.strftime("%H:%M") == f"{int(time.split(':')[0]):02d}:{time.split(':')[1]}"
        if timezone is not None:
            assert stored.timezone == timezone
        assert top is None or stored.top == top
    watch.assert_all_accepted()


@FUZZ
@example(query="'); DELETE FROM subscriptions; --", days=1, remove_id=1, typed_id="1 OR 1=1")
@example(query="@everyone " * 30, days=30, remove_id=2**53, typed_id="<@123>")
@given(
    query=query_text(),
    days=st.integers(1, 30),
    remove_id=st.integers(1, 2**53),
    typed_id=hostile_text(100, min_size=0),
)
async def test_alerts_commands_survive_hostile_options(
    harness: BotHarness, query: str, days: int, remove_id: int, typed_id: str
) -> None:
    await serve_corpus(harness)
    server, database = harness.discord, harness.config.database.path
    before = table_snapshot(database)
    watch = DiscordWatch(harness)
    where: InChannel = {"channel": harness.channel}

    tested = await server.slash("alerts", "test", as_user=harness.member, query=query, days=days, **where)
    shown = await answered(tested)
    assert tested.ephemeral and ("match" in shown or shown.startswith(("Bad query", "That query"))), shown[:300]
    missing = await server.slash("alerts", "remove", as_user=harness.admin, id=remove_id, **where)
    assert "There is no alert" in await answered(missing)
    assert table_snapshot(database) == before

    added = await server.slash(
        "alerts", "add", as_user=harness.admin, query=query, options={"channel": harness.channel}, **where
    )
    shown = await answered(added)
    assert added.ephemeral
    after = table_snapshot(database)
    event("added" if after != before else "refused")
    if after == before:
        assert not shown.startswith("Alert **#"), shown[:300]
    else:
        assert shown.startswith("Alert **#"), shown[:300]
        (subscription,) = await harness.store.list_subscriptions(channel_id=harness.channel.id)
        assert subscription.query == query.strip()
        listed = await server.slash("alerts", "list", as_user=harness.member, **where)
        assert f"#{subscription.id}" in await answered(listed)
        choices = await server.autocomplete(
            "alerts", "remove", focused="id", value=typed_id, as_user=harness.admin, **where
        )
        assert len(choices) <= 25 and all(len(c["name"]) <= 100 for c in choices)
        removed = await server.slash("alerts", "remove", as_user=harness.admin, id=subscription.id, **where)
        assert "Removed alert" in await answered(removed)
        assert table_snapshot(database)["subscriptions"] == before["subscriptions"]
    watch.assert_all_accepted()


# ---------------------------------------------------------------- hostile paper text from the source


def assert_shows_paper_safely(message: RecordedMessage) -> None:
    """Hostile paper text arrived escaped: no live masked link to the attacker, no raw mention."""
    text = message.text
    outside_code = re.sub(r"`[^`]*`", "", text)  # markdown is inert inside a code span
    assert not re.search(r"(?<!\\)\]\(<?https://evil\.example", outside_code), text[:300]
    assert "javascript:" not in text
    assert "@everyone" not in text.replace("@\u200beveryone", "")
    assert "<@" not in text and "<#789>" not in text and "<t:0" not in text, text[:300]


async def test_hostile_paper_text_renders_within_limits_everywhere(harness: BotHarness) -> None:
    await serve_corpus(harness)
    watch = DiscordWatch(harness)
    server = harness.discord

    found = await server.slash(
        "paper", "search", as_user=harness.member, channel=harness.channel, query="everyone", sort="top"
    )
    await answered(found)
    assert found.message is not None and "search:next" not in found.message.custom_ids  # one page: no paging
    for option in found.message.component("search:open")["options"]:
        card = await open_card(server, found.message, "search:open", option["value"], as_user=harness.member)
        assert card.embeds and card.embeds[0]["footer"]["text"].startswith("arXiv")
    for paper_id in ("2606.20000", "2606.20001", "2606.20002"):
        shown = await server.slash("paper", "show", as_user=harness.member, channel=harness.channel, paper=paper_id)
        await answered(shown)
        (embed,) = shown.embeds
        assert len(embed["title"]) <= 256 and embed["url"] == f"https://huggingface.co/papers/{paper_id}"
        if paper_id == "2606.20000":
            authors = next(f["value"] for f in embed["fields"] if f["name"] == "Authors")
            assert re.search(r"\+2,?9\d\d more$", authors), authors[-40:]
    for period in ("day", "week", "month"):
        trending = await server.slash(
            "paper", "trending", as_user=harness.member, channel=harness.channel, period=period
        )
        await answered(trending)
        assert "2606.20000" in (trending.embeds[0]["description"] or "")
    choices = await server.autocomplete(
        "paper", "show", focused="paper", value="@everyone", as_user=harness.member, channel=harness.channel
    )
    assert all(len(c["name"]) <= 100 for c in choices)

    for channel, style in ((harness.channel, "compact"), (harness.other_channel, "cards")):
        await server.slash(
            "digest", "set", as_user=harness.admin, channel=channel, time="09:00", timezone="UTC", top=15, style=style
        )
    preview = await server.slash("digest", "preview", as_user=harness.member, channel=harness.other_channel)
    await answered(preview)
    harness.clock.set(dt.datetime(2026, 6, 13, 9, tzinfo=dt.UTC))

    async def both_sent() -> bool:
        for channel in (harness.channel, harness.other_channel):
            delivery = await harness.store.get_delivery(channel.id, "digest", DAY.isoformat())
            if delivery is None or delivery.status != "sent":
                return False
        return True

    await eventually(both_sent, what="both digests recorded as sent")
    compact, cards = server.messages_in(harness.channel), server.messages_in(harness.other_channel)
    assert len(compact) >= 1 and len(cards) >= 2  # 15 cards cannot share one message
    assert sum(len(m.embeds) for m in cards) == 15

    # Enough hostile papers for two pages: the footer, paging and menu of a multi-page search hold up too.
    next_day = DAY + dt.timedelta(days=1)
    harness.hf.set_day(
        next_day,
        [item for prefix in ("2607", "2608", "2609", "2610", "2611") for item in hostile_corpus(next_day, prefix)],
    )
    await harness.scrape()
    many = await server.slash(
        "paper", "search", as_user=harness.member, channel=harness.channel, query="everyone", sort="top"
    )
    await answered(many)
    assert many.message is not None and "page 1/2" in many.message.text
    await answered(await server.click(many.message, "search:next", as_user=harness.member))
    assert "page 2/2" in many.message.text
    for option in many.message.component("search:open")["options"]:
        assert len(option["label"]) <= 100 and len(option.get("description") or "") <= 100
        card = await open_card(server, many.message, "search:open", option["value"], as_user=harness.member)
        assert card.ephemeral and card.embeds
    for message in [*compact, *cards, *every_message(harness)]:
        assert_shows_paper_safely(message)
    watch.assert_all_accepted()


@pytest.fixture
async def capped_harness(tmp_path: Path) -> AsyncIterator[BotHarness]:
    """A harness whose alert channels get at most 5 papers an hour, so the "and N more" line shows too."""
    running = await BotHarness.create(tmp_path, alerts={"hourly_cap_per_channel": 5})
    try:
        yield running
    finally:
        await running.close()


async def test_hostile_paper_text_renders_within_limits_in_alerts(capped_harness: BotHarness) -> None:
    harness = capped_harness
    await serve_corpus(harness)
    watch = DiscordWatch(harness)
    server = harness.discord
    alerts_channel = server.add_text_channel(harness.guild, "alerts")
    await wait_until(lambda: harness.running.get_channel(alerts_channel.id) is not None, what="the new channel")
    query = '"@everyone" OR diffusion OR <@123> OR [click](https://evil.example)'
    added = await server.slash(
        "alerts",
        "add",
        as_user=harness.admin,
        channel=harness.channel,
        query=query,
        options={"channel": alerts_channel},
    )
    assert "added" in await answered(added)
    listed = await server.slash(
        "alerts", "list", as_user=harness.member, channel=harness.channel, options={"channel": alerts_channel}
    )
    assert "diffusion" in await answered(listed)

    # The next day brings new hostile papers: one bundled post, 5 listed, the rest summed up.
    harness.hf.set_day(DAY + dt.timedelta(days=1), hostile_corpus(DAY + dt.timedelta(days=1), prefix="2607"))
    await harness.scrape()

    async def delivered() -> bool:
        last = await harness.store.latest_delivery(alerts_channel.id, BATCH_KIND)
        return last is not None and last.status == "sent"

    await eventually(delivered, what="the alert post recorded as sent")
    posted = server.messages_in(alerts_channel)
    text = "\n".join(m.text for m in posted)
    assert "…and 9 more" in text and "/alerts test query:" in text, text[-500:]
    for paper_id in ("2607.20000", "2607.20001"):
        assert f"https://huggingface.co/papers/{paper_id}" in json.dumps([m.embeds for m in posted])
    for message in posted:
        assert_shows_paper_safely(message)
    watch.assert_all_accepted()
