"""A parsed query and what the rest of the bot asks of it: its filters, FTS5 form, predicate, canonical text."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from dataclasses import field as dc_field

from bot.models import Paper
from bot.query._ast import And, Column, Filter, Node, Term, leaves, split_filters
from bot.query._canonical import canonical, render
from bot.query._evaluate import PaperText, evaluate
from bot.query._fts import FtsQuery, compile_fts
from bot.query._required import required

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed query: the text typed and its AST (words and filters)."""

    text: str
    root: Node
    # Every word typed outside filters, common ones included, folded: what a title lookup compares.
    typed_words: tuple[str, ...] = dc_field(default=(), compare=False)

    @property
    def filters(self) -> tuple[Filter, ...]:
        """The metadata filters, all combined with AND."""
        return split_filters(self.root)[1]

    @property
    def words(self) -> Node | None:
        """The part of the query about text, without the filters."""
        return split_filters(self.root)[0]

    def plain_words(self) -> list[str]:
        """The folded words of a query made only of unfielded words and phrases joined by AND, else []."""
        words = self.words
        parts = words.children if isinstance(words, And) else (words,) if words else ()
        if not all(isinstance(p, Term) and p.field is None for p in parts):
            return []
        return [token for p in parts if isinstance(p, Term) for token in p.tokens]

    def has_quotes(self) -> bool:
        """Whether some words were typed in quotes (a deliberate phrase, not a title typed loosely)."""
        return any(isinstance(t, Term) and t.quoted for t in leaves(self.root))

    def filters_hold(self, paper: Paper) -> bool:
        """Whether the paper passes the query's metadata filters (its words aside)."""
        return all(f.holds(paper) for f in self.filters)

    def fts(self) -> FtsQuery:
        """The FTS5 expression and filters that select the same papers as `matches`."""
        words, filters = split_filters(self.root)
        if words is None:
            return FtsQuery(None, False, filters)
        positive, expression = compile_fts(words)
        return FtsQuery(expression, not positive, filters)

    def matches(self, paper: Paper | PaperText) -> bool:
        """Whether the paper matches, decided in Python exactly as the FTS5 query decides it."""
        text = paper if isinstance(paper, PaperText) else PaperText.of(paper)
        return evaluate(self.root, text)

    def required_terms(self) -> frozenset[tuple[Column, str]] | None:
        """(column or None for any column, stem) pairs of which every matching paper has at least one.

        None when no such set exists (filters only, or a negation that matches papers without words).
        """
        words = split_filters(self.root)[0]
        return required(words) if words is not None else None

    def normalized(self) -> str:
        """Canonical text for the query: equal for queries that differ only in order, case or spacing."""
        return render(canonical(self.root), top=True)
