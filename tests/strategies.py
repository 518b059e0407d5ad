"""Hypothesis strategies shared by the query and alert tests: small random corpora and valid queries.

Each test module brings its own vocabulary: a small one makes papers and queries collide often.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from hypothesis import strategies as st

from bot.models import Paper

FIELD_PREFIXES = ["", "", "", "title:", "author:", "abstract:", "keyword:"]  # mostly unfielded
# arXiv categories papers are drawn with (some share an archive), and category filters over them.
CATEGORIES = ["cs.CL", "cs.LG", "cs.CV", "hep-th", "q-bio.NC", "cond-mat.mes-hall"]
CATEGORY_FILTERS = [
    "category:cs.CL",
    "cat:cs.lg",
    "category:cs.*",
    "-category:cs.CL",
    "category:hep-th",
    "category:q-bio.*",
    "-cat:cs.*",
    "category:cond-mat.mes-hall",
]


@st.composite
def paper_lists(
    draw: st.DrawFn,
    text: st.SearchStrategy[str],
    names: Sequence[str],
    *,
    max_upvotes: int,
    repos: Sequence[str | None],
    month: str = "2601",
) -> list[Paper]:
    """One to eight papers with every searchable field drawn from `text` and `names`."""
    return [
        Paper(
            id=f"{month}.{index:05d}",
            title=draw(text) or "untitled",
            authors=tuple(draw(st.lists(st.sampled_from(names), max_size=3))),
            summary=draw(text),
            ai_summary=draw(st.one_of(st.none(), text)),
            ai_keywords=tuple(draw(st.lists(text, max_size=3))),
            day=draw(st.one_of(st.none(), st.dates(dt.date(2026, 6, 1), dt.date(2026, 6, 5)))),
            upvotes=draw(st.integers(0, max_upvotes)),
            github_repo=draw(st.sampled_from(repos)),
            categories=tuple(draw(st.lists(st.sampled_from(CATEGORIES), max_size=3, unique=True))),
        )
        for index in range(draw(st.integers(1, 8)))
    ]


def terms(words: Sequence[str], names: Sequence[str], *, max_phrase: int) -> st.SearchStrategy[str]:
    """A word or phrase, maybe in a field, or an author's full name."""
    word = st.sampled_from(words)
    phrase = st.lists(word, min_size=2, max_size=max_phrase).map(lambda ws: '"' + " ".join(ws) + '"')
    author = st.sampled_from(names).map(lambda name: f'author:"{name}"')
    return st.one_of(st.tuples(st.sampled_from(FIELD_PREFIXES), st.one_of(word, phrase)).map("".join), author)


def expressions(term: st.SearchStrategy[str], *, max_leaves: int) -> st.SearchStrategy[str]:
    """Terms combined by every operator of the language, nested."""
    return st.recursive(
        term,
        lambda inner: st.one_of(
            st.lists(inner, min_size=2, max_size=3).map(" ".join),
            st.lists(inner, min_size=2, max_size=3).map(" OR ".join),
            st.lists(inner, min_size=2, max_size=3).map(" AND ".join),
            inner.map(lambda q: f"-{q}" if not q.startswith(("-", "(")) else f"-({q})"),
            inner.map(lambda q: f"NOT ({q})"),
            inner.map(lambda q: f"({q})"),
        ),
        max_leaves=max_leaves,
    )
