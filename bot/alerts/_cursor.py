"""How far the alerts have looked through the papers' first listings."""

from __future__ import annotations

import bisect
import datetime as dt
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass

log = logging.getLogger(__name__)

CURSOR_KEY = "alerts_listed_cursor"  # meta key of the ListingCursor
CURSOR_OVERLAP = dt.timedelta(minutes=2)


@dataclass(frozen=True, slots=True)
class ListingCursor:
    """How far the alerts have looked: the first-listing instant of the newest paper looked at, and the
    papers looked at whose listing falls within CURSOR_OVERLAP before it.

    The next pass reads again from `at` less the overlap, because a scrape stamps its rows just before it
    writes them: one that ran alongside another can commit rows stamped before `at`. Papers in `seen`
    are not looked at twice.
    """

    at: str = ""  # a stored instant (ISO text); "" before any listing
    seen: frozenset[str] = frozenset()

    @property
    def reread_from(self) -> str:
        """Where the next pass starts reading."""
        if not self.at:
            return ""
        return (dt.datetime.fromisoformat(self.at) - CURSOR_OVERLAP).isoformat(timespec="seconds")

    def advance(self, looked_at: Iterable[tuple[str, str]]) -> ListingCursor:
        """The cursor after a pass read these (first listed, paper id) rows."""
        rows = list(looked_at)
        at = max([self.at, *(first for first, _ in rows)])
        floor = ListingCursor(at).reread_from
        seen = {paper_id for first, paper_id in rows if first >= floor}
        if at == self.at:  # the window did not move: what was seen in it still counts
            seen |= self.seen
        return ListingCursor(at, frozenset(seen))

    @staticmethod
    def keep_for_advance(rows: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """Of (first listed, paper id) rows in listing order (as a pass reads them), those an `advance` past
        them still reads: the ones within CURSOR_OVERLAP of the newest. A long pass keeps only these between
        pages, not every row it has read."""
        if not rows:
            return rows
        floor = ListingCursor(rows[-1][0]).reread_from
        return rows[bisect.bisect_left(rows, floor, key=lambda row: row[0]) :]

    def to_text(self) -> str:
        """The cursor as stored."""
        return json.dumps({"at": self.at, "seen": sorted(self.seen)})

    @classmethod
    def from_text(cls, text: str) -> ListingCursor:
        """A stored cursor."""
        data = json.loads(text)
        return cls(str(data.get("at", "")), frozenset(map(str, data.get("seen", ()))))
