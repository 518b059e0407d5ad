"""Digest schedule arithmetic across zones and DST transitions, and paper selection."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

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
    select_week_papers,
    week_key,
)
from bot.models import DigestSettings, Paper

UTC = dt.UTC


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


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
    assert next_run(view, {first.papers_day.isoformat()}) == view.upcoming[1]
    assert view.delivery_keys()[-2:] == [first.papers_day.isoformat(), view.upcoming[1].papers_day.isoformat()]


WEEKLY_ZONES = ["UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Chatham"]


@given(
    zone=st.sampled_from(WEEKLY_ZONES),
    minute_of_day=st.integers(0, 24 * 60 - 1),
    weekday=st.integers(0, 6),
    start=st.datetimes(min_value=dt.datetime(2025, 1, 1), max_value=dt.datetime(2027, 12, 31)),  # noqa: DTZ001
)
@settings(max_examples=150, deadline=None)
def test_weekly_runs_once_per_iso_week_on_its_weekday(
    zone: str, minute_of_day: int, weekday: int, start: dt.datetime
) -> None:
    at = dt.time(minute_of_day // 60, minute_of_day % 60)
    settings_ = channel(f"{at:%H:%M}", zone, frequency="weekly", weekday=weekday)
    now = start.replace(tzinfo=UTC)
    occurrences = []
    for _ in range(6):  # six weeks span DST changes for many starts
        occurrence = next_occurrence(settings_, now)
        assert occurrence.due > now
        assert latest_occurrence(settings_, occurrence.due) == occurrence
        assert occurrence.local_date.weekday() == weekday and occurrence.weekly
        local = occurrence.due.astimezone(ZoneInfo(zone))
        assert local.date() == occurrence.local_date
        wall = dt.datetime.combine(occurrence.local_date, at)
        exists = wall.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC).astimezone(ZoneInfo(zone)).replace(tzinfo=None)
        if exists == wall:
            assert local.time() == at  # the local time when it exists that day
        else:
            assert local.time() > at  # skipped by a DST jump: the first valid minute after it
        assert occurrence.days == [occurrence.papers_day - dt.timedelta(days=n) for n in range(6, -1, -1)]
        occurrences.append(occurrence)
        now = occurrence.due
    dues = [o.due for o in occurrences]
    assert dues == sorted(dues) and len(set(dues)) == len(dues)
    weeks = [o.local_date.isocalendar()[:2] for o in occurrences]
    dates = [o.local_date for o in occurrences]
    assert all((b - a).days == 7 for a, b in zip(dates, dates[1:], strict=False))
    assert len(set(weeks)) == len(weeks)
    assert len({o.key for o in occurrences}) == len(occurrences)


@given(
    zone=st.sampled_from(WEEKLY_ZONES),
    minute_of_day=st.integers(0, 24 * 60 - 1),
    weekday=st.integers(0, 6),
    start=st.datetimes(min_value=dt.datetime(2025, 1, 1), max_value=dt.datetime(2027, 12, 31)),  # noqa: DTZ001
)
@settings(max_examples=100, deadline=None)
def test_weekly_outlook_agrees_with_latest_and_next_occurrence(
    zone: str, minute_of_day: int, weekday: int, start: dt.datetime
) -> None:
    at = f"{minute_of_day // 60:02d}:{minute_of_day % 60:02d}"
    settings_ = channel(at, zone, frequency="weekly", weekday=weekday)
    now = start.replace(tzinfo=UTC)
    view = outlook(settings_, now)
    first = next_occurrence(settings_, now)
    assert view.latest == latest_occurrence(settings_, now)
    assert view.latest is not None and now - view.latest.due < dt.timedelta(days=8)
    assert view.upcoming == (first, next_occurrence(settings_, first.due))


def test_weekly_digest_on_saturday_covers_the_previous_seven_days() -> None:
    settings_ = channel("09:00", "Europe/Berlin", frequency="weekly", weekday=5)
    saturday = next_occurrence(settings_, utc(2026, 12, 1, 12))
    assert saturday.local_date == dt.date(2026, 12, 5) and saturday.due == utc(2026, 12, 5, 8)
    assert (saturday.first_day, saturday.papers_day) == (dt.date(2026, 11, 28), dt.date(2026, 12, 4))
    assert saturday.key == "week:2026-W49" == week_key(dt.date(2026, 11, 30))
    daily = next_occurrence(channel("09:00", "Europe/Berlin"), utc(2026, 12, 5, 7))
    assert daily.key == "2026-12-04" and daily.days == [dt.date(2026, 12, 4)]


def test_weekdays_only_does_not_limit_a_weekly_digest() -> None:
    sunday = next_occurrence(channel(frequency="weekly", weekday=6, weekdays_only=True), utc(2026, 12, 1))
    assert sunday.local_date == dt.date(2026, 12, 6)


def test_select_week_papers_counts_each_paper_once_at_its_best() -> None:
    week = [
        Paper(id="2612.00001", title="A", upvotes=7),
        Paper(id="2612.00001", title="A", upvotes=30),  # featured again later with more upvotes
        Paper(id="2612.00002", title="B", upvotes=20),
        Paper(id="2612.00003", title="C", upvotes=2),
    ]
    chosen = select_week_papers(week, top=5, min_upvotes=5)
    assert [(p.id, p.upvotes) for p in chosen] == [("2612.00001", 30), ("2612.00002", 20)]
