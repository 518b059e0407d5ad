"""The installed version of Paperboy (for `--version` and /paperboy status)."""

from __future__ import annotations

import logging
from importlib.metadata import PackageNotFoundError, version

log = logging.getLogger(__name__)


def package_version() -> str:
    """The installed version of Paperboy."""
    try:
        return version("paperboy")
    except PackageNotFoundError:
        return "unknown"
