"""Plain data shared by every part of Paperboy: papers, daily entries, digest settings, subscriptions."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, Literal, get_args

log = logging.getLogger(__name__)

HF_BASE = "https://huggingface.co"


@dataclass(frozen=True, slots=True)
class Paper:
    """One paper, keyed by its arXiv id, with the latest metadata seen."""

    id: str
    title: str
    authors: tuple[str, ...] = ()
    summary: str = ""
    published: dt.date | None = None
    day: dt.date | None = None  # the Daily Papers day it was featured on
    upvotes: int = 0
    ai_summary: str | None = None
    ai_keywords: tuple[str, ...] = ()
    github_repo: str | None = None
    github_stars: int | None = None
    project_page: str | None = None
    thumbnail: str | None = None
    num_comments: int = 0
    organization: str | None = None
    # From arXiv: categories (primary first), the sources that listed the paper, and the latest version.
    categories: tuple[str, ...] = ()
    sources: tuple[str, ...] = ("huggingface",)
    comments: str | None = None
    journal_ref: str | None = None
    version: int | None = None
    updated: dt.date | None = None  # the date of the latest version

    @property
    def primary_category(self) -> str | None:
        """The paper's primary arXiv category, if known."""
        return self.categories[0] if self.categories else None

    @property
    def url(self) -> str:
        """The paper's huggingface.co/papers page."""
        return f"{HF_BASE}/papers/{self.id}"

    @property
    def arxiv_url(self) -> str:
        """The arXiv abstract page."""
        return f"https://arxiv.org/abs/{self.id}"

    @property
    def pdf_url(self) -> str:
        """The arXiv PDF."""
        return f"https://arxiv.org/pdf/{self.id}"

    @property
    def has_code(self) -> bool:
        """Whether the paper links a code repository."""
        return bool(self.github_repo)

    def to_json(self) -> dict[str, Any]:
        """The paper as the JSON object of the public contract."""
        return {
            "id": self.id,
            "title": self.title,
            "authors": list(self.authors),
            "summary": self.summary,
            "ai_summary": self.ai_summary,
            "ai_keywords": list(self.ai_keywords),
            "upvotes": self.upvotes,
            "num_comments": self.num_comments,
            "day": self.day.isoformat() if self.day else None,
            "published": self.published.isoformat() if self.published else None,
            "github_repo": self.github_repo,
            "github_stars": self.github_stars,
            "project_page": self.project_page,
            "thumbnail": self.thumbnail,
            "organization": self.organization,
            "url": self.url,
            "arxiv_url": self.arxiv_url,
            "pdf_url": self.pdf_url,
            "categories": list(self.categories),
            "primary_category": self.primary_category,
            "sources": list(self.sources),
            "comments": self.comments,
            "journal_ref": self.journal_ref,
            "version": self.version,
            "updated": self.updated.isoformat() if self.updated else None,
        }


@dataclass(frozen=True, slots=True)
class DailyEntry:
    """A paper's appearance on one Daily Papers day, with the upvotes seen there."""

    day: dt.date
    paper_id: str
    upvotes: int


@dataclass(frozen=True, slots=True)
class ArxivListing:
    """One arXiv category's announcement of one day: paper ids in listing order, each "new" or "cross"."""

    category: str
    day: dt.date
    paper_ids: tuple[str, ...]
    kinds: tuple[str, ...]  # one per paper


@dataclass(frozen=True, slots=True)
class UpsertResult:
    """What an upsert changed: papers seen for the first time and papers whose upvotes moved."""

    new: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    unchanged: int = 0


@dataclass(frozen=True, slots=True)
class ScrapeRun:
    """One fetch of one day from one source, as recorded in `scrape_runs`."""

    source: str
    day: dt.date | None
    started: dt.datetime
    finished: dt.datetime
    outcome: str  # "ok" | "empty" | "failed" | "markup_changed"
    fetched: int = 0
    new: int = 0
    updated: int = 0
    skipped: int = 0
    error: str | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class DigestSettings:
    """How and when one channel gets its daily or weekly digest."""

    guild_id: int
    channel_id: int
    time: dt.time = dt.time(9, 0)
    timezone: str = "UTC"
    top: int = 10
    min_upvotes: int = 0
    weekdays_only: bool = False
    style: str = "compact"  # "compact" | "cards"
    post_empty: bool = True
    enabled: bool = True
    disabled_reason: str | None = None
    effective_from: dt.datetime | None = None  # when these settings took effect; earlier runs don't count
    frequency: Literal["daily", "weekly"] = "daily"
    weekday: int = 0  # 0 = Monday; the day a weekly digest posts on
    source: Literal["huggingface", "arxiv"] = "huggingface"  # an arXiv digest shows one category's announcement
    category: str | None = None  # the arXiv category of an arXiv digest
    query: str | None = None  # narrows an arXiv digest (the query language)


@dataclass(frozen=True, slots=True)
class Subscription:
    """A channel's standing query: each new paper that matches is posted there once."""

    id: int
    guild_id: int
    channel_id: int
    query: str
    normalized: str
    created_by: int
    created_at: dt.datetime
    skip_digest_papers: bool = False


DeliveryKind = Literal["digest", "alert", "alert_batch"]
DELIVERY_KINDS: tuple[DeliveryKind, ...] = get_args(DeliveryKind)
# The states the deliveries table allows (migration 0001); pending means claimed, not yet all sent.
DeliveryStatus = Literal["pending", "sent", "failed", "skipped"]
DELIVERY_STATUSES: tuple[DeliveryStatus, ...] = get_args(DeliveryStatus)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One intended post: a digest for (channel, day), an alert for (channel, paper), or an alert batch.

    `parts` are the JSON message payloads to send, in order; `sent_ids` holds the message id of each part
    already sent (None where not yet), so a resumed delivery sends only what is missing.
    """

    channel_id: int
    kind: DeliveryKind
    key: str
    status: DeliveryStatus
    nonce: str
    message_id: int | None = None
    attempts: int = 0
    parts: tuple[dict[str, Any], ...] = ()
    sent_ids: tuple[int | None, ...] = ()
    error: str | None = None
    batch: str | None = None
    outcome: str | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    next_attempt_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class ProcessStatus:
    """One `paperboy run` process sharing the database: its shards, when it started and was last seen alive."""

    name: str
    shard_ids: tuple[int, ...]
    shard_count: int
    started_at: dt.datetime
    seen_at: dt.datetime
    leader: bool
    this: bool = False  # the process answering


def utcnow() -> dt.datetime:
    """The current time, timezone-aware in UTC."""
    return dt.datetime.now(dt.UTC)
