"""Each benchmark runs on a small size and prints exactly one JSON object (the figures come from full runs)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SMALL_RUNS = {
    "parse.py": ["--items", "20", "--runs", "2"],
    "search.py": ["--papers", "300", "--rounds", "1", "--peer", "tantivy"],
    "alerts.py": ["--subs", "300", "--papers", "30", "--runs", "1", "--history", "50", "--baseline-runs", "1"],
    "fanout.py": ["--channels", "8", "--runs", "1"],
    "similar_relevance.py": ["--papers", "300", "--queries", "3"],
    "memory.py": ["--papers", "500", "--searches", "5", "--timeout", "60"],
    "stalls.py": ["--papers", "600", "--listed", "400", "--idle-searches", "5", "--scrape-minutes", "0.05"],
}


def test_every_benchmark_has_a_small_run() -> None:
    # A benchmark is a script; modules the scripts share (the synthetic corpus) have no __main__ block.
    scripts = {p.name for p in (ROOT / "bench").glob("*.py") if '__name__ == "__main__"' in p.read_text()}
    assert scripts == set(SMALL_RUNS)


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted(SMALL_RUNS))
def test_benchmark_prints_one_json_object(script: str) -> None:
    # In a session of its own: a benchmark that starts a bot process is stopped with it on a timeout.
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / script), *SMALL_RUNS[script]],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=110)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
    assert process.returncode == 0, stderr[-2000:]
    document = json.loads(stdout)  # one JSON document and nothing else on stdout
    assert isinstance(document, dict) and document
    if script == "search.py":
        # Beside the peer: the share of our searches spent inside SQLite, timed on its own.
        peer = document["peer"]
        assert peer["ours_sql_only"]["p50_ms"] > 0
        assert set(peer["by_kind"]["word"]) == {"ours", "peer", "ours_sql_only"}
