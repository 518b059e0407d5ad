"""Papers and queries as Postgres text search values, built from the project's own folding and Porter stems.

Postgres never tokenizes, folds nor stems anything here: a paper's `search_vector` is written as a
tsvector literal of the stems `bot.query.tokenize` gives (the tokens FTS5 indexes on SQLite), and a
query's terms become tsquery lexemes of the same stems. So both backends agree on what a word is.

Columns are told apart by weight: title A, authors B, keywords C, abstract (summary) D. The AI summary
is searched with the abstract but `abstract:` must not reach it, so its lexemes carry a `~` in front
(folded tokens never hold one) at weight D. Each column's tokens get consecutive positions and columns
are two positions apart, so a phrase (`<->`) never spans two columns, as in FTS5.

Every lexeme is quoted here (quotes and backslashes escaped), so no user text is read as tsquery syntax.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Sequence
from typing import Any

from bot.models import Paper
from bot.query import ALL_COLUMNS, And, Filter, Node, Not, Or, Term, fold_tokens, tokenize
from bot.query.columns import SEARCH_COLUMNS
from bot.store.rows import paper_values

log = logging.getLogger(__name__)

WEIGHT_OF_COLUMN = {"title": "A", "authors": "B", "keywords": "C", "summary": "D", "ai_summary": "D"}
PREFIX_OF_COLUMN = {"ai_summary": "~"}
# ts_rank's weights, in its order {D, C, B, A}: the bm25 weight of each weight's column over the largest.
RANK_WEIGHT_ORDER = ("summary", "keywords", "authors", "title")
# Columns in position order: the short ones first, so that positions (capped at 16383) run out last
# on the long author lists of large collaborations.
_VECTOR_ORDER = ("title", "keywords", "ai_summary", "summary", "authors")
MAX_POSITION = 16383
MAX_POSITIONS_PER_LEXEME = 256
# Postgres keeps lexemes under 2 KiB; a longer stem is stored (and asked for) as a digest of itself.
_MAX_LEXEME_BYTES = 512
_DIGEST_MARK = "#"
_AI_MARK = "~"


def lexeme(stem: str) -> str:
    """The lexeme that stands for one stem (itself, or a digest of a very long or unencodable one)."""
    try:
        raw = stem.encode("utf-8")
    except UnicodeEncodeError:
        raw = stem.encode("utf-8", "surrogateescape")
        return _DIGEST_MARK + hashlib.sha256(raw).hexdigest()
    if len(raw) > _MAX_LEXEME_BYTES:
        return _DIGEST_MARK + hashlib.sha256(raw).hexdigest()
    return stem


def term_of_lexeme(text: str) -> str:
    """The index term a stored lexeme counts for (an AI-summary lexeme counts for the plain one)."""
    return text[1:] if text.startswith(_AI_MARK) else text


def quote(text: str) -> str:
    """`text` as a quoted tsvector/tsquery lexeme: never read as operators, weights or positions."""
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def rank_weights(weights: Sequence[float]) -> list[float]:
    """ts_rank's four weights {D, C, B, A} from one bm25 weight per search column (ALL_COLUMNS order)."""
    if len(weights) != len(ALL_COLUMNS):
        raise ValueError(f"one weight per search column ({len(ALL_COLUMNS)}), got {len(weights)}")
    by_column = dict(zip(ALL_COLUMNS, weights, strict=True))
    top = max(max(weights), 1e-9)
    return [max(by_column[name], 0.0) / top for name in RANK_WEIGHT_ORDER]


def title_key(title: str) -> str:
    """A title as compared by the fuzzy title lookups: its folded words joined by single spaces."""
    return " ".join(fold_tokens(title))


@functools.lru_cache(maxsize=200_000)
def _quoted_lexeme(mark: str, stem: str) -> str:
    return quote(mark + lexeme(stem))


# "1A", "2A", ...: every position label of each weight, made once (a paper has hundreds of tokens).
_LABELS = {weight: [f"{position}{weight}" for position in range(MAX_POSITION + 1)] for weight in "ABCD"}


