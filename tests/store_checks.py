"""Sample rows shared by the store tests (SQLite only and both backends)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from bot.models import Paper, ScrapeRun

DAY = dt.date(2026, 6, 12)


def sample_paper(pid: str, **fields: Any) -> Paper:
    """A plausible paper featured on DAY, with the optional columns left empty and any field replaced."""
    base = Paper(
        id=pid,
        title="Sparse Mixture of Experts",
        authors=("Ada Lovelace", "Tri Dao"),
        summary="We study routing in large language models.",
        published=dt.date(2026, 6, 10),
        day=DAY,
        upvotes=3,
        ai_keywords=("routing", "experts"),
    )
    return dataclasses.replace(base, **fields)


def full_paper(pid: str, **fields: Any) -> Paper:
    """A sample paper with every optional column filled, so a round trip checks them all."""
    every_column: dict[str, Any] = {
        "ai_summary": "Routing, summarised.",
        "github_repo": "https://github.com/example/moe",
        "github_stars": 12,
        "project_page": "https://example.org/moe",
        "thumbnail": "https://example.org/moe.png",
        "num_comments": 4,
        "organization": "Example Lab",
    }
    return sample_paper(pid, **(every_column | fields))


def sample_run(day: dt.date | None, *, at: dt.datetime, outcome: str = "ok") -> ScrapeRun:
    """A fetch of two papers from the API, started and finished at `at`."""
    return ScrapeRun(source="api", day=day, started=at, finished=at, outcome=outcome, fetched=2)
