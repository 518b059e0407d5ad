"""Daily and weekly digests: when each channel is due (zoneinfo, DST-safe) and which papers it gets."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
import zoneinfo
from collections.abc import Container, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from bot.config import DigestConfig, check_timezone, parse_hhmm
from bot.errors import UserError
from bot.models import DigestSettings, Paper
from bot.store import AnyStore

log = logging.getLogger(__name__)

UTC = dt.UTC
_SEARCH_LIMIT_MINUTES = 24 * 60  # no real zone skips more than a day
ZONE_CHOICES = 25  # Discord shows at most 25 autocomplete choices
WEEK_DAYS = 7
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
WEEK_KEY_PREFIX = "week:"


def week_key(local_date: dt.date) -> str:
    """A weekly digest's delivery key, e.g. 'week:2026-W49': one per ISO week, never a daily key."""
    year, week, _ = local_date.isocalendar()
    return f"{WEEK_KEY_PREFIX}{year}-W{week:02d}"


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One scheduled digest: the local date it belongs to, the instant it is due, and the papers day."""

    local_date: dt.date
    due: dt.datetime  # UTC
    papers_day: dt.date  # a weekly digest's last day
    weekly: bool = False

    @property
    def first_day(self) -> dt.date:
        """The first papers day covered: the papers day itself, or six days before it for a weekly digest."""
        return self.papers_day - dt.timedelta(days=WEEK_DAYS - 1) if self.weekly else self.papers_day

    @property
    def days(self) -> list[dt.date]:
        """Every papers day covered, oldest first."""
        return [self.first_day + dt.timedelta(days=n) for n in range((self.papers_day - self.first_day).days + 1)]

    @property
    def key(self) -> str:
        """The delivery key: the papers day (ISO) for a daily digest, the ISO week of the run for a weekly one."""
        return week_key(self.local_date) if self.weekly else self.papers_day.isoformat()


def _exists(naive: dt.datetime, zone: zoneinfo.ZoneInfo) -> bool:
    """Whether a wall-clock time occurs in `zone` (false inside a DST gap)."""
    aware = naive.replace(tzinfo=zone)
    return aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == naive


def due_instant(local_date: dt.date, at: dt.time, timezone: str) -> dt.datetime:
    """The UTC instant of local time `at` on `local_date` in `timezone`.

    A time skipped by a DST jump runs at the first valid minute after it; a time that occurs twice
    runs at its first occurrence only.
    """
    zone = zoneinfo.ZoneInfo(timezone)
    naive = dt.datetime.combine(local_date, at)
    for _ in range(_SEARCH_LIMIT_MINUTES):
        if _exists(naive, zone):
            return naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
        naive = naive.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    raise ValueError(f"no valid local time near {at} on {local_date} in {timezone}")


def papers_day_for(local_date: dt.date, due: dt.datetime) -> dt.date:
    """The Daily Papers day a digest posted on `local_date` covers: the day before, if it is complete.

    Daily Papers days are UTC dates; in zones far east of UTC the local morning comes before the
    previous UTC day has ended, so the latest complete day may be two local days back.
    """
    latest_complete = due.astimezone(UTC).date() - dt.timedelta(days=1)
    return min(local_date - dt.timedelta(days=1), latest_complete)


def runs_on(settings: DigestSettings, local_date: dt.date) -> bool:
    """Whether the channel gets a digest on this local date (a weekly one only on its weekday)."""
    if settings.frequency == "weekly":
        return local_date.weekday() == settings.weekday
    return not (settings.weekdays_only and local_date.weekday() >= 5)


def occurrence_on(settings: DigestSettings, local_date: dt.date) -> Occurrence:
    """The digest of `local_date` for a channel."""
    due = due_instant(local_date, settings.time, settings.timezone)
    return Occurrence(local_date, due, papers_day_for(local_date, due), weekly=settings.frequency == "weekly")


def local_today(now: dt.datetime, timezone: str) -> dt.date:
    """The date it is in `timezone` at `now`."""
    return now.astimezone(zoneinfo.ZoneInfo(timezone)).date()


def next_occurrence(settings: DigestSettings, after: dt.datetime) -> Occurrence:
    """The first digest due strictly after `after`."""
    day = local_today(after, settings.timezone) - dt.timedelta(days=1)
    for _ in range(WEEK_DAYS + 3):
        if runs_on(settings, day):
            occurrence = occurrence_on(settings, day)
            if occurrence.due > after:
                return occurrence
        day += dt.timedelta(days=1)
    raise AssertionError("a digest runs at least every few days")  # pragma: no cover


# Upcoming digests looked at when skipping delivered days. A digest posted early (by /digest now) covers at
# most the next scheduled one's day: papers days grow, and none after today's covered day can be posted yet.
RUNS_IN_VIEW = 2


@dataclass(frozen=True, slots=True)
class Outlook:
    """A channel's latest digest due (None if none in the last week) and the next ones, in order."""

    latest: Occurrence | None
    upcoming: tuple[Occurrence, ...]

    def delivery_keys(self) -> list[str]:
        """The delivery keys that decide what the channel posts next."""
        return ([self.latest.key] if self.latest else []) + [o.key for o in self.upcoming]


