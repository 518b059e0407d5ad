"""The `paperboy similar` and `paperboy cite` commands: one paper (cached, else fetched) and what follows."""

from __future__ import annotations

import argparse
import logging

from bot.cli import EXIT_OK, EXIT_USAGE, CommandError, open_store, print_json
from bot.config import Config
from bot.models import Paper
from bot.store import Store, StoreError

log = logging.getLogger(__name__)


async def load_paper(store: Store, config: Config, ref: str) -> Paper:
    """The paper `ref` names, from the cache or else fetched and cached, as `paperboy show` finds it."""
    from bot.scrape import Scraper
    from bot.sources.http import FetchError, make_http_client
    from bot.sources.huggingface import HuggingFaceSource, parse_paper_ref

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
                source = HuggingFaceSource.from_config(http, config)
                paper = await Scraper(store, source).ensure_paper(paper_id)
    except FetchError as exc:
        raise CommandError(f"cannot fetch paper {paper_id}: {exc}") from exc
    except StoreError as exc:
        raise CommandError(str(exc)) from exc
    if paper is None:
        raise CommandError(f"no paper {paper_id} on Hugging Face Daily Papers")
    return paper


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
