"""The `paperboy` command line: run the bot, or use the cache from a terminal."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import os
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from bot.config import Config, ConfigError, load_config
from bot.logs import redact_secret, setup_logging
from bot.store import Store, StoreError
from bot.version import package_version

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class CommandError(Exception):
    """A failure to report on stderr with an exit code, never as a traceback."""

    def __init__(self, message: str, code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.code = code


Handler = Callable[[argparse.Namespace, Config], Coroutine[Any, Any, int]]


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
        # A read-only database would otherwise only show up as failed writes once the bot is running.
        await store.check_writable()
        async with make_http_client(config) as http_client:
            await run_bot(config, store, http_client)
    except StoreError as exc:
        raise CommandError(str(exc)) from exc
    except discord.LoginFailure as exc:
        raise CommandError("Discord rejected the token (401 Unauthorized): check DISCORD_TOKEN") from exc
    except discord.ConnectionClosed as exc:
        raise CommandError(f"Discord closed the gateway connection (code {exc.code}) and it cannot be resumed") from exc
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


# ---------------------------------------------------------------- digest


async def cmd_digest(args: argparse.Namespace, config: Config) -> int:
    """paperboy digest: the digest a channel with the default settings would get."""
    from bot import digest as schedule
    from bot.render import results_text
    from bot.scrape import Scraper
    from bot.sources.http import make_http_client
    from bot.sources.huggingface import HuggingFaceSource

    # The same defaults and planning as a channel's digest in the bot.
    settings = schedule.default_settings(config.digest, top=args.top)
    now = dt.datetime.now(dt.UTC)
    day = args.date or schedule.covered_day(settings, now)
    store = await open_store(config)
    try:
        async with make_http_client(config) as http_client:
            scraper = Scraper(store, HuggingFaceSource.from_config(http_client, config))
            plan = await schedule.prepare_digest(store, scraper, settings, day, now)
    finally:
        await store.close()
    if args.json:
        print_json({"day": day.isoformat(), "total": plan.total, "papers": [p.to_json() for p in plan.papers]})
        return EXIT_OK
    if not plan.papers:
        print(f"No papers on {day}.")
        return EXIT_OK
    print(f"Hugging Face Daily Papers of {day}: top {len(plan.papers)} of {plan.total}")
    print(f"https://huggingface.co/papers/date/{day.isoformat()}\n")
    print(results_text(plan.papers))
    return EXIT_OK


def iso_date(text: str) -> dt.date:
    """argparse type for YYYY-MM-DD."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-06-12") from None


def positive_int(limit: int) -> Callable[[str], int]:
    """argparse type for an integer in 1..limit."""

    def parse(text: str) -> int:
        if not text.isdigit() or not 1 <= int(text) <= limit:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number from 1 to {limit}")
        return int(text)

    return parse


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
        if config.database.path != ":memory:" and not await asyncio.to_thread(os.path.exists, config.database.path):
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


# ---------------------------------------------------------------- scrape and show


async def cmd_scrape(args: argparse.Namespace, config: Config) -> int:
    """paperboy scrape [--date D | --days N | --from D --to D]: fetch days into the cache."""
    from tqdm import tqdm

    from bot.models import utcnow
    from bot.scrape import DayReport, Scraper, days_to_scrape
    from bot.sources.http import make_http_client
    from bot.sources.huggingface import HuggingFaceSource

    try:
        days = days_to_scrape(
            today=utcnow().date(), date=args.date, days=args.days, start=args.start, end=args.end
        )
    except ValueError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from exc
    interactive = sys.stderr.isatty()
    store = await open_store(config)
    try:
        async with make_http_client(config) as http:
            scraper = Scraper(store, HuggingFaceSource.from_config(http, config))
            with tqdm(
                total=len(days), unit="day", desc="scraping", file=sys.stderr, disable=not interactive
            ) as bar:

                def progress(report: DayReport) -> None:
                    line = _day_line(report)
                    if interactive:
                        bar.update(1)
                        if report.failed:
                            bar.write(line, file=sys.stderr)
                    else:
                        print(line, file=sys.stderr, flush=True)

                summary = await scraper.scrape_days(days, progress)
    except StoreError as exc:
        raise CommandError(str(exc)) from exc
    finally:
        await store.close()
    print(f"scraped {summary.line()}")
    return EXIT_FAILURE if summary.failed else EXIT_OK


