"""The searchable columns are defined once (bot.query.columns): the migrations and the matchers agree with it."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import typing
from contextlib import closing
from pathlib import Path

from bot.alerts import PaperTerms
from bot.models import Paper
from bot.query import ALL_COLUMNS, SEARCH_COLUMNS, PaperText, SearchColumn, stem
from bot.query.columns import FTS_TOKENIZER, LIST_SEPARATOR, column_texts
from bot.store import Store
from bot.store.base import load_migrations

SQL = "\n".join(migration.sql for migration in load_migrations())
PAPER = Paper(
    id="2606.00042",
    title="Gliding Wombats",
    authors=("Zoë Müller", "Tri Dao"),
    summary="Marsupial aerodynamics.",
    day=dt.date(2026, 6, 12),
    ai_keywords=("patagium", "powered flight"),
    ai_summary=None,
)


def _last(pattern: str) -> re.Match[str]:
    """The last match of `pattern` over every migration (a later migration may redefine an object)."""
    found = list(re.finditer(pattern, SQL, re.DOTALL | re.IGNORECASE))
    assert found, pattern
    return found[-1]


def _split(text: str) -> list[str]:
    """Comma-separated SQL items at the top level (commas inside parentheses or quotes do not split)."""
    items, depth, quoted, current = [], 0, False, ""
    for char in text:
        if char == "'":
            quoted = not quoted
        elif not quoted and char in "()":
            depth += 1 if char == "(" else -1
        if char == "," and depth == 0 and not quoted:
            items.append(current)
            current = ""
        else:
            current += char
    return [" ".join(item.split()) for item in [*items, current]]


def _expected_value(column: SearchColumn) -> str:
    """The SQL a trigger must write into `column`, by the type of the Paper field it reads."""
    kind = typing.get_type_hints(Paper)[column.source]
    if kind == tuple[str, ...]:
        return f"(SELECT group_concat(value, '{LIST_SEPARATOR}') FROM json_each(new.{column.source}))"
    if kind == str | None:
        return f"coalesce(new.{column.source}, '')"
    assert kind is str
    return f"new.{column.source}"


def test_the_fts_table_has_the_columns_in_order_and_the_tokenizer() -> None:
    items = _split(_last(r"CREATE VIRTUAL TABLE papers_fts USING fts5\((.*?)\);").group(1))
    assert tuple(item for item in items if "=" not in item) == ALL_COLUMNS
    options = [item for item in items if "=" in item]
    assert options == ["content='papers_fts_source'", "content_rowid='seq'", f"tokenize='{FTS_TOKENIZER}'"]
    # The index keeps no copy of the text: it reads the columns back from this view over papers.
    view = _last(r"CREATE VIEW papers_fts_source AS\s*SELECT (.*?)\s*FROM papers;").group(1)
    expected = [_expected_value(column).replace("new.", "") for column in SEARCH_COLUMNS]
    read = [item.removesuffix(f" AS {name}") for item, name in zip(_split(view)[1:], ALL_COLUMNS, strict=True)]
    assert _split(view)[0] == "seq" and read == expected


def test_the_triggers_fill_each_column_from_its_source() -> None:
    for trigger in ("papers_ai", "papers_au"):
        body = _last(rf"CREATE TRIGGER {trigger}\b(.*?)\bEND;").group(1)
        statement = r"INSERT INTO papers_fts\s*\((.*?)\)\s*VALUES\s*\((.*?)\);\s*(?=INSERT|$)"
        inserts = re.finditer(statement, body, re.DOTALL)
        insert = next((i for i in inserts if not i.group(1).startswith("papers_fts")), None)
        assert insert is not None, trigger
        assert _split(insert.group(1)) == ["rowid", *ALL_COLUMNS]
        values = _split(insert.group(2))
        assert values[0] == "new.rowid"
        assert values[1:] == [_expected_value(column) for column in SEARCH_COLUMNS], trigger
    update_of = _last(r"CREATE TRIGGER papers_au AFTER UPDATE OF (.*?) ON papers\b").group(1)
    assert set(_split(update_of)) == {column.source for column in SEARCH_COLUMNS}


async def test_a_stored_paper_has_the_column_texts_in_the_index(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "columns.db")
    try:
        await store.upsert_papers([PAPER], day=PAPER.day or dt.date(2026, 6, 12))
    finally:
        await store.close()
    with closing(sqlite3.connect(tmp_path / "columns.db")) as db:
        row = db.execute(
            f"SELECT {', '.join('f.' + name for name in ALL_COLUMNS)} FROM papers_fts f "
            "JOIN papers p ON p.rowid = f.rowid WHERE p.id = ?",
            (PAPER.id,),
        ).fetchone()
    assert tuple(row) == column_texts(PAPER)
    assert column_texts(PAPER)[ALL_COLUMNS.index("authors")] == "Zoë Müller ; Tri Dao"


def test_the_evaluator_and_the_alert_matcher_read_the_same_columns() -> None:
    text = PaperText.of(PAPER)
    terms = PaperTerms(PAPER)
    assert tuple(text.positions) == ALL_COLUMNS
    assert tuple(terms.sets) == ALL_COLUMNS
    for name, word in (("title", "wombats"), ("authors", "muller"), ("keywords", "flight"), ("summary", "marsupial")):
        assert stem(word) in text.positions[name]
        assert stem(word) in terms.sets[name]
        others = [column for column in ALL_COLUMNS if column != name]
        assert not any(stem(word) in text.positions[column] for column in others)
    assert text.positions["ai_summary"] == {}
