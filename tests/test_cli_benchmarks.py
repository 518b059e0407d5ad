"""The benchmark scripts' command lines: a kept search database is reported and found again."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--papers", "300", "--rounds", "1"]


def search_bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "bench" / "search.py"), *SMALL, *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.slow
def test_keep_records_the_path_and_reuse_measures_on_it(tmp_path: Path) -> None:
    missing = search_bench("--reuse", "--db-dir", str(tmp_path))
    assert missing.returncode != 0
    assert "--reuse: no database" in missing.stderr and "--keep" in missing.stderr
    kept = search_bench("--keep", "--db-dir", str(tmp_path))
    assert kept.returncode == 0, kept.stderr
    path = json.loads(kept.stdout)["database_path"]
    assert Path(path).exists() and Path(path).parent == tmp_path
    assert f"kept the database at {path}" in kept.stderr
    again = search_bench("--reuse", "--keep", "--db-dir", str(tmp_path))
    report = json.loads(again.stdout)
    assert report["reused_database"] is True and report["database_path"] == path and report["build_seconds"] is None


def option_entries(help_text: str) -> dict[str, str]:
    """Each option of a --help text with its whole description, on one line."""
    entries: dict[str, str] = {}
    current = ""
    for line in help_text.splitlines():
        stripped = line.strip()
        if line.startswith("  -"):
            current = stripped.split()[0].rstrip(",")
            entries[current] = stripped
        elif current and line.startswith(" " * 10):
            entries[current] += " " + stripped
        else:
            current = ""
    return entries


@pytest.mark.parametrize("script", ["alerts.py", "fanout.py", "parse.py", "search.py"])
def test_benchmark_help_shows_every_default(script: str) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0
    entries = option_entries(result.stdout)
    valued = {name: text for name, text in entries.items() if len(text.split()) > 1 and text.split()[1].isupper()}
    assert valued, f"{script} --help lists no options"
    for name, text in valued.items():
        assert "default:" in text, f"{script} {name} does not show its default: {text}"
