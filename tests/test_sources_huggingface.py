"""Daily Papers parsing (pure) and fetching through the loopback Hugging Face (API, paging, page fallback)."""

from __future__ import annotations

import datetime as dt
import html
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.config import Config
from bot.sources.http import FetchError, InvalidPayload, PoliteClient, RetryableExhausted, make_http_client
from bot.sources.huggingface import (
    HuggingFaceSource,
    MarkupChanged,
    clean_text,
    parse_daily_item,
    parse_daily_page,
    parse_daily_papers,
    parse_paper,
    parse_paper_ref,
)
from tests.fakes.hf_fixtures import (
    FakeHuggingFace,
    fake_hf,
    load_fixture,
    make_daily_item,
    paper_object,
    render_daily_page,
)
from tests.fakes.hf_items import FIXTURES

__all__ = ["fake_hf"]

JUNE_12 = dt.date(2026, 6, 12)
JULY_10 = dt.date(2026, 7, 10)


# ---------------------------------------------------------------- parsing the API list


def test_a_full_day_parses_every_field_from_its_real_place() -> None:
    items = load_fixture("hf_daily_2026-06-12.json")
    result = parse_daily_papers(items)
    assert len(result.papers) == 30 and result.skipped == 0
    assert {p.day for p in result.papers} == {JUNE_12}
    assert [e.paper_id for e in result.entries] == [item["paper"]["id"] for item in items]
    for item, paper in zip(items, result.papers, strict=True):
        raw = item["paper"]
        assert paper.id == raw["id"]
        assert paper.title == raw["title"]
        assert paper.upvotes == raw["upvotes"]
        assert paper.authors == tuple(a["name"] for a in raw["authors"])
        assert paper.published == dt.date.fromisoformat(raw["publishedAt"][:10])
        assert paper.thumbnail == item["thumbnail"]
        assert paper.num_comments == item["numComments"]
        assert paper.ai_summary == raw.get("ai_summary")
        assert paper.ai_keywords == tuple(raw.get("ai_keywords", ()))
        assert paper.github_repo == raw.get("githubRepo")
        assert paper.github_stars == raw.get("githubStars")
        assert paper.project_page == raw.get("projectPage")
        assert paper.organization == (item["organization"]["fullname"] if "organization" in item else None)
    assert [e.upvotes for e in result.entries] == [p.upvotes for p in result.papers]


def test_edge_cases_skip_items_without_id_or_title_and_count_them() -> None:
    result = parse_daily_papers(load_fixture("hf_daily_edge_cases.json"))
    assert [p.id for p in result.papers] == ["2607.01001", "2607.01002", "2607.01007"]
    # no id, a blank title, a bare string and an item without its `paper` object
    assert result.skipped == 4
    assert {e.day for e in result.entries} == {JULY_10}


def test_whitespace_and_control_characters_are_normalised() -> None:
    first = parse_daily_papers(load_fixture("hf_daily_edge_cases.json")).papers[0]
    assert first.title == "Sparse Routers for Long Context Models"
    assert first.summary == "Long-context models are slow. We route tokens sparsely and keep accuracy."
    assert first.ai_summary == "Token routing speeds up long-context models."
    assert first.ai_keywords == ("token routing", "long context")
    assert first.authors[0] == "Greta Holm"


def test_hidden_authors_keep_their_names_and_places() -> None:
    first = parse_daily_papers(load_fixture("hf_daily_edge_cases.json")).papers[0]
    assert first.authors == ("Greta Holm", "Paulo Reyes", "Mei Arakawa")


def test_missing_optional_fields_become_empty_values() -> None:
    minimal = parse_daily_papers(load_fixture("hf_daily_edge_cases.json")).papers[1]
    assert minimal.id == "2607.01002"
    assert minimal.ai_summary is None and minimal.ai_keywords == ()
    assert minimal.github_repo is None and minimal.github_stars is None
    assert minimal.project_page is None and minimal.thumbnail is None
    assert minimal.organization is None and minimal.num_comments == 0
    assert minimal.day == JULY_10 and minimal.published == dt.date(2026, 7, 9)


def test_odd_values_are_dropped_not_trusted() -> None:
    odd = parse_daily_papers(load_fixture("hf_daily_edge_cases.json")).papers[2]
    assert odd.title == "Top-Level Title Only"  # paper.title missing, the item's title used
    assert odd.authors == ("Kofi Boateng", "Loose String Author")
    assert odd.upvotes == 0  # "12" as a string is not a count
    assert odd.github_repo is None  # not an http(s) link
    assert odd.github_stars is None and odd.project_page is None
    assert odd.published is None
    assert odd.organization == "boateng-group"  # no fullname: the handle


