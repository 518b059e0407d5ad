"""The `paperboy` command line: run the bot, or use the cache from a terminal."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import json
import logging
import sys
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from bot import cli_parser
from bot.config import Config, ConfigError, check_sharding, database_password, load_config
from bot.logs import redact_secret, setup_logging
from bot.store import AnyStore, StoreError
from bot.store import open_store as store_factory
from bot.version import package_version

if TYPE_CHECKING:
    from bot.models import Paper
    from bot.scrape import Scraper

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


async def open_store(config: Config, *, migrate: bool = True) -> AnyStore:
    """Open the configured database, turning failures into a CommandError."""
    try:
        return await store_factory(config.database, migrate=migrate)
    except StoreError as exc:
        raise CommandError(str(exc)) from exc


# ---------------------------------------------------------------- run


def with_shard_options(args: argparse.Namespace, config: Config) -> Config:
    """The config with --shard-count / --shard-ids applied, checked as the config file's keys are."""
    shard_count, shard_ids = getattr(args, "shard_count", None), getattr(args, "shard_ids", None)
    if shard_count is None and shard_ids is None:
        return config
    discord_config = dataclasses.replace(
        config.discord,
        shard_count=config.discord.shard_count if shard_count is None else shard_count,
        shard_ids=config.discord.shard_ids if shard_ids is None else shard_ids,
    )
    config = dataclasses.replace(config, discord=discord_config)
    try:
        check_sharding(config, "command line")
    except ConfigError as exc:
        raise CommandError(f"config error: {exc}", EXIT_USAGE) from exc
    return config


async def cmd_run(args: argparse.Namespace, config: Config) -> int:
    """paperboy run: start the bot until SIGTERM or Ctrl-C."""
    if not config.discord.token:
        raise CommandError("no Discord token: set the DISCORD_TOKEN environment variable (or [discord] token)")
    config = with_shard_options(args, config)
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
        raise CommandError(f"cannot reach Discord at {config.discord.api_base}: {type(exc).__name__}") from exc
    finally:
        await store.close()
    log.info("stopped cleanly")
    return EXIT_OK


# ---------------------------------------------------------------- invite


async def cmd_invite(args: argparse.Namespace, config: Config) -> int:
    """paperboy invite [--client-id ID]: the URL that adds the bot to a server, with its permissions."""
    import discord

    from bot.cli_invite import (
        BOT_PERMISSIONS,
        CHECKED_AT_RUN_TIME,
        INVITE_SCOPES,
        ApplicationLookupError,
        fetch_application_id,
        permission_name,
    )

    client_id: int | None = args.client_id
    if client_id is None:
        if not config.discord.token:
            raise CommandError(
                "no application id: pass --client-id ID (the Application ID on the Developer Portal's "
                "General Information page), or set DISCORD_TOKEN to ask Discord for it",
                EXIT_USAGE,
            )
        try:
            client_id = await fetch_application_id(config)
        except ApplicationLookupError as exc:
            raise CommandError(str(exc)) from exc
    permissions = discord.Permissions(**dict.fromkeys(BOT_PERMISSIONS, True))
    url = discord.utils.oauth_url(client_id, permissions=permissions, scopes=INVITE_SCOPES)
    print(url)
    print(f"\npermissions integer {permissions.value}:")
    for flag, purpose in BOT_PERMISSIONS.items():
        print(f"  {permission_name(flag)}: {purpose}")
    print(f"scopes: {', '.join(INVITE_SCOPES)}")
    print(CHECKED_AT_RUN_TIME)
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
            refresh_error = await refresh_day(store, scraper, day, now)
        plan = await schedule.plan_digest(store, settings, day)
    except StoreError as exc:
        raise CommandError(str(exc)) from exc
    finally:
        await store.close()
    if args.json:
        print_json({"day": day.isoformat(), "total": plan.total, "papers": [p.to_json() for p in plan.papers]})
    elif plan.papers:
        print(f"Hugging Face Daily Papers of {day}: top {len(plan.papers)} of {plan.total}")
        print(f"https://huggingface.co/papers/date/{day.isoformat()}\n")
        print(results_text(plan.papers))
    elif refresh_error is None:
        print(f"No papers on {day}.")
    if refresh_error is not None:
        cached = "the digest is from the cache" if plan.papers else "the cache has no papers of that day"
        raise CommandError(f"could not refresh {day} ({refresh_error}): {cached} and may be stale")
    return EXIT_OK


