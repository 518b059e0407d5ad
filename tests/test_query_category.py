"""`category:` (and `cat:`) in the query language: parsing, canonical text, and search and alerts deciding alike."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from bot.models import Paper
from bot.query import Filter, QueryError, Sort, canonical_category, category_matches, category_range, normalize, parse
from bot.store import Store
from bot.store.search import SearchSpec

DAY = dt.date(2026, 6, 12)


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("cs.CL", "cs.CL"),
        ("cs.cl", "cs.CL"),
        ("CS.Cl", "cs.CL"),
        ("hep-th", "hep-th"),
        ("q-bio.nc", "q-bio.NC"),
        ("cond-mat.Mes-Hall", "cond-mat.mes-hall"),
        ("cs.*", "cs.*"),
        ("Q-BIO.*", "q-bio.*"),
        ("math*", "math*"),
    ],
)
def test_categories_are_written_as_arxiv_writes_them(typed: str, canonical: str) -> None:
    assert canonical_category(typed) == canonical
    assert parse(f"category:{typed}").filters == (Filter("category", "=", canonical),)
    assert parse(f"cat:{typed}").filters == (Filter("category", "=", canonical),)


def test_category_filters_combine_negate_and_normalise() -> None:
    query = parse("parsing cat:cs.cl -category:cs.LG")
    assert query.filters == (Filter("category", "=", "cs.CL"), Filter("category", "!=", "cs.LG"))
    assert normalize("parsing cat:cs.cl -category:cs.LG") == "parsing -category:cs.LG category:cs.CL"
    assert normalize("category:cs.*") == "category:cs.*"
    assert parse("category:cs.*").required_terms() is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("category:cs.CL;", "category: cannot read 'cs.CL;' at 0"),
        ("category:c*s", "category: cannot read"),
        ("category:.CL", "category: cannot read"),
        ("mamba OR category:cs.CL", "inside OR"),
    ],
)
def test_bad_category_filters_say_how_to_write_them(text: str, message: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse(text)
    assert message in caught.value.describe()


def test_matching_ignores_case_and_prefixes_stop_at_the_text_given() -> None:
    assert category_matches(("cs.CL", "cs.LG"), "cs.cl")
    assert category_matches(("cs.CL",), "cs.*") and not category_matches(("csx.AB",), "cs.*")
    assert not category_matches((), "cs.*")
    assert category_range("cs.CL") == ("cs.cl", None)
    low, high = category_range("cs.*")
    assert low == "cs." and high is not None and low < "cs.zz" < high and not low <= "ct" < high


def arxiv_paper(pid: str, categories: tuple[str, ...], title: str = "Parsing with experts") -> Paper:
    return Paper(id=pid, title=title, day=DAY, categories=categories, sources=("arxiv",))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("category:cs.CL", {"2606.00001", "2606.00002"}),
        ("cat:CS.lg", {"2606.00002"}),
        ("category:cs.*", {"2606.00001", "2606.00002", "2606.00003"}),
        ("-category:cs.CL", {"2606.00003", "2606.00004", "2606.00005"}),
        ("parsing -cat:cs.*", {"2606.00004"}),
        ("category:hep-th experts", {"2606.00004"}),
        ("category:q-bio.*", set()),
    ],
)
async def test_search_and_alerts_agree_on_categories(text: str, expected: set[str]) -> None:
    papers = [
        arxiv_paper("2606.00001", ("cs.CL",)),
        arxiv_paper("2606.00002", ("cs.LG", "cs.CL")),
        arxiv_paper("2606.00003", ("cs.CV",), title="Seeing things"),
        arxiv_paper("2606.00004", ("hep-th", "math-ph")),
        Paper(id="2606.00005", title="A Hugging Face paper without categories", day=DAY),
    ]
    store = await Store.open(":memory:")
    try:
        await store.upsert_papers(papers)
        query = parse(text)
        compiled = query.fts()
        spec = SearchSpec(match=compiled.match, exclude=compiled.exclude, filters=compiled.filters, limit=50)
        found = {p.id for p in await store.search_page(spec)}
        assert found == expected == {p.id for p in papers if query.matches(p)}
        assert await store.search_count(spec) == len(expected)
    finally:
        await store.close()


async def test_a_category_change_moves_the_paper_between_filters() -> None:
    store = await Store.open(":memory:")
    try:
        await store.upsert_papers([arxiv_paper("2606.00001", ("cs.CL",))])
        spec = SearchSpec(filters=parse("category:cs.LG").filters, limit=10)
        assert await store.search_count(spec) == 0
        await store.upsert_papers([arxiv_paper("2606.00001", ("cs.LG",))])
        assert [p.id for p in await store.search_page(spec)] == ["2606.00001"]
        assert await store.delete_paper("2606.00001")
        assert await store.search_count(spec) == 0
    finally:
        await store.close()


async def test_a_category_lists_in_order_and_follows_upvotes_days_and_code() -> None:
    papers = [
        dataclasses.replace(arxiv_paper(f"2606.0000{n}", ("cs.CL",)), day=DAY - dt.timedelta(days=n), upvotes=0)
        for n in range(1, 5)
    ]
    papers.append(Paper(id="2606.00009", title="No day", categories=("cs.CL",), sources=("arxiv",)))
    store = await Store.open(":memory:")
    try:
        await store.upsert_papers(papers)

        async def listed(text: str, sort: Sort) -> list[str]:
            spec = SearchSpec(filters=parse(text).filters, sort=sort, limit=10)
            found = [p.id[-1] for p in await store.search_page(spec)]
            assert await store.search_count(spec) == len(found)
            return found

        assert await listed("category:cs.CL", "new") == ["1", "2", "3", "4", "9"]
        assert await listed("category:cs.CL", "top") == ["1", "2", "3", "4", "9"]
        # Hugging Face features paper 3 with upvotes and code, and a later day.
        featured = dataclasses.replace(
            papers[2], upvotes=7, day=DAY + dt.timedelta(days=1), github_repo="https://github.com/a/b",
            sources=("huggingface",), categories=(),
        )  # fmt: skip
        await store.upsert_papers([featured], day=featured.day)
        assert await listed("category:cs.CL", "top") == ["3", "1", "2", "4", "9"]
        assert await listed("category:cs.CL", "new") == ["3", "1", "2", "4", "9"]
        assert await listed("category:cs.CL code:yes", "new") == ["3"]
        assert await listed("category:cs.CL upvotes:0 day:<2026-06-11", "new") == ["2", "4"]
        assert await listed("cat:cs.cl -category:cs.LG day:>=2026-06-11", "relevance") == ["3", "1"]
    finally:
        await store.close()
