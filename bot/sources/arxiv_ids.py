"""arXiv identifiers and category names: one canonical form for each, shared by the sources and the query language."""

from __future__ import annotations

import logging
import re

log = logging.getLogger(__name__)

# New-style ids (0704.0001 onwards; five digits after the dot from 1501) and old-style archive/YYMMNNN ids,
# whose archive may carry a subject class (math.AG/0601001) that is not part of the paper's identity.
_NEW_ID = re.compile(r"(\d{4}\.\d{4,5})(?:v(\d+))?")
_OLD_ID = re.compile(r"([a-z]+(?:-[a-z]+)*)(?:\.[A-Za-z]{2})?/(\d{7})(?:v(\d+))?")
_PREFIXES = re.compile(
    r"^(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html)/|^oai:arxiv\.org:|^arxiv:", re.IGNORECASE
)
_PDF = re.compile(r"\.pdf$", re.IGNORECASE)
_ABS = "http://arxiv.org/abs/"  # how the API writes every entry's id
# An archive (cs, hep-th, q-bio, cond-mat) and optionally a subject class (CL, NC, mes-hall, AG).
CATEGORY = re.compile(r"[a-z]+(?:-[a-z]+)*(?:\.[A-Za-z]+(?:-[A-Za-z]+)*)?")


def split_version(text: str) -> tuple[str, int | None] | None:
    """The canonical id and version number of an arXiv id, abs/pdf URL or OAI identifier; None if it is none.

    `2406.12345v2` → (`2406.12345`, 2); `hep-th/9901001` → (`hep-th/9901001`, None); `math.AG/0601001v1` →
    (`math/0601001`, 1).
    """
    candidate = text.strip()
    candidate = candidate[len(_ABS) :] if candidate.startswith(_ABS) else _PREFIXES.sub("", candidate)
    candidate = _PDF.sub("", candidate).rstrip("/")
    if found := _NEW_ID.fullmatch(candidate):
        return found.group(1), int(found.group(2)) if found.group(2) else None
    if found := _OLD_ID.fullmatch(candidate):
        return f"{found.group(1)}/{found.group(2)}", int(found.group(3)) if found.group(3) else None
    return None


def normalize_id(text: str) -> str | None:
    """The canonical arXiv id (no version, no URL) of `text`, or None if it is not one."""
    split = split_version(text)
    return split[0] if split else None


def is_category(name: str) -> bool:
    """Whether `name` is shaped like an arXiv category (cs.CL, hep-th, q-bio.NC)."""
    return CATEGORY.fullmatch(name) is not None


def listing_page(category: str) -> str:
    """The category's page of new announcements on arxiv.org."""
    return f"https://arxiv.org/list/{category}/new"