def test_organization_comes_from_the_item_or_else_the_paper() -> None:
    first = parse_daily_papers(load_fixture("hf_daily_edge_cases.json")).papers[0]
    assert first.organization == "Nordic Learning Lab"
    item = make_daily_item("2606.00001", "T", day=JUNE_12, organization=("lab", "The Lab"))
    del item["organization"]
    paper = parse_daily_item(item)
    assert paper is not None and paper.organization == "The Lab"


def test_the_day_is_the_daily_date_not_the_top_level_published_instant() -> None:
    item = make_daily_item("2606.00001", "T", day=JUNE_12, published="2026-06-11")
    assert item["publishedAt"].startswith("2026-06-10T20")
    paper = parse_daily_item(item)
    assert paper is not None
    assert paper.day == JUNE_12 and paper.published == dt.date(2026, 6, 11)


def test_items_without_a_daily_date_take_the_day_asked_for() -> None:
    item = make_daily_item("2606.00001", "T", day=JUNE_12)
    del item["paper"]["submittedOnDailyAt"]
    assert parse_daily_papers([item]).entries == ()
    result = parse_daily_papers([item], JUNE_12)
    assert result.papers[0].day == JUNE_12
    assert [(e.day, e.paper_id) for e in result.entries] == [(JUNE_12, "2606.00001")]


def test_a_payload_that_is_not_a_list_is_invalid() -> None:
    with pytest.raises(InvalidPayload):
        parse_daily_papers({"error": "nope"})


def test_parse_paper_reads_a_single_paper_object() -> None:
    paper = parse_paper(load_fixture("hf_paper_2405.12345.json"))
    assert paper is not None
    assert paper.id == "2405.12345"
    assert paper.title == "Learning to Route Tokens in Sparse Transformers"
    assert paper.upvotes == 57 and paper.github_stars == 312
    assert paper.day == dt.date(2024, 5, 21) and paper.published == dt.date(2024, 5, 20)
    assert paper.thumbnail is None and paper.num_comments == 0
    assert parse_paper("a string") is None
    assert parse_paper({"id": "2405.12345"}) is None
    assert parse_paper({"id": "../../etc", "title": "T"}) is None


@given(st.text())
def test_clean_text_leaves_single_spaces_and_no_control_characters(text: str) -> None:
    cleaned = clean_text(text)
    assert cleaned == cleaned.strip()
    assert "  " not in cleaned
    assert not any(ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 for ch in cleaned)
    assert clean_text(cleaned) == cleaned


# ---------------------------------------------------------------- parsing the page


def test_the_page_is_read_from_the_daily_papers_element_only() -> None:
    page = parse_daily_page((FIXTURES / "hf_page_2026-07-13.html").read_text("utf-8"), dt.date(2026, 7, 13))
    assert page.date_string == "2026-07-13" and page.items == 2
    first, second = page.result.papers
    assert first.title == "Quiet Transformers & <Loud> Baselines"
    assert first.summary == 'We compare quiet & loud models. It\'s "fine".'
    assert first.organization == "Byrne Lab" and first.upvotes == 17
    assert second.authors == ("Ola Nordmann",)


def test_page_and_api_agree_on_the_same_items() -> None:
    items = load_fixture("hf_daily_2026-06-12.json")
    page = parse_daily_page(render_daily_page(items, "2026-06-12"), JUNE_12)
    assert page.result == parse_daily_papers(items, JUNE_12)


def test_a_page_showing_another_day_means_no_papers() -> None:
    items = [make_daily_item("2606.00001", "T", day="2026-06-11")]
    page = parse_daily_page(render_daily_page(items, "2026-06-11"), JUNE_12)
    assert not page.shows(JUNE_12)
    assert page.result.papers == () and page.items == 1


def test_an_empty_page_for_the_right_day_is_not_a_markup_change() -> None:
    page = parse_daily_page(render_daily_page([], "2026-06-12"), JUNE_12)
    assert page.shows(JUNE_12) and page.result.papers == ()


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("no_props", "no data-props"),
        ("no_element", "no DailyPapers element"),
        ("changed_items", "none of the 2 items"),
    ],
)
def test_changed_markup_is_reported(mode: str, message: str) -> None:
    items = [make_daily_item(f"2606.0000{i}", "T", day=JUNE_12) for i in range(2)]
    with pytest.raises(MarkupChanged, match=message):
        parse_daily_page(render_daily_page(items, "2026-06-12", mode=mode), JUNE_12)


