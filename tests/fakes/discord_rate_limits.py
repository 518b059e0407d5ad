"""Rate limits and injected faults of the loopback Discord REST API: buckets, 429 answers, fault matching."""

from __future__ import annotations

import hashlib
import logging
import math
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .discord_rest_http import ApiError, _Route

if TYPE_CHECKING:
    from .discord_records import Stats

log = logging.getLogger(__name__)


def _ceil_ms(seconds: float) -> float:
    """Round up to whole milliseconds, so a client waiting this long never comes back early."""
    return math.ceil(seconds * 1000) / 1000


def _bucket_hash(name: str) -> str:
    return hashlib.sha256(f"fake-discord:{name}".encode()).hexdigest()[:32]


@dataclass
class RateLimitSettings:
    """Rate limits the fake enforces; `per_*` are (requests, seconds) windows."""

    enabled: bool = True
    headers: bool = True
    per_channel: tuple[int, float] = (5, 5.0)
    global_per_second: int = 50
    per_webhook: tuple[int, float] = (5, 2.0)
    per_route: tuple[int, float] = (50, 1.0)


class Bucket:
    """A fixed window that starts with its first request, like Discord's buckets."""

    def __init__(self, name: str, limit: int, per: float) -> None:
        self.hash = _bucket_hash(name)
        self.limit = limit
        self.per = per
        self.count = 0
        self.window_start: float | None = None

    def _roll(self, now: float) -> None:
        if self.window_start is None or now >= self.window_start + self.per:
            self.window_start = now
            self.count = 0

    def try_acquire(self, now: float) -> float | None:
        """Take a slot; return None if granted, else seconds until the window resets."""
        self._roll(now)
        assert self.window_start is not None
        if self.count >= self.limit:
            return self.window_start + self.per - now
        self.count += 1
        return None

    def headers(self, now: float) -> dict[str, str]:
        """The X-RateLimit-* headers describing the current window."""
        self._roll(now)
        assert self.window_start is not None
        reset_after = _ceil_ms(max(0.0, self.window_start + self.per - now))
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(0, self.limit - self.count)),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": self.hash,
        }


@dataclass
class Fault:
    """An injected failure for the next `remaining` matching requests."""

    remaining: int
    status: int
    method: str | None = None
    path: re.Pattern[str] | None = None
    posts_only: bool = False
    code: int = 0
    message: str = ""
    retry_after: float | None = None
    global_: bool = False

    def matches(self, method: str, path: str, route: _Route) -> bool:
        """Whether this fault applies to a request."""
        if self.posts_only:
            return route.bucket == "message"
        if self.method is not None and self.method != method:
            return False
        return self.path is None or bool(self.path.search(path))


class RateLimiting:
    """How the REST API spends buckets and injected faults (a mixin; FakeDiscord owns the state)."""

    if TYPE_CHECKING:
        stats: Stats
        rate_limits: RateLimitSettings
        _buckets: dict[str, Bucket]
        _global_bucket: Bucket | None
        _faults: list[Fault]

    def _too_many(self, retry_after: float, *, global_: bool, bucket: Bucket | None) -> ApiError:
        if global_:
            self.stats.rate_limited_global += 1
        else:
            self.stats.rate_limited_local += 1
        retry_after = _ceil_ms(max(retry_after, 0.001))
        headers = {
            "Via": "1.1 google",
            "Retry-After": str(math.ceil(retry_after)),
            "X-RateLimit-Scope": "global" if global_ else "user",
        }
        if global_:
            headers["X-RateLimit-Global"] = "true"
            headers["X-RateLimit-Limit"] = str(self.rate_limits.global_per_second)
            headers["X-RateLimit-Remaining"] = "0"
            headers["X-RateLimit-Reset"] = f"{time.time() + retry_after:.3f}"
            headers["X-RateLimit-Reset-After"] = f"{retry_after:.3f}"
        elif bucket is not None:
            headers.update(bucket.headers(time.monotonic()))
            headers["X-RateLimit-Remaining"] = "0"
            headers["X-RateLimit-Reset-After"] = f"{retry_after:.3f}"
            headers["X-RateLimit-Reset"] = f"{time.time() + retry_after:.3f}"
        return ApiError(
            429,
            0,
            "You are being rate limited.",
            headers=headers,
            extra={"retry_after": retry_after, "global": global_},
        )

    def _bucket_for(self, route: _Route, params: dict[str, str]) -> Bucket | None:
        if route.bucket is None:
            return None
        settings = self.rate_limits
        if route.bucket == "message":
            key, (limit, per) = f"message:{params['channel_id']}", settings.per_channel
            name = "POST /channels/{channel_id}/messages"
        elif route.bucket == "webhook":
            key, (limit, per) = f"webhook:{params['token']}", settings.per_webhook
            name = "webhook"
        else:
            major = params.get("channel_id") or params.get("guild_id") or ""
            key, (limit, per) = f"{route.method} {route.template}:{major}", settings.per_route
            name = f"{route.method} {route.template}"
        bucket = self._buckets.get(key)
        if bucket is None or bucket.limit != limit or bucket.per != per:
            bucket = self._buckets[key] = Bucket(name, limit, per)
        return bucket

    def _check_global(self, route: _Route) -> None:
        if route.auth != "bot" or not self.rate_limits.enabled:
            return
        if self._global_bucket is None or self._global_bucket.limit != self.rate_limits.global_per_second:
            self._global_bucket = Bucket("global", self.rate_limits.global_per_second, 1.0)
        wait = self._global_bucket.try_acquire(time.monotonic())
        if wait is not None:
            raise self._too_many(wait, global_=True, bucket=None)

    @property
    def _send_bucket_headers(self) -> bool:
        return self.rate_limits.enabled and self.rate_limits.headers

    def _take_fault(self, method: str, path: str, route: _Route) -> Fault | None:
        for fault in self._faults:
            if fault.remaining > 0 and fault.matches(method, path, route):
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._faults.remove(fault)
                return fault
        return None
