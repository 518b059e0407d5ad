"""A loopback Hugging Face: Daily Papers API, paper API and /papers/date pages, with switchable faults."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import html
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from tests.fakes.hf_items import paper_object

log = logging.getLogger(__name__)

PAGE_MODES = ("normal", "no_props", "no_element", "changed_items")


@dataclass
class RecordedRequest:
    """One request as the server saw it."""

    method: str
    path: str
    query: dict[str, str]
    time: float  # time.monotonic() on arrival
    user_agent: str


@dataclass
class Fault:
    """A misbehaviour applied to requests whose path starts with `path`, `times` times (None: always)."""

    kind: str  # "status" | "slow" | "truncated" | "oversize" | "body" | "trickle"
    path: str
    times: int | None = 1
    status: int = 500
    retry_after: str | None = None
    delay: float = 0.0
    size: int = 0
    declare_length: bool = False
    body: str = ""
    content_type: str = "application/json"


@dataclass
class PageOverride:
    """How the /papers/date page for one day differs from the normal one."""

    mode: str = "normal"
    shows: str | None = None  # another day's list, as the site does for days without papers
    redirect: bool = False  # answer with a 302 to the other day's URL instead of serving it in place


@dataclass
class FakeHuggingFace:
    """The server's state: days of items, single papers, page overrides, faults and the request log."""

    days: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    papers: dict[str, dict[str, Any]] = field(default_factory=dict)
    pages: dict[str, PageOverride] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    requests: list[RecordedRequest] = field(default_factory=list)
    base_url: str = ""
    _runner: web.AppRunner | None = None
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)

    # ------------------------------------------------------------ content

    def set_day(self, day: dt.date | str, items: Sequence[dict[str, Any]]) -> None:
        """Serve `items` as the Daily Papers of `day` (and each paper under /api/papers/{id})."""
        key = day.isoformat() if isinstance(day, dt.date) else day
        self.days[key] = list(items)
        for item in items:
            paper = item.get("paper") if isinstance(item, dict) else None
            if isinstance(paper, dict) and isinstance(paper.get("id"), str):
                self.papers.setdefault(paper["id"], paper_object(item))

    def add_paper(self, obj: dict[str, Any]) -> None:
        """Serve `obj` at /api/papers/{obj['id']}."""
        self.papers[obj["id"]] = obj

    # ------------------------------------------------------------ faults

    def fail(self, status: int, *, path: str = "/api/", times: int | None = 1, retry_after: str | None = None) -> None:
        """Answer `status` (with Retry-After if given) to the next `times` matching requests."""
        self.faults.append(Fault("status", path, times, status=status, retry_after=retry_after))

    def slow(self, delay: float, *, path: str = "/api/", times: int | None = 1) -> None:
        """Wait `delay` seconds before answering the next `times` matching requests."""
        self.faults.append(Fault("slow", path, times, delay=delay))

    def truncate(self, *, path: str = "/api/", times: int | None = None) -> None:
        """Cut the JSON body in half (with a matching Content-Length, so HTTP itself is fine)."""
        self.faults.append(Fault("truncated", path, times))

    def oversize(
        self, size: int, *, path: str = "/api/", times: int | None = None, declare_length: bool = False
    ) -> None:
        """Stream `size` bytes of body; with `declare_length` also send Content-Length up front."""
        self.faults.append(Fault("oversize", path, times, size=size, declare_length=declare_length))

    def trickle(self, interval: float, *, path: str = "/api/", times: int | None = None, size: int = 1 << 20) -> None:
        """Send `size` bytes, one every `interval` seconds: a slow-loris answer no read timeout catches."""
        self.faults.append(Fault("trickle", path, times, delay=interval, size=size))

    def respond(
        self,
        body: str,
        *,
        path: str = "/api/",
        times: int | None = None,
        status: int = 200,
        content_type: str = "application/json",
    ) -> None:
        """Answer the next `times` matching requests with this body instead (e.g. an object, not a list)."""
        self.faults.append(Fault("body", path, times, status=status, body=body, content_type=content_type))

    def page_mode(self, day: dt.date | str, mode: str) -> None:
        """Change the markup of one day's page: normal, no_props, no_element or changed_items."""
        if mode not in PAGE_MODES:
            raise ValueError(f"unknown page mode {mode!r}")
        key = day.isoformat() if isinstance(day, dt.date) else day
        self.pages.setdefault(key, PageOverride()).mode = mode

    def page_shows(self, day: dt.date | str, other: dt.date | str, *, redirect: bool = False) -> None:
        """Make the page of `day` list `other` instead (in place, or by a 302 redirect)."""
        key = day.isoformat() if isinstance(day, dt.date) else day
        override = self.pages.setdefault(key, PageOverride())
        override.shows = other.isoformat() if isinstance(other, dt.date) else other
        override.redirect = redirect

    def requests_to(self, prefix: str) -> list[RecordedRequest]:
        """The recorded requests whose path starts with `prefix`."""
        return [r for r in self.requests if r.path.startswith(prefix)]

    def _take_fault(self, path: str) -> Fault | None:
        for fault in self.faults:
            if path.startswith(fault.path) and (fault.times is None or fault.times > 0):
                if fault.times is not None:
                    fault.times -= 1
                return fault
        return None

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> FakeHuggingFace:
        """Listen on 127.0.0.1 at a free port; `base_url` says where."""
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/api/daily_papers", self._daily_papers)
        app.router.add_get("/api/papers/{paper_id:.+}", self._paper)
        app.router.add_get("/papers/date/{day}", self._page)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"
        return self

    async def stop(self) -> None:
        """Stop listening (slow answers in progress end at once)."""
        self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ------------------------------------------------------------ handlers

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.requests.append(
            RecordedRequest(
                request.method,
                request.path,
                dict(request.query),
                time.monotonic(),
                request.headers.get("User-Agent", ""),
            )
        )
        fault = self._take_fault(request.path)
        if fault is None:
            return await handler(request)
        if fault.kind == "status":
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            return web.json_response({"error": f"fault {fault.status}"}, status=fault.status, headers=headers)
        if fault.kind == "slow":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), fault.delay)
            return await handler(request)
        if fault.kind == "oversize":
            return await self._oversize(request, fault)
        if fault.kind == "trickle":
            return await self._trickle(request, fault)
        if fault.kind == "body":
            return web.Response(text=fault.body, status=fault.status, content_type=fault.content_type)
        response = await handler(request)
        assert isinstance(response, web.Response) and isinstance(response.body, bytes | bytearray)
        body = bytes(response.body)
        return web.Response(body=body[: len(body) // 2], status=response.status, content_type=response.content_type)

    async def _oversize(self, request: web.Request, fault: Fault) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        if fault.declare_length:
            response.content_length = fault.size
        else:
            response.enable_chunked_encoding()
        await response.prepare(request)
        chunk = b" " * 65536
        sent = 0
        try:
            while sent < fault.size:
                piece = chunk[: fault.size - sent]
                await response.write(piece)
                sent += len(piece)
        except (ConnectionError, RuntimeError):
            return response  # the client hung up, as it should
        with contextlib.suppress(ConnectionError, RuntimeError):
            await response.write_eof()
        return response

    async def _trickle(self, request: web.Request, fault: Fault) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            for _ in range(fault.size):
                await response.write(b" ")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), fault.delay)
                if self._stopping.is_set():
                    break
        except (ConnectionError, RuntimeError):
            return response  # the client gave up, as it should
        with contextlib.suppress(ConnectionError, RuntimeError):
            await response.write_eof()
        return response

    async def _daily_papers(self, request: web.Request) -> web.Response:
        query = request.query
        try:
            limit = min(100, max(1, int(query.get("limit", "50"))))
            page = max(0, int(query.get("p", "0")))
        except ValueError:
            return web.json_response({"error": "bad parameter"}, status=400)
        day = query.get("date")
        if day is None:
            day = max(self.days, default="")
        items = self.days.get(day, [])
        return web.json_response(items[page * limit : (page + 1) * limit])

    async def _paper(self, request: web.Request) -> web.Response:
        paper = self.papers.get(request.match_info["paper_id"])
        if paper is None:
            return web.json_response({"error": "Paper not found"}, status=404)
        return web.json_response(paper)

    async def _page(self, request: web.Request) -> web.Response:
        day = request.match_info["day"]
        override = self.pages.get(day, PageOverride())
        shown = override.shows or day
        if shown not in self.days and override.shows is None:
            # Like the site: a day without papers shows the latest earlier day that has some.
            shown = max((d for d in self.days if d < day), default=day)
        if override.redirect and shown != day:
            raise web.HTTPFound(f"/papers/date/{shown}")
        text = render_daily_page(self.days.get(shown, []), shown, mode=override.mode)
        return web.Response(text=text, content_type="text/html")


