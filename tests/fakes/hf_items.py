"""Builders for Hugging Face Daily Papers items in the real format (every field name as the API sends it)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _object_id(*parts: object) -> str:
    """A stable 24-hex-digit id like the Mongo ids Hugging Face uses."""
    return hashlib.sha1("/".join(map(str, parts)).encode()).hexdigest()[:24]


def _instant(day: dt.date, hour: int = 0) -> str:
    return f"{day.isoformat()}T{hour:02d}:00:00.000Z"


def _user(name: str) -> dict[str, Any]:
    handle = "".join(ch for ch in name.lower() if ch.isalnum()) or "user"
    return {
        "_id": _object_id("user", handle),
        "avatarUrl": f"/avatars/{_object_id('avatar', handle)}.svg",
        "isPro": False,
        "fullname": name,
        "user": handle,
        "type": "user",
        "name": handle,
    }


def make_daily_item(
    paper_id: str,
    title: str,
    *,
    day: dt.date | str,
    upvotes: int = 0,
    authors: Sequence[str] = ("Ada Lovelace", "Alan Turing"),
    hidden_authors: Sequence[str] = (),
    summary: str = "We study a problem and report results.",
    ai_summary: str | None = None,
    ai_keywords: Sequence[str] | None = None,
    github_repo: str | None = None,
    github_stars: int | None = None,
    project_page: str | None = None,
    organization: tuple[str, str] | None = None,
    num_comments: int = 0,
    published: dt.date | str | None = None,
    media_urls: Sequence[str] | None = None,
) -> dict[str, Any]:
    """One `/api/daily_papers` item; optional fields are left out (not null) when not given, as the API does.

    `organization` is (name, fullname). `hidden_authors` are names in `authors` marked hidden.
    """
    day = dt.date.fromisoformat(day) if isinstance(day, str) else day
    if published is None:
        published = day - dt.timedelta(days=2)
    published = dt.date.fromisoformat(published) if isinstance(published, str) else published
    submitter = _user(authors[0] if authors else "Paper Submitter")
    paper: dict[str, Any] = {
        "id": paper_id,
        "authors": [
            {"_id": _object_id(paper_id, index), "name": name, "hidden": name in hidden_authors}
            for index, name in enumerate(authors)
        ],
        "publishedAt": _instant(published),
        "submittedOnDailyAt": _instant(day),
        "title": title,
        "submittedOnDailyBy": submitter,
        "summary": summary,
        "upvotes": upvotes,
        "discussionId": _object_id("discussion", paper_id),
    }
    if project_page is not None:
        paper["projectPage"] = project_page
    if github_repo is not None:
        paper["githubRepo"] = github_repo
        paper["githubRepoAddedBy"] = "user"
        paper["githubStars"] = github_stars if github_stars is not None else 0
    if ai_summary is not None:
        paper["ai_summary"] = ai_summary
        paper["ai_keywords"] = list(ai_keywords or ())
        paper["ai_summary_model"] = "Qwen/Qwen2.5-Coder-32B-Instruct"
    org: dict[str, Any] | None = None
    if organization is not None:
        org = {
            "_id": _object_id("org", organization[0]),
            "name": organization[0],
            "fullname": organization[1],
            "avatar": f"https://cdn-avatars.huggingface.co/v1/production/uploads/{organization[0]}.png",
        }
        paper["organization"] = org
    if media_urls:
        paper["mediaUrls"] = list(media_urls)
    evening_before = dt.datetime.combine(published, dt.time(0), tzinfo=dt.UTC) - dt.timedelta(hours=4)
    item: dict[str, Any] = {
        "paper": paper,
        "publishedAt": evening_before.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "title": title,
        "summary": summary,
        "thumbnail": f"https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{paper_id}.png",
        "numComments": num_comments,
        "submittedBy": {
            **submitter,
            "isHf": False,
            "isHfAdmin": False,
            "isMod": False,
            "followerCount": 3,
            "isUserFollowing": False,
        },
        "isAuthorParticipating": False,
    }
    if org is not None:
        item["organization"] = org
    if media_urls:
        item["mediaUrls"] = list(media_urls)
    return item


def paper_object(item: dict[str, Any]) -> dict[str, Any]:
    """The `/api/papers/{id}` answer for a daily item: the `paper` object without the wrapper."""
    return dict(item["paper"])


def load_fixture(name: str) -> Any:
    """A JSON file from tests/fixtures."""
    return json.loads((FIXTURES / name).read_text("utf-8"))
