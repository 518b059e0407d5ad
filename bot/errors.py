"""Errors whose message is meant for the person who typed the command."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


class UserError(Exception):
    """Something the user can fix; the message says what was wrong and how to fix it."""


class UnknownPaper(UserError):
    """No paper matches the id, URL or title given."""

    def __init__(self, reference: str) -> None:
        super().__init__(
            f"No paper found for {reference!r}. Try an arXiv id like 2406.12345, a paper URL, "
            "or `/paper search` to find it."
        )
        self.reference = reference