def test_props_that_are_not_json_are_a_markup_change() -> None:
    page = '<div data-target="DailyPapers" data-props="{&quot;dailyPapers&quot;: ["></div>'
    with pytest.raises(MarkupChanged, match="not JSON"):
        parse_daily_page(page, JUNE_12)
    props = html.escape(json.dumps({"dateString": "2026-06-12", "papers": []}))
    with pytest.raises(MarkupChanged, match="no dailyPapers list"):
        parse_daily_page(f'<div data-target="DailyPapers" data-props="{props}"></div>', JUNE_12)


# ---------------------------------------------------------------- paper references


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2405.12345", "2405.12345"),
        ("  2405.12345v2 ", "2405.12345"),
        ("0704.0001", "0704.0001"),
        ("arXiv:2405.12345v1", "2405.12345"),
        ("https://arxiv.org/abs/2405.12345", "2405.12345"),
        ("https://arxiv.org/abs/2405.12345v3", "2405.12345"),
        ("http://export.arxiv.org/abs/2405.12345", "2405.12345"),
        ("arxiv.org/pdf/2405.12345", "2405.12345"),
        ("https://arxiv.org/pdf/2405.12345v2.pdf", "2405.12345"),
        ("https://arxiv.org/pdf/2405.12345.pdf", "2405.12345"),
        ("https://huggingface.co/papers/2405.12345", "2405.12345"),
        ("https://huggingface.co/papers/2405.12345#community", "2405.12345"),
        ("huggingface.co/papers/2405.12345/", "2405.12345"),
        ("https://hf.co/papers/2405.12345?x=1", "2405.12345"),
        ("hep-th/9901001", "hep-th/9901001"),
        ("math.GT/0309136v2", "math.GT/0309136"),
        ("https://arxiv.org/abs/hep-th/9901001v1", "hep-th/9901001"),
        ("HTTPS://ARXIV.ORG/ABS/2405.12345", "2405.12345"),
    ],
)
def test_paper_references_are_understood(text: str, expected: str) -> None:
    assert parse_paper_ref(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hello",
        "2405.123",
        "2405.1234567",
        "https://example.com/abs/2405.12345",
        "https://arxiv.org/list/cs.LG/recent",
        "2405.12345; DROP TABLE papers",
        "https://huggingface.co/papers",
    ],
)
def test_other_text_is_not_a_paper_reference(text: str) -> None:
    assert parse_paper_ref(text) is None


@given(
    st.from_regex(r"\A[0-9]{4}\.[0-9]{4,5}\Z"),
    st.integers(min_value=1, max_value=30),
    st.sampled_from(
        ["https://arxiv.org/abs/{}", "https://arxiv.org/pdf/{}.pdf", "https://huggingface.co/papers/{}", "{}"]
    ),
)
def test_every_url_form_gives_back_the_id(paper_id: str, version: int, form: str) -> None:
    assert parse_paper_ref(form.format(f"{paper_id}v{version}")) == paper_id
    assert parse_paper_ref(form.format(paper_id)) == paper_id


# ---------------------------------------------------------------- fetching


@pytest.fixture
async def source(fake_hf: FakeHuggingFace) -> AsyncIterator[HuggingFaceSource]:
    async with make_http_client(Config(), read_timeout=0.3) as http:
        client = PoliteClient(
            http, max_requests_per_minute=60000, burst=1000, backoff_base=0.01, backoff_max=0.02, max_attempts=2
        )
        yield HuggingFaceSource(client, fake_hf.base_url)


def day_items(count: int, day: dt.date = JUNE_12) -> list[dict[str, Any]]:
    return [make_daily_item(f"2606.{i:05d}", f"Paper number {i}", day=day, upvotes=i % 50) for i in range(count)]


async def test_a_day_comes_from_the_api_in_one_request(fake_hf: FakeHuggingFace, source: HuggingFaceSource) -> None:
    fake_hf.set_day(JUNE_12, load_fixture("hf_daily_2026-06-12.json"))
    fetch = await source.fetch_day(JUNE_12)
    assert fetch.via == "api" and fetch.outcome == "ok" and fetch.note is None
    assert len(fetch.papers) == 30 and len(fetch.entries) == 30
    (request,) = fake_hf.requests
    assert request.path == "/api/daily_papers"
    assert request.query == {"date": "2026-06-12", "limit": "100", "p": "0"}


