"""The query language of search and alerts: parse text to an AST, then to FTS5 or a Python predicate.

    diffusion video              both words (AND is implicit)
    "mixture of experts"         a phrase
    diffusion OR flow            either
    -survey   NOT survey         exclude
    (llm OR "language model") agent
    title:mamba  author:"Tri Dao"  abstract:retrieval  keyword:rlhf  title:(mamba OR ssm)
    upvotes:>=50  day:>=2025-01-01  day:2026-06-01..2026-06-12  code:yes

Words are read the way the `papers_fts` table reads text (FTS5 `porter unicode61 remove_diacritics 2`):
split into tokens, case and diacritics folded, Porter-stemmed. A word that splits into several tokens
(`state-of-the-art`) is a phrase. The SQL side gets an FTS5 expression in which every term is a quoted
string of folded tokens, so no user text is ever read as FTS5 syntax; the Python side evaluates the same
AST over the same tokens, so both agree on every paper.

Very common words (`the`, `of`, `we`, ...) typed bare are left out of a query that has other words;
in quotes or inside a phrase they count.

Filters (`upvotes:`, `day:`, `code:`) restrict the whole query: they may be combined with AND only, not
inside OR or a negated group. A query of negated words only (`-survey`) means "every paper except".

The package keeps one concern per private module: `_lexer` and `_parser` (text to AST), `_ast` (the
nodes), `_fold`, `_porter` and `_tokens` (words as FTS5 reads them, no SQLite needed), `_evaluate` (the
Python predicate), `_fts` (the FTS5 expression), `_required` (terms every match holds), `_canonical`
(normalised text), `_query` (the parsed Query); `columns` is the one definition of a paper's searchable
columns, shared with the store and the alerts.
"""

from __future__ import annotations

import logging

from bot.query._ast import (
    COMMON_WORDS,
    FILTER_FIELDS,
    MAX_DEPTH,
    MAX_QUERY_LENGTH,
    MAX_TERMS,
    And,
    Column,
    Filter,
    FilterField,
    FilterValue,
    Node,
    Not,
    Op,
    Or,
    QueryError,
    Term,
    leaves,
    split_filters,
)
from bot.query._category import canonical_category, category_matches, category_range
from bot.query._evaluate import PaperText, evaluate
from bot.query._fold import fold_char, fold_tokens
from bot.query._fts import FtsQuery, compile_fts
from bot.query._parser import normalize, parse, required_terms
from bot.query._query import Query
from bot.query._tokens import stem, tokenize
from bot.query.columns import (
    ALL_COLUMNS,
    BM25_WEIGHTS,
    FIELD_COLUMNS,
    SEARCH_COLUMNS,
    SORTS,
    SearchColumn,
    Sort,
)

log = logging.getLogger(__name__)

__all__ = [
    "ALL_COLUMNS",
    "BM25_WEIGHTS",
    "COMMON_WORDS",
    "FIELD_COLUMNS",
    "FILTER_FIELDS",
    "MAX_DEPTH",
    "MAX_QUERY_LENGTH",
    "MAX_TERMS",
    "SEARCH_COLUMNS",
    "SORTS",
    "And",
    "Column",
    "Filter",
    "FilterField",
    "FilterValue",
    "FtsQuery",
    "Node",
    "Not",
    "Op",
    "Or",
    "PaperText",
    "Query",
    "QueryError",
    "SearchColumn",
    "Sort",
    "Term",
    "canonical_category",
    "category_matches",
    "category_range",
    "compile_fts",
    "evaluate",
    "fold_char",
    "fold_tokens",
    "leaves",
    "normalize",
    "parse",
    "required_terms",
    "split_filters",
    "stem",
    "tokenize",
]
