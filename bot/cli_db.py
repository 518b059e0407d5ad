"""`paperboy db migrate | check | backup | copy`: database upkeep on SQLite or Postgres."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

from bot.cli import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, CommandError
from bot.config import Config
from bot.store import Store, StoreError, open_store, uses_postgres

log = logging.getLogger(__name__)


def database_name(config: Config) -> str:
    """How messages name the configured database: the SQLite path, or the Postgres URL without credentials."""
    if uses_postgres(config.database):
        from bot.store.postgres import display_url

        return display_url(config.database.url)
    return config.database.path


async def cmd_db(args: argparse.Namespace, config: Config) -> int:
    """paperboy db migrate | check | backup PATH | copy --to URL"""
    if args.db_command == "copy":
        return await copy_to_postgres(config, args.to)
    name = database_name(config)
    sqlite_path = None if uses_postgres(config.database) else config.database.path
    checking_a_file = args.db_command == "check" and sqlite_path not in (None, ":memory:")
    if checking_a_file and not await asyncio.to_thread(os.path.exists, str(sqlite_path)):
        raise CommandError(f"{sqlite_path} does not exist: run `paperboy db migrate` first")
    try:
        store = await open_store(config.database, migrate=False)
    except StoreError as exc:
        raise CommandError(str(exc)) from exc
    try:
        if args.db_command == "migrate":
            before = await store.schema_version()
            applied = await store.migrate()
            print(f"{name}: schema {before} -> {applied[-1]}" if applied else f"{name}: schema {before} is current")
            return EXIT_OK
        if args.db_command == "check":
            problems = await store.check()
            if problems:
                for problem in problems:
                    print(f"{name}: {problem}", file=sys.stderr)
                return EXIT_FAILURE
            print(f"{name}: ok (schema {await store.schema_version()})")
            return EXIT_OK
        await store.backup(args.path)
    except StoreError as exc:
        raise CommandError(str(exc)) from exc
    finally:
        await store.close()
    print(f"backed up {name} to {args.path}")
    return EXIT_OK


async def copy_to_postgres(config: Config, url: str) -> int:
    """Copy the SQLite cache at [database] path into the empty Postgres database at `url`; print the counts."""
    from bot.store.postgres import PostgresStore, display_url
    from bot.store.postgres.copy import copy_sqlite_to_postgres

    if not url.startswith(("postgresql://", "postgres://")):
        raise CommandError(f"--to must be a postgresql:// URL, got {url[:20]!r}", EXIT_USAGE)
    path = config.database.path
    if path == ":memory:" or not await asyncio.to_thread(os.path.exists, path):
        raise CommandError(f"{path} does not exist: `paperboy db copy` copies the SQLite file at [database] path")
    try:
        # The source is upgraded first so that it has every column the copy reads.
        source = await Store.open(path)
    except StoreError as exc:
        raise CommandError(str(exc)) from exc
    try:
        target = await PostgresStore.open(url)
        try:
            copied = await copy_sqlite_to_postgres(source, target)
        finally:
            await target.close()
    except StoreError as exc:
        raise CommandError(str(exc)) from exc
    finally:
        await source.close()
    for table, count in copied.items():
        print(f"{table}: {count} rows")
    print(f"copied {path} to {display_url(url)}; every table's row count matches")
    return EXIT_OK
