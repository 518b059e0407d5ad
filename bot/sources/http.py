"""Polite HTTP: one shared client, a per-host rate limit, a size cap, and retries that honour Retry-After."""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import errno
import json
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_exponential, wait_random

from bot.config import Config
from bot.models import utcnow

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_READ_TIMEOUT = 30.0
# httpx times each read, not the whole answer: a server sending a byte every few seconds never trips it.
DEFAULT_TOTAL_TIMEOUT = 90.0

Params = Mapping[str, str | int | float]
Sleep = Callable[[float], Awaitable[None]]


class FetchError(Exception):
    """A request that did not produce usable data; the message says what and where."""

    def __init__(self, message: str, url: str = "") -> None:
        super().__init__(message)
        self.url = url


class HTTPStatusError(FetchError):
    """The server answered with a status that retrying will not fix (e.g. 404)."""

    def __init__(self, message: str, url: str, status: int) -> None:
        super().__init__(message, url)
        self.status = status


class RetryableExhausted(FetchError):
    """Timeouts, connection errors, 429 or 5xx went on past the retry budget (status None: no answer)."""

    def __init__(self, message: str, url: str, status: int | None, attempts: int) -> None:
        super().__init__(message, url)
        self.status = status
        self.attempts = attempts


class Unreachable(FetchError):
    """The host could not be reached at all (name not found, connection refused): not retried."""

    def __init__(self, message: str, url: str, host: str, reason: str) -> None:
        super().__init__(message, url)
        self.host = host
        self.reason = reason


# Errors that say the network path is missing, not busy: another attempt a second later fails the same way.
_UNREACHABLE_ERRNOS = {
    errno.ECONNREFUSED: "connection refused",
    errno.ENETUNREACH: "network unreachable",
    errno.EHOSTUNREACH: "host unreachable",
}


