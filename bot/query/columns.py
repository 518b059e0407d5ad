"""A paper's searchable columns: the one definition the full-text table, the evaluator and the alerts share.

`papers_fts` (migration 0001) has these columns in this order and fills each from the `papers` column of
the same source, lists joined by LIST_SEPARATOR and a missing text read as ""; a test parses the migration
and checks it agrees. Relevance ranks with bm25 and these weights, in the same order.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal, TypeAlias

from bot.models import Paper

log = logging.getLogger(__name__)

# How SQLite's FTS5 reads every column of papers_fts: without and with its stemming stage.
FOLD_TOKENIZER = "unicode61 remove_diacritics 2"
FTS_TOKENIZER = f"porter {FOLD_TOKENIZER}"
LIST_SEPARATOR = " ; "  # between the authors (and the keywords) of one paper

Sort: TypeAlias = Literal["relevance", "new", "top"]
SORTS: tuple[Sort, ...] = ("relevance", "new", "top")


@dataclass(frozen=True, slots=True)
class SearchColumn:
    """One column of papers_fts: its name, the Paper field (and papers column) it reads, its bm25 weight."""

    name: str
    source: str
    weight: float

    def text(self, paper: Paper) -> str:
        """The text this column holds for `paper`, as the papers_fts triggers write it."""
        value: str | tuple[str, ...] | None = getattr(paper, self.source)
        if isinstance(value, tuple):
            return LIST_SEPARATOR.join(value)
        return value or ""


SEARCH_COLUMNS: tuple[SearchColumn, ...] = (
    SearchColumn("title", "title", 10.0),
    SearchColumn("authors", "authors", 6.0),
    SearchColumn("keywords", "ai_keywords", 4.0),
    SearchColumn("summary", "summary", 1.0),
    SearchColumn("ai_summary", "ai_summary", 1.0),
)
ALL_COLUMNS: tuple[str, ...] = tuple(column.name for column in SEARCH_COLUMNS)
BM25_WEIGHTS: tuple[float, ...] = tuple(column.weight for column in SEARCH_COLUMNS)

# Text fields a user may name, and the columns each searches (unfielded words search all of them).
FIELD_COLUMNS: dict[str, tuple[str, ...]] = {
    "title": ("title",),
    "author": ("authors",),
    "abstract": ("summary",),
    "keyword": ("keywords",),
}


def column_texts(paper: Paper) -> tuple[str, ...]:
    """The text of each searchable column of `paper`, in column order."""
    return tuple(column.text(paper) for column in SEARCH_COLUMNS)