async def test_big_days_are_paged_until_a_short_page(fake_hf: FakeHuggingFace, source: HuggingFaceSource) -> None:
    fake_hf.set_day(JUNE_12, day_items(250))
    fetch = await source.fetch_day(JUNE_12)
    assert len(fetch.papers) == 250
    assert len({p.id for p in fetch.papers}) == 250
    assert [r.query["p"] for r in fake_hf.requests] == ["0", "1", "2"]


async def test_a_day_of_exactly_two_pages_stops_at_the_empty_third(
    fake_hf: FakeHuggingFace, source: HuggingFaceSource
) -> None:
    fake_hf.set_day(JUNE_12, day_items(200))
    fetch = await source.fetch_day(JUNE_12)
    assert len(fetch.papers) == 200
    assert [r.query["p"] for r in fake_hf.requests] == ["0", "1", "2"]


async def test_a_server_that_ignores_paging_does_not_loop_forever(
    fake_hf: FakeHuggingFace, source: HuggingFaceSource
) -> None:
    full_page = json.dumps(day_items(100))
    fake_hf.respond(full_page, path="/api/daily_papers")
    fetch = await source.fetch_day(JUNE_12)
    assert len(fetch.papers) == 100
    assert len(fake_hf.requests) == 2  # the second page brought nothing new


async def test_a_day_without_papers_is_empty_and_needs_no_page(
    fake_hf: FakeHuggingFace, source: HuggingFaceSource
) -> None:
    fetch = await source.fetch_day(JUNE_12)
    assert fetch.outcome == "empty" and fetch.papers == () and fetch.via == "api"
    assert fake_hf.requests_to("/papers/") == []


async def test_papers_of_other_days_in_the_answer_are_left_out(
    fake_hf: FakeHuggingFace, source: HuggingFaceSource
) -> None:
    mixed = day_items(3) + [make_daily_item("2606.09999", "Yesterday's", day="2026-06-11")]
    fake_hf.set_day(JUNE_12, mixed)
    fetch = await source.fetch_day(JUNE_12)
    assert [p.id for p in fetch.papers] == ["2606.00000", "2606.00001", "2606.00002"]
    assert {e.day for e in fetch.entries} == {JUNE_12}


async def test_an_api_answer_for_another_day_only_sends_us_to_the_page(
    fake_hf: FakeHuggingFace, source: HuggingFaceSource
) -> None:
    wrong_day = json.dumps(day_items(3, dt.date(2026, 6, 11)))
    fake_hf.respond(wrong_day, path="/api/daily_papers")
    fake_hf.set_day(JUNE_12, day_items(2))
    fetch = await source.fetch_day(JUNE_12)
    assert fetch.via == "page"
    assert [p.id for p in fetch.papers] == ["2606.00000", "2606.00001"]
    assert fetch.note is not None and "none of them from 2026-06-12" in fetch.note


@pytest.mark.parametrize(
    "break_api",
    [
        pytest.param(lambda fake: fake.truncate(path="/api/daily_papers"), id="truncated-json"),
        pytest.param(lambda fake: fake.fail(500, path="/api/daily_papers", times=None), id="5xx-exhausted"),
        pytest.param(lambda fake: fake.fail(403, path="/api/daily_papers"), id="non-retryable-status"),
        pytest.param(lambda fake: fake.respond('{"papers": []}', path="/api/daily_papers"), id="wrong-shape"),
        pytest.param(lambda fake: fake.respond('[{"article": {}}]', path="/api/daily_papers"), id="unreadable-items"),
    ],
)
async def test_a_failing_api_falls_back_to_the_page(
    fake_hf: FakeHuggingFace, source: HuggingFaceSource, break_api: Any
) -> None:
    items = load_fixture("hf_daily_2026-06-12.json")
    fake_hf.set_day(JUNE_12, items)
    break_api(fake_hf)
    fetch = await source.fetch_day(JUNE_12)
    assert fetch.via == "page" and fetch.note is not None and "API failed" in fetch.note
    assert fetch.papers == parse_daily_papers(items).papers
    assert [r.path for r in fake_hf.requests_to("/papers/")] == ["/papers/date/2026-06-12"]


async def test_a_redirected_page_means_the_day_has_no_papers(
    fake_hf: FakeHuggingFace, source: HuggingFaceSource
) -> None:
    fake_hf.set_day("2026-06-11", day_items(3, dt.date(2026, 6, 11)))
    fake_hf.fail(500, path="/api/daily_papers", times=None)
    fetch = await source.fetch_day(JUNE_12)
    assert fetch.outcome == "empty" and fetch.via == "page"
    assert fetch.note is not None and "2026-06-11" in fetch.note