def _day_line(report: Any) -> str:
    """One line about one scraped day, for the terminal."""
    if report.failed:
        return f"{report.day}: {report.outcome}: {report.error}"
    counts = f"{report.fetched} papers ({report.new} new, {report.updated} updated, {report.skipped} skipped)"
    via = f" from the {report.via}" if report.via else ""
    return f"{report.day}: {counts}{via}" if report.fetched else f"{report.day}: no papers{via}"


async def cmd_show(args: argparse.Namespace, config: Config) -> int:
    """paperboy show ID_OR_URL [--json]: one paper, from the cache or else fetched and cached."""
    from bot.scrape import Scraper
    from bot.sources.http import FetchError, make_http_client
    from bot.sources.huggingface import HuggingFaceSource, parse_paper_ref

    paper_id = parse_paper_ref(args.ref)
    if paper_id is None:
        raise CommandError(
            f"{args.ref!r} is not a paper id or URL (try 2405.12345 or https://huggingface.co/papers/2405.12345)",
            EXIT_USAGE,
        )
    store = await open_store(config)
    try:
        paper = await store.get_paper(paper_id)
        if paper is None:
            async with make_http_client(config) as http:
                source = HuggingFaceSource.from_config(http, config)
                paper = await Scraper(store, source).ensure_paper(paper_id)
    except FetchError as exc:
        raise CommandError(f"cannot fetch paper {paper_id}: {exc}") from exc
    except StoreError as exc:
        raise CommandError(str(exc)) from exc
    finally:
        await store.close()
    if paper is None:
        raise CommandError(f"no paper {paper_id} on Hugging Face Daily Papers")
    if args.json:
        print_json(paper.to_json())
    else:
        from bot.render import paper_text

        print(paper_text(paper))
    return EXIT_OK


# ---------------------------------------------------------------- search


def query_problem(query: str, error: Any) -> str:
    """A QueryError for the terminal: the message, the query with a caret under the position, the hint."""
    shown = "".join(" " if ch.isspace() or not ch.isprintable() else ch for ch in query)
    return (
        f"bad query: {error.message}\n  {shown}\n  {' ' * min(error.position, len(shown))}^\n"
        f"  hint: {error.hint}"
    )


async def cmd_search(args: argparse.Namespace, config: Config) -> int:
    """paperboy search QUERY [--limit N] [--sort relevance|new|top] [--json]"""
    from bot.query import QueryError
    from bot.search import search

    store = await open_store(config)
    try:
        results = await search(store, args.query, sort=args.sort, limit=args.limit)
    except QueryError as exc:
        raise CommandError(query_problem(args.query, exc), EXIT_USAGE) from exc
    except StoreError as exc:
        raise CommandError(str(exc)) from exc
    finally:
        await store.close()
    if args.json:
        print_json(results.to_json())
        return EXIT_OK
    from bot.render import results_text

    count = f"{results.total}{'' if results.total_exact else '+'}"
    print(f"{count} {'paper' if results.total == 1 else 'papers'} match {args.query!r} (by {results.sort})")
    print(results_text(results.papers))
    return EXIT_OK


# ---------------------------------------------------------------- alerts


