"""Discord-like HTML pages of the bot's real payloads, and screenshots of them with headless Chromium.

Run `python -m tests.fakes.preview OUT_DIR` to write the pages (digest compact and cards, a card, search
results, an alert post, the status) and, when `chromium` is installed, a PNG of each. The payloads come from
the real renderers fed with the project's fixtures (or ../shared/samples when present); no network is used.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import json
import logging
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import discord

from bot.arxiv_digest import choose
from bot.models import Paper, ProcessStatus, Subscription
from bot.render import (
    LinkButton,
    MenuOption,
    MessagePayload,
    alert_messages,
    digest_messages,
    paper_card,
    paper_links,
    result_options,
    results_page,
    status_embed,
    validate_payload,
)
from bot.render.digest import arxiv_digest_messages
from bot.services.status import process_fields
from bot.sources.huggingface import parse_daily_papers

log = logging.getLogger(__name__)

ROOT = Path(__file__).parents[2]
FIXTURE_DAY = ROOT / "tests" / "fixtures" / "hf_daily_2026-06-12.json"
SAMPLE_DAY = ROOT / ".." / "shared" / "samples" / "hf_api_daily_papers_2026-06-12.json"


@dataclass
class Shown:
    """One message as a member sees it: the payload, its link buttons and its select menu (opened or not)."""

    payload: MessagePayload
    buttons: Sequence[LinkButton] = ()
    menu: Sequence[MenuOption] = ()
    menu_open: bool = False
    author: str = "Paperboy"
    ephemeral: bool = False
    extra_classes: list[str] = field(default_factory=list)


CSS = """
body { background:#313338; color:#dbdee1; font-family:"gg sans","Noto Sans","Helvetica Neue",Helvetica,Arial,
  "Noto Color Emoji",sans-serif; margin:0; padding:16px 16px 24px 16px; font-size:16px; line-height:1.375; }
.msg { display:flex; gap:16px; margin-bottom:18px; }
.avatar { width:40px; height:40px; border-radius:50%; background:#FFD21E; flex:none; color:#111; font-weight:700;
  display:flex; align-items:center; justify-content:center; }