async def test_a_page_redirected_by_http_302_is_followed_and_compared(
    fake_hf: FakeHuggingFace, source: HuggingFaceSource
) -> None:
    fake_hf.set_day("2026-06-11", day_items(3, dt.date(2026, 6, 11)))
    fake_hf.page_shows(JUNE_12, "2026-06-11", redirect=True)
    fake_hf.fail(500, path="/api/daily_papers", times=None)
    fetch = await source.fetch_day(JUNE_12)
    assert fetch.outcome == "empty"
    assert [r.path for r in fake_hf.requests_to("/papers/")] == ["/papers/date/2026-06-12", "/papers/date/2026-06-11"]


@pytest.mark.parametrize("mode", ["no_props", "no_element", "changed_items"])
async def test_changed_markup_after_an_api_failure_is_its_own_error(
    fake_hf: FakeHuggingFace, source: HuggingFaceSource, mode: str
) -> None:
    fake_hf.set_day(JUNE_12, day_items(3))
    fake_hf.truncate(path="/api/daily_papers")
    fake_hf.page_mode(JUNE_12, mode)
    with pytest.raises(MarkupChanged) as caught:
        await source.fetch_day(JUNE_12)
    assert "/papers/date/2026-06-12" in str(caught.value)
    assert "API had failed too" in str(caught.value)


async def test_when_api_and_page_both_fail_the_error_names_both(
    fake_hf: FakeHuggingFace, source: HuggingFaceSource
) -> None:
    fake_hf.fail(503, path="/", times=None)
    with pytest.raises(FetchError) as caught:
        await source.fetch_day(JUNE_12)
    assert not isinstance(caught.value, MarkupChanged)
    message = str(caught.value)
    assert "/api/daily_papers" in message and "/papers/date/2026-06-12" in message
    assert isinstance(caught.value.__cause__, RetryableExhausted)


async def test_oversized_answers_fail_the_day(fake_hf: FakeHuggingFace) -> None:
    fake_hf.set_day(JUNE_12, day_items(3))
    fake_hf.oversize(5 * 1024 * 1024, path="/")
    async with make_http_client(Config()) as http:
        client = PoliteClient(http, max_requests_per_minute=60000, burst=1000, max_bytes=1024 * 1024)
        with pytest.raises(FetchError, match="too large"):
            await HuggingFaceSource(client, fake_hf.base_url).fetch_day(JUNE_12)


async def test_fetch_paper_reads_one_paper_or_none(fake_hf: FakeHuggingFace, source: HuggingFaceSource) -> None:
    fake_hf.add_paper(load_fixture("hf_paper_2405.12345.json"))
    paper = await source.fetch_paper("2405.12345")
    assert paper is not None and paper.title == "Learning to Route Tokens in Sparse Transformers"
    assert await source.fetch_paper("2405.99999") is None
    assert [r.path for r in fake_hf.requests] == ["/api/papers/2405.12345", "/api/papers/2405.99999"]


async def test_fetch_paper_reports_server_failures(fake_hf: FakeHuggingFace, source: HuggingFaceSource) -> None:
    fake_hf.add_paper(paper_object(make_daily_item("2405.12345", "T", day=JUNE_12)))
    fake_hf.fail(500, path="/api/papers/", times=None)
    with pytest.raises(RetryableExhausted):
        await source.fetch_paper("2405.12345")
    fake_hf.faults.clear()
    fake_hf.respond('{"id": "2405.12345"}', path="/api/papers/")
    with pytest.raises(InvalidPayload):
        await source.fetch_paper("2405.12345")


def test_fixture_items_use_every_real_field_name() -> None:
    item = make_daily_item(
        "2606.00001",
        "T",
        day=JUNE_12,
        ai_summary="S",
        github_repo="https://github.com/a/b",
        project_page="https://a.github.io",
        organization=("a", "A"),
        media_urls=["https://x/y.png"],
    )
    assert set(item) == {
        "paper",
        "publishedAt",
        "title",
        "summary",
        "thumbnail",
        "numComments",
        "submittedBy",
        "isAuthorParticipating",
        "organization",
        "mediaUrls",
    }
    assert set(item["paper"]) == {
        "id",
        "authors",
        "publishedAt",
        "submittedOnDailyAt",
        "title",
        "submittedOnDailyBy",
        "summary",
        "upvotes",
        "discussionId",
        "ai_summary",
        "ai_keywords",
        "ai_summary_model",
        "githubRepo",
        "githubRepoAddedBy",
        "githubStars",
        "projectPage",
        "organization",
        "mediaUrls",
    }
    assert set(item["paper"]["authors"][0]) == {"_id", "name", "hidden"}