def unreachable_reason(exc: BaseException) -> str | None:
    """Why a connection attempt could not reach its host at all, or None if it might work on a retry."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, socket.gaierror):
            return "host name not found"
        if isinstance(current, OSError) and current.errno in _UNREACHABLE_ERRNOS:
            return _UNREACHABLE_ERRNOS[current.errno]
        current = current.__cause__ or current.__context__
    return None


class ResponseTooLarge(FetchError):
    """The body was bigger than the cap; `received` is how much was read before giving up."""

    def __init__(self, message: str, url: str, limit: int, received: int) -> None:
        super().__init__(message, url)
        self.limit = limit
        self.received = received


class InvalidPayload(FetchError):
    """The body was not what the caller expected (not JSON, or the wrong shape)."""


class _RetryableFailure(Exception):
    """One attempt failed in a way worth retrying; carries the status and any Retry-After wait."""

    def __init__(self, reason: str, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


def parse_retry_after(value: str | None, now: dt.datetime) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date); None if absent or bad."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        # An HTTP date is always GMT; a zone-less parse means the sender omitted it.
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - now).total_seconds())


def loggable_url(url: httpx.URL) -> str:
    """The URL without any user:password part, fit for a log line."""
    return str(url.copy_with(userinfo=b"")) if url.userinfo else str(url)


class HostRateLimiter:
    """A token bucket per host: `per_minute` requests on average, at most `burst` back to back."""

    def __init__(
        self,
        per_minute: float,
        *,
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if per_minute <= 0:
            raise ValueError("per_minute must be greater than 0")
        self.interval = 60.0 / per_minute
        self.burst = max(1, burst)
        self._clock = clock
        self._sleep = sleep
        self._due: dict[str, float] = {}  # per host: when the bucket would be full again
        self._locks: dict[str, asyncio.Lock] = {}

    async def acquire(self, host: str) -> float:
        """Wait for a free slot for `host`; return how long this call waited."""
        lock = self._locks.setdefault(host, asyncio.Lock())
        async with lock:
            now = self._clock()
            due = self._due.get(host, now)
            earliest = due - (self.burst - 1) * self.interval
            waited = 0.0
            if earliest > now:
                waited = earliest - now
                await self._sleep(waited)
                now = self._clock()
            self._due[host] = max(due, now) + self.interval
            return waited


def make_http_client(
    config: Config,
    *,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    read_timeout: float = DEFAULT_READ_TIMEOUT,
) -> httpx.AsyncClient:
    """The shared httpx client: configured User-Agent, timeouts, redirects followed."""
    return httpx.AsyncClient(
        headers={"User-Agent": config.huggingface.user_agent, "Accept-Encoding": "gzip, deflate"},
        timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
        follow_redirects=True,
        limits=httpx.Limits(max_connections=8, max_keepalive_connections=4),
    )


class PoliteClient:
    """GETs through a shared httpx client with rate limit, size cap and retries; raises FetchError types."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        max_requests_per_minute: float = 30.0,
        burst: int = 1,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_attempts: int = 5,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        retry_after_max: float = 120.0,
        total_timeout: float = DEFAULT_TOTAL_TIMEOUT,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.http = http
        self.max_bytes = max_bytes
        self.max_attempts = max(1, max_attempts)
        self.retry_after_max = retry_after_max
        self.total_timeout = total_timeout
        self._sleep = sleep
        self._clock = clock
        self._now = now
        self.backoff_max = backoff_max
        # Exponential from `backoff_base`, plus up to one base of jitter so clients don't retry in step.
        self._backoff = wait_exponential(multiplier=backoff_base, max=backoff_max) + wait_random(0, backoff_base)
        self.limiter = HostRateLimiter(max_requests_per_minute, burst=burst, clock=clock, sleep=sleep)
        # The newest request's failure to reach its host, None once a request got an answer: callers that
        # fetch several things in a row stop early instead of failing the same way on each.
        self.unreachable: Unreachable | None = None

    @classmethod
    def from_config(cls, http: httpx.AsyncClient, config: Config, **options: Any) -> PoliteClient:
        """A client with the configured rate limit (other options as keyword arguments)."""
        return cls(http, max_requests_per_minute=config.scraper.max_requests_per_minute, **options)

    async def get_json(self, url: str, params: Params | None = None) -> Any:
        """GET `url` and decode its JSON body; InvalidPayload if it is not JSON."""
        body, _, final_url = await self._get(url, params)
        try:
            return json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            log.warning("GET %s: body is not valid JSON (%s)", final_url, exc)
            message = f"GET {final_url}: the response is not valid JSON ({exc})"
            raise InvalidPayload(message, final_url) from exc

    async def get_text(self, url: str, params: Params | None = None) -> str:
        """GET `url` and decode its body as text (declared charset, else UTF-8)."""
        body, charset, _ = await self._get(url, params)
        try:
            return body.decode(charset or "utf-8", errors="replace")
        except LookupError:  # an unknown charset name in the header
            return body.decode("utf-8", errors="replace")

    async def _get(self, url: str, params: Params | None) -> tuple[bytes, str | None, str]:
        target = httpx.URL(url, params=dict(params) if params else None)
        shown = loggable_url(target)
        retrying = AsyncRetrying(
            sleep=self._sleep,
            stop=stop_after_attempt(self.max_attempts),
            wait=self._wait,
            retry=retry_if_exception(self._should_retry),
            before_sleep=self._log_retry(shown),
            reraise=True,
        )
        attempts = 0
        try:
            async for attempt in retrying:
                with attempt:
                    attempts = attempt.retry_state.attempt_number
                    return await self._attempt(target, shown)
        except _RetryableFailure as failure:
            raise self._exhausted(failure, shown, attempts) from failure
        except Unreachable as failure:
            self.unreachable = failure
            raise
        raise AssertionError("unreachable: the retry loop returns or raises")  # pragma: no cover

    def _exhausted(self, failure: _RetryableFailure, shown: str, attempts: int) -> RetryableExhausted:
        if failure.retry_after is not None and failure.retry_after > self.retry_after_max:
            message = (
                f"GET {shown}: {failure.reason}; the server asks to wait {failure.retry_after:.0f} s, "
                f"more than the {self.retry_after_max:.0f} s this client waits"
            )
        else:
            message = f"GET {shown}: {failure.reason} (gave up after {attempts} attempts)"
        # The caller reports the failure; logging it here too would print it twice.
        log.info("%s", message)
        return RetryableExhausted(message, shown, failure.status, attempts)

    def _should_retry(self, exc: BaseException) -> bool:
        if not isinstance(exc, _RetryableFailure):
            return False
        # Retrying sooner than the server asked would only earn another refusal.
        return exc.retry_after is None or exc.retry_after <= self.retry_after_max

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _RetryableFailure) and exc.retry_after is not None:
            return exc.retry_after
        return min(self.backoff_max, float(self._backoff(state)))

    def _log_retry(self, shown: str) -> Callable[[RetryCallState], None]:
        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            reason = exc.reason if isinstance(exc, _RetryableFailure) else repr(exc)
            wait = state.next_action.sleep if state.next_action else 0.0
            log.warning(
                "GET %s -> %s; retrying in %.1f s (attempt %d of %d)",
                shown,
                reason,
                wait,
                state.attempt_number,
                self.max_attempts,
            )

        return before_sleep

    async def _attempt(self, target: httpx.URL, shown: str) -> tuple[bytes, str | None, str]:
        """One request: returns (body, charset, final url) or raises."""
        await self.limiter.acquire(target.host)
        started = self._clock()
        try:
            async with asyncio.timeout(self.total_timeout), self.http.stream("GET", target) as response:
                final = loggable_url(response.url)
                status = response.status_code
                self.unreachable = None  # whatever the status, the host answered
                if status == 429 or status >= 500:
                    retry_after = parse_retry_after(response.headers.get("Retry-After"), self._now())
                    raise _RetryableFailure(f"HTTP {status}", status, retry_after)
                if not 200 <= status < 300:
                    # A 404 is an ordinary answer (an unknown paper), not a problem to warn about.
                    level = logging.INFO if status == 404 else logging.WARNING
                    log.log(level, "GET %s -> HTTP %d", final, status)
                    raise HTTPStatusError(f"GET {final}: HTTP {status}", final, status)
                body = await self._read_capped(response, final)
                charset = response.charset_encoding
        except TimeoutError as exc:
            raise _RetryableFailure(f"timed out (no complete answer within {self.total_timeout:g} s)") from exc
        except httpx.TimeoutException as exc:
            raise _RetryableFailure(f"timed out ({type(exc).__name__})") from exc
        except httpx.ConnectError as exc:
            reason = unreachable_reason(exc)
            if reason is None:  # e.g. a TLS handshake cut short: worth another try
                raise _RetryableFailure(f"connection failed ({type(exc).__name__}: {exc})") from exc
            where = target.netloc.decode("ascii", "replace")
            log.info("GET %s: cannot reach %s (%s)", shown, where, reason)
            raise Unreachable(f"cannot reach {where}: {reason}", shown, target.host, reason) from exc
        except httpx.TransportError as exc:
            raise _RetryableFailure(f"connection failed ({type(exc).__name__}: {exc})") from exc
        except httpx.DecodingError as exc:
            log.warning("GET %s: cannot decode the body (%s)", shown, exc)
            raise InvalidPayload(f"GET {shown}: cannot decode the response body ({exc})", shown) from exc
        except httpx.RequestError as exc:  # too many redirects, bad URL, ...
            log.warning("GET %s failed: %s", shown, exc)
            raise FetchError(f"GET {shown}: {exc}", shown) from exc
        log.info("GET %s -> HTTP %d (%d bytes, %.2f s)", final, status, len(body), self._clock() - started)
        return body, charset, final

    async def _read_capped(self, response: httpx.Response, shown: str) -> bytes:
        """Read the body in chunks, giving up as soon as it passes the cap."""
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise self._too_large(shown, int(declared), received=0)
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > self.max_bytes:
                raise self._too_large(shown, None, received=len(body))
        return bytes(body)

    def _too_large(self, shown: str, declared: int | None, *, received: int) -> ResponseTooLarge:
        size = f"{declared} bytes declared" if declared is not None else f"over {self.max_bytes} bytes"
        message = f"GET {shown}: response too large ({size}; the limit is {self.max_bytes} bytes)"
        log.warning("%s", message)
        return ResponseTooLarge(message, shown, self.max_bytes, received)
