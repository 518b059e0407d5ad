"""The polite HTTP client against the loopback Hugging Face: retries, Retry-After, size cap, rate limit."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from bot.config import Config, HuggingFaceConfig
from bot.sources.http import (
    HostRateLimiter,
    HTTPStatusError,
    InvalidPayload,
    PoliteClient,
    ResponseTooLarge,
    RetryableExhausted,
    Unreachable,
    make_http_client,
    parse_retry_after,
    unreachable_reason,
)
from tests.fakes.hf_fixtures import FakeHuggingFace, fake_hf, make_daily_item

__all__ = ["fake_hf"]

DAY = "2026-06-12"
ITEMS = [make_daily_item(f"2606.0000{i}", f"Paper {i}", day=DAY, upvotes=i) for i in range(3)]


class FakeTime:
    """A clock that only moves when someone sleeps on it; records every sleep."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    config = Config(huggingface=HuggingFaceConfig(user_agent="paperboy-test/1.0 (+loopback)"))
    async with make_http_client(config, read_timeout=0.3, connect_timeout=0.5) as client:
        yield client


def polite(http: httpx.AsyncClient, **options: Any) -> PoliteClient:
    """A client whose rate limit never gets in the way unless a test asks for it."""
    defaults: dict[str, Any] = {
        "max_requests_per_minute": 60000,
        "burst": 1000,
        "backoff_base": 0.01,
        "backoff_max": 0.05,
        "max_attempts": 3,
    }
    return PoliteClient(http, **{**defaults, **options})


def api(fake: FakeHuggingFace) -> str:
    return f"{fake.base_url}/api/daily_papers"


async def test_get_json_returns_the_payload_and_sends_the_user_agent(
    fake_hf: FakeHuggingFace, http: httpx.AsyncClient
) -> None:
    fake_hf.set_day(DAY, ITEMS)
    payload = await polite(http).get_json(api(fake_hf), {"date": DAY, "limit": 100, "p": 0})
    assert [item["paper"]["id"] for item in payload] == ["2606.00000", "2606.00001", "2606.00002"]
    (request,) = fake_hf.requests
    assert request.query == {"date": DAY, "limit": "100", "p": "0"}
    assert request.user_agent == "paperboy-test/1.0 (+loopback)"


async def test_429_retry_after_is_waited_out_for_real(fake_hf: FakeHuggingFace, http: httpx.AsyncClient) -> None:
    fake_hf.set_day(DAY, ITEMS)
    fake_hf.fail(429, retry_after="1", path="/api/daily_papers")
    payload = await polite(http).get_json(api(fake_hf), {"date": DAY})
    assert len(payload) == 3
    first, second = fake_hf.requests
    assert second.time - first.time >= 1.0


async def test_retry_after_longer_than_the_bound_gives_up_at_once(
    fake_hf: FakeHuggingFace, http: httpx.AsyncClient
) -> None:
    fake_hf.fail(429, retry_after="3600", path="/api/daily_papers", times=None)
    with pytest.raises(RetryableExhausted) as caught:
        await polite(http, retry_after_max=120).get_json(api(fake_hf))
    assert caught.value.status == 429
    assert "3600" in str(caught.value)
    assert len(fake_hf.requests) == 1


async def test_500_then_success_retries_after_a_backoff(fake_hf: FakeHuggingFace, http: httpx.AsyncClient) -> None:
    fake_hf.set_day(DAY, ITEMS)
    fake_hf.fail(500, path="/api/daily_papers")
    fake = FakeTime()
    client = polite(http, sleep=fake.sleep, clock=fake.clock, backoff_base=2.0, backoff_max=30.0)
    payload = await client.get_json(api(fake_hf), {"date": DAY})
    assert len(payload) == 3
    assert len(fake_hf.requests) == 2
    (wait,) = fake.sleeps
    assert 2.0 <= wait <= 4.0  # base plus up to one base of jitter


async def test_persistent_5xx_backs_off_exponentially_then_gives_up(
    fake_hf: FakeHuggingFace, http: httpx.AsyncClient
) -> None:
    fake_hf.fail(503, path="/api/daily_papers", times=None)
    fake = FakeTime()
    client = polite(http, sleep=fake.sleep, clock=fake.clock, max_attempts=4, backoff_base=1.0, backoff_max=100.0)
    with pytest.raises(RetryableExhausted) as caught:
        await client.get_json(api(fake_hf))
    assert caught.value.status == 503
    assert caught.value.attempts == 4
    assert len(fake_hf.requests) == 4
    assert len(fake.sleeps) == 3
    for attempt, wait in enumerate(fake.sleeps):
        assert 2**attempt <= wait <= 2**attempt + 1.0


