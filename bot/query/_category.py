"""The `category:` filter's values: arXiv category names and `archive.*` prefixes, matched without regard to case."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

log = logging.getLogger(__name__)

# An archive (cs, hep-th, q-bio), optionally a subject class (CL, mes-hall), or a prefix ending in *.
_PATTERN = re.compile(r"[A-Za-z]+(?:-[A-Za-z]+)*(?:\.(?:[A-Za-z]+(?:-[A-Za-z]+)*)?)?\*?")
# The first text after every category that starts with a prefix: its last character moved up by one.
_LAST_CHAR = 0x10FFFF


def canonical_category(text: str) -> str | None:
    """`text` as arXiv writes it (cs.CL, hep-th, cond-mat.mes-hall, cs.*), or None if it is no category."""
    if not _PATTERN.fullmatch(text):
        return None
    archive, dot, subject = text.partition(".")
    star = subject.endswith("*") or (not dot and archive.endswith("*"))
    archive, subject = archive.rstrip("*").lower(), subject.rstrip("*")
    # Two-letter subject classes are upper case (cs.CL, math.AG, q-bio.NC); longer ones lower (cond-mat.str-el).
    subject = subject.upper() if len(subject) <= 2 else subject.lower()
    return f"{archive}{dot}{subject}{'*' if star else ''}"


def is_prefix(pattern: str) -> bool:
    """Whether a category value is a prefix (`cs.*`) rather than one category."""
    return pattern.endswith("*")


def category_matches(categories: Iterable[str], pattern: str) -> bool:
    """Whether any of `categories` is `pattern` (or starts with it, for `cs.*`), case aside."""
    wanted = pattern.lower()
    if is_prefix(wanted):
        return any(name.lower().startswith(wanted[:-1]) for name in categories)
    return any(name.lower() == wanted for name in categories)


def category_range(pattern: str) -> tuple[str, str | None]:
    """The lower-case key a `paper_categories` row must equal, or for a prefix the [low, high) range it lies in.

    Both backends store categories folded to lower case, so an equality or a range over that column
    decides `category:` exactly as `category_matches` does (the range needs a binary collation).
    """
    wanted = pattern.lower()
    if not is_prefix(wanted):
        return wanted, None
    low = wanted[:-1]
    return low, low + chr(_LAST_CHAR)