def render_daily_page(items: Sequence[dict[str, Any]], date_string: str, *, mode: str = "normal") -> str:
    """A /papers/date page carrying `items` in the DailyPapers `data-props`, as the site hydrates it."""
    if mode == "changed_items":
        items = [{"article": item.get("paper", {}), "meta": {"thumb": item.get("thumbnail")}} for item in items]
    day = dt.date.fromisoformat(date_string)
    props: dict[str, Any] = {
        "authLight": None,
        "canSubmit": False,
        "dateString": date_string,
        "dailyPapers": list(items),
        "prevDate": (day - dt.timedelta(days=1)).isoformat(),
        "nextDate": None,
        "periodType": "day",
        "query": {},
        "isTrending": False,
    }
    header_props = html.escape(json.dumps({"user": None, "isLoggedIn": False}), quote=True)
    target = "DailyPapersV2" if mode == "no_element" else "DailyPapers"
    props_attr = "" if mode == "no_props" else f' data-props="{html.escape(json.dumps(props), quote=True)}"'
    cards = []
    for item in items:
        paper = item.get("paper", {}) if isinstance(item, dict) else {}
        paper_id = html.escape(str(paper.get("id", "")))
        title = html.escape(str(paper.get("title", "")))
        cards.append(
            f'<article class="relative flex flex-col rounded-xl border"><a href="/papers/{paper_id}">'
            f'<h3 class="mb-1 text-lg font-semibold">{title}</h3></a>'
            f'<div class="leading-none">{int(paper.get("upvotes", 0) or 0)}</div></article>'
        )
    return (
        '<!doctype html>\n<html><head><meta charset="utf-8">'
        "<title>Daily Papers - Hugging Face</title></head>\n"
        '<body class="PapersPage"><header><div class="SVELTE_HYDRATER contents" data-target="MainHeader" '
        f'data-props="{header_props}"></div></header>\n<main>'
        f'<div class="SVELTE_HYDRATER contents" data-target="{target}"{props_attr}>'
        f'<section class="grid">{"".join(cards)}</section></div></main></body></html>\n'
    )
