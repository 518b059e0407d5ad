"""Members' reading lists: the papers each member saved, with a bound on how many."""

from __future__ import annotations

import logging

from bot.models import Paper
from bot.store.base import StoreBase
from bot.store.errors import StoreError
from bot.store.papers import PAPER_COLUMNS, paper_from_row

log = logging.getLogger(__name__)

SAVED_COLUMNS = ", ".join(f"p.{name.strip()}" for name in PAPER_COLUMNS.split(","))


class ReadingListFull(StoreError):
    """A member's reading list already holds the most papers it may."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"your reading list is full ({limit} papers): remove some with /paper saved first")
        self.limit = limit


class SavedMixin(StoreBase):
    """Typed access to `saved_papers`."""

    async def save_paper(self, member_id: int, paper_id: str, *, limit: int) -> bool:
        """Add a paper to a member's list; False if it was there already, ReadingListFull past `limit`."""
        async with self.transaction() as db:
            async with db.execute(
                "SELECT count(*), sum(paper_id = ?) FROM saved_papers WHERE member_id = ?", (paper_id, member_id)
            ) as cursor:
                row = await cursor.fetchone()
            assert row is not None
            if row[1]:
                return False
            if row[0] >= limit:
                raise ReadingListFull(limit)
            await db.execute(
                "INSERT INTO saved_papers (member_id, paper_id, saved_at) VALUES (?, ?, ?)",
                (member_id, paper_id, self.now_text()),
            )
        return True

    async def unsave_paper(self, member_id: int, paper_id: str) -> bool:
        """Take a paper off a member's list; False if it was not on it."""
        async with self.transaction() as db:
            cursor = await db.execute(
                "DELETE FROM saved_papers WHERE member_id = ? AND paper_id = ?", (member_id, paper_id)
            )
            return cursor.rowcount > 0

    async def saved_papers(self, member_id: int, *, offset: int = 0, limit: int = 10) -> list[Paper]:
        """A page of a member's saved papers, the latest saved first."""
        async with self._db.execute(
            f"SELECT {SAVED_COLUMNS} FROM saved_papers s JOIN papers p ON p.id = s.paper_id "
            "WHERE s.member_id = ? ORDER BY s.id DESC LIMIT ? OFFSET ?",
            (member_id, limit, offset),
        ) as cursor:
            rows = await cursor.fetchall()
        return [paper_from_row(row) for row in rows]

    async def saved_count(self, member_id: int) -> int:
        """How many papers a member has saved."""
        async with self._db.execute("SELECT count(*) FROM saved_papers WHERE member_id = ?", (member_id,)) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def clear_saved(self, member_id: int) -> int:
        """Empty a member's list; how many papers it held."""
        async with self.transaction() as db:
            cursor = await db.execute("DELETE FROM saved_papers WHERE member_id = ?", (member_id,))
            return cursor.rowcount