async def test_backoff_never_exceeds_its_maximum(fake_hf: FakeHuggingFace, http: httpx.AsyncClient) -> None:
    fake_hf.fail(502, path="/api/daily_papers", times=None)
    fake = FakeTime()
    client = polite(http, sleep=fake.sleep, clock=fake.clock, max_attempts=6, backoff_base=1.0, backoff_max=5.0)
    with pytest.raises(RetryableExhausted):
        await client.get_json(api(fake_hf))
    assert max(fake.sleeps) <= 5.0


async def test_404_is_not_retried(fake_hf: FakeHuggingFace, http: httpx.AsyncClient) -> None:
    with pytest.raises(HTTPStatusError) as caught:
        await polite(http).get_json(f"{fake_hf.base_url}/api/papers/2401.00001")
    assert caught.value.status == 404
    assert len(fake_hf.requests) == 1


async def test_a_slow_answer_times_out_and_the_retry_succeeds(
    fake_hf: FakeHuggingFace, http: httpx.AsyncClient
) -> None:
    fake_hf.set_day(DAY, ITEMS)
    fake_hf.slow(2.0, path="/api/daily_papers")
    payload = await polite(http).get_json(api(fake_hf), {"date": DAY})
    assert len(payload) == 3
    assert len(fake_hf.requests) == 2


