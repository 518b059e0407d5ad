"""Digest schedule arithmetic across zones and DST transitions, and paper selection."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.digest import (
    due_instant,
    lateness,
    latest_occurrence,
    next_occurrence,
    next_run,
    outlook,
    papers_day_for,
    select_papers,
)
from bot.models import DigestSettings, Paper

UTC = dt.UTC


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def channel(time: str = "09:00", tz: str = "UTC", **kw: object) -> DigestSettings:
    hour, minute = map(int, time.split(":"))
    return DigestSettings(guild_id=1, channel_id=2, time=dt.time(hour, minute), timezone=tz, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("zone", "date", "time", "expected"),
    [
        # Plain offsets.
        ("UTC", dt.date(2026, 6, 12), dt.time(9), utc(2026, 6, 12, 9)),
        ("Asia/Kolkata", dt.date(2026, 6, 12), dt.time(9), utc(2026, 6, 12, 3, 30)),
        ("Pacific/Chatham", dt.date(2026, 6, 12), dt.time(9), utc(2026, 6, 11, 20, 15)),  # +12:45
        ("Pacific/Chatham", dt.date(2026, 1, 12), dt.time(9), utc(2026, 1, 11, 19, 15)),  # +13:45 (DST)
        ("Europe/Berlin", dt.date(2026, 1, 12), dt.time(9), utc(2026, 1, 12, 8)),
        ("Europe/Berlin", dt.date(2026, 7, 12), dt.time(9), utc(2026, 7, 12, 7)),
        # Spring forward: 02:30 does not exist in New York on 2026-03-08; run at 03:00 EDT.
        ("America/New_York", dt.date(2026, 3, 8), dt.time(2, 30), utc(2026, 3, 8, 7)),
        ("America/New_York", dt.date(2026, 3, 8), dt.time(3, 0), utc(2026, 3, 8, 7)),
        # Fall back: 01:30 happens twice on 2026-11-01; run at the first (EDT, UTC-4).
        ("America/New_York", dt.date(2026, 11, 1), dt.time(1, 30), utc(2026, 11, 1, 5, 30)),
        # Berlin skips 02:00-03:00 on 2026-03-29 and repeats 02:00-03:00 on 2026-10-25.
        ("Europe/Berlin", dt.date(2026, 3, 29), dt.time(2, 15), utc(2026, 3, 29, 1)),
        ("Europe/Berlin", dt.date(2026, 10, 25), dt.time(2, 15), utc(2026, 10, 25, 0, 15)),
        # Lord Howe moves by 30 minutes: 02:00 -> 02:30 on 2026-10-04; 02:15 runs at 02:30 (+11:00).
        ("Australia/Lord_Howe", dt.date(2026, 10, 4), dt.time(2, 15), utc(2026, 10, 3, 15, 30)),
        # ...and 01:30-02:00 happens twice on 2026-04-05; 01:45 runs at the first (+11:00).
        ("Australia/Lord_Howe", dt.date(2026, 4, 5), dt.time(1, 45), utc(2026, 4, 4, 14, 45)),
    ],
)
def test_due_instant(zone: str, date: dt.date, time: dt.time, expected: dt.datetime) -> None:
    assert due_instant(date, time, zone) == expected


def test_ambiguous_time_runs_once() -> None:
    settings_ = channel("01:30", "America/New_York")
    first = next_occurrence(settings_, utc(2026, 11, 1, 0))
    second = next_occurrence(settings_, first.due)
    assert first.local_date == dt.date(2026, 11, 1)
    assert second.local_date == dt.date(2026, 11, 2)


@given(
    zone=st.sampled_from(
        ["UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Chatham"]
    ),
    minute_of_day=st.integers(0, 24 * 60 - 1),
    start=st.datetimes(min_value=dt.datetime(2025, 1, 1), max_value=dt.datetime(2027, 12, 31)),  # noqa: DTZ001
)
@settings(max_examples=150, deadline=None)
def test_one_occurrence_per_local_day(zone: str, minute_of_day: int, start: dt.datetime) -> None:
    settings_ = channel(f"{minute_of_day // 60:02d}:{minute_of_day % 60:02d}", zone)
    now = start.replace(tzinfo=UTC)
    dates = []
    for _ in range(5):
        occurrence = next_occurrence(settings_, now)
        assert occurrence.due > now
        assert latest_occurrence(settings_, occurrence.due) == occurrence
        dates.append(occurrence.local_date)
        now = occurrence.due
    assert all((b - a).days == 1 for a, b in zip(dates, dates[1:], strict=False))


def test_weekdays_only_skips_weekends() -> None:
    settings_ = channel(weekdays_only=True)
    friday = next_occurrence(settings_, utc(2026, 6, 12, 8))
    monday = next_occurrence(settings_, friday.due)
    assert friday.local_date.weekday() == 4 and monday.local_date == dt.date(2026, 6, 15)


def test_papers_day_is_the_previous_complete_utc_day() -> None:
    assert papers_day_for(dt.date(2026, 6, 12), utc(2026, 6, 12, 9)) == dt.date(2026, 6, 11)
    # Chatham's morning of the 12th is still the 11th in UTC: the 11th is not complete yet.
    assert papers_day_for(dt.date(2026, 6, 12), utc(2026, 6, 11, 20, 15)) == dt.date(2026, 6, 10)


def test_select_papers_ranks_filters_and_cuts() -> None:
    papers = [Paper(id=f"2606.0000{i}", title=f"P{i}", upvotes=u) for i, u in enumerate([5, 50, 0, 20, 20])]
    chosen = select_papers(papers, top=3, min_upvotes=5)
    assert [p.upvotes for p in chosen] == [50, 20, 20]
    assert [p.id for p in chosen][1:] == ["2606.00003", "2606.00004"]


def test_lateness_windows() -> None:
    due, grace = utc(2026, 6, 12, 9), dt.timedelta(hours=6)
    assert lateness(due, due + dt.timedelta(seconds=30), grace).late is False
    late = lateness(due, due + dt.timedelta(hours=2, minutes=5), grace)
    assert late.late and not late.missed and late.note and "2 h 5 min late" in late.note
    assert lateness(due, due + dt.timedelta(hours=7), grace).missed


@given(
    zone=st.sampled_from(["UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata", "Pacific/Chatham"]),
    minute_of_day=st.integers(0, 24 * 60 - 1),
    weekdays_only=st.booleans(),
    start=st.datetimes(min_value=dt.datetime(2025, 1, 1), max_value=dt.datetime(2027, 12, 31)),  # noqa: DTZ001
)
@settings(max_examples=150, deadline=None)
def test_outlook_agrees_with_latest_and_next_occurrence(
    zone: str, minute_of_day: int, weekdays_only: bool, start: dt.datetime
) -> None:
    settings_ = channel(f"{minute_of_day // 60:02d}:{minute_of_day % 60:02d}", zone, weekdays_only=weekdays_only)
    now = start.replace(tzinfo=UTC)
    view = outlook(settings_, now)
    first = next_occurrence(settings_, now)
    assert view.latest == latest_occurrence(settings_, now)
    assert view.upcoming == (first, next_occurrence(settings_, first.due))
    # Nothing delivered: the next run is the next occurrence; its day delivered early: the one after.
    assert next_run(view, set()) == first
    assert next_run(view, {first.papers_day}) == view.upcoming[1]
    assert view.days()[-2:] == [first.papers_day, view.upcoming[1].papers_day]
