"""What members read: digest size on real and project-made days, cards, lists, menus, alerts, errors, status."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from bot.models import Paper, Subscription
from bot.query import QueryError, parse
from bot.render import (
    MessagePayload,
    alert_messages,
    digest_messages,
    discord_date,
    discord_time,
    full_abstract_messages,
    has_more_abstract,
    option_number,
    paper_card,
    payload_problems,
    query_error_text,
    result_options,
    results_page,
    snippet,
    status_embed,
    trending_order,
    trending_page,
)
from bot.render.alerts import query_stems
from bot.sources.huggingface import parse_daily_papers

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLES = Path(__file__).parents[1] / ".." / "shared" / "samples"
needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(), reason="no ../shared/samples folder")
DIGEST_VISIBLE_LIMIT = 2200


def visible(markdown: str) -> str:
    """Text as a member sees it: link labels without URLs, no bold markers or escapes, timestamps as a date."""
    text = re.sub(r"\[([^\]]*)\]\((https?://[^)]*)\)", r"\1", markdown).replace("**", "")
    text = re.sub(r"<t:-?\d+:\w>", "4 Dec 2026", text)
    return re.sub(r"\\([^0-9A-Za-z\s])", r"\1", text).replace("\u200b", "")


def shown_text(messages: list[MessagePayload]) -> str:
    """Everything the messages show, as visible text."""
    parts = [message.content or "" for message in messages]
    for message in messages:
        for embed in message.embeds:
            parts += [embed.title or "", embed.description or ""]
            parts += [f"{field.name}\n{field.value}" for field in embed.fields]
            parts.append(embed.footer.text or "")
    return visible("\n".join(part for part in parts if part))


def top_of_biggest_day(path: Path) -> tuple[dt.date, list[Paper], int]:
    """The busiest day of a Daily Papers API answer: its papers by upvotes and how many there were."""
    papers = list(parse_daily_papers(json.loads(path.read_text(encoding="utf-8"))).papers)
    day, total = Counter(paper.day for paper in papers if paper.day).most_common(1)[0]
    ranked = sorted((paper for paper in papers if paper.day == day), key=lambda paper: -paper.upvotes)
    assert day is not None
    return day, ranked, total


def assert_readable_digest(path: Path) -> None:
    """The default top-10 compact digest: one message, fits a laptop screen, nothing cut inside a word."""
    day, ranked, total = top_of_biggest_day(path)
    messages = digest_messages(ranked[:10], day=day, total_that_day=total)
    assert len(messages) == 1 and len(messages[0].embeds) == 1
    text = shown_text(messages)
    assert len(text) <= DIGEST_VISIBLE_LIMIT, len(text)
    assert f"Top 10 of {total} papers that day" in text
    embed = messages[0].embeds[0]
    assert embed.url == f"https://huggingface.co/papers/date/{day.isoformat()}"
    for cut in re.findall(r"(\w+)…", text):
        assert any(
            re.search(
                rf"\b{re.escape(cut)}\b",
                paper.title + " " + paper.summary + " " + (paper.ai_summary or "") + " " + (paper.organization or ""),
            )
            for paper in ranked
        ), cut
    for paper in ranked[:10]:
        assert paper.url in (embed.description or "")


def test_project_day_digest_fits_a_screen() -> None:
    assert_readable_digest(FIXTURES / "hf_daily_2026-06-12.json")


@needs_samples
@pytest.mark.parametrize(
    "name", ["hf_api_daily_papers_2026-06-12.json", "hf_api_daily_papers_2026-07-13_and_2026-07-10.json"]
)
def test_real_day_digest_fits_a_screen(name: str) -> None:
    assert_readable_digest(SAMPLES / name)


@needs_samples
def test_real_day_digest_uses_ai_summaries_and_cards_stay_short() -> None:
    day, ranked, total = top_of_biggest_day(SAMPLES / "hf_api_daily_papers_2026-06-12.json")
    with_summary = next(paper for paper in ranked if paper.ai_summary)
    text = shown_text(digest_messages([with_summary], day=day, total_that_day=total))
    assert with_summary.ai_summary is not None and with_summary.ai_summary.split()[0] in text
    cards = digest_messages(ranked[:10], day=day, total_that_day=total, style="cards")
    embeds = [embed for message in cards for embed in message.embeds]
    assert len(embeds) == 10 and all(len(embed.description or "") < 400 for embed in embeds)


def make_paper(number: int, **changes: object) -> Paper:
    """A plausible paper."""
    values: dict[str, object] = {
        "id": f"2612.{number:05d}",
        "title": f"Sparse attention for long video, part {number}",
        "authors": tuple(f"Author {i}" for i in range(9)),
        "summary": "We study attention. It scales well.",
        "day": dt.date(2026, 12, 4),
        "upvotes": 38,
        "num_comments": 0,
        "github_repo": "https://github.com/o/r",
        "github_stars": 1234,
        "organization": "Example Lab",
    }
    values.update(changes)
    return Paper(**values)  # type: ignore[arg-type]


def test_card_shows_facts_first_and_a_date_timestamp() -> None:
    card = paper_card(make_paper(1))
    assert card.description is not None
    facts = card.description.split("\n")[0]
    assert facts.startswith("▲ 38 · [code ★ 1.2k]")
    assert "💬" not in facts and "Example Lab" in facts
    assert discord_date(dt.date(2026, 12, 4)) in facts
    assert card.fields[0].value == "Author 0, Author 1, Author 2, Author 3, Author 4 +4 more"


def test_full_abstract_is_split_within_limits() -> None:
    abstract = " ".join(f"Sentence number {i} says something about attention." for i in range(600))
    paper = make_paper(2, summary=abstract)
    assert has_more_abstract(paper)
    messages = full_abstract_messages(paper)
    assert len(messages) >= 2
    assert all(not payload_problems(message) for message in messages)
    shown = " ".join(embed.description or "" for message in messages for embed in message.embeds)
    assert shown == abstract
    assert not has_more_abstract(make_paper(3, summary="Short.", ai_summary=None))


def test_menu_options_have_descriptions_within_discord_limits() -> None:
    long_title = "Word " * 60
    options = result_options([make_paper(1, title=long_title), make_paper(2)], start_index=11)
    assert options[0].label.startswith("11. Word") and options[0].label.endswith("Word…")
    assert len(options[0].label) <= 100
    assert options[1].description == "▲ 38 · 4 Dec 2026 · code ★ 1.2k · Example Lab"
    assert all(option.description is None or len(option.description) <= 100 for option in options)
    many = result_options([make_paper(3, organization="Org " * 50)])
    assert many[0].description is not None and len(many[0].description) <= 100
    assert many[0].description.endswith("Org…")


def test_a_menu_option_gives_back_the_number_it_shows() -> None:
    options = result_options(
        [make_paper(1, title="2. A title that starts with a number"), make_paper(2)], start_index=11
    )
    assert [option_number(option.label) for option in options] == [11, 12]
    assert option_number("A title. With a stop") is None and option_number("") is None


def test_results_put_facts_under_the_title_with_an_unbreakable_date() -> None:
    embed = results_page([make_paper(1)], query="attention", page=1, pages=1, total=1)
    assert embed.description is not None
    title_line, facts = embed.description.split("\n")
    assert title_line.startswith("**1.** [Sparse attention")
    assert facts.endswith("4\u00a0Dec\u00a02026")
    assert embed.footer.text == "1 result"


def test_trending_groups_by_day_and_links_the_period_page() -> None:
    papers = [
        make_paper(1, day=dt.date(2026, 12, 3), upvotes=90),
        make_paper(2, upvotes=50),
        make_paper(3, day=dt.date(2026, 12, 3), upvotes=10),
    ]
    embed = trending_page(papers, period="week", first=dt.date(2026, 11, 28), last=dt.date(2026, 12, 4))
    assert embed.url == "https://huggingface.co/papers/week/2026-W49"
    assert embed.title == "Top 3 of the week · 28 Nov – 4 Dec 2026"
    assert embed.description is not None
    assert embed.description.count("Thu 3 Dec 2026") == 1 and embed.description.count("Fri 4 Dec 2026") == 1
    assert [paper.id for paper in trending_order(papers)] == ["2612.00002", "2612.00001", "2612.00003"]
    month = trending_page(papers[:1], period="month", first=dt.date(2026, 11, 5), last=dt.date(2026, 12, 4))
    assert month.url == "https://huggingface.co/papers/month/2026-12" and month.title is not None
    assert month.title.startswith("Top paper of the month")
    day = trending_page(papers[1:2], period="day", first=dt.date(2026, 12, 4), last=dt.date(2026, 12, 4))
    assert day.url == "https://huggingface.co/papers/date/2026-12-04"
    assert "Fri 4 Dec 2026" not in (day.description or "")


def test_alert_snippet_bolds_the_matched_words_in_context() -> None:
    stems = query_stems(["agent memory"])
    text = "We cut GPU memory use by half for agentic workloads with *sparse* attention and more words " * 3
    shown = snippet(text, stems, limit=120)
    assert shown.startswith("We cut GPU **memory** use by half for **agentic** workloads with \\*sparse\\*")
    assert shown.endswith("…") and len(shown) < 200
    assert snippet("nothing relevant here", stems) == ""
    late = snippet("x " * 200 + "memory at the end", stems, limit=60)
    assert late.startswith("…") and "**memory**" in late


def test_alert_snippet_shows_the_stretch_with_the_most_query_words() -> None:
    stems = query_stems(["agent memory"])
    # The first hit stands alone; later both words are close together: the snippet shows that stretch.
    text = "An agent appears early. " + "Filler words keep going here. " * 12 + "Agents with episodic memory win."
    shown = snippet(text, stems, limit=120)
    assert "**Agents** with episodic **memory**" in shown
    assert shown.startswith("…")


def test_alert_post_says_which_alert_matched_and_why() -> None:
    subscription = Subscription(
        id=3,
        guild_id=1,
        channel_id=2,
        query="agent memory",
        normalized="agent memory",
        created_by=5,
        created_at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
    )
    paper = make_paper(1, summary="Agents need long-term memory. We build it.")
    (message,) = alert_messages([(paper, [subscription])])
    description = message.embeds[0].description or ""
    assert "Matched `#3 agent memory`" in description
    assert "> **Agents** need long-term **memory**." in description


def test_query_error_shows_the_query_and_a_caret_at_the_one_based_position() -> None:
    query = 'agent "memory'
    with pytest.raises(QueryError) as caught:
        parse(query)
    text = query_error_text(query, caught.value)
    lines = text.split("\n")
    assert lines[0] == "Unclosed quote (character 7)."
    assert lines[1:5] == ["```", 'agent "memory', "      ^", "```"]
    assert lines[5].startswith("Add a closing") and " at 6" not in text
    assert not payload_problems(MessagePayload(content=text))


def test_query_error_keeps_the_caret_aligned_for_long_and_hostile_queries() -> None:
    query = "@everyone " + "x" * 200 + " (y"
    error = QueryError("unclosed ( at 211", 211, "add a ) to close the ( at 211, or remove it")
    text = query_error_text(query, error)
    code, caret = text.split("```\n")[1].split("\n")[:2]
    assert code.replace("\u200b", "")[len(caret) - 1] == "("
    assert not payload_problems(MessagePayload(content=text))


def test_status_shows_times_as_discord_timestamps() -> None:
    moment = dt.datetime(2026, 12, 5, 1, 55, tzinfo=dt.UTC)
    embed = status_embed({"Last scrape": moment, "Next scrape": None, "Papers": "12,345"})
    values = [field.value for field in embed.fields]
    assert values == [f"{discord_time(moment, 'f')} ({discord_time(moment, 'R')})", "—", "12,345"]
    assert discord_time(moment, "R") == "<t:1796435700:R>"
    with pytest.raises(ValueError):
        discord_time(moment.replace(tzinfo=None), "f")


def test_alert_snippet_stays_short_when_a_matched_word_is_enormous() -> None:
    # Underscores count as letters, so "__under____under__…" is one word thousands of characters long.
    stems = query_stems(["under"])
    shown = snippet("x " + "__under__" * 700, stems, limit=120)
    assert shown.startswith("x **") and len(shown) < 400