def outlook(settings: DigestSettings, now: dt.datetime, count: int = RUNS_IN_VIEW) -> Outlook:
    """The latest digest due at or before `now` and the next `count` due after it (one pass over the days)."""
    day = local_today(now, settings.timezone) - dt.timedelta(days=1)
    latest: Occurrence | None = None
    upcoming: list[Occurrence] = []
    for _ in range((WEEK_DAYS + 3) * count):
        if runs_on(settings, day):
            occurrence = occurrence_on(settings, day)
            if occurrence.due <= now:
                latest = occurrence  # due instants grow with the local date: the last one seen is the latest
            else:
                upcoming.append(occurrence)
                if len(upcoming) == count:
                    break
        day += dt.timedelta(days=1)
    if latest is None:  # e.g. a weekday digest on a Monday morning: look further back
        latest = latest_occurrence(settings, now)
    return Outlook(latest, tuple(upcoming))


def still_to_post(occurrence: Occurrence, delivered_keys: Container[str]) -> bool:
    """Whether a digest will really post: its key (papers day or week) has no delivery in the channel yet."""
    return occurrence.key not in delivered_keys


def next_run(view: Outlook, delivered_keys: Container[str]) -> Occurrence:
    """The first upcoming digest that will really post (one whose day was delivered early is skipped)."""
    return next((o for o in view.upcoming if still_to_post(o, delivered_keys)), view.upcoming[-1])


def latest_occurrence(settings: DigestSettings, at_or_before: dt.datetime) -> Occurrence | None:
    """The most recent digest due at or before `at_or_before` (None if none in the last week)."""
    day = local_today(at_or_before, settings.timezone) + dt.timedelta(days=1)
    for _ in range(WEEK_DAYS + 3):
        if runs_on(settings, day):
            occurrence = occurrence_on(settings, day)
            if occurrence.due <= at_or_before:
                return occurrence
        day -= dt.timedelta(days=1)
    return None


def select_papers(papers: Sequence[Paper], *, top: int, min_upvotes: int) -> list[Paper]:
    """A day's papers for a digest: most upvoted first, at least `min_upvotes`, at most `top`."""
    eligible = [p for p in papers if p.upvotes >= min_upvotes]
    eligible.sort(key=lambda p: (-p.upvotes, p.id))
    return eligible[:top]


def select_week_papers(papers: Sequence[Paper], *, top: int, min_upvotes: int) -> list[Paper]:
    """A week's papers for a weekly digest: each paper once (its most upvoted entry), then as `select_papers`."""
    best: dict[str, Paper] = {}
    for paper in papers:
        if paper.id not in best or paper.upvotes > best[paper.id].upvotes:
            best[paper.id] = paper
    return select_papers(list(best.values()), top=top, min_upvotes=min_upvotes)


@dataclass(frozen=True, slots=True)
class Lateness:
    """How a due digest should be posted given how late it is."""

    late: bool
    missed: bool
    note: str | None