async def refresh_day(store: AnyStore, scraper: Scraper, day: dt.date, now: dt.datetime) -> str | None:
    """Re-read `day` unless its cache is under ten minutes old; why that failed, or None."""
    from bot.digest import FRESH_FOR

    last = await store.last_scrape_run(day)
    if last is not None and last.outcome in ("ok", "empty") and now - last.finished <= FRESH_FOR:
        return None
    report = await scraper.scrape_day(day)
    return str(report.error) if report.failed else None


# ---------------------------------------------------------------- scrape and show


async def cmd_scrape(args: argparse.Namespace, config: Config) -> int:
    """paperboy scrape [--date D | --days N | --from D --to D] [--source S]: fetch days into the cache."""
    from tqdm import tqdm

    from bot.models import utcnow
    from bot.scrape import DayReport, ScrapeSummary, days_to_scrape
    from bot.sources.http import make_http_client

    try:
        days = days_to_scrape(today=utcnow().date(), date=args.date, days=args.days, start=args.start, end=args.end)
    except ValueError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from exc
    names = _scrape_sources(args.source, config)
    interactive = sys.stderr.isatty()
    summaries = {name: ScrapeSummary() for name in names}
    store = await open_store(config)
    try:
        async with make_http_client(config) as http:
            jobs = _scrape_jobs(names, store, http, config)
            total = len(days) * len(jobs)
            with tqdm(total=total, unit="day", desc="scraping", file=sys.stderr, disable=not interactive) as bar:

                def progress(report: DayReport, name: str) -> None:
                    line = _day_line(report) if len(jobs) == 1 else f"{name} {_day_line(report)}"
                    if interactive:
                        bar.update(1)
                        if report.failed:
                            bar.write(line, file=sys.stderr)
                    else:
                        print(line, file=sys.stderr, flush=True)

                for name, client, scraper in jobs:
                    summary = summaries[name]
                    for day in days:
                        report = await scraper.scrape_day(day)
                        if client.unreachable is not None:
                            # Every other day would fail the same way: stop, in one line.
                            left = len(days) - summary.days
                            raise CommandError(
                                f"{client.unreachable}: {left} of {len(days)} days not scraped "
                                f"({day} on); the cache may be stale"
                            )
                        summary.add(report)
                        progress(report, name)
    except StoreError as exc:
        raise CommandError(str(exc)) from exc
    finally:
        await store.close()
    for name, summary in summaries.items():
        print(f"scraped {summary.line()}" if len(summaries) == 1 else f"scraped {name}: {summary.line()}")
    failed = sum(s.failed for s in summaries.values())
    if failed:
        asked = sum(s.days for s in summaries.values())
        raise CommandError(f"{failed} of {asked} days failed: the cache of those days may be stale")
    return EXIT_OK


def _scrape_sources(choice: str, config: Config) -> list[str]:
    """The sources `--source` names; arXiv only with categories configured (asked alone without: usage error)."""
    if choice == "arxiv" and not config.arxiv.categories:
        raise CommandError(
            'the arXiv source is off: set [arxiv] categories (e.g. ["cs.CL"]) in the config file, or '
            "PAPERBOY_ARXIV__CATEGORIES=cs.CL",
            EXIT_USAGE,
        )
    names = ["huggingface", "arxiv"] if choice == "all" else [choice]
    return [name for name in names if name != "arxiv" or config.arxiv.categories]


