"""The [arxiv] config section, arXiv digest settings and the arXiv digest's messages."""

from __future__ import annotations

import datetime as dt

import pytest

from bot import digest as schedule
from bot.arxiv_digest import category_suggestions, checked_arxiv_settings
from bot.config import ConfigError, build_config
from bot.errors import UserError
from bot.models import DigestSettings, Paper
from bot.render.digest import arxiv_digest_messages
from bot.render.payload import validate_payload
from bot.services.digests import describe_settings

FRIDAY = dt.date(2026, 6, 12)
NOW = dt.datetime(2026, 6, 12, 8, 0, tzinfo=dt.UTC)
BASE = DigestSettings(guild_id=1, channel_id=2)


def test_the_arxiv_section_has_defaults_and_reads_lists_from_the_environment() -> None:
    config = build_config({}, {}, None)
    assert (config.arxiv.categories, config.arxiv.max_requests_per_minute, config.arxiv.backfill_days) == ((), 20, 3)
    from_env = build_config({}, {"PAPERBOY_ARXIV__CATEGORIES": "cs.CL, q-bio.NC"}, None)
    assert from_env.arxiv.categories == ("cs.CL", "q-bio.NC")
    from_file = build_config({"arxiv": {"categories": ["hep-th"], "backfill_days": 0}}, {}, "c.toml")
    assert (from_file.arxiv.categories, from_file.arxiv.backfill_days) == (("hep-th",), 0)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"categories": "cs.CL"}, "[arxiv] categories"),
        ({"categories": ["cs CL"]}, "must hold arXiv categories"),
        ({"max_requests_per_minute": 0}, "[arxiv] max_requests_per_minute"),
        ({"backfill_days": -1}, "[arxiv] backfill_days"),
        ({"api_url": "ftp://x"}, "[arxiv] api_url"),
        ({"mirror": "x"}, "mirror"),
    ],
)
def test_bad_arxiv_settings_name_the_key(section: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        build_config({"arxiv": section}, {}, "c.toml")


def change(*, source: str | None = None, category: str | None = None, query: str | None = None) -> DigestSettings:
    given = schedule.SettingsChange(source=source, category=category, query=query)
    return schedule.apply_change(None, given, BASE, now=NOW)


def test_a_digest_can_switch_source_category_and_query() -> None:
    arxiv = checked_arxiv_settings(change(source="arxiv", category="cs.cl", query=" agents "), ["cs.CL", "cs.LG"])
    assert (arxiv.source, arxiv.category, arxiv.query) == ("arxiv", "cs.CL", "agents")
    assert describe_settings(arxiv).startswith("arXiv cs.CL matching agents, 09:00 UTC")
    kept = schedule.apply_change(arxiv, schedule.SettingsChange(top=3), BASE, now=NOW)
    assert (kept.source, kept.category, kept.query, kept.top) == ("arxiv", "cs.CL", "agents", 3)
    cleared = schedule.apply_change(kept, schedule.SettingsChange(query=""), BASE, now=NOW)
    assert cleared.query is None
    back = schedule.apply_change(cleared, schedule.SettingsChange(source="huggingface"), BASE, now=NOW)
    assert back.source == "huggingface" and checked_arxiv_settings(back, []) == back
    assert describe_settings(back).startswith("09:00 UTC")


@pytest.mark.parametrize(
    ("fields", "followed", "message"),
    [
        ({"source": "arxiv", "category": "cs.CL"}, [], "does not read arXiv"),
        ({"source": "arxiv"}, ["cs.CL"], "needs a category: one of cs.CL"),
        ({"source": "arxiv", "category": "cs.*"}, ["cs.CL"], "not one this bot reads"),
        ({"source": "arxiv", "category": "cs.RO"}, ["cs.CL"], "not one this bot reads"),
        ({"source": "arxiv", "category": "cs.CL", "query": "title:"}, ["cs.CL"], "Query: title: at 0"),
    ],
)
def test_unusable_arxiv_digests_are_refused(fields: dict[str, str], followed: list[str], message: str) -> None:
    with pytest.raises(UserError, match=message):
        checked_arxiv_settings(change(**fields), followed)


def test_category_suggestions_contain_what_was_typed() -> None:
    assert category_suggestions(["cs.CL", "cs.LG", "hep-th"], "c") == ["cs.CL", "cs.LG"]
    assert category_suggestions(["cs.CL", "cs.LG", "hep-th"], "TH") == ["hep-th"]
    assert category_suggestions([f"cs.X{n}" for n in range(40)], "") == [f"cs.X{n}" for n in range(25)]


def papers(count: int) -> list[Paper]:
    return [
        Paper(id=f"2606.{n:05d}", title=f"Paper {n}", summary="An abstract.", sources=("arxiv",), categories=("cs.CL",))
        for n in range(count)
    ]


def test_the_arxiv_digest_names_its_category_and_links_the_rest() -> None:
    (message,) = arxiv_digest_messages(papers(3), category="cs.CL", day=FRIDAY, total=10)
    validate_payload(message)
    embed = message.embeds[0]
    assert embed.title == "arXiv cs.CL · Fri 2026-06-12" and embed.url == "https://arxiv.org/list/cs.CL/new"
    description = embed.description or ""
    assert description.startswith("Top 3 of 10 papers that day")
    assert description.endswith("[…and 7 more papers in cs.CL](https://arxiv.org/list/cs.CL/new)")
    assert "(https://arxiv.org/abs/2606.00000)" in description
    (everything,) = arxiv_digest_messages(papers(3), category="cs.CL", day=FRIDAY, total=3)
    assert "more papers" not in (everything.embeds[0].description or "")


def test_an_arxiv_digest_in_cards_ends_with_the_line_and_empty_days_say_so() -> None:
    *cards, last = arxiv_digest_messages(papers(2), category="cs.CL", day=FRIDAY, total=5, style="cards")
    assert "arXiv cs.CL · Fri 2026-06-12" in (cards[0].content or "") and len(cards[0].embeds) == 2
    assert last.content == "[…and 3 more papers in cs.CL](https://arxiv.org/list/cs.CL/new)"
    (empty,) = arxiv_digest_messages([], category="cs.CL", day=FRIDAY, total=0, late_note="Posted 5 min late.")
    assert empty.content == (
        "Posted 5 min late.\nNo new arXiv papers in cs.CL for Fri 2026-06-12 (no announcement, or none matched)."
    )
    assert arxiv_digest_messages([], category="cs.CL", day=FRIDAY, total=0, post_empty=False) == []
    week = arxiv_digest_messages(papers(1), category="cs.CL", day=FRIDAY, total=1, first_day=FRIDAY - dt.timedelta(6))
    assert week[0].embeds[0].title == "arXiv cs.CL · 6 Jun – 12 Jun"