def lateness(due: dt.datetime, now: dt.datetime, grace: dt.timedelta) -> Lateness:
    """On time (within a minute), late with a note (within grace), or missed."""
    delay = now - due
    if delay <= dt.timedelta(minutes=1):
        return Lateness(False, False, None)
    if delay <= grace:
        minutes = int(delay.total_seconds() // 60)
        text = f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"
        return Lateness(True, False, f"Posted {text} late: the bot was offline when this digest was due.")
    return Lateness(True, True, None)


FRESH_FOR = dt.timedelta(minutes=10)


class DayRefresher(Protocol):
    """Something that re-reads one day from the source into the store (the scraper)."""

    async def scrape_day(self, day: dt.date) -> object:
        """Fetch `day` and store it."""
        ...


async def ensure_fresh(store: AnyStore, refresher: DayRefresher | None, day: dt.date, now: dt.datetime) -> None:
    """Re-read `day` from the source if the cache of it is older than ten minutes; errors are logged only."""
    if refresher is None:
        return
    last = await store.last_scrape_run(day)
    if last is not None and last.outcome in ("ok", "empty") and now - last.finished <= FRESH_FOR:
        return
    try:
        await refresher.scrape_day(day)
    except Exception:
        log.exception("refreshing %s before its digest failed; using the cache", day)


@dataclass(frozen=True, slots=True)
class DigestPlan:
    """What one channel gets for one digest."""

    day: dt.date  # a weekly digest's last day
    papers: list[Paper]
    total: int  # papers featured that day (or week), before filtering
    first_day: dt.date | None = None  # set for a weekly digest


def week_ending(day: dt.date) -> list[dt.date]:
    """The seven papers days a weekly digest ending with `day` covers, oldest first."""
    return [day - dt.timedelta(days=n) for n in range(WEEK_DAYS - 1, -1, -1)]


async def plan_digest(
    store: AnyStore,
    settings: DigestSettings,
    day: dt.date,
    *,
    top: int | None = None,
    papers: Sequence[Paper] | None = None,
) -> DigestPlan:
    """The papers a channel's digest shows, from the cache (or from `papers` of those days).

    A daily digest shows `day`; a weekly one the seven days ending with `day`. An arXiv digest shows its
    category's announcement instead (bot.arxiv_digest).
    """
    if settings.source == "arxiv":
        from bot.arxiv_digest import plan_arxiv_digest  # it builds a DigestPlan of this module

        return await plan_arxiv_digest(store, settings, day, top=top)
    if settings.frequency == "weekly":
        days = week_ending(day)
        if papers is None:
            papers = [paper for each in days for paper in await store.papers_of_day(each)]
        chosen = select_week_papers(papers, top=top or settings.top, min_upvotes=settings.min_upvotes)
        return DigestPlan(day=day, papers=chosen, total=len({p.id for p in papers}), first_day=days[0])
    if papers is None:
        papers = await store.papers_of_day(day)
    chosen = select_papers(papers, top=top or settings.top, min_upvotes=settings.min_upvotes)
    return DigestPlan(day=day, papers=chosen, total=len(papers))


async def prepare_digest(
    store: AnyStore, refresher: DayRefresher | None, settings: DigestSettings, day: dt.date, now: dt.datetime
) -> DigestPlan:
    """Refresh `day` if its cache is stale, then plan the channel's digest of it."""
    await ensure_fresh(store, refresher, day, now)
    return await plan_digest(store, settings, day)


def default_settings(
    defaults: DigestConfig, *, guild_id: int = 0, channel_id: int = 0, top: int | None = None
) -> DigestSettings:
    """The settings a channel without its own gets (also what `paperboy digest` prints)."""
    return DigestSettings(
        guild_id=guild_id,
        channel_id=channel_id,
        time=parse_hhmm(defaults.default_time),
        timezone=defaults.default_timezone,
        top=top if top is not None else defaults.default_top,
    )


def covered_day(settings: DigestSettings, now: dt.datetime) -> dt.date:
    """The papers day a digest of this channel posted at `now` would cover (a weekly one's last day)."""
    return papers_day_for(local_today(now, settings.timezone), now)


def key_now(settings: DigestSettings, day: dt.date, now: dt.datetime) -> str:
    """The delivery key of a digest of `day` posted at `now`: the day, or for a weekly digest the current week."""
    return week_key(local_today(now, settings.timezone)) if settings.frequency == "weekly" else day.isoformat()


@dataclass(frozen=True, slots=True)
class SettingsChange:
    """What `/digest set` was given; None keeps the current value (or the default for a new digest)."""

    time: str | None = None
    timezone: str | None = None
    top: int | None = None
    min_upvotes: int | None = None
    weekdays_only: bool | None = None
    style: str | None = None
    empty_days: str | None = None  # "post" | "skip"
    frequency: str | None = None  # "daily" | "weekly"
    weekday: str | None = None  # "mon" .. "sun"
    source: str | None = None  # "huggingface" | "arxiv"
    category: str | None = None  # an arXiv category
    query: str | None = None  # narrows an arXiv digest; "" clears it


WEEKDAY_CODES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def weekday_note(change: SettingsChange, stored: DigestSettings) -> str | None:
    """A remark for the reply when a weekday was given but the digest is daily, where it has no effect."""
    if change.weekday is not None and stored.frequency != "weekly":
        return "The weekday only applies to weekly digests: this one is daily (add `frequency: weekly`)."
    return None


def _frequency(change: SettingsChange, start: DigestSettings) -> Literal["daily", "weekly"]:
    if change.frequency is None:
        return start.frequency
    return "weekly" if change.frequency == "weekly" else "daily"


def _checked_weekday(code: str) -> int:
    try:
        return WEEKDAY_CODES.index(code.strip().lower()[:3])
    except ValueError as exc:
        raise UserError(f"Weekday: {code!r} is not one of {', '.join(WEEKDAY_CODES)}.") from exc


def _checked_time(text: str) -> dt.time:
    try:
        return parse_hhmm(text)
    except ValueError as exc:
        raise UserError(f"Time: {exc}.") from exc


def _checked_zone(name: str) -> str:
    try:
        return check_timezone(name)
    except ValueError as exc:
        raise UserError(f"Time zone: {exc}; start typing to pick one from the list.") from exc


def apply_change(
    current: DigestSettings | None, change: SettingsChange, base: DigestSettings, *, now: dt.datetime
) -> DigestSettings:
    """New settings from a change over the current ones (or over `base`, the defaults); UserError if bad."""
    start = current or base
    return dataclasses.replace(
        start,
        guild_id=base.guild_id,
        channel_id=base.channel_id,
        time=_checked_time(change.time) if change.time is not None else start.time,
        timezone=_checked_zone(change.timezone if change.timezone is not None else start.timezone),
        top=change.top if change.top is not None else start.top,
        min_upvotes=change.min_upvotes if change.min_upvotes is not None else start.min_upvotes,
        weekdays_only=change.weekdays_only if change.weekdays_only is not None else start.weekdays_only,
        style=change.style or start.style,
        post_empty=(change.empty_days == "post") if change.empty_days else start.post_empty,
        enabled=True,
        disabled_reason=None,
        effective_from=now,
        frequency=_frequency(change, start),
        weekday=_checked_weekday(change.weekday) if change.weekday is not None else start.weekday,
        source="arxiv" if (change.source or start.source) == "arxiv" else "huggingface",
        category=change.category if change.category is not None else start.category,
        query=(change.query.strip() or None) if change.query is not None else start.query,
    )


def zone_suggestions(typed: str, limit: int = ZONE_CHOICES) -> list[str]:
    """IANA zone names containing what was typed, those starting with it first."""
    needle = typed.strip().lower().replace(" ", "_")
    zones = _zones()
    starts = [zone for zone in zones if zone.lower().startswith(needle)]
    contains = [zone for zone in zones if needle in zone.lower() and not zone.lower().startswith(needle)]
    return (starts + contains)[:limit]


@functools.cache
def _zones() -> list[str]:
    return sorted(zoneinfo.available_timezones())
