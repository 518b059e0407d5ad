"""Postgres errors turned into the same StoreError subclasses the SQLite store raises, chosen by SQLSTATE."""

from __future__ import annotations

import logging
from typing import TypeVar

import psycopg
import psycopg_pool

from bot.store.errors import (
    CannotOpen,
    DatabaseBusy,
    DatabaseCorrupt,
    DiskFull,
    ReadOnlyDatabase,
    StoreError,
    translate_errors,
)

log = logging.getLogger(__name__)

C = TypeVar("C", bound=type)

# SQLSTATE codes (PostgreSQL manual, appendix A) and the StoreError each one means.
_BUSY = {"40001", "40P01", "55P03", "57014", "53300"}
_READ_ONLY = {"25006", "42501"}
_FULL = {"53100"}
_CORRUPT = {"XX001", "XX002"}
# Class 08 (connection exception), 28 (authorization), 3D000 (no such database), 57P0x (server shut down).
_CANNOT_OPEN_CLASSES = ("08", "28", "57P")
_CANNOT_OPEN = {"3D000"}


def classify(exc: Exception, where: str) -> StoreError:
    """The StoreError for a psycopg (or pool) error, chosen by its SQLSTATE, with `where` naming the database."""
    if isinstance(exc, psycopg_pool.PoolTimeout):
        error: StoreError = DatabaseBusy(
            f"no free connection to {where} in time: the server is overloaded or every connection is held"
        )
    else:
        code = getattr(exc, "sqlstate", None) or ""
        if code in _BUSY:
            error = DatabaseBusy(f"the database {where} was busy ({code}): retry in a moment")
        elif code in _READ_ONLY:
            error = ReadOnlyDatabase(
                f"the database {where} refuses writes: check the user's privileges and that it is not a read replica"
            )
        elif code in _FULL:
            error = DiskFull(f"the disk of the database server {where} is full: free space, then try again")
        elif code in _CORRUPT:
            error = DatabaseCorrupt(f"{where} reports damaged data ({exc}); restore it from a backup")
        elif (
            code in _CANNOT_OPEN
            or code.startswith(_CANNOT_OPEN_CLASSES)
            or (not code and isinstance(exc, psycopg.OperationalError))
        ):
            error = CannotOpen(f"cannot connect to the database {where}: {_first_line(exc)}")
        else:
            error = StoreError(f"database error on {where}: {_first_line(exc)}")
    error.__cause__ = exc
    return error


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def raises_store_errors(cls: C) -> C:
    """Wrap every public coroutine method of `cls` (and its bases) so psycopg errors leave as StoreError."""
    return translate_errors(cls, (psycopg.Error, psycopg_pool.PoolTimeout), classify, "translates_postgres_errors")