def _scrape_jobs(names: list[str], store: AnyStore, http: Any, config: Config) -> list[tuple[str, Any, Any]]:
    """(source name, its polite client, a scraper) for each source to scrape."""
    from bot.scrape import Scraper
    from bot.sources.arxiv import ArxivSource
    from bot.sources.http import PoliteClient
    from bot.sources.huggingface import HuggingFaceSource

    jobs: list[tuple[str, Any, Any]] = []
    for name in names:
        if name == "huggingface":
            client = PoliteClient.from_config(http, config)
            jobs.append((name, client, Scraper(store, HuggingFaceSource(client, config.huggingface.base_url))))
        else:
            arxiv = ArxivSource.from_config(http, config)
            jobs.append((name, arxiv.client, Scraper(store, arxiv)))
    return jobs


def _day_line(report: Any) -> str:
    """One line about one scraped day, for the terminal."""
    if report.failed:
        return f"{report.day}: {report.outcome}: {report.error}"
    counts = f"{report.fetched} papers ({report.new} new, {report.updated} updated, {report.skipped} skipped)"
    via = f" from the {report.via}" if report.via else ""
    return f"{report.day}: {counts}{via}" if report.fetched else f"{report.day}: no papers{via}"


async def load_paper(store: AnyStore, config: Config, ref: str) -> Paper:
    """The paper `ref` names, from the cache or else fetched and cached, as `paperboy show` finds it."""
    from bot.scrape_sources import build_scraper
    from bot.sources.http import FetchError, make_http_client
    from bot.sources.huggingface import parse_paper_ref

    paper_id = parse_paper_ref(ref)
    if paper_id is None:
        raise CommandError(
            f"{ref!r} is not a paper id or URL (try 2405.12345 or https://huggingface.co/papers/2405.12345)",
            EXIT_USAGE,
        )
    try:
        paper = await store.get_paper(paper_id)
        if paper is None:
            async with make_http_client(config) as http:
                paper = await build_scraper(store, http, config).ensure_paper(paper_id)
    except FetchError as exc:
        raise CommandError(f"cannot fetch paper {paper_id}: {exc}") from exc
    except StoreError as exc:
        raise CommandError(str(exc)) from exc
    if paper is None:
        elsewhere = " nor on arXiv" if config.arxiv.categories else ""
        raise CommandError(f"no paper {paper_id} on Hugging Face Daily Papers{elsewhere}")
    return paper


async def cmd_show(args: argparse.Namespace, config: Config) -> int:
    """paperboy show ID_OR_URL [--json]: one paper, from the cache or else fetched and cached."""
    store = await open_store(config)
    try:
        paper = await load_paper(store, config, args.ref)
    finally:
        await store.close()
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
    return f"bad query: {error.message}\n  {shown}\n  {' ' * min(error.position, len(shown))}^\n  hint: {error.hint}"


async def cmd_search(args: argparse.Namespace, config: Config) -> int:
    """paperboy search QUERY [--limit N] [--sort relevance|new|top] [--json]"""
    from bot.query import QueryError
    from bot.search.factory import open_search

    store = await open_store(config)
    try:
        results = await open_search(store).search(args.query, sort=args.sort, limit=args.limit)
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
        print_json(
            {
                "query": args.query,
                "normalized": query.normalized(),
                "days": args.days,
                "since": since.isoformat(),
                "total": results.total,
                "papers": [p.to_json() for p in results.papers],
            }
        )
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
    from bot.cli_db import cmd_db
    from bot.cli_papers import cmd_cite, cmd_similar

    handlers: dict[str, Handler] = {
        "run": cmd_run,
        "invite": cmd_invite,
        "digest": cmd_digest,
        "db": cmd_db,
        "scrape": cmd_scrape,
        "show": cmd_show,
        "search": cmd_search,
        "alerts": cmd_alerts,
        "similar": cmd_similar,
        "cite": cmd_cite,
    }
    return cli_parser.build_parser(handlers, package_version())


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `paperboy` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(cli_parser.verbosity(args), terminal=args.command != "run")
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"paperboy: config error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    redact_secret(config.discord.token)
    redact_secret(database_password(config.database.url))
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
