"""Members' reading lists on Postgres: the papers each member saved, with a bound on how many."""

from __future__ import annotations

import logging

from bot.models import Paper
from bot.store.papers import paper_from_row
from bot.store.postgres.base import PostgresStoreBase
from bot.store.saved import SAVED_COLUMNS, ReadingListFull

log = logging.getLogger(__name__)


class PostgresSavedMixin(PostgresStoreBase):
    """Typed access to `saved_papers`."""

    async def save_paper(self, member_id: int, paper_id: str, *, limit: int) -> bool:
        """Add a paper to a member's list; False if it was there already, ReadingListFull past `limit`."""
        async with self.transaction() as conn:
            # Counting then inserting is only safe if no other process saves for this member meanwhile.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('saved:' || %s, 0))", (member_id,))
            cursor = await conn.execute(
                "SELECT count(*), count(*) FILTER (WHERE paper_id = %s) FROM saved_papers WHERE member_id = %s",
                (paper_id, member_id),
            )
            row = await cursor.fetchone()
            assert row is not None
            if row[1]:
                return False
            if row[0] >= limit:
                raise ReadingListFull(limit)
            await conn.execute(
                "INSERT INTO saved_papers (member_id, paper_id, saved_at) VALUES (%s, %s, %s)",
                (member_id, paper_id, self.now_text()),
            )
        return True

    async def unsave_paper(self, member_id: int, paper_id: str) -> bool:
        """Take a paper off a member's list; False if it was not on it."""
        deleted = await self._execute(
            "DELETE FROM saved_papers WHERE member_id = %s AND paper_id = %s", (member_id, paper_id)
        )
        return deleted > 0

    async def saved_papers(self, member_id: int, *, offset: int = 0, limit: int = 10) -> list[Paper]:
        """A page of a member's saved papers, the latest saved first."""
        rows = await self._fetchall(
            f"SELECT {SAVED_COLUMNS} FROM saved_papers s JOIN papers p ON p.id = s.paper_id "
            "WHERE s.member_id = %s ORDER BY s.id DESC LIMIT %s OFFSET %s",
            (member_id, limit, offset),
        )
        return [paper_from_row(row) for row in rows]

    async def saved_count(self, member_id: int) -> int:
        """How many papers a member has saved."""
        row = await self._fetchone("SELECT count(*) FROM saved_papers WHERE member_id = %s", (member_id,))
        return int(row[0]) if row else 0

    async def clear_saved(self, member_id: int) -> int:
        """Empty a member's list; how many papers it held."""
        return await self._execute("DELETE FROM saved_papers WHERE member_id = %s", (member_id,))