async def test_answers_that_always_time_out_exhaust_the_retries(
    fake_hf: FakeHuggingFace, http: httpx.AsyncClient
) -> None:
    fake_hf.slow(2.0, path="/api/daily_papers", times=None)
    with pytest.raises(RetryableExhausted) as caught:
        await polite(http, max_attempts=2).get_json(api(fake_hf))
    assert caught.value.status is None
    assert "timed out" in str(caught.value)
    assert len(fake_hf.requests) == 2


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_refused_connection_fails_at_once_in_one_short_message(
    http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    port = closed_port()
    fake = FakeTime()
    client = polite(http, max_attempts=5, sleep=fake.sleep, clock=fake.clock)
    with caplog.at_level(logging.INFO), pytest.raises(Unreachable) as caught:
        await client.get_json(f"http://127.0.0.1:{port}/api/daily_papers")
    assert str(caught.value) == f"cannot reach 127.0.0.1:{port}: connection refused"
    assert caught.value.reason == "connection refused" and caught.value.host == "127.0.0.1"
    assert fake.sleeps == [], "a refused connection was retried"
    assert client.unreachable is caught.value
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_an_unknown_host_name_fails_at_once(http: httpx.AsyncClient) -> None:
    fake = FakeTime()
    client = polite(http, max_attempts=5, sleep=fake.sleep, clock=fake.clock)
    with pytest.raises(Unreachable) as caught:
        await client.get_text("http://nonexistent.invalid/papers/date/2026-06-12")
    assert str(caught.value) == "cannot reach nonexistent.invalid: host name not found"
    assert fake.sleeps == []


async def test_an_answer_clears_the_unreachable_mark(fake_hf: FakeHuggingFace, http: httpx.AsyncClient) -> None:
    client = polite(http)
    with pytest.raises(Unreachable):
        await client.get_json(f"http://127.0.0.1:{closed_port()}/api/daily_papers")
    fake_hf.set_day(DAY, ITEMS)
    await client.get_json(api(fake_hf), {"date": DAY})
    assert client.unreachable is None


def test_only_a_missing_path_counts_as_unreachable() -> None:
    refused = httpx.ConnectError("All connection attempts failed")
    refused.__context__ = ConnectionRefusedError(111, "Connect call failed")
    assert unreachable_reason(refused) == "connection refused"
    unknown = httpx.ConnectError("name")
    unknown.__cause__ = socket.gaierror(-2, "Name or service not known")
    assert unreachable_reason(unknown) == "host name not found"
    assert unreachable_reason(httpx.ConnectError("TLS handshake cut short")) is None
    assert unreachable_reason(httpx.ReadTimeout("slow")) is None


async def test_truncated_json_is_an_invalid_payload_without_retry(
    fake_hf: FakeHuggingFace, http: httpx.AsyncClient
) -> None:
    fake_hf.set_day(DAY, ITEMS)
    fake_hf.truncate(path="/api/daily_papers")
    with pytest.raises(InvalidPayload):
        await polite(http).get_json(api(fake_hf), {"date": DAY})
    assert len(fake_hf.requests) == 1


async def test_a_streamed_50_mb_body_is_rejected_without_reading_it_all(
    fake_hf: FakeHuggingFace, http: httpx.AsyncClient
) -> None:
    fake_hf.oversize(50 * 1024 * 1024, path="/api/daily_papers")
    cap = 1024 * 1024
    with pytest.raises(ResponseTooLarge) as caught:
        await polite(http, max_bytes=cap).get_json(api(fake_hf))
    assert cap < caught.value.received < 2 * cap
    assert caught.value.limit == cap
    assert len(fake_hf.requests) == 1


async def test_a_declared_oversize_body_is_rejected_before_reading(
    fake_hf: FakeHuggingFace, http: httpx.AsyncClient
) -> None:
    fake_hf.oversize(50 * 1024 * 1024, path="/api/daily_papers", declare_length=True)
    with pytest.raises(ResponseTooLarge) as caught:
        await polite(http, max_bytes=20 * 1024 * 1024).get_json(api(fake_hf))
    assert caught.value.received == 0
    assert "52428800 bytes declared" in str(caught.value)


async def test_get_text_decodes_the_page(fake_hf: FakeHuggingFace, http: httpx.AsyncClient) -> None:
    fake_hf.set_day(DAY, [make_daily_item("2606.00001", "Café Über Naïve", day=DAY)])
    text = await polite(http).get_text(f"{fake_hf.base_url}/papers/date/{DAY}")
    assert "Café Über Naïve" in text
    assert 'data-target="DailyPapers"' in text


async def test_requests_to_one_host_are_spaced_by_the_rate_limit(
    fake_hf: FakeHuggingFace, http: httpx.AsyncClient
) -> None:
    fake_hf.set_day(DAY, ITEMS)
    client = polite(http, max_requests_per_minute=300, burst=1)  # one request every 0.2 s
    for _ in range(3):
        await client.get_json(api(fake_hf), {"date": DAY})
    times = [r.time for r in fake_hf.requests]
    assert all(later - earlier >= 0.19 for earlier, later in zip(times, times[1:], strict=False))


async def test_each_outcome_is_logged_once_without_credentials(
    fake_hf: FakeHuggingFace, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    fake_hf.set_day(DAY, ITEMS)
    fake_hf.fail(500, path="/api/daily_papers")
    url = api(fake_hf).replace("http://", "http://reader:hunter2@")
    with caplog.at_level(logging.INFO, logger="bot.sources.http"):
        await polite(http).get_json(url, {"date": DAY})
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.sources.http"]
    assert len(lines) == 2
    assert "HTTP 500" in lines[0] and "retrying" in lines[0]
    assert "HTTP 200" in lines[1]
    assert all("/api/daily_papers?date=2026-06-12" in line for line in lines)
    assert "hunter2" not in caplog.text


def test_parse_retry_after_reads_seconds_and_http_dates() -> None:
    now = dt.datetime(2026, 6, 12, 12, 0, 0, tzinfo=dt.UTC)
    assert parse_retry_after("7", now) == 7.0
    assert parse_retry_after("Fri, 12 Jun 2026 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("Fri, 12 Jun 2026 11:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after("", now) is None
    assert parse_retry_after(None, now) is None


async def test_retry_after_as_an_http_date_is_honoured(fake_hf: FakeHuggingFace, http: httpx.AsyncClient) -> None:
    fake_hf.set_day(DAY, ITEMS)
    now = dt.datetime(2026, 6, 12, 12, 0, 0, tzinfo=dt.UTC)
    fake_hf.fail(503, retry_after="Fri, 12 Jun 2026 12:01:00 GMT", path="/api/daily_papers")
    fake = FakeTime()
    client = polite(http, sleep=fake.sleep, clock=fake.clock, now=lambda: now)
    await client.get_json(api(fake_hf), {"date": DAY})
    assert fake.sleeps == [60.0]


async def test_rate_limiter_spaces_requests_per_host() -> None:
    fake = FakeTime()
    limiter = HostRateLimiter(30, clock=fake.clock, sleep=fake.sleep)
    waits = [await limiter.acquire("huggingface.co") for _ in range(3)]
    assert waits == [0.0, 2.0, 2.0]
    assert await limiter.acquire("other.example") == 0.0


async def test_rate_limiter_allows_fractional_rates_and_bursts() -> None:
    fake = FakeTime()
    slow = HostRateLimiter(0.5, clock=fake.clock, sleep=fake.sleep)
    assert [await slow.acquire("h") for _ in range(2)] == [0.0, 120.0]
    fake = FakeTime()
    bursty = HostRateLimiter(60, burst=3, clock=fake.clock, sleep=fake.sleep)
    assert [await bursty.acquire("h") for _ in range(5)] == [0.0, 0.0, 0.0, 1.0, 1.0]


async def test_rate_limiter_serves_concurrent_callers_one_interval_apart() -> None:
    fake = FakeTime()
    limiter = HostRateLimiter(60, clock=fake.clock, sleep=fake.sleep)
    starts: list[float] = []

    async def call() -> None:
        await limiter.acquire("h")
        starts.append(fake.clock())

    await asyncio.gather(*(call() for _ in range(4)))
    assert sorted(starts) == [1000.0, 1001.0, 1002.0, 1003.0]
