"""The `paperboy` command line: run the bot, or use the cache from a terminal."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from bot.config import Config, ConfigError, load_config
from bot.logs import redact_secret, setup_logging
from bot.store import Store, StoreError

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class CommandError(Exception):
    """A failure to report on stderr with an exit code, never as a traceback."""

    def __init__(self, message: str, code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.code = code


def package_version() -> str:
    """The installed version of Paperboy."""
    try:
        return version("paperboy")
    except PackageNotFoundError:
        return "unknown"


Handler = Callable[[argparse.Namespace, Config], Awaitable[int]]


def print_json(document: Any) -> None:
    """Write one JSON document to stdout."""
    json.dump(document, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


async def open_store(config: Config, *, migrate: bool = True) -> Store:
    """Open the configured database, turning failures into a CommandError."""
    try:
        return await Store.open(config.database.path, migrate=migrate)
    except StoreError as exc:
        raise CommandError(str(exc)) from exc


# ---------------------------------------------------------------- run


async def cmd_run(args: argparse.Namespace, config: Config) -> int:
    """paperboy run: start the bot until SIGTERM or Ctrl-C."""
    if not config.discord.token:
        raise CommandError(
            "no Discord token: set the DISCORD_TOKEN environment variable (or [discord] token)"
        )
    # Imported here so terminal commands don't pay for discord.py's import time.
    import aiohttp
    import discord

    from bot.client import run_bot
    from bot.sources.http import make_http_client

    store = await open_store(config)
    try:
        async with make_http_client(config) as http_client:
            await run_bot(config, store, http_client)
    except discord.LoginFailure as exc:
        raise CommandError("Discord rejected the token (401 Unauthorized): check DISCORD_TOKEN") from exc
    except discord.PrivilegedIntentsRequired as exc:
        raise CommandError("Discord refused the gateway intents requested") from exc
    except (aiohttp.ClientError, OSError) as exc:
        raise CommandError(
            f"cannot reach Discord at {config.discord.api_base}: {type(exc).__name__}"
        ) from exc
    finally:
        await store.close()
    log.info("stopped cleanly")
    return EXIT_OK


# ---------------------------------------------------------------- db


async def cmd_db(args: argparse.Namespace, config: Config) -> int:
    """paperboy db migrate | check | backup PATH"""
    if args.db_command == "migrate":
        store = await open_store(config, migrate=False)
        try:
            before = await store.schema_version()
            applied = await store.migrate()
        except StoreError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            await store.close()
        if applied:
            print(f"{config.database.path}: schema {before} -> {applied[-1]}")
        else:
            print(f"{config.database.path}: schema {before} is current")
        return EXIT_OK
    if args.db_command == "check":
        if config.database.path != ":memory:" and not Path(config.database.path).exists():
            raise CommandError(f"{config.database.path} does not exist: run `paperboy db migrate` first")
        store = await open_store(config, migrate=False)
        try:
            problems = await store.check()
            schema = await store.schema_version()
        finally:
            await store.close()
        if problems:
            for problem in problems:
                print(f"{config.database.path}: {problem}", file=sys.stderr)
            return EXIT_FAILURE
        print(f"{config.database.path}: ok (schema {schema})")
        return EXIT_OK
    store = await open_store(config, migrate=False)
    try:
        await store.backup(args.path)
    except StoreError as exc:
        raise CommandError(str(exc)) from exc
    finally:
        await store.close()
    print(f"backed up {config.database.path} to {args.path}")
    return EXIT_OK


# ---------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every command."""
    parser = argparse.ArgumentParser(
        prog="paperboy",
        description="Hugging Face Daily Papers for Discord: digests, search and keyword alerts.",
    )
    parser.add_argument("--version", action="version", version=f"paperboy {package_version()}")
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="TOML config file (default: $PAPERBOY_CONFIG, else ./config.toml if present, else defaults)",
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log more (-v info, -vv debug)"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = commands.add_parser("run", help="start the Discord bot (token from $DISCORD_TOKEN)")
    run.set_defaults(handler=cmd_run)

    db = commands.add_parser("db", help="database upkeep: migrate, check, backup")
    db_commands = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    db_commands.add_parser("migrate", help="upgrade the schema to the newest version")
    db_commands.add_parser("check", help="run the integrity check and verify the schema version")
    backup = db_commands.add_parser("backup", help="copy the live database with SQLite's online backup")
    backup.add_argument("path", metavar="PATH", help="where to write the copy")
    db.set_defaults(handler=cmd_db)

    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `paperboy` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"paperboy: config error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    redact_secret(config.discord.token)
    handler: Handler = args.handler
    try:
        return asyncio.run(handler(args, config))
    except CommandError as exc:
        print(f"paperboy: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("paperboy: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
