"""The errors every Store call raises, with SQLite's own errors sorted by their result code."""

from __future__ import annotations

import functools
import inspect
import logging
import sqlite3
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")
C = TypeVar("C", bound=type)


class StoreError(Exception):
    """A database problem explained in words a server admin can act on."""


class DiskFull(StoreError):
    """The disk holding the database has no room left for a write."""


class ReadOnlyDatabase(StoreError):
    """The database file or its folder cannot be written to."""


class DatabaseBusy(StoreError):
    """Another connection held a lock for longer than the busy timeout."""


class DatabaseCorrupt(StoreError):
    """The file is damaged or is not a SQLite database at all."""


class CannotOpen(StoreError):
    """The database file could not be opened (a missing folder, say)."""


# SQLite's primary result codes (the low byte of an extended code), from sqlite3.h.
_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY = 5, 6, 8
_SQLITE_CORRUPT, _SQLITE_FULL, _SQLITE_CANTOPEN, _SQLITE_NOTADB = 11, 13, 14, 26


def _sentence(code: int | None, path: str, exc: sqlite3.Error) -> tuple[type[StoreError], str]:
    primary = None if code is None else code & 0xFF
    if primary == _SQLITE_READONLY:
        return ReadOnlyDatabase, f"the database {path} is read-only: check the file's permissions and the volume mount"
    if primary == _SQLITE_FULL:
        return DiskFull, f"the disk holding {path} is full: free space, then try again (no data was lost)"
    if primary in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
        return DatabaseCorrupt, f"{path} is damaged or not a Paperboy database ({exc}); restore it from a backup"
    if primary == _SQLITE_CANTOPEN:
        return CannotOpen, f"cannot open the database {path}: check that its folder exists and is writable"
    if primary in (_SQLITE_BUSY, _SQLITE_LOCKED):
        return DatabaseBusy, (
            f"the database {path} stayed locked by another process: stop any other Paperboy using it, then retry"
        )
    return StoreError, f"database error on {path}: {exc}"


def classify(exc: sqlite3.Error, path: str) -> StoreError:
    """The StoreError for a raw sqlite3 error, chosen by its result code (not by its message)."""
    kind, message = _sentence(getattr(exc, "sqlite_errorcode", None), path, exc)
    error = kind(message)
    error.__cause__ = exc
    return error


def translate_errors(
    cls: C, raw: tuple[type[Exception], ...], classify: Callable[[Any, str], StoreError], marker: str
) -> C:
    """Wrap every public coroutine method of `cls` (and its bases) so `raw` errors leave as `classify` makes them.

    `marker` flags wrapped methods, so a method inherited by several decorated classes is wrapped once.
    """

    def translating(method: Callable[P, Coroutine[Any, Any, R]]) -> Callable[P, Coroutine[Any, Any, R]]:
        @functools.wraps(method)
        async def call(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return await method(*args, **kwargs)
            except raw as exc:
                where = str(getattr(args[0], "path", "?")) if args else "?"
                raise classify(exc, where) from exc

        call.__dict__[marker] = True
        return call

    for name in dir(cls):
        if name.startswith("_"):
            continue
        method = inspect.getattr_static(cls, name)
        if inspect.iscoroutinefunction(method) and not getattr(method, marker, False):
            setattr(cls, name, translating(method))
    return cls


def raises_store_errors(cls: C) -> C:
    """Wrap every public coroutine method of `cls` (and its bases) so sqlite3 errors leave as StoreError."""
    return translate_errors(cls, (sqlite3.Error,), classify, "translates_sqlite_errors")
