"""The `paperboy similar` and `paperboy cite` commands: one paper (cached, else fetched) and what follows."""

from __future__ import annotations

import argparse
import logging

from bot.cli import EXIT_OK, CommandError, load_paper, open_store, print_json
from bot.config import Config
from bot.store import StoreError

log = logging.getLogger(__name__)


async def cmd_cite(args: argparse.Namespace, config: Config) -> int:
    """paperboy cite ID_OR_URL: the paper's BibTeX entry."""
    from bot.bibtex import bibtex_entry

    store = await open_store(config)
    try:
        paper = await load_paper(store, config, args.ref)
    finally:
        await store.close()
    print(bibtex_entry(paper), end="")
    return EXIT_OK


async def cmd_similar(args: argparse.Namespace, config: Config) -> int:
    """paperboy similar ID_OR_URL [--limit N] [--json]: the cached papers closest in content."""
    from bot.similar import SimilarPapers

    store = await open_store(config)
    try:
        paper = await load_paper(store, config, args.ref)
        similar = await SimilarPapers(store).similar(paper, args.limit)
    except StoreError as exc:
        raise CommandError(str(exc)) from exc
    finally:
        await store.close()
    if args.json:
        print_json([p.to_json() for p in similar])
        return EXIT_OK
    from bot.render import results_text

    print(f"Cached papers closest to {paper.id} ({paper.title}):")
    if similar:
        print(results_text(similar))
    else:
        print("none: the cache holds no other paper that shares its distinctive words")
    return EXIT_OK
