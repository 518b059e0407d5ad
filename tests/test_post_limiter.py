"""The post limiter: requests that bunch on the way never exceed the limit inside any window at the server."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from bot.post_limiter import PostLimiter

log = logging.getLogger(__name__)


def most_in_any_window(arrivals: list[float], window: float) -> int:
    """The largest number of arrivals inside any half-open window of that length."""
    arrivals = sorted(arrivals)
    best, first = 0, 0
    for last, at in enumerate(arrivals):
        while at - arrivals[first] >= window:
            first += 1
        best = max(best, last - first + 1)
    return best


async def test_bunched_requests_stay_under_the_window_limit() -> None:
    limiter = PostLimiter(100.0, window_limit=5, window_seconds=0.2)
    arrivals: list[float] = []
    stall = asyncio.Event()

    async def request(index: int) -> None:
        async with limiter.slot():
            # The first requests are held up on the way (a stalled loop), then arrive together with later ones.
            if index < 4:
                await stall.wait()
            arrivals.append(time.monotonic())

    async def release_stall() -> None:
        await asyncio.sleep(0.15)
        stall.set()

    await asyncio.gather(release_stall(), *(request(i) for i in range(20)))
    assert len(arrivals) == 20
    assert most_in_any_window(arrivals, 0.2) <= 5


async def test_an_even_pace_with_no_bunching_is_kept() -> None:
    limiter = PostLimiter(50.0, window_limit=50)
    starts: list[float] = []

    async def request() -> None:
        async with limiter.slot():
            starts.append(time.monotonic())

    began = time.monotonic()
    await asyncio.gather(*(request() for _ in range(6)))
    # Two back to back (a late post may catch up once), then one every 20 ms.
    assert starts[-1] - began == pytest.approx(0.08, abs=0.03)
    assert limiter.held() == 6


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError):
        PostLimiter(0.0, window_limit=5)
    with pytest.raises(ValueError):
        PostLimiter(10.0, window_limit=0)


async def test_a_filled_window_delays_the_next_request_by_one_window() -> None:
    limiter = PostLimiter(100.0, window_limit=5, window_seconds=0.2)
    limiter.fill_window()
    began = time.monotonic()
    async with limiter.slot():
        waited = time.monotonic() - began
    assert waited == pytest.approx(0.2, abs=0.05)
