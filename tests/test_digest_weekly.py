"""Weekly digests through the scheduler (real store, manual clock, in-memory transport) and their rendering."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.digest import SettingsChange, apply_change, weekday_note
from bot.errors import UserError
from bot.models import DigestSettings, Paper
from bot.render import digest_messages
from bot.services.digests import KIND, DigestScheduler, describe_settings
from bot.store import Store
from tests.fakes.clock import ManualClock
from tests.fakes.transport import MemoryTransport
from tests.test_render_views import DIGEST_VISIBLE_LIMIT, FIXTURES, shown_text, top_of_biggest_day

SATURDAY = dt.datetime(2026, 12, 5, 9, 0, tzinfo=dt.UTC)  # a weekly digest of 28 Nov - 4 Dec is due
WEEK = [dt.date(2026, 11, 28) + dt.timedelta(days=n) for n in range(7)]


def paper(number: int, day: dt.date, upvotes: int) -> Paper:
    return Paper(id=f"2611.{number:05d}", title=f"Paper number {number}", summary="We study things.", day=day,
                 upvotes=upvotes)  # fmt: skip


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "weekly.db")
    # One paper a day of the week, more upvotes later in the week; big ones just outside it on both sides.
    for number, day in enumerate(WEEK, 1):
        await opened.upsert_papers([paper(number, day, upvotes=10 * number)], day=day)
    await opened.upsert_papers([paper(90, dt.date(2026, 11, 27), upvotes=999)], day=dt.date(2026, 11, 27))
    await opened.upsert_papers([paper(91, dt.date(2026, 12, 5), upvotes=999)], day=dt.date(2026, 12, 5))
    await opened.save_digest_settings(
        DigestSettings(
            guild_id=1,
            channel_id=11,
            top=3,
            min_upvotes=25,
            frequency="weekly",
            weekday=5,
            effective_from=SATURDAY - dt.timedelta(days=3),
        )  # fmt: skip
    )
    yield opened
    await opened.close()


async def test_a_weekly_digest_posts_the_weeks_top_papers_once_on_its_weekday(store: Store) -> None:
    transport = MemoryTransport()
    clock = ManualClock(SATURDAY - dt.timedelta(days=1))
    scheduler = DigestScheduler(store, transport, clock)
    assert await scheduler.run_due() == SATURDAY
    assert transport.posts == []
    clock.set(SATURDAY)
    assert await scheduler.run_due() == SATURDAY + dt.timedelta(days=7)
    [post] = transport.posts
    assert "Weekly Papers · 28 Nov – 4 Dec" in post.text and "Top 3 of 7 papers that week" in post.text
    # The most upvoted of the seven days, at least 25 upvotes; nothing from outside the week.
    assert post.text.index("Paper number 7") < post.text.index("Paper number 6") < post.text.index("Paper number 5")
    assert "Paper number 4" not in post.text and "Paper number 9" not in post.text
    delivery = await store.get_delivery(11, KIND, "week:2026-W49")
    assert delivery is not None and delivery.status == "sent"
    for hours in range(1, 7 * 24, 5):  # every other day of the week: nothing more
        clock.set(SATURDAY + dt.timedelta(hours=hours))
        await scheduler.run_due()
    assert len(transport.posts) == 1
    clock.set(SATURDAY + dt.timedelta(days=7))
    await scheduler.run_due()
    assert len(transport.posts) == 2 and "Weekly Papers · 5 Dec – 11 Dec" in transport.posts[1].text


async def test_a_weekly_digest_catches_up_late_within_grace_and_else_posts_one_missed_line(store: Store) -> None:
    transport = MemoryTransport()
    clock = ManualClock(SATURDAY + dt.timedelta(hours=2))
    scheduler = DigestScheduler(store, transport, clock, grace=dt.timedelta(hours=6))
    await scheduler.run_due()
    [late] = transport.posts
    assert "Posted 2 h 0 min late" in late.text and "Paper number 7" in late.text
    clock.set(SATURDAY + dt.timedelta(days=7, hours=7))  # the next week's came due while the bot was down
    await scheduler.run_due()
    await scheduler.run_due()
    assert len(transport.posts) == 2
    missed = transport.posts[1].text
    assert "weekly digest for 5 Dec – 11 Dec was skipped" in missed and "Paper number" not in missed
    delivery = await store.get_delivery(11, KIND, "week:2026-W50")
    assert delivery is not None and delivery.outcome == "missed"


async def test_digest_now_on_a_weekly_channel_counts_as_this_weeks(store: Store) -> None:
    transport = MemoryTransport()
    clock = ManualClock(SATURDAY - dt.timedelta(hours=1))
    scheduler = DigestScheduler(store, transport, clock)
    settings = await store.get_digest_settings(11)
    assert settings is not None and describe_settings(settings).startswith("09:00 UTC, weekly on Saturdays")
    await scheduler.post_now(settings, dt.date(2026, 12, 4))
    assert "Weekly Papers · 28 Nov – 4 Dec" in transport.posts[0].text
    clock.set(SATURDAY)
    await scheduler.run_due()
    assert len(transport.posts) == 1, "this week's digest was already posted"


def test_a_weekly_top_ten_keeps_the_compact_layout_within_a_screen() -> None:
    day, ranked, total = top_of_biggest_day(FIXTURES / "hf_daily_2026-06-12.json")
    messages = digest_messages(ranked[:10], day=day, total_that_day=total * 5, first_day=day - dt.timedelta(days=6))
    assert len(messages) == 1 and len(messages[0].embeds) == 1
    text = shown_text(messages)
    assert len(text) <= DIGEST_VISIBLE_LIMIT, len(text)
    assert messages[0].embeds[0].title == "Weekly Papers · 6 Jun – 12 Jun"
    assert f"Top 10 of {total * 5} papers that week" in text


def test_a_weekday_needs_a_weekly_digest_and_must_be_a_day() -> None:
    base = DigestSettings(guild_id=1, channel_id=2)
    now = SATURDAY
    weekly = apply_change(None, SettingsChange(frequency="weekly", weekday="fri"), base, now=now)
    assert (weekly.frequency, weekly.weekday) == ("weekly", 4)
    assert weekday_note(SettingsChange(weekday="fri"), weekly) is None
    kept = apply_change(weekly, SettingsChange(top=5), base, now=now)
    assert (kept.frequency, kept.weekday) == ("weekly", 4)
    daily = apply_change(weekly, SettingsChange(frequency="daily"), base, now=now)
    note = weekday_note(SettingsChange(weekday="mon"), daily)
    assert daily.frequency == "daily" and note is not None and "only applies to weekly" in note
    with pytest.raises(UserError, match="Weekday"):
        apply_change(None, SettingsChange(weekday="someday"), base, now=now)