async def cmd_alerts(args: argparse.Namespace, config: Config) -> int:
    """paperboy alerts test QUERY [--days N] [--json]: the cached papers of the last N days a query matches."""
    from bot.alerts import backtest, check_alert_query
    from bot.errors import UserError
    from bot.models import utcnow
    from bot.query import QueryError, parse

    try:
        query = parse(args.query)
    except QueryError as exc:
        raise CommandError(query_problem(args.query, exc), EXIT_USAGE) from exc
    try:
        check_alert_query(args.query)
    except UserError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from exc
    today = utcnow().date()
    store = await open_store(config)
    try:
        results = await backtest(store, args.query, days=args.days, today=today)
    except StoreError as exc:
        raise CommandError(str(exc)) from exc
    finally:
        await store.close()
    since = results.since
    if args.json:
        print_json({
            "query": args.query,
            "normalized": query.normalized(),
            "days": args.days,
            "since": since.isoformat(),
            "total": results.total,
            "papers": [p.to_json() for p in results.papers],
        })
        return EXIT_OK
    from bot.render import results_text

    noun = "paper" if results.total == 1 else "papers"
    print(f"{results.total} cached {noun} since {since} ({args.days} days) match {args.query!r}, newest first")
    if results.papers:
        print(results_text(results.papers))
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

    digest = commands.add_parser("digest", help="print the digest a channel would get")
    digest.add_argument("--date", type=iso_date, metavar="D",
                        help="Daily Papers day YYYY-MM-DD (default: the day today's digest covers)")
    digest.add_argument("--top", type=positive_int(25), metavar="N",
                        help="how many papers, 1-25 (default: [digest] default_top)")
    digest.add_argument("--json", action="store_true", help="print one JSON document")
    digest.set_defaults(handler=cmd_digest)

    db = commands.add_parser("db", help="database upkeep: migrate, check, backup")
    db_commands = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    db_commands.add_parser("migrate", help="upgrade the schema to the newest version")
    db_commands.add_parser("check", help="run the integrity check and verify the schema version")
    backup = db_commands.add_parser("backup", help="copy the live database with SQLite's online backup")
    backup.add_argument("path", metavar="PATH", help="where to write the copy")
    db.set_defaults(handler=cmd_db)

    scrape = commands.add_parser("scrape", help="fetch Daily Papers days into the cache")
    which = scrape.add_mutually_exclusive_group()
    which.add_argument("--date", metavar="YYYY-MM-DD", help="one day")
    which.add_argument("--days", type=int, metavar="N", help="the last N days, today included")
    which.add_argument("--from", dest="start", metavar="YYYY-MM-DD", help="first day of a range (with --to)")
    scrape.add_argument("--to", dest="end", metavar="YYYY-MM-DD", help="last day of a range (with --from)")
    scrape.set_defaults(handler=cmd_scrape)

    show = commands.add_parser("show", help="one paper, from the cache or else fetched")
    show.add_argument("ref", metavar="ID_OR_URL", help="arXiv id, arXiv URL or huggingface.co/papers URL")
    show.add_argument("--json", action="store_true", help="print the paper as JSON")
    show.set_defaults(handler=cmd_show)

    search = commands.add_parser("search", help="search the cache (words, \"phrases\", OR, -word, fields)")
    search.add_argument("query", metavar="QUERY", help='e.g. \'(llm OR "language model") agent code:yes\'')
    search.add_argument("--limit", type=positive_int(100), default=10, metavar="N",
                        help="how many results, 1-100 (default 10)")
    search.add_argument("--sort", choices=("relevance", "new", "top"), default="relevance",
                        help="order of results (default relevance)")
    search.add_argument("--json", action="store_true", help="print one JSON document")
    search.set_defaults(handler=cmd_search)

    alerts = commands.add_parser("alerts", help="keyword alerts from the terminal: try a query")
    alerts_commands = alerts.add_subparsers(dest="alerts_command", metavar="ACTION", required=True)
    alerts_test = alerts_commands.add_parser(
        "test", help="which cached papers of the last N days a query matches (what it would have alerted)"
    )
    alerts_test.add_argument("query", metavar="QUERY", help="e.g. 'diffusion video -survey upvotes:>=20'")
    alerts_test.add_argument("--days", type=positive_int(3650), default=7, metavar="N",
                             help="how many days back, today included (default 7)")
    alerts_test.add_argument("--json", action="store_true", help="print one JSON document")
    alerts.set_defaults(handler=cmd_alerts)

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