.head { font-weight:600; color:#f2f3f5; } .bot { background:#5865f2; color:#fff; font-size:10px; padding:1px 4px;
  border-radius:3px; margin-left:4px; vertical-align:2px; } .time { color:#949ba4; font-size:12px; margin-left:6px; }
.eph { color:#949ba4; font-size:12px; margin-top:4px; }
.embed { background:#2b2d31; border-left:4px solid #FFD21E; border-radius:4px; max-width:520px;
  padding:8px 16px 16px 12px; margin-top:6px; display:grid; grid-template-columns:1fr auto; font-size:14px; }
.etitle { font-weight:600; font-size:16px; margin-top:8px; } .etitle a { color:#00a8fc; text-decoration:none; }
.desc { margin-top:8px; white-space:pre-wrap; } .footer { margin-top:8px; font-size:12px; color:#b5bac1; }
.thumb { width:80px; height:80px; border-radius:4px; margin:8px 0 0 16px;
  background:linear-gradient(135deg,#5865f2,#FFD21E);
  grid-column:2; grid-row:1 / span 4; }
.fields { display:flex; flex-wrap:wrap; gap:8px 16px; margin-top:8px; } .field { min-width:150px; }
.fname { font-weight:600; } .fvalue { white-space:pre-wrap; } a { color:#00a8fc; text-decoration:none; }
b { color:#f2f3f5; } .ts { background:rgba(255,255,255,.06); border-radius:3px; padding:0 2px; }
.quote { border-left:4px solid #4e5058; padding-left:10px; display:block; }
pre { background:#1e1f22; border:1px solid #1e1f22; border-radius:4px; padding:7px; margin:4px 0;
  font-family:"DejaVu Sans Mono",monospace; font-size:14px; white-space:pre; }
.buttons { display:flex; gap:8px; margin-top:8px; flex-wrap:wrap; }
.button { background:#4e5058; color:#fff; border-radius:3px; padding:2px 16px; font-size:14px; line-height:32px; }
.button.grey { background:#4e5058; }
.menu { background:#1e1f22; border-radius:4px; max-width:400px; margin-top:8px; font-size:14px; }
.menu .ph { padding:10px 12px; color:#949ba4; display:flex; justify-content:space-between; }
.opt { padding:8px 12px; border-top:1px solid #2b2d31; }
.opt .l { color:#dbdee1; } .opt .d { color:#949ba4; font-size:12px; }
.content { white-space:pre-wrap; }
.code { background:#1e1f22; border-radius:3px; padding:0 3px; font-family:"DejaVu Sans Mono",monospace;
  font-size:85%; }
"""

_ESCAPE_RE = re.compile(r"\\([^0-9A-Za-z\s])")
_LINK_RE = re.compile(r"\[([^\[\]]*)\]\((?:&lt;)?(https?://[^()\s&]+)(?:&gt;)?\)")
_BOLD_RE = re.compile(r"\*\*(.+?)\*\*")
_UNDERLINE_RE = re.compile(r"__(.+?)__")
_TIMESTAMP_RE = re.compile(r"&lt;t:(-?\d+):([tTdDfFR])&gt;")
_PLACEHOLDER = "\ue000{}\ue001"


PREVIEW_NOW = dt.datetime(2026, 12, 5, 4, tzinfo=dt.UTC)  # the moment the pages pretend it is


def _relative(moment: dt.datetime) -> str:
    """'in 25 minutes' or '2 hours ago', from PREVIEW_NOW, as Discord words it."""
    seconds = int((moment - PREVIEW_NOW).total_seconds())
    amount, unit = abs(seconds), "second"
    for size, name in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if abs(seconds) >= size:
            amount, unit = abs(seconds) // size, name
            break
    text = f"{amount} {unit}{'' if amount == 1 else 's'}"
    return f"in {text}" if seconds > 0 else f"{text} ago"


def _timestamp(match: re.Match[str]) -> str:
    """A Discord timestamp as a reader in UTC would see it."""
    moment = dt.datetime.fromtimestamp(int(match.group(1)), dt.UTC)
    style = match.group(2)
    shown = {
        "D": f"{moment.day} {moment:%B %Y}",
        "d": f"{moment:%d/%m/%Y}",
        "R": _relative(moment),
    }.get(style, f"{moment.day} {moment:%B %Y %H:%M}")
    return f'<span class="ts">{shown}</span>'


def _inline(text: str) -> str:
    """Discord markdown of one run of text (no code blocks) as HTML."""
    escapes: list[str] = []

    def hide(match: re.Match[str]) -> str:
        escapes.append(match.group(1))
        return _PLACEHOLDER.format(len(escapes) - 1)

    text = _ESCAPE_RE.sub(hide, text)
    text = html.escape(text, quote=False).replace("\u200b", "")
    text = _LINK_RE.sub(lambda m: f'<a href="{html.escape(m.group(2))}">{m.group(1)}</a>', text)
    text = re.sub(r"`([^`]+)`", r'<code class="code">\1</code>', text)
    text = _BOLD_RE.sub(r"<b>\1</b>", text)
    text = _UNDERLINE_RE.sub(r"<u>\1</u>", text)
    text = _TIMESTAMP_RE.sub(_timestamp, text)
    lines = [f'<span class="quote">{line[5:]}</q>' if line.startswith("&gt; ") else line for line in text.split("\n")]
    text = "\n".join(lines).replace("</q>\n", "</span>").replace("</q>", "</span>")
    return re.sub("\ue000(\\d+)\ue001", lambda m: html.escape(escapes[int(m.group(1))]), text)


def markdown_html(text: str) -> str:
    """Discord markdown as HTML: code blocks, masked links, bold, underline, quotes, timestamps, escapes."""
    parts = re.split(r"```\n?(.*?)\n?```", text, flags=re.DOTALL)
    shown = []
    for index, part in enumerate(parts):
        shown.append(f"<pre>{html.escape(part)}</pre>" if index % 2 else _inline(part))
    return "".join(shown)


def embed_html(embed: discord.Embed) -> str:
    """One embed as HTML."""
    inner = []
    if embed.title:
        title = _inline(embed.title)
        inner.append(f'<div class="etitle">{f"<a href={embed.url!r}>{title}</a>" if embed.url else title}</div>')
    if embed.description:
        inner.append(f'<div class="desc">{markdown_html(embed.description)}</div>')
    if embed.fields:
        fields = "".join(
            f'<div class="field"><div class="fname">{_inline(f.name or "")}</div>'
            f'<div class="fvalue">{markdown_html(f.value or "")}</div></div>'
            for f in embed.fields
        )
        inner.append(f'<div class="fields">{fields}</div>')
    if embed.footer.text:
        inner.append(f'<div class="footer">{html.escape(embed.footer.text)}</div>')
    thumb = '<div class="thumb"></div>' if embed.thumbnail.url else ""
    return f'<div class="embed"><div>{"".join(inner)}</div>{thumb}</div>'


def message_html(shown: Shown) -> str:
    """One message (author line, content, embeds, buttons, menu) as HTML."""
    validate_payload(shown.payload)
    body = []
    if shown.payload.content:
        body.append(f'<div class="content">{markdown_html(shown.payload.content)}</div>')
    body.extend(embed_html(embed) for embed in shown.payload.embeds)
    if shown.buttons:
        buttons = "".join(
            f'<span class="button">{html.escape(b.label)}{" ↗" if b.url else ""}</span>' for b in shown.buttons
        )
        body.append(f'<div class="buttons">{buttons}</div>')
    if shown.menu:
        options = ""
        if shown.menu_open:
            options = "".join(
                f'<div class="opt"><div class="l">{html.escape(o.label)}</div>'
                f'<div class="d">{html.escape(o.description or "")}</div></div>'
                for o in shown.menu
            )
        body.append(f'<div class="menu"><div class="ph">Open a paper as a card… <span>⌄</span></div>{options}</div>')
    if shown.ephemeral:
        body.append('<div class="eph">👁 Only you can see this · Dismiss message</div>')
    head = (
        f'<div class="head">{html.escape(shown.author)}<span class="bot">APP</span>'
        '<span class="time">Today at 09:00</span></div>'
    )
    return f'<div class="msg"><div class="avatar">P</div><div>{head}{"".join(body)}</div></div>'


def page_html(messages: Sequence[Shown], title: str = "Paperboy preview") -> str:
    """A whole Discord-like page of messages."""
    body = "".join(message_html(shown) for shown in messages)
    return f'<!doctype html><meta charset="utf-8"><title>{html.escape(title)}</title><style>{CSS}</style>{body}'


def screenshot(page: Path, png: Path, *, width: int = 900, height: int = 1400) -> None:
    """A PNG of the page taken by headless Chromium (no network, throwaway profile)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise RuntimeError("chromium is not installed")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                f"--window-size={width},{height}",
                f"--screenshot={png}",
                page.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )


def day_papers() -> tuple[dt.date, list[Paper], int]:
    """The papers of a real day (samples) or of the project's fixture day, by upvotes."""
    source = SAMPLE_DAY if SAMPLE_DAY.is_file() else FIXTURE_DAY
    papers = list(parse_daily_papers(json.loads(source.read_text(encoding="utf-8"))).papers)
    day = papers[0].day
    assert day is not None
    ranked = sorted((p for p in papers if p.day == day), key=lambda p: -p.upvotes)
    return day, ranked, len(ranked)


def status_shown() -> Shown:
    """/paperboy status as the admin cog fills it in (times near the moment the previews pretend it is)."""
    moment = PREVIEW_NOW
    fields: dict[str, str | dt.datetime | None] = {
        "Newest day cached": "Fri 4 Dec 2026",
        "Last scrape": moment - dt.timedelta(minutes=5),
        "Next scrape": moment + dt.timedelta(minutes=25),
        "Last scrape result": "ok: 14 papers of 4 Dec, 2 new",
        "Papers cached": "1,204 papers over 90 days",
        "This server": "1 digest channel, 3 alerts",
        "Version": "0.1.0",
        "Uptime": "3 d 4 h",
        "Gateway latency": "42 ms",
        "Servers": "12",
    }
    # A bot run as three processes on Postgres, asked in a guild of the second one.
    started = moment - dt.timedelta(days=3)
    processes = [
        ProcessStatus(f"paperboy-{n}", (n,), 3, started, moment - dt.timedelta(seconds=4 + n), n == 0, this=n == 1)
        for n in range(3)
    ]
    fields.update(process_fields(processes, moment))
    return Shown(MessagePayload(embeds=[status_embed(fields)]), ephemeral=True)


def arxiv_digest(ranked: list[Paper]) -> list[MessagePayload]:
    """An arXiv digest of cs.CL: the day's papers as arXiv lists them, two also upvoted on Hugging Face."""
    day = ranked[0].day or dt.date(2026, 6, 12)
    listed = [
        dataclasses.replace(
            paper,
            upvotes=paper.upvotes if index in (3, 6) else 0,
            num_comments=paper.num_comments if index in (3, 6) else 0,
            organization=paper.organization if index in (3, 6) else None,
            ai_summary=None,
            github_repo=None,
            github_stars=None,
            sources=("huggingface", "arxiv") if index in (3, 6) else ("arxiv",),
            categories=("cs.CL", "cs.LG") if index % 2 else ("cs.CL",),
        )
        for index, paper in enumerate(ranked)
    ]
    chosen, total = choose(listed, query=None, top=5, min_upvotes=0)
    return arxiv_digest_messages(chosen, category="cs.CL", day=day, total=total)


def gallery() -> dict[str, tuple[list[Shown], tuple[int, int]]]:
    """The message kinds worth looking at, each with the window size of its screenshot."""
    day, ranked, total = day_papers()
    compact = digest_messages(ranked[:10], day=day, total_that_day=total)
    cards = digest_messages(ranked[:4], day=day, total_that_day=total, style="cards")
    card = paper_card(ranked[1], inline_links=False)
    card_buttons = [*paper_links(ranked[1]), LinkButton("Full abstract", "")]
    found = [p for p in ranked if "attention" in (p.title + p.summary).lower()][:5] or ranked[:5]
    results = results_page(found, query="attention", page=1, pages=1, total=len(found))
    subscription = Subscription(
        id=3,
        guild_id=1,
        channel_id=2,
        query="agent memory",
        normalized="agent memory",
        created_by=5,
        created_at=dt.datetime(2026, 6, 1, tzinfo=dt.UTC),
    )
    alerted = [p for p in ranked if "memory" in p.summary.lower() or "agent" in p.summary.lower()][:3]
    alerts = alert_messages([(paper, [subscription]) for paper in alerted])
    return {
        "digest-arxiv": ([Shown(m) for m in arxiv_digest(ranked)], (900, 640)),
        "digest-compact": ([Shown(m) for m in compact], (900, 1020)),
        "digest-cards": ([Shown(m) for m in cards], (900, 720)),
        "card": ([Shown(MessagePayload(embeds=[card]), buttons=card_buttons, ephemeral=True)], (900, 400)),
        "search-results": (
            [Shown(MessagePayload(embeds=[results]), menu=result_options(found), menu_open=True, ephemeral=True)],
            (900, 560),
        ),
        "alert-post": ([Shown(m) for m in alerts], (900, 680)),
        "status": ([status_shown()], (900, 420)),
    }


def main(argv: Sequence[str]) -> int:
    """Write each page and its screenshot into the folder named on the command line."""
    out = Path(argv[0]) if argv else Path("preview")
    out.mkdir(parents=True, exist_ok=True)
    for name, (messages, (width, height)) in gallery().items():
        page = out / f"{name}.html"
        page.write_text(page_html(messages, name), encoding="utf-8")
        if shutil.which("chromium"):
            screenshot(page, out / f"{name}.png", width=width, height=height)
        print(page)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
