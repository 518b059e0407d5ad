"""Backend-neutral row handling shared by the SQLite and Postgres stores: column lists, row → model, model → values."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

from bot.models import (
    DELIVERY_KINDS,
    DELIVERY_STATUSES,
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    DigestSettings,
    Paper,
    ScrapeRun,
    Subscription,
)
from bot.store.errors import StoreError

log = logging.getLogger(__name__)

PAPER_COLUMNS = (
    "id, title, authors, summary, published, day, upvotes, ai_summary, ai_keywords, github_repo, "
    "github_stars, project_page, thumbnail, num_comments, organization, "
    "categories, sources, comments, journal_ref, version, updated"
)
PAPER_COLUMN_COUNT = len(PAPER_COLUMNS.split(","))
# The same columns qualified with the `p` alias, for joins.
P_COLUMNS = ", ".join(f"p.{name.strip()}" for name in PAPER_COLUMNS.split(","))
# Columns whose change counts as new metadata (the rest are bookkeeping).
CONTENT_FIELDS = (
    "title",
    "authors",
    "summary",
    "published",
    "ai_summary",
    "ai_keywords",
    "github_repo",
    "github_stars",
    "project_page",
    "thumbnail",
    "num_comments",
    "organization",
    "categories",
    "sources",
    "comments",
    "journal_ref",
    "version",
    "updated",
)
# Which source is the authority for which columns when one paper is seen by both (bot.store merges them).
SOURCE_ORDER = ("huggingface", "arxiv")
HF_FIELDS = (
    "upvotes",
    "ai_summary",
    "ai_keywords",
    "github_repo",
    "github_stars",
    "project_page",
    "thumbnail",
    "num_comments",
    "organization",
)
ARXIV_FIELDS = ("categories", "comments", "journal_ref", "version", "updated")
SHARED_FIELDS = ("title", "authors", "summary", "published")  # arXiv's win (it has the latest version)
RUN_COLUMNS = "id, source, day, started, finished, outcome, fetched, new, updated, skipped, error"
DELIVERY_COLUMNS = (
    "channel_id, kind, key, status, nonce, message_id, attempts, payload, error, batch, outcome, "
    "created_at, updated_at, next_attempt_at"
)
DIGEST_COLUMNS = (
    "guild_id, channel_id, time, timezone, top, min_upvotes, weekdays_only, style, post_empty, enabled, "
    "disabled_reason, created_at, frequency, weekday, source, category, query"
)
SUBSCRIPTION_COLUMNS = "id, guild_id, channel_id, query, normalized, created_by, created_at, skip_digest_papers"


class _NamedColumns(Protocol):
    """A row whose columns can be read by name (sqlite3.Row, a psycopg dict row)."""

    def __getitem__(self, name: str, /) -> Any: ...


def stored_date(text: str | None) -> dt.date | None:
    """A stored ISO date, or None for an empty column."""
    return dt.date.fromisoformat(text) if text else None


def stored_instant(text: str | None) -> dt.datetime | None:
    """A stored ISO instant, or None for an empty column."""
    return dt.datetime.fromisoformat(text) if text else None


def paper_from_row(row: Sequence[Any]) -> Paper:
    """Build a Paper from a row selected with PAPER_COLUMNS."""
    return Paper(
        id=row[0],
        title=row[1],
        authors=tuple(json.loads(row[2])),
        summary=row[3],
        published=stored_date(row[4]),
        day=stored_date(row[5]),
        upvotes=row[6],
        ai_summary=row[7],
        ai_keywords=tuple(json.loads(row[8])),
        github_repo=row[9],
        github_stars=row[10],
        project_page=row[11],
        thumbnail=row[12],
        num_comments=row[13],
        organization=row[14],
        categories=tuple(json.loads(row[15])),
        sources=tuple(json.loads(row[16])),
        comments=row[17],
        journal_ref=row[18],
        version=row[19],
        updated=stored_date(row[20]),
    )


def paper_values(paper: Paper) -> dict[str, Any]:
    """A paper's column values as stored, keyed by column name."""
    return {
        "id": paper.id,
        "title": paper.title,
        "authors": json.dumps(list(paper.authors), ensure_ascii=False),
        "summary": paper.summary,
        "published": paper.published.isoformat() if paper.published else None,
        "day": paper.day.isoformat() if paper.day else None,
        "upvotes": paper.upvotes,
        "ai_summary": paper.ai_summary,
        "ai_keywords": json.dumps(list(paper.ai_keywords), ensure_ascii=False),
        "github_repo": paper.github_repo,
        "github_stars": paper.github_stars,
        "project_page": paper.project_page,
        "thumbnail": paper.thumbnail,
        "num_comments": paper.num_comments,
        "organization": paper.organization,
        "categories": json.dumps(list(paper.categories), ensure_ascii=False),
        "sources": json.dumps(list(paper.sources), ensure_ascii=False),
        "comments": paper.comments,
        "journal_ref": paper.journal_ref,
        "version": paper.version,
        "updated": paper.updated.isoformat() if paper.updated else None,
    }


