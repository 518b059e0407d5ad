"""The arXiv options of the benchmarks run on a small size and report what they measure."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(script: str, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    document: dict[str, Any] = json.loads(done.stdout)
    return document


@pytest.mark.slow
def test_parse_times_arxiv_feeds() -> None:
    report = run("parse.py", "--source", "arxiv", "--items", "20", "--runs", "2")
    assert report["source"] == "arxiv" and report["items"] == 20
    assert report["atom_median_ms"] > 0 and report["rss_median_ms"] > 0 and report["atom_bytes"] > 20 * 1000


@pytest.mark.slow
def test_search_mixes_in_category_queries_over_arxiv_papers() -> None:
    report = run("search.py", "--papers", "300", "--arxiv-papers", "100", "--rounds", "1", "--similar-papers", "5")
    assert report["papers"] == 300 and "category" in report["search_by_kind"]
    plain = run("search.py", "--papers", "300", "--rounds", "1", "--similar-papers", "5")
    assert "category" not in plain["search_by_kind"]
    assert report["query_mix"] == plain["query_mix"] + 4
