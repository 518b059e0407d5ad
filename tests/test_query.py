"""The query language: syntax, errors, tokenizing like FTS5, and FTS5 agreeing with the Python predicate."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import string

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bot.models import Paper
from bot.query import (
    MAX_DEPTH,
    MAX_QUERY_LENGTH,
    MAX_TERMS,
    Filter,
    PaperText,
    Query,
    QueryError,
    fold_tokens,
    normalize,
    parse,
    required_terms,
    tokenize,
)
from bot.store import Store
from bot.store.search import SearchSpec
from tests.fts_probe import fts_tokenize
from tests.strategies import CATEGORY_FILTERS, expressions, paper_lists, terms

DAY = dt.date(2026, 6, 12)

MAMBA = Paper(
    id="2312.00752",
    title="Mamba: Linear-Time Sequence Modeling with Selective State Spaces",
    authors=("Albert Gu", "Tri Dao"),
    summary="Foundation models, now powering most applications, are based on the Transformer.",
    ai_summary="Mamba replaces attention with selective state spaces.",
    ai_keywords=("state space models", "RLHF"),
    day=DAY,
    upvotes=120,
    github_repo="state-spaces/mamba",
)
SURVEY = Paper(
    id="2401.00001",
    title="A Survey of Agents built on Large Language Models",
    authors=("Ada Lovelace",),
    summary="We review agentic systems and retrieval for language models.",
    day=dt.date(2026, 5, 1),
    upvotes=12,
)
CAFE = Paper(
    id="2401.00002",
    title="Café Diffusion: naïve video generation",
    authors=("Zoë Müller", "Tri Nguyen", "Dao Tran"),
    summary="Diffusion and flow matching for video.",
    day=None,
    upvotes=50,
    github_repo="",
)
PAPERS = (MAMBA, SURVEY, CAFE)


def matching(query: str) -> set[str]:
    parsed = parse(query)
    return {p.id for p in PAPERS if parsed.matches(p)}


# ---------------------------------------------------------------- syntax, one element at a time


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("mamba", {"2312.00752"}),
        ("MAMBA", {"2312.00752"}),
        ("agent", {"2401.00001"}),  # stemming: agents, agentic
        ("language models", {"2401.00001"}),  # implicit AND across columns
        ("diffusion video", {"2401.00002"}),
        ('"selective state spaces"', {"2312.00752"}),
        ('"state selective"', set()),  # a phrase keeps its order
        ("state-spaces", {"2312.00752"}),  # a hyphenated word is a phrase
        ("mamba OR diffusion", {"2312.00752", "2401.00002"}),
        ("language -survey", set()),
        ("language NOT survey", set()),
        ("models -mamba", {"2401.00001"}),
        ("-survey", {"2312.00752", "2401.00002"}),  # everything except
        ("(mamba OR survey) dao", {"2312.00752"}),
        ("title:mamba", {"2312.00752"}),
        ("title:attention", set()),  # only in the ai summary
        ("attention", {"2312.00752"}),
        ('author:"Tri Dao"', {"2312.00752"}),
        ('author:"Dao Tri"', set()),
        ('author:"nguyen dao"', {"2401.00002"}),  # authors are one text: a phrase spans " ; "
        ("abstract:retrieval", {"2401.00001"}),
        ("abstract:attention", set()),  # abstract: is the summary, not the ai summary
        ("keyword:rlhf", {"2312.00752"}),
        ("keywords:rlhf", {"2312.00752"}),
        ("title:(mamba OR survey)", {"2312.00752", "2401.00001"}),
        ("cafe naive", {"2401.00002"}),  # diacritics folded
        ("Zoe", {"2401.00002"}),
        ("upvotes:>=50", {"2312.00752", "2401.00002"}),
        ("upvotes:>50", {"2312.00752"}),
        ("upvotes:<50", {"2401.00001"}),
        ("upvotes:<=50", {"2401.00001", "2401.00002"}),
        ("upvotes:12", {"2401.00001"}),
        ("upvotes:=12", {"2401.00001"}),
        ("upvotes:10..60", {"2401.00001", "2401.00002"}),
        ("-upvotes:>=50", {"2401.00001"}),
        ("day:2026-06-12", {"2312.00752"}),
        ("day:>=2026-05-01", {"2312.00752", "2401.00001"}),
        ("day:<2026-06-12", {"2401.00001"}),  # a paper without a day matches no day filter
        ("day:2026-05-01..2026-05-31", {"2401.00001"}),
        ("code:yes", {"2312.00752"}),
        ("code:no", {"2401.00001", "2401.00002"}),  # an empty repo is no code
        ("-code:yes", {"2401.00001", "2401.00002"}),
        ("models code:yes upvotes:>=100", {"2312.00752"}),
        ("Mamba: Linear-Time Sequence Modeling", {"2312.00752"}),  # unknown "name:" is text
        ("selective:state", {"2312.00752"}),  # ... unless it looks like a mistyped field
        ('"auther:dao" mamba', set()),  # quoted, a mistyped field is searched as written
        ("mamba C++", set()),
        ("mamba 🤖", set()),  # an emoji is a letter to FTS5's unicode61 tables
        ("mamba ✓", {"2312.00752"}),  # a symbol it separates is no word and is dropped
    ],
)
def test_each_syntax_element(query: str, expected: set[str]) -> None:
    assert matching(query) == expected


@pytest.mark.parametrize(
    ("query", "match", "exclude"),
    [
        ("diffusion video", '("diffusion" AND "video")', False),
        ('"Mixture of Experts"', '"mixture of experts"', False),
        ("p OR q", '("p" OR "q")', False),
        ("p -q", '("p" NOT "q")', False),
        ("-q", '"q"', True),
        ("-p -q", '("p" OR "q")', True),
        ("p OR -q", '("q" NOT "p")', True),
        ("title:x author:y", '({title} : "x" AND {authors} : "y")', False),
        ('x"y"z', '("x" AND "y" AND "z")', False),
        ("NEAR(p q) OR r* ^s", '(("near" AND "p" AND "q") OR ("r" AND "s"))', False),
        ("the agent of", '"agent"', False),  # bare common words are left out
        ('"the" agent', '("the" AND "agent")', False),  # unless quoted
        ("the of", '("the" AND "of")', False),  # or all there is
        ("{title}:x", '"title x"', False),
    ],
)
def test_fts_expression_quotes_every_term(query: str, match: str, exclude: bool) -> None:
    compiled = parse(query).fts()
    assert (compiled.match, compiled.exclude) == (match, exclude)


def test_filters_compile_to_typed_values() -> None:
    compiled = parse("diffusion upvotes:>=50 day:2026-06-01..2026-06-12 code:no").fts()
    assert compiled.match == '"diffusion"'
    assert compiled.filters == (
        Filter("upvotes", ">=", 50),
        Filter("day", ">=", dt.date(2026, 6, 1)),
        Filter("day", "<=", dt.date(2026, 6, 12)),
        Filter("code", "=", False),
    )
    assert parse("day:2026-06-12").fts().match is None


def test_or_binds_looser_than_and() -> None:
    assert matching("mamba OR survey language") == matching("mamba OR (survey language)")
    assert parse("p q OR r").fts().match == '(("p" AND "q") OR "r")'


@pytest.mark.parametrize(
    ("query", "position", "message", "hint"),
    [
        ('mamba "state spaces', 6, "unclosed quote at 6", 'closing "'),
        ("(mamba OR ssm", 0, "unclosed ( at 0", "add a )"),
        ("mamba)", 5, "unmatched ) at 5", "matching ("),
        (")", 0, "unmatched ) at 0", "matching ("),
        ("mamba ()", 6, "empty parentheses at 6", "inside the parentheses"),
        ("mamba OR", 6, "OR at 6 has nothing after it", "after OR"),
        ("OR mamba", 0, "OR at 0 has nothing before it", "before OR"),
        ("mamba AND", 6, "AND at 6 has nothing after it", "after AND"),
        ("mamba NOT", 6, "NOT at 6 has nothing after it", "after NOT"),
        ("mamba -)", 7, "unmatched ) at 7", "matching ("),
        ("title: mamba", 0, "title: at 0 has nothing after it", "title:word"),
        ("x title:-mamba", 2, "a minus after title: at 2", "-title:mamba"),
        ("title:(author:dao)", 7, "author: inside title:( ) at 7", "one field"),
        ("title:(upvotes:>3)", 7, "upvotes: inside title:( ) at 7", "whole query"),
        ("upvotes:many", 0, "upvotes: cannot read 'many' at 0", "upvotes:>=50"),
        ("upvotes:>=-3", 0, "cannot read", "upvotes:>=50"),
        ("x day:2026-02-30", 2, "day: cannot read '2026-02-30' at 2", "day:2026-06-12"),
        ("day:12/06/2026", 0, "cannot read", "day:>=2026-06-01"),
        ("day:2026-06-12..2026-06-01", 0, "is empty", "smaller value first"),
        ("code:maybe", 0, "code: takes yes or no", "code:yes"),
        ("mamba OR upvotes:>5", 9, "upvotes: inside OR or a negated group at 9", "whole query"),
        ("-(mamba upvotes:>5)", 8, "inside OR or a negated group at 8", "outside"),
        ("-day:2026-06-01..2026-06-12", 0, "range filter cannot be negated", "day:<"),
        ("-upvotes:5", 0, "-upvotes: with one value", "upvotes:<value"),
        ("((((((deep))))))", MAX_DEPTH, f"nested deeper than {MAX_DEPTH}", "levels"),
        ("", 0, "empty query", "type words"),
        ("   ", 3, "empty query", "type words"),
        ("!!! ... ✓", 0, "nothing to search for", "letters or digits"),
        ("x" * (MAX_QUERY_LENGTH + 1), MAX_QUERY_LENGTH, "longer than 300", "shorten"),
        ("mamba auther:dao", 6, "no field auther: at 6", "did you mean author:?"),
        ("titel:mamba", 0, "no field titel:", "did you mean title:?"),
        ("Abstarct:retrieval", 0, "no field Abstarct:", "did you mean abstract:?"),
        ("upvote:>=50", 0, "no field upvote:", "did you mean upvotes:?"),
        ("date:2026-06-12", 0, "no field date:", "did you mean day:?"),
        ("cod:yes", 0, "no field cod:", '"cod:yes"'),
    ],
)
def test_each_error_has_position_and_hint(query: str, position: int, message: str, hint: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse(query)
    error = caught.value
    assert error.position == position
    assert message in error.message
    assert hint in error.hint
    assert str(error.position) in error.describe() and error.hint in error.describe()


def test_term_limit_names_the_first_term_too_many() -> None:
    words = [f"w{i}" for i in range(MAX_TERMS + 1)]
    parse(" ".join(words[:MAX_TERMS]))
    with pytest.raises(QueryError) as caught:
        parse(" ".join(words))
    assert caught.value.position == len(" ".join(words[:MAX_TERMS])) + 1
    assert "more than 20" in caught.value.message


def test_depth_limit_allows_five_levels() -> None:
    assert matching("(" * MAX_DEPTH + "mamba" + ")" * MAX_DEPTH) == {"2312.00752"}


def test_query_at_length_limit_parses() -> None:
    parse("m" * MAX_QUERY_LENGTH)


# ---------------------------------------------------------------- normalize and required terms


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Diffusion  Video", "video diffusion"),
        ("p OR q", "(q OR p)"),
        ("the agent", "agent"),
        ('"agent"', "AGENT"),
        ("NOT x y", "y -x"),
        ("--x", "x"),
        ("day:2026-06-01..2026-06-12 x", "x day:>=2026-06-01 day:<=2026-06-12"),
        ("authors:dao", "author:Dao"),
        ("p p q", "q p"),
        ("(p q) r", "p (q r)"),
        ("-code:no", "code:yes"),
    ],
)
def test_normalize_equates_queries_that_mean_the_same(one: str, other: str) -> None:
    assert normalize(one) == normalize(other)


@pytest.mark.parametrize(
    ("one", "other"),
    [("p q", "p OR q"), ("x", "-x"), ("title:x", "x"), ("p q", '"p q"'), ('"the" x', "the x")],
)
def test_normalize_keeps_different_queries_apart(one: str, other: str) -> None:
    assert normalize(one) != normalize(other)


def test_required_terms() -> None:
    assert required_terms("mamba") == frozenset({(None, "mamba")})
    assert required_terms("title:mamba") == frozenset({("title", "mamba")})
    assert required_terms("agents OR diffusion") == frozenset({(None, "agent"), (None, "diffus")})
    assert required_terms('"state of the art" upvotes:>5') == frozenset({(None, "state")})
    assert required_terms("x -y") == frozenset({(None, "x")})
    assert required_terms("-survey") is None
    assert required_terms("upvotes:>5") is None
    assert required_terms("mamba OR -survey") is None
    assert required_terms("(p OR q) verylongword") == frozenset({(None, "verylongword")})


# ---------------------------------------------------------------- tokenizing exactly like FTS5

_SUFFIXES = str.split(
    "s es sses ies ss ed eed ing at bl iz ational tional enci anci izer logi bli alli entli eli ousli "
    "ization ation ator alism iveness fulness ousness aliti iviti biliti ical ness icate iciti ful ative "
    "alize al ance ence er ic able ible ant ement ment ent ion sion tion ou ism ate iti ous ive ize e ll "
    "y ly ied yed ying"
)


def test_stemming_agrees_with_sqlite_on_many_words() -> None:
    rng = random.Random(20260612)
    letters = "aeiouyybcdlmnrstwxz"
    words = sorted(
        {
            "".join(rng.choice(letters) for _ in range(rng.randint(0, 7)))
            + rng.choice(_SUFFIXES) * rng.randint(0, 1)
            + rng.choice(_SUFFIXES) * rng.randint(0, 1)
            for _ in range(20000)
        }
        - {""}
    )
    words += ["generalization", "agreed", "hopping", "probabilistically", "conditional", "y" * 70]
    assert [tokenize(w) for w in words] == fts_tokenize(words)


@settings(max_examples=150, deadline=None)
@given(st.text(min_size=0, max_size=80))
def test_tokenizing_agrees_with_sqlite_on_any_text(text: str) -> None:
    assume(not any("\ud800" <= c <= "\udfff" for c in text))
    assert tokenize(text) == fts_tokenize([text])[0]


def test_folding_handles_marks_and_scripts() -> None:
    assert fold_tokens("Ça  va? NAÏVE e\u0301te\u0301") == ["ca", "va", "naive", "ete"]
    assert fold_tokens("a\u0301 \u0301 b") == ["a", "b"]  # a lone mark is no word
    assert tokenize("日本語 agents") == fts_tokenize(["日本語 agents"])[0]


# ---------------------------------------------------------------- the parser never fails otherwise

_QUERY_ALPHABET = st.sampled_from(
    list('()"-:*^{}+.;,')
    + [
        " ",
        " OR ",
        " AND ",
        " NOT ",
        "NEAR",
        "title:",
        "author:",
        "upvotes:",
        "day:",
        "code:",
        ">=",
        "<",
        "..",
        "2026-06-12",
        "é",
        "\u0301",
        "🤖",
        "\x00",
    ]
    + list(string.ascii_letters + string.digits)
)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=400), st.lists(_QUERY_ALPHABET, max_size=120).map("".join)))
def test_parser_raises_only_query_error(text: str) -> None:
    try:
        query = parse(text)
    except QueryError as error:
        assert 0 <= error.position <= len(text)
        assert error.hint
        return
    query.fts()
    query.normalized()
    query.required_terms()
    query.matches(MAMBA)


def test_huge_input_is_refused_quickly() -> None:
    with pytest.raises(QueryError):
        parse('"(' * 500_000)


# ---------------------------------------------------------------- FTS5 and Python agree

_WORDS = [
    "agent",
    "agents",
    "Agentic",
    "AGENT",
    "diffusion",
    "diffuse",
    "video",
    "videos",
    "model",
    "models",
    "modeling",
    "state",
    "space",
    "spaces",
    "of",
    "the",
    "art",
    "café",
    "cafe",
    "CAFÉ",
    "naïve",
    "Mamba",
    "mamba",
    "rlhf",
    "RLHF",
    "retrieval",
    "retrieve",
    "language",
    "languages",
    "flow",
    "flows",
    "x",
    "C++",
    "GPT-4o",
    "3D",
    "2026",
    "ÉCOLE",
    "ecole",
    "über",
    "e\u0301te\u0301",
    "日本",
]
_NAMES = ["Tri Dao", "Albert Gu", "Dao Tri", "Zoë Müller", "Ada", "Lovelace Ada"]
_SEPARATORS = [" ", " ", " ", ", ", ". ", "-", " ; ", " (", ") ", ": ", "\n"]


@st.composite
def _texts(draw: st.DrawFn, max_words: int = 12) -> str:
    count = draw(st.integers(0, max_words))
    parts = []
    for _ in range(count):
        parts.append(draw(st.sampled_from(_WORDS)))
        parts.append(draw(st.sampled_from(_SEPARATORS)))
    return "".join(parts).strip()


_PAPERS = paper_lists(_texts(), _NAMES, max_upvotes=20, repos=[None, "", "org/repo"])
_FILTERS = st.sampled_from(
    [
        "upvotes:>=5",
        "upvotes:<10",
        "upvotes:3..12",
        "upvotes:7",
        "day:2026-06-03",
        "day:>2026-06-02",
        "day:<=2026-06-04",
        "day:2026-06-02..2026-06-04",
        "code:yes",
        "code:no",
        "-code:yes",
        "-upvotes:>10",
        *CATEGORY_FILTERS,
    ]
)
_EXPRESSIONS = expressions(terms(_WORDS, _NAMES, max_phrase=3), max_leaves=8)
_QUERIES = st.tuples(_EXPRESSIONS, st.lists(_FILTERS, max_size=2)).map(lambda t: " ".join([t[0], *t[1]]))
_LOOSE_QUERIES = st.lists(
    st.one_of(st.sampled_from(_WORDS), st.sampled_from(["OR", "AND", "NOT", "-", "(", ")", '"', "title:"])),
    min_size=1,
    max_size=10,
).map(" ".join)


async def _ids_from_store(papers: list[Paper], queries: list[Query]) -> list[set[str]]:
    store = await Store.open(":memory:")
    try:
        await store.bulk_insert_papers(papers)
        found = []
        for query in queries:
            compiled = query.fts()
            spec = SearchSpec(match=compiled.match, exclude=compiled.exclude, filters=compiled.filters, limit=1000)
            page = await store.search_page(spec)
            assert await store.search_count(spec) == len(page)
            if compiled.match is not None and not compiled.exclude:
                # The bulk path of search: the same papers, by rowid.
                hits = await store.match_hits(compiled.match, limit=1000, filters=compiled.filters)
                by_rowid = await store.papers_by_rowid([h.rowid for h in hits])
                assert {p.id for p in by_rowid.values()} == {p.id for p in page}
            found.append({p.id for p in page})
        return found
    finally:
        await store.close()


def _parsed(texts: list[str]) -> list[Query]:
    queries = []
    for text in texts:
        try:
            queries.append(parse(text))
        except QueryError:
            continue
    return queries


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_PAPERS, st.lists(st.one_of(_QUERIES, _LOOSE_QUERIES), min_size=1, max_size=8))
def test_fts_and_python_agree_on_every_paper(papers: list[Paper], texts: list[str]) -> None:
    queries = _parsed(texts)
    assume(queries)
    from_store = asyncio.run(_ids_from_store(papers, queries))
    for query, stored in zip(queries, from_store, strict=True):
        in_python = {p.id for p in papers if query.matches(p)}
        assert stored == in_python, (query.text, query.fts())


@settings(max_examples=100, deadline=None)
@given(_PAPERS, _QUERIES)
def test_required_terms_are_present_in_every_match(papers: list[Paper], text: str) -> None:
    queries = _parsed([text])
    assume(queries)
    query = queries[0]
    required = query.required_terms()
    for paper in papers:
        if required is not None and query.matches(paper):
            assert required & PaperText.of(paper).terms()


@settings(max_examples=100, deadline=None)
@given(_PAPERS, _QUERIES)
def test_normalized_query_means_the_same_and_is_stable(papers: list[Paper], text: str) -> None:
    queries = _parsed([text])
    assume(queries)
    query = queries[0]
    canonical = query.normalized()
    again = parse(canonical)
    assert again.normalized() == canonical
    assert [query.matches(p) for p in papers] == [again.matches(p) for p in papers]