def merge_sources(old: _NamedColumns, values: dict[str, Any]) -> None:
    """Merge a re-saved paper's `values` with its stored row, whichever source saw it first.

    Each source keeps the columns it is the authority for: Hugging Face its upvotes, AI summary and
    repository; arXiv its categories, comments, journal reference and version. Title, authors and abstract
    come from arXiv once it has listed the paper (unless the stored version is newer); `published` is the
    earliest date either source gave.
    """
    old_sources = json.loads(old["sources"] or "[]")
    new_sources = json.loads(values["sources"] or "[]")
    seen = set(old_sources) | set(new_sources)
    merged = [s for s in SOURCE_ORDER if s in seen] + sorted(seen - set(SOURCE_ORDER))
    values["sources"] = json.dumps(merged, ensure_ascii=False)
    keep: list[str] = []
    if "huggingface" in old_sources and "huggingface" not in new_sources:
        keep += HF_FIELDS
    if "arxiv" in old_sources:
        older = "arxiv" not in new_sources or (old["version"] or 0) > (values["version"] or 0)
        if older:
            keep += ARXIV_FIELDS + SHARED_FIELDS
    for name in keep:
        values[name] = old[name]
    for name in (*SHARED_FIELDS, *ARXIV_FIELDS):
        if values[name] in (None, "", "[]"):  # a feed that lacks a field (the listing has no comments) keeps it
            values[name] = old[name]
    # The first version's date: whichever source knew the earliest.
    values["published"] = min(filter(None, (old["published"], values["published"])), default=None)


def moved_columns(old: _NamedColumns, values: dict[str, Any]) -> list[str]:
    """The columns a re-saved paper changes, after merging sources and keeping the later `day` in `values`."""
    merge_sources(old, values)
    values["day"] = max(filter(None, (old["day"], values["day"])), default=None)
    return [name for name in (*CONTENT_FIELDS, "day", "upvotes") if old[name] != values[name]]


def run_from_row(row: Sequence[Any]) -> ScrapeRun:
    """Build a ScrapeRun from a row selected with RUN_COLUMNS."""
    return ScrapeRun(
        id=row[0],
        source=row[1],
        day=stored_date(row[2]),
        started=dt.datetime.fromisoformat(row[3]),
        finished=dt.datetime.fromisoformat(row[4]),
        outcome=row[5],
        fetched=row[6],
        new=row[7],
        updated=row[8],
        skipped=row[9],
        error=row[10],
    )


def runs_filter(day: dt.date | None, source: str | None, mark: str) -> tuple[str, list[str]]:
    """The WHERE clause (or "") and its values that pick the scrape runs of `day` and `source`."""
    conditions, params = [], []
    if day is not None:
        conditions.append(f"day = {mark}")
        params.append(day.isoformat())
    if source is not None:
        conditions.append(f"source = {mark}")
        params.append(source)
    return ("WHERE " + " AND ".join(conditions) if conditions else ""), params


def run_values(run: ScrapeRun, *, new: int, updated: int) -> tuple[Any, ...]:
    """A scrape run's values for (source, day, started, finished, outcome, fetched, new, updated, skipped, error)."""
    return (
        run.source,
        run.day.isoformat() if run.day else None,
        run.started.isoformat(timespec="seconds"),
        run.finished.isoformat(timespec="seconds"),
        run.outcome,
        run.fetched,
        new,
        updated,
        run.skipped,
        run.error,
    )