def search_vector(paper: Paper) -> str:
    """The tsvector literal of a paper's searchable columns (see the module docstring)."""
    texts = {column.name: column.text(paper) for column in SEARCH_COLUMNS}
    entries: dict[str, list[str]] = {}
    offset = 1
    for name in _VECTOR_ORDER:
        tokens = tokenize(texts[name])
        mark, labels = PREFIX_OF_COLUMN.get(name, ""), _LABELS[WEIGHT_OF_COLUMN[name]]
        last = labels[MAX_POSITION]
        for position, stem in enumerate(tokens, offset):
            label = labels[position] if position < MAX_POSITION else last
            key = _quoted_lexeme(mark, stem)
            held = entries.get(key)
            if held is None:
                entries[key] = [label]
            elif len(held) < MAX_POSITIONS_PER_LEXEME:
                held.append(label)
        offset += len(tokens) + 1
    return " ".join(f"{key}:{','.join(held)}" for key, held in entries.items())


def search_columns(paper: Paper) -> dict[str, Any]:
    """The paper's stored column values plus the two search columns computed from them."""
    values = paper_values(paper)
    values["search_vector"] = search_vector(paper)
    values["title_key"] = title_key(paper.title)
    return values


def _phrase(stems: Sequence[str], mark: str, weights: str) -> str:
    label = f":{weights}" if weights else ""
    parts = [quote(mark + lexeme(stem)) + label for stem in stems]
    return parts[0] if len(parts) == 1 else "(" + " <-> ".join(parts) + ")"


def term_tsquery(stems: Sequence[str], columns: Sequence[str]) -> str:
    """A tsquery for `stems` in a row (a phrase) within one of `columns`."""
    if not stems:
        raise ValueError("a term has at least one token")
    unknown = set(columns) - set(ALL_COLUMNS)
    if unknown or not columns:
        raise ValueError(f"not search columns: {sorted(unknown) or 'none given'}")
    plain = sorted({WEIGHT_OF_COLUMN[c] for c in columns if c not in PREFIX_OF_COLUMN})
    marked = [c for c in columns if c in PREFIX_OF_COLUMN]
    every_plain = sorted({WEIGHT_OF_COLUMN[c] for c in ALL_COLUMNS if c not in PREFIX_OF_COLUMN})
    parts = []
    if plain:
        parts.append(_phrase(stems, "", "" if plain == every_plain else "".join(plain)))
    for column in marked:
        parts.append(_phrase(stems, PREFIX_OF_COLUMN[column], ""))
    return parts[0] if len(parts) == 1 else "(" + " | ".join(parts) + ")"


def _group(parts: list[str], op: str) -> str:
    return parts[0] if len(parts) == 1 else "(" + f" {op} ".join(parts) + ")"


def compile_tsquery(node: Node) -> tuple[bool, str]:
    """(positive, tsquery): the papers matching `node` (no filters) are those the tsquery finds, or the rest.

    The same shape as the FTS5 compiler: negations are pulled up so that a positive tsquery can use the index.
    """
    if isinstance(node, Term):
        return True, term_tsquery(node.stems, node.columns)
    if isinstance(node, Not):
        positive, expression = compile_tsquery(node.child)
        return not positive, expression
    if isinstance(node, Filter):  # filters are split off before compiling
        raise TypeError("a filter has no tsquery form")
    compiled = [compile_tsquery(c) for c in node.children]
    positives = [e for p, e in compiled if p]
    negatives = [e for p, e in compiled if not p]
    if isinstance(node, And):
        if not positives:  # not a and not b = not (a or b)
            return False, _group(negatives, "|")
        if not negatives:
            return True, _group(positives, "&")
        return True, f"({_group(positives, '&')} & !{_group(negatives, '|')})"
    if not isinstance(node, Or):
        raise TypeError(f"unknown query node {node!r}")
    if not negatives:
        return True, _group(positives, "|")
    # a or not b = not (b and not a)
    if not positives:
        return False, _group(negatives, "&")
    return False, f"({_group(negatives, '&')} & !{_group(positives, '|')})"


def unweighted_term_tsquery(term: str, columns: Sequence[str]) -> str:
    """A tsquery for one stem in `columns` or any column of the same lexeme kind (the GIN index answers it alone)."""
    marks = sorted({PREFIX_OF_COLUMN.get(column, "") for column in columns})
    return _group([quote(mark + lexeme(term)) for mark in marks], "|")


def any_term_tsquery(terms: Sequence[str], columns: Sequence[str]) -> str:
    """A tsquery for papers holding any of `terms` (single stems) in `columns`."""
    return _group([term_tsquery([term], columns) for term in terms], "|")
