"""Errors whose message is meant for the person who typed the command."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.query import QueryError

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


class BadQuery(UserError):
    """A query that does not parse, with the text typed so the answer can point into it."""

    def __init__(self, query: str, error: QueryError) -> None:
        super().__init__(error.describe())
        self.query = query
        self.error = error