def _delivery_kind(text: str) -> DeliveryKind:
    for kind in DELIVERY_KINDS:
        if kind == text:
            return kind
    raise StoreError(f"unknown delivery kind {text!r} in the deliveries table")


def _delivery_status(text: str) -> DeliveryStatus:
    for status in DELIVERY_STATUSES:
        if status == text:
            return status
    raise StoreError(f"unknown delivery status {text!r} in the deliveries table")


def delivery_from_row(row: Sequence[Any]) -> Delivery:
    """Build a Delivery from a row selected with DELIVERY_COLUMNS."""
    payload = json.loads(row[7]) if row[7] else {}
    return Delivery(
        channel_id=row[0],
        kind=_delivery_kind(row[1]),
        key=row[2],
        status=_delivery_status(row[3]),
        nonce=row[4],
        message_id=row[5],
        attempts=row[6],
        parts=tuple(payload.get("parts", ())),
        sent_ids=tuple(payload.get("sent", ())),
        error=row[8],
        batch=row[9],
        outcome=row[10],
        created_at=stored_instant(row[11]),
        updated_at=stored_instant(row[12]),
        next_attempt_at=stored_instant(row[13]),
    )


def delivery_payload(parts: Sequence[dict[str, Any]], sent: Sequence[int | None]) -> str:
    """The stored JSON payload of a delivery: its parts and the message id each was sent as."""
    return json.dumps({"parts": list(parts), "sent": list(sent)}, ensure_ascii=False)


def settings_from_row(row: Sequence[Any]) -> DigestSettings:
    """Build DigestSettings from a row selected with DIGEST_COLUMNS."""
    hour, minute = (int(part) for part in row[2].split(":"))
    return DigestSettings(
        guild_id=row[0],
        channel_id=row[1],
        time=dt.time(hour, minute),
        timezone=row[3],
        top=row[4],
        min_upvotes=row[5],
        weekdays_only=bool(row[6]),
        style=row[7],
        post_empty=bool(row[8]),
        enabled=bool(row[9]),
        disabled_reason=row[10],
        effective_from=dt.datetime.fromisoformat(row[11]),
        frequency="weekly" if row[12] == "weekly" else "daily",
        weekday=row[13],
        source="arxiv" if row[14] == "arxiv" else "huggingface",
        category=row[15],
        query=row[16],
    )


def settings_values(settings: DigestSettings, *, now: str) -> tuple[Any, ...]:
    """Values for (channel_id, guild_id, time, timezone, top, min_upvotes, weekdays_only, style, post_empty,
    created_at, updated_at, frequency, weekday, source, category, query) of a digest_settings write;
    created_at is `effective_from`, or `now` without one."""
    since = settings.effective_from.isoformat(timespec="seconds") if settings.effective_from else now
    return (
        settings.channel_id,
        settings.guild_id,
        settings.time.strftime("%H:%M"),
        settings.timezone,
        settings.top,
        settings.min_upvotes,
        settings.weekdays_only,
        settings.style,
        settings.post_empty,
        since,
        now,
        settings.frequency,
        settings.weekday,
        settings.source,
        settings.category,
        settings.query,
    )


def subscription_from_row(row: Sequence[Any]) -> Subscription:
    """Build a Subscription from a row selected with SUBSCRIPTION_COLUMNS."""
    return Subscription(
        id=row[0],
        guild_id=row[1],
        channel_id=row[2],
        query=row[3],
        normalized=row[4],
        created_by=row[5],
        created_at=dt.datetime.fromisoformat(row[6]),
        skip_digest_papers=bool(row[7]),
    )


def payload_with_part_sent(payload_text: str, index: int, message_id: int) -> str:
    """A stored delivery payload with part `index` recorded as sent as `message_id`."""
    payload = json.loads(payload_text)
    payload["sent"][index] = message_id
    return json.dumps(payload, ensure_ascii=False)


T = TypeVar("T")


def batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """`items` in lists of `size` (the last one shorter), read lazily."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
