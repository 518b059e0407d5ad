"""The `paperboy` argument parser and its help: what each command does, its defaults, network use, exit codes."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
from collections.abc import Callable, Mapping
from typing import Any

log = logging.getLogger(__name__)

EXIT_CODES = """\
exit codes:
  0  done
  1  it failed (no network, Hugging Face or Discord refused, database problem); the message says what
  2  bad usage: a bad argument, query or config file"""

QUERY_LANGUAGE = """\
query language:
  diffusion video                 both words (AND is implicit)
  "mixture of experts"            a phrase
  diffusion OR flow               either word
  -survey  or  NOT survey         without the word
  (llm OR "language model") agent grouping

fields (search only that part of a paper):
  title:WORD  author:"NAME"  abstract:WORD  keyword:WORD   e.g. title:(mamba OR ssm)

filters (restrict the whole query; combine with AND only, not inside OR or a negated group):
  upvotes:>=50  upvotes:10..100   upvotes on Hugging Face
  day:2026-06-12  day:>=2026-06-01  day:2026-06-01..2026-06-12   the Daily Papers day
  code:yes  code:no               whether the paper links a code repository

Words are case- and accent-insensitive and stemmed (agents finds agent). Very common words
(the, of, we, ...) typed bare beside other words are left out; in quotes they count."""


VERBOSE_HELP = "log more: -v info, -vv debug (default: warnings and errors; also accepted after the command)"
QUIET_HELP = "log errors only (default: warnings and errors)"


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keeps the description's and epilog's line breaks and shows each option's default."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        # A flag's False, an unset None or a help that already names its default say nothing more.
        if action.default in (None, False) or "default:" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def _epilog(*parts: str) -> str:
    return "\n\n".join(part.strip("\n") for part in parts if part)


def _examples(*lines: str) -> str:
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


COMMANDS: dict[str, tuple[str, str, str]] = {
    # name: (one-line help, description, epilog without the exit codes)
    "run": (
        "start the Discord bot (token from $DISCORD_TOKEN)",
        "Start the bot and keep it running until SIGTERM or Ctrl-C. It logs in to Discord with the token\n"
        "in $DISCORD_TOKEN (or [discord] token in the config file), syncs its slash commands, scrapes\n"
        "Hugging Face Daily Papers (and arXiv, with [arxiv] categories set) on the configured schedule\n"
        "and posts digests and alerts. Uses the network: Discord, huggingface.co, arxiv.org (when set)\n"
        "and the Postgres server (with [database] url). Logs to stderr.",
        _examples(
            "DISCORD_TOKEN=... paperboy run",
            "DISCORD_TOKEN=... paperboy --config /etc/paperboy.toml run -v",
            "DISCORD_TOKEN=... paperboy run --shard-count 4 --shard-ids 0,1   (with [database] url: Postgres)",
        ),
    ),
    "invite": (
        "print the link that adds the bot to a server, with the permissions it needs",
        "Print the URL that adds the bot to a Discord server, with exactly the permissions the bot uses,\n"
        "and say which of them it checks at run time. The application id is --client-id, else it is\n"
        "asked from Discord with the token in $DISCORD_TOKEN (the only case that uses the network).",
        _examples("paperboy invite --client-id 123456789012345678", "DISCORD_TOKEN=... paperboy invite"),
    ),
    "digest": (
        "print the digest a channel would get",
        "Print the digest a channel with the default settings ([digest] in the config) would get.\n"
        "Uses the network: re-reads the day from Hugging Face first unless the cache of it is less than\n"
        "ten minutes old. If that fetch fails, the digest is printed from the cache, a line on stderr says\n"
        "it may be stale, and the exit code is 1.",
        _examples("paperboy digest", "paperboy digest --date 2026-06-12 --top 5 --json"),
    ),
    "db": (
        "database upkeep: migrate, check, backup",
        "Look after the database: the SQLite file at [database] path, or Postgres when [database] url is\n"
        "set. No network beyond the database server.",
        _examples(
            "paperboy db migrate",
            "paperboy db backup /var/backups/paperboy.db",
            "paperboy db copy --to postgresql://paperboy@db.internal/paperboy",
        ),
    ),
    "scrape": (
        "fetch Daily Papers days into the cache",
        "Fetch Hugging Face Daily Papers days into the cache (default: yesterday and today, UTC), and with\n"
        "[arxiv] categories set, arXiv too: today's announcement from the listing feeds, earlier days'\n"
        "submissions through the arXiv API (one request every 3 s). Uses the network: the huggingface.co\n"
        "API, else the day's page. One line per day on stderr, a summary on stdout. If a source cannot be\n"
        "reached it stops at once: the cache may be stale.",
        _examples(
            "paperboy scrape",
            "paperboy scrape --days 7",
            "paperboy scrape --from 2026-06-01 --to 2026-06-07",
            "paperboy scrape --source arxiv --days 3",
        ),
    ),
    "show": (
        "one paper, from the cache or else fetched",
        "Print one paper. From the cache when it is there (no network), else fetched from\nhuggingface.co and cached.",
        _examples("paperboy show 2406.12345", "paperboy show https://huggingface.co/papers/2406.12345 --json"),
    ),
    "search": (
        'search the cache (words, "phrases", OR, -word, fields, filters)',
        "Search the papers in the cache, as /paper search does. No network: run `paperboy scrape` to\nfill the cache.",
        _epilog(
            QUERY_LANGUAGE,
            _examples(
                "paperboy search 'diffusion video -survey'",
                "paperboy search '(llm OR \"language model\") agent code:yes' --sort top --limit 5",
                "paperboy search 'author:\"Tri Dao\" day:>=2026-01-01' --json",
            ),
        ),
    ),
    "similar": (
        "the cached papers closest in content to a paper",
        "List the cached papers closest in content to a paper, closest first, as /paper similar does: the\n"
        "paper's most distinctive words (by tf-idf over the cache) ranked by bm25, the paper itself left out.\n"
        "The paper comes from the cache when it is there, else it is fetched from huggingface.co and cached\n"
        "(the only case that uses the network); the similar papers always come from the cache.",
        _examples(
            "paperboy similar 2406.12345", "paperboy similar https://huggingface.co/papers/2406.12345 --limit 10 --json"
        ),
    ),
    "cite": (
        "a paper's BibTeX entry",
        "Print a paper's BibTeX entry (@misc with eprint and archivePrefix = {arXiv}; authors as\n"
        '"Last, First"; TeX\'s special characters escaped, accents kept as UTF-8). The paper comes from\n'
        "the cache when it is there (no network), else it is fetched from huggingface.co and cached.",
        _examples("paperboy cite 2406.12345", "paperboy cite https://arxiv.org/abs/2406.12345v2 >> refs.bib"),
    ),
    "alerts": (
        "keyword alerts from the terminal: try a query",
        "Try a keyword alert's query on the cache before adding it in Discord with /alerts add. No network.",
        _examples("paperboy alerts test 'diffusion video -survey upvotes:>=20'"),
    ),
}

ALERTS_TEST = (
    "which cached papers of the last N days a query matches (what it would have alerted)",
    "List the cached papers of the last N days (today included, UTC) that a query matches, newest first:\n"
    "what an alert with that query would have posted. No network: run `paperboy scrape --days N` first.",
    _epilog(
        QUERY_LANGUAGE,
        _examples(
            "paperboy alerts test 'diffusion video -survey'",
            "paperboy alerts test 'title:mamba upvotes:>=20' --days 30 --json",
        ),
    ),
)

DB_ACTIONS = {
    "migrate": ("upgrade the schema to the newest version", _examples("paperboy db migrate")),
    "check": ("run the integrity check and verify the schema version", _examples("paperboy db check")),
    "backup": (
        "copy the live database (SQLite's online backup, or pg_dump on Postgres; safe while the bot runs)",
        _examples("paperboy db backup paperboy-backup.db"),
    ),
    "copy": (
        "copy the SQLite file ([database] path) with its settings and history into an empty Postgres",
        _examples("paperboy db copy --to postgresql://paperboy@db.internal:5432/paperboy"),
    ),
}


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


def shard_id_list(text: str) -> tuple[int, ...]:
    """argparse type for shard ids like 0,1,2."""
    parts = [part.strip() for part in text.split(",")]
    if not parts or not all(part.isascii() and part.isdigit() for part in parts):
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of shard ids like 0,1")
    return tuple(int(part) for part in parts)


def application_id(text: str) -> int:
    """argparse type for a Discord application id (a snowflake)."""
    if not text.isdigit() or not 0 < int(text) < 2**64:
        raise argparse.ArgumentTypeError(f"{text!r} is not an application id (digits, e.g. 123456789012345678)")
    return int(text)


def _verbosity_options() -> argparse.ArgumentParser:
    # Given again on each command, so `paperboy scrape -v` works as well as `paperboy -v scrape`;
    # separate names keep the two counts from overwriting each other.
    options = argparse.ArgumentParser(add_help=False)
    group = options.add_argument_group("logging")
    group.add_argument("-v", "--verbose", dest="command_verbose", action="count", default=0, help=VERBOSE_HELP)
    group.add_argument("-q", "--quiet", dest="command_quiet", action="count", default=0, help=QUIET_HELP)
    return options


def _command(
    commands: Any,
    name: str,
    texts: tuple[str, str, str],
    parents: list[argparse.ArgumentParser],
    *,
    exit_codes: bool = True,
) -> argparse.ArgumentParser:
    summary, description, epilog = texts
    return commands.add_parser(  # type: ignore[no-any-return]
        name,
        help=summary,
        description=description,
        parents=parents,
        formatter_class=HelpFormatter,
        epilog=_epilog(epilog, EXIT_CODES if exit_codes else ""),
    )


def build_parser(handlers: Mapping[str, Callable[..., Any]], version: str) -> argparse.ArgumentParser:
    """The argument parser for every command; `handlers` maps each command name to its handler."""
    parser = argparse.ArgumentParser(
        prog="paperboy",
        description="Hugging Face Daily Papers for Discord: digests, search and keyword alerts.\n"
        "Run `paperboy COMMAND --help` for what a command does, its defaults and examples.",
        formatter_class=HelpFormatter,
        epilog=_epilog(
            _examples(
                "paperboy scrape --days 7", "paperboy search 'diffusion video'", "DISCORD_TOKEN=... paperboy run"
            ),
            EXIT_CODES,
        ),
    )
    parser.add_argument("--version", action="version", version=f"paperboy {version}")
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="TOML config file (default: $PAPERBOY_CONFIG, else ./config.toml if present, else built-in defaults)",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help=VERBOSE_HELP)
    parser.add_argument("-q", "--quiet", action="count", default=0, help=QUIET_HELP)
    logging_options = [_verbosity_options()]
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = _command(commands, "run", COMMANDS["run"], logging_options)
    run.add_argument(
        "--shard-count",
        type=positive_int(65535),
        metavar="N",
        help="total shards over all processes (default: [discord] shard_count, else Discord's recommendation)",
    )
    run.add_argument(
        "--shard-ids",
        type=shard_id_list,
        metavar="IDS",
        help="this process's shards, e.g. 0,1 (default: [discord] shard_ids, else all); leaving shards to other "
        "processes needs Postgres",
    )
    run.set_defaults(handler=handlers["run"])

    invite = _command(commands, "invite", COMMANDS["invite"], logging_options)
    invite.add_argument(
        "--client-id",
        type=application_id,
        metavar="ID",
        help="the application id from the Developer Portal (default: asked from Discord with $DISCORD_TOKEN)",
    )
    invite.set_defaults(handler=handlers["invite"])

    digest = _command(commands, "digest", COMMANDS["digest"], logging_options)
    digest.add_argument(
        "--date",
        type=iso_date,
        metavar="D",
        help="Daily Papers day YYYY-MM-DD (default: the day today's digest covers)",
    )
    digest.add_argument(
        "--top",
        type=positive_int(25),
        metavar="N",
        help="how many papers, 1-25 (default: [digest] default_top, 10 unless configured)",
    )
    digest.add_argument("--json", action="store_true", help="print one JSON document")
    digest.set_defaults(handler=handlers["digest"])

    db = _command(commands, "db", COMMANDS["db"], [])
    db_commands = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    for action, (summary, examples) in DB_ACTIONS.items():
        sub = _command(
            db_commands,
            action,
            (summary, summary[0].upper() + summary[1:] + ". No network.", examples),
            logging_options,
        )
        if action == "backup":
            sub.add_argument("path", metavar="PATH", help="where to write the copy")
        if action == "copy":
            sub.add_argument("--to", required=True, metavar="URL", help="the empty Postgres database, postgresql://...")
    db.set_defaults(handler=handlers["db"])

    scrape = _command(commands, "scrape", COMMANDS["scrape"], logging_options)
    which = scrape.add_mutually_exclusive_group()
    which.add_argument("--date", metavar="YYYY-MM-DD", help="one day")
    which.add_argument("--days", type=int, metavar="N", help="the last N days, today (UTC) included")
    which.add_argument("--from", dest="start", metavar="YYYY-MM-DD", help="first day of a range (with --to)")
    scrape.add_argument("--to", dest="end", metavar="YYYY-MM-DD", help="last day of a range (with --from)")
    scrape.add_argument(
        "--source",
        choices=("huggingface", "arxiv", "all"),
        default="all",
        help="which source to read (default: all; arXiv only with [arxiv] categories set)",
    )
    scrape.set_defaults(handler=handlers["scrape"])

    show = _command(commands, "show", COMMANDS["show"], logging_options)
    show.add_argument("ref", metavar="ID_OR_URL", help="arXiv id, arXiv URL or huggingface.co/papers URL")
    show.add_argument("--json", action="store_true", help="print the paper as JSON")
    show.set_defaults(handler=handlers["show"])

    search = _command(commands, "search", COMMANDS["search"], logging_options)
    search.add_argument("query", metavar="QUERY", help="what to look for (see the query language below)")
    search.add_argument("--limit", type=positive_int(100), default=10, metavar="N", help="how many results, 1-100")
    search.add_argument(
        "--sort",
        choices=("relevance", "new", "top"),
        default="relevance",
        help="order of results: best match, newest day, most upvotes",
    )
    search.add_argument("--json", action="store_true", help="print one JSON document")
    search.set_defaults(handler=handlers["search"])

    similar = _command(commands, "similar", COMMANDS["similar"], logging_options)
    similar.add_argument("ref", metavar="ID_OR_URL", help="arXiv id, arXiv URL or huggingface.co/papers URL")
    similar.add_argument("--limit", type=positive_int(100), default=5, metavar="N", help="how many papers, 1-100")
    similar.add_argument("--json", action="store_true", help="print a JSON list of papers")
    similar.set_defaults(handler=handlers["similar"])

    cite = _command(commands, "cite", COMMANDS["cite"], logging_options)
    cite.add_argument("ref", metavar="ID_OR_URL", help="arXiv id, arXiv URL or huggingface.co/papers URL")
    cite.set_defaults(handler=handlers["cite"])

    alerts = _command(commands, "alerts", COMMANDS["alerts"], [])
    alerts_commands = alerts.add_subparsers(dest="alerts_command", metavar="ACTION", required=True)
    alerts_test = _command(alerts_commands, "test", ALERTS_TEST, logging_options)
    alerts_test.add_argument("query", metavar="QUERY", help="the alert's query (see the query language below)")
    alerts_test.add_argument(
        "--days", type=positive_int(3650), default=7, metavar="N", help="how many days back, today included"
    )
    alerts_test.add_argument("--json", action="store_true", help="print one JSON document")
    alerts.set_defaults(handler=handlers["alerts"])
    return parser


def verbosity(args: argparse.Namespace) -> int:
    """-v and -q given before or after the command, as one number (negative: quieter)."""
    louder = int(args.verbose) + int(getattr(args, "command_verbose", 0))
    quieter = int(args.quiet) + int(getattr(args, "command_quiet", 0))
    return louder - quieter
