"""An arXiv digest and arXiv alerts end to end: real bot, loopback Discord, Hugging Face and arXiv, manual clock."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.arxiv_digest import announcement_day, choose
from bot.models import DigestSettings, Paper
from bot.query import parse
from bot.scrape_sources import SourcesScraper
from bot.sources.arxiv import ArxivSource
from bot.sources.http import PoliteClient
from bot.sources.huggingface import HuggingFaceSource
from tests.fakes.arxiv_feeds import arxiv_paper
from tests.fakes.arxiv_server import FakeArxiv, fake_arxiv
from tests.fakes.harness import BotHarness, wait_until
from tests.fakes.hf_items import make_daily_item

__all__ = ["fake_arxiv"]

FRIDAY = dt.date(2026, 6, 12)
THURSDAY = FRIDAY - dt.timedelta(days=1)
MORNING = dt.datetime(2026, 6, 12, 6, 0, tzinfo=dt.UTC)
UPVOTED = {"2606.10004": 5, "2606.10009": 30}  # also on Hugging Face's Thursday, with these upvotes


def listed(number: int) -> Paper:
    title = "Agents for parsing" if number % 5 else "Tokenizers for speech"
    return arxiv_paper(f"2606.{10000 + number}", categories=("cs.CL",), day=FRIDAY, title=f"{title} {number}")


@pytest.fixture
async def harness(tmp_path: Path, fake_arxiv: FakeArxiv) -> AsyncIterator[BotHarness]:
    """The bot reading cs.CL from the loopback arXiv next to Hugging Face, on Friday morning."""
    arxiv = {
        "categories": ("cs.CL",),
        "api_url": fake_arxiv.api_url,
        "listing_url": fake_arxiv.listing_url,
        "max_requests_per_minute": 60000.0,
        "backfill_days": 0,
    }
    running = await BotHarness.create(tmp_path, start=MORNING, arxiv=arxiv)
    try:
        hf = HuggingFaceSource(PoliteClient(running.http_client, max_requests_per_minute=60000), running.hf.base_url)
        source = ArxivSource.from_config(running.http_client, running.config, today=lambda: running.clock.now().date())
        running.running.scraper = SourcesScraper(running.store, hf, source, arxiv_backfill=0, clock=running.clock.now)
        yield running
    finally:
        await running.close()


def serve(harness: BotHarness, fake_arxiv: FakeArxiv) -> list[Paper]:
    papers = [listed(n) for n in range(1, 15)]
    fake_arxiv.announce("cs.CL", FRIDAY, [(p, "new" if n % 3 else "cross") for n, p in enumerate(papers, 1)])
    harness.hf.set_day(
        THURSDAY,
        [make_daily_item(pid, f"Hugging Face title of {pid}", day=THURSDAY, upvotes=u) for pid, u in UPVOTED.items()],
    )
    return papers


async def set_digest(harness: BotHarness, **options: Any) -> str:
    result = await harness.discord.slash(
        "digest", "set", as_user=harness.admin, channel=harness.channel, time="09:00", timezone="UTC", **options
    )
    assert result.ephemeral
    return str(result.content or "")


def labels(markdown: str) -> list[str]:
    return re.findall(r"\[([^\]]*)\]\(", markdown)


async def test_an_arxiv_digest_shows_the_category_narrowed_with_upvoted_papers_first(
    harness: BotHarness, fake_arxiv: FakeArxiv
) -> None:
    serve(harness, fake_arxiv)
    reply = await set_digest(harness, source="arxiv", category="cs.cl", query="agents", top=4)
    assert "arXiv cs.CL matching agents, 09:00 UTC" in reply and "papers of Thu 11 Jun 2026" in reply
    await harness.scrape()
    assert len(await harness.store.listing_papers("cs.CL", FRIDAY)) == 14
    harness.clock.set(MORNING.replace(hour=9))
    (posted,) = await harness.discord.wait_for_messages(harness.channel, 1)
    text = posted.text
    assert "arXiv cs.CL · Fri 2026-06-12" in text and "Top 4 of 12 papers that day" in text
    titles = [label for label in labels(text) if label.startswith(("Agents", "Tokenizers", "Hugging"))]
    # Upvoted on Hugging Face first (most first), then listing order; the speech papers do not match.
    assert titles[:4] == [f"Agents for parsing {n}" for n in (9, 4, 1, 2)]
    assert "…and 8 more papers in cs.CL](https://arxiv.org/list/cs.CL/new)" in text
    assert "https://arxiv.org/abs/2606.10001" in text  # arXiv-only papers link to arXiv
    assert "https://huggingface.co/papers/2606.10009" in text  # papers on Hugging Face link there
    assert posted.allowed_mentions == {"parse": []}


async def test_arxiv_papers_reach_alerts(harness: BotHarness, fake_arxiv: FakeArxiv) -> None:
    from cogs.alerts import AlertsCog

    serve(harness, fake_arxiv)
    result = await harness.discord.slash(
        "alerts", "add", as_user=harness.admin, channel=harness.channel, options={"query": "tokenizers cat:cs.CL"}
    )
    assert (await result.wait_final()).ephemeral
    cog = harness.running.get_cog("AlertsCog")
    assert isinstance(cog, AlertsCog)
    summary = await harness.scrape()
    await wait_until(lambda: any(s is summary for s in cog.handled), what="the alerts pass after the scrape")
    (alert,) = await harness.discord.wait_for_messages(harness.channel, 1)
    assert all(f"Tokenizers for speech {n}" in alert.text for n in (5, 10))
    assert "Agents for parsing" not in alert.text


async def test_a_category_the_bot_does_not_read_is_refused(harness: BotHarness) -> None:
    result = await harness.discord.slash(
        "digest", "set", as_user=harness.admin, channel=harness.channel, source="arxiv", category="cs.RO"
    )
    assert result.ephemeral and "cs.CL" in (result.content or "") and "not one this bot reads" in (result.content or "")
    missing = await harness.discord.slash(
        "digest", "set", as_user=harness.admin, channel=harness.channel, source="arxiv"
    )
    assert "needs a category" in (missing.content or "")
    bad_query = await harness.discord.slash(
        "digest", "set", as_user=harness.admin, channel=harness.channel, source="arxiv", category="cs.CL", query="(x"
    )
    assert "Query: unclosed (" in (bad_query.content or "")
    assert await harness.store.get_digest_settings(harness.channel.id) is None


def test_choosing_puts_upvoted_papers_first_then_listing_order() -> None:
    papers = [dataclasses.replace(listed(n), upvotes=u) for n, u in ((1, 0), (2, 3), (3, 0), (4, 9), (6, 0))]
    chosen, total = choose(papers, query=None, top=4, min_upvotes=0)
    assert [p.id[-2:] for p in chosen] == ["04", "02", "01", "03"] and total == 5
    narrowed, matched = choose(papers, query=parse("parsing -title:3"), top=10, min_upvotes=0)
    assert [p.id[-2:] for p in narrowed] == ["04", "02", "01", "06"] and matched == 4
    assert announcement_day(THURSDAY) == FRIDAY
    assert DigestSettings(guild_id=1, channel_id=2).source == "huggingface"
