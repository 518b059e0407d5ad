"""A loopback arXiv: the API (Atom, paged, by category and submitted date or by id) and listing RSS feeds."""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from aiohttp.typedefs import Handler

from bot.models import Paper
from tests.fakes.arxiv_feeds import api_error_page, atom_page, rss_listing

log = logging.getLogger(__name__)

ATOM_TYPE = "application/atom+xml"
RSS_TYPE = "application/rss+xml"
_CATEGORY = re.compile(r"cat:(\S+)")
_SUBMITTED = re.compile(r"submittedDate:\[(\d{8})\d{4} TO (\d{8})\d{4}\]")


@dataclass
class ArxivRequest:
    """One request as the server saw it, stamped with the test's clock."""

    path: str
    query: dict[str, str]
    at: float
    user_agent: str


@dataclass
class ArxivFault:
    """A misbehaviour for requests whose path starts with `path`, `times` times: a status or a cut body."""

    kind: str  # "status" | "truncated"
    path: str
    times: int = 1
    status: int = 503
    retry_after: str | None = None


@dataclass
class FakeArxiv:
    """Submissions per (category, day), listing feeds per category, faults, and the request log."""

    submissions: dict[tuple[str, dt.date], list[Paper]] = field(default_factory=dict)
    listings: dict[str, str] = field(default_factory=dict)  # category -> RSS text
    faults: list[ArxivFault] = field(default_factory=list)
    requests: list[ArxivRequest] = field(default_factory=list)
    stamp: Callable[[], float] = time.monotonic
    base_url: str = ""
    _runner: web.AppRunner | None = None

    @property
    def api_url(self) -> str:
        """Where the API answers."""
        return f"{self.base_url}/api/query"

    @property
    def listing_url(self) -> str:
        """Where the listing feeds are (+ "/CATEGORY")."""
        return f"{self.base_url}/rss"

    def submit(self, category: str, day: dt.date, papers: Sequence[Paper]) -> None:
        """Papers submitted to `category` on `day`, in submission order."""
        self.submissions[(category, day)] = list(papers)

    def announce(self, category: str, day: dt.date, items: Sequence[tuple[Paper, str]]) -> None:
        """The category's feed shows the announcement of `day` with these (paper, announce type) items."""
        self.listings[category] = rss_listing(category, day, items)

    def fail(self, status: int, *, path: str = "/", times: int = 1, retry_after: str | None = None) -> None:
        """Answer the next `times` requests under `path` with `status` (and a Retry-After header)."""
        self.faults.append(ArxivFault("status", path, times, status, retry_after))

    def truncate(self, *, path: str = "/", times: int = 1) -> None:
        """Cut the next `times` bodies under `path` in half."""
        self.faults.append(ArxivFault("truncated", path, times))

    def requests_to(self, prefix: str) -> list[ArxivRequest]:
        """The recorded requests whose path starts with `prefix`."""
        return [r for r in self.requests if r.path.startswith(prefix)]

    async def start(self) -> FakeArxiv:
        """Listen on 127.0.0.1 at a free port."""
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/api/query", self._query)
        app.router.add_get("/rss/{category}", self._listing)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"
        return self

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _take_fault(self, path: str) -> ArxivFault | None:
        for fault in self.faults:
            if path.startswith(fault.path) and fault.times > 0:
                fault.times -= 1
                return fault
        return None

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.requests.append(
            ArxivRequest(request.path, dict(request.query), self.stamp(), request.headers.get("User-Agent", ""))
        )
        fault = self._take_fault(request.path)
        if fault is not None and fault.kind == "status":
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            return web.Response(text="busy", status=fault.status, headers=headers)
        response = await handler(request)
        if fault is not None:
            assert isinstance(response, web.Response) and isinstance(response.body, bytes | bytearray)
            body = bytes(response.body)
            return web.Response(body=body[: len(body) // 2], content_type=response.content_type)
        return response

    async def _query(self, request: web.Request) -> web.Response:
        start = int(request.query.get("start", "0"))
        size = int(request.query.get("max_results", "10"))
        if "id_list" in request.query:
            wanted = set(request.query["id_list"].split(","))
            known = {p.id: p for papers in self.submissions.values() for p in papers}
            if not all(re.fullmatch(r"[\w.\-/]+", pid) for pid in wanted):
                return web.Response(text=api_error_page("incorrect id format"), content_type=ATOM_TYPE)
            found = [known[pid] for pid in sorted(wanted) if pid in known]
            return web.Response(text=atom_page(found, start=0, total=len(found)), content_type=ATOM_TYPE)
        query = request.query.get("search_query", "")
        category, submitted = _CATEGORY.search(query), _SUBMITTED.search(query)
        if category is None or submitted is None:
            return web.Response(text=api_error_page("unsupported query"), content_type=ATOM_TYPE)
        day = dt.datetime.strptime(submitted.group(1), "%Y%m%d").replace(tzinfo=dt.UTC).date()
        papers = self.submissions.get((category.group(1), day), [])
        page = papers[start : start + size]
        return web.Response(text=atom_page(page, start=start, total=len(papers), query=query), content_type=ATOM_TYPE)

    async def _listing(self, request: web.Request) -> web.Response:
        category = request.match_info["category"]
        if category not in self.listings:
            return web.Response(text="no such category", status=404)
        return web.Response(text=self.listings[category], content_type=RSS_TYPE)


@pytest.fixture
async def fake_arxiv() -> AsyncIterator[FakeArxiv]:
    """A started loopback arXiv with no papers; fill it with `submit` and `announce`."""
    server = FakeArxiv()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
