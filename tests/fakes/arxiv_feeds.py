"""arXiv feeds made from Papers, in the real formats: API Atom pages and a category's listing RSS."""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import escape

from bot.models import Paper

log = logging.getLogger(__name__)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
NEW_YORK_SUMMER = dt.timezone(dt.timedelta(hours=-4))


def load_arxiv_fixture(name: str) -> str:
    """The text of a file in tests/fixtures."""
    return (FIXTURES / name).read_text("utf-8")


def arxiv_paper(pid: str, *, categories: Sequence[str] = ("cs.CL",), day: dt.date, **fields: object) -> Paper:
    """A paper as arXiv would describe it (title, authors and abstract made from the id)."""
    base: dict[str, object] = {
        "title": f"Paper {pid} on language",
        "authors": ("Ada Lovelace", "Tri Dao"),
        "summary": f"The abstract of {pid}, about parsing and language models.",
        "published": day,
        "day": day,
        "categories": tuple(categories),
        "sources": ("arxiv",),
        "version": 1,
        "updated": day,
    }
    base.update(fields)
    return Paper(id=pid, **base)  # type: ignore[arg-type]


def atom_entry(paper: Paper) -> str:
    """One `<entry>` of the arXiv API for `paper`."""
    version = paper.version or 1
    published = paper.published or paper.day or dt.date(2026, 1, 1)
    updated = paper.updated or published
    categories = "".join(
        f'\n    <category term="{escape(c)}" scheme="http://arxiv.org/schemas/atom"/>' for c in paper.categories
    )
    authors = "".join(f"\n    <author>\n      <name>{escape(a)}</name>\n    </author>" for a in paper.authors)
    extras = ""
    if paper.comments:
        extras += f"\n    <arxiv:comment>{escape(paper.comments)}</arxiv:comment>"
    if paper.journal_ref:
        extras += f"\n    <arxiv:journal_ref>{escape(paper.journal_ref)}</arxiv:journal_ref>"
    primary = f'\n    <arxiv:primary_category term="{escape(paper.categories[0])}"/>' if paper.categories else ""
    return f"""  <entry>
    <id>http://arxiv.org/abs/{paper.id}v{version}</id>
    <title>{escape(paper.title)}</title>
    <updated>{updated.isoformat()}T12:00:00Z</updated>
    <link href="https://arxiv.org/abs/{paper.id}v{version}" rel="alternate" type="text/html"/>
    <summary>{escape(paper.summary)}</summary>{categories}
    <published>{published.isoformat()}T12:00:00Z</published>{extras}{primary}{authors}
  </entry>
"""


def atom_page(papers: Sequence[Paper], *, start: int, total: int, query: str = "") -> str:
    """An API answer: one page of entries, where it starts and how many the query has."""
    entries = "".join(atom_entry(p) for p in papers)
    return f"""<?xml version='1.0' encoding='UTF-8'?>
<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" xmlns:arxiv="http://arxiv.org/schemas/atom" \
xmlns="http://www.w3.org/2005/Atom">
  <id>https://arxiv.org/api/loopback</id>
  <title>arXiv Query: {escape(query)}</title>
  <updated>2026-06-12T00:00:00Z</updated>
  <opensearch:itemsPerPage>{len(papers)}</opensearch:itemsPerPage>
  <opensearch:totalResults>{total}</opensearch:totalResults>
  <opensearch:startIndex>{start}</opensearch:startIndex>
{entries}</feed>
"""


def api_error_page(message: str) -> str:
    """The Atom answer the arXiv API gives to a query it cannot run."""
    return f"""<?xml version='1.0' encoding='UTF-8'?>
<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" xmlns="http://www.w3.org/2005/Atom">
  <opensearch:totalResults>1</opensearch:totalResults>
  <entry>
    <id>http://arxiv.org/api/errors#incorrect_id_format</id>
    <title>Error</title>
    <summary>{escape(message)}</summary>
  </entry>
</feed>
"""


def rss_item(paper: Paper, kind: str) -> str:
    """One `<item>` of a listing feed: `kind` is new, cross, replace or replace-cross."""
    version = paper.version or 1
    categories = "".join(f"\n      <category>{escape(c)}</category>" for c in paper.categories)
    return f"""    <item>
      <title>{escape(paper.title)}</title>
      <link>https://arxiv.org/abs/{paper.id}</link>
      <description>arXiv:{paper.id}v{version} Announce Type: {kind}
Abstract: {escape(paper.summary)}</description>
      <guid isPermaLink="false">oai:arXiv.org:{paper.id}v{version}</guid>{categories}
      <arxiv:announce_type>{kind}</arxiv:announce_type>
      <dc:creator>{escape(", ".join(paper.authors))}</dc:creator>
    </item>
"""


def rss_listing(category: str, day: dt.date, items: Sequence[tuple[Paper, str]]) -> str:
    """A category's listing feed of `day` (dated midnight in New York, as arXiv dates them)."""
    stamp = email.utils.format_datetime(dt.datetime.combine(day, dt.time(0), tzinfo=NEW_YORK_SUMMER))
    body = "".join(rss_item(paper, kind) for paper, kind in items)
    return f"""<rss xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns:atom="http://www.w3.org/2005/Atom" \
xmlns:dc="http://purl.org/dc/elements/1.1/" version="2.0">
  <channel>
    <title>{escape(category)} updates on arXiv.org</title>
    <link>http://rss.arxiv.org/rss/{escape(category)}</link>
    <description>{escape(category)} updates on the arXiv.org e-print archive.</description>
    <pubDate>{stamp}</pubDate>
    <skipDays>
      <day>Saturday</day>
      <day>Sunday</day>
    </skipDays>
{body}  </channel>
</rss>
"""
