"""The parsers against real Hugging Face samples kept beside the project (skipped when they are absent)."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bot.sources.huggingface import parse_daily_page, parse_daily_papers, parse_paper

SAMPLES = Path(__file__).parents[1] / ".." / "shared" / "samples"
JUNE_12 = dt.date(2026, 6, 12)

pytestmark = pytest.mark.skipif(not SAMPLES.is_dir(), reason="no ../shared/samples folder")


def load(name: str) -> Any:
    path = SAMPLES / name
    if not path.is_file():
        pytest.skip(f"sample {name} is absent")
    return json.loads(path.read_text("utf-8"))


def test_every_sample_file_parses() -> None:
    checked = 0
    for path in sorted(SAMPLES.glob("hf_*")):
        text = path.read_text("utf-8")
        if path.suffix == ".html":
            day = dt.date.fromisoformat(path.name.split("_")[-1].split(".")[0])
            assert parse_daily_page(text, day).result.papers, path.name
        elif isinstance(payload := json.loads(text), list):
            result = parse_daily_papers(payload)
            assert len(result.papers) == len(payload) and result.skipped == 0, path.name
        else:
            assert parse_paper(payload) is not None, path.name
        checked += 1
    assert checked >= 3


def test_the_june_12_list_has_30_papers_with_upvotes_from_the_paper() -> None:
    items = load("hf_api_daily_papers_2026-06-12.json")
    result = parse_daily_papers(items)
    assert len(result.papers) == 30 and result.skipped == 0
    assert {p.day for p in result.papers} == {JUNE_12}
    assert [p.upvotes for p in result.papers] == [item["paper"]["upvotes"] for item in items]
    assert [(e.day, e.paper_id, e.upvotes) for e in result.entries] == [
        (JUNE_12, p.id, p.upvotes) for p in result.papers
    ]
    for item, paper in zip(items, result.papers, strict=True):
        assert paper.id == item["paper"]["id"]
        assert paper.title and paper.summary and paper.authors
        assert paper.thumbnail == item["thumbnail"]
        assert paper.num_comments == item["numComments"]
        assert paper.github_repo == item["paper"].get("githubRepo")


def test_json_and_page_agree_on_every_paper() -> None:
    items = load("hf_api_daily_papers_2026-06-12.json")
    page_path = SAMPLES / "hf_page_papers_date_2026-06-12.constructed.html"
    if not page_path.is_file():
        pytest.skip("the constructed page sample is absent")
    page = parse_daily_page(page_path.read_text("utf-8"), JUNE_12)
    assert page.date_string == "2026-06-12" and page.items == 30
    assert page.result == parse_daily_papers(items)


def test_the_two_day_list_splits_14_and_11() -> None:
    items = load("hf_api_daily_papers_2026-07-13_and_2026-07-10.json")
    result = parse_daily_papers(items)
    assert result.skipped == 0
    assert Counter(p.day for p in result.papers) == {dt.date(2026, 7, 13): 14, dt.date(2026, 7, 10): 11}
    assert sum(p.ai_summary is None for p in result.papers) == 15


def test_the_single_paper_parses() -> None:
    obj = load("hf_api_paper_2605.13301.json")
    paper = parse_paper(obj)
    assert paper is not None
    assert paper.id == "2605.13301"
    assert paper.upvotes == obj["upvotes"]
    assert paper.day == dt.date(2026, 5, 15)
    assert paper.github_repo == obj["githubRepo"] and paper.github_stars == obj["githubStars"]
    assert len(paper.authors) == len(obj["authors"])
