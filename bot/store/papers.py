"""Papers, daily entries and scrape runs: idempotent upserts and typed reads."""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from bot.models import ArxivListing, DailyEntry, Paper, ScrapeRun, UpsertResult
from bot.store.arxiv import write_listing
from bot.store.base import StoreBase
from bot.store.rows import (
    P_COLUMNS,
    PAPER_COLUMN_COUNT,
    PAPER_COLUMNS,
    RUN_COLUMNS,
    moved_columns,
    paper_from_row,
    paper_values,
    run_from_row,
    run_values,
    runs_filter,
    stored_date,
)

# The paper row helpers live in bot.store.rows; they stay importable from here for the SQLite modules.
__all__ = ["PAPER_COLUMNS", "PapersMixin", "StoreCounts", "paper_from_row"]

log = logging.getLogger(__name__)

_INSERT_PAPER = (
    f"INSERT INTO papers ({PAPER_COLUMNS}, first_seen, updated_at) VALUES ("
    + ", ".join(f":{name.strip()}" for name in f"{PAPER_COLUMNS}, first_seen, updated_at".split(","))
    + ")"
)


@dataclass(frozen=True, slots=True)
class StoreCounts:
    """How much the cache holds."""

    papers: int
    days: int
    daily_entries: int
    digests: int
    subscriptions: int


class PapersMixin(StoreBase):
    """Typed access to papers, daily entries and scrape runs."""

    async def upsert_papers(
        self,
        papers: Iterable[Paper],
        *,
        day: dt.date | None = None,
        run: ScrapeRun | None = None,
        listings: Sequence[ArxivListing] = (),
    ) -> UpsertResult:
        """Insert or refresh papers (their entries for `day`, arXiv `listings`) and record `run`, in one transaction.

        Re-saving identical data changes only upvotes and `updated_at`; the result names papers seen for
        the first time and papers whose upvotes moved.
        """
        papers = list({p.id: p for p in papers}.values())
        now = self.now_text()
        new: list[str] = []
        changed: list[str] = []
        unchanged = 0
        async with self.transaction() as db:
            existing = await self._rows_by_id(db, [p.id for p in papers])
            for paper in papers:
                values = paper_values(paper)
                old = existing.get(paper.id)
                if old is None:
                    values.update(first_seen=now, updated_at=now)
                    await db.execute(_INSERT_PAPER, values)
                    new.append(paper.id)
                else:
                    moved = moved_columns(old, values)
                    if moved:
                        assignments = ", ".join(f"{name} = :{name}" for name in moved)
                        values["updated_at"] = now
                        await db.execute(
                            f"UPDATE papers SET {assignments}, updated_at = :updated_at WHERE id = :id",
                            values,
                        )
                    # Metadata-only fetches (no day) carry no upvote news unless they differ.
                    if old["upvotes"] != values["upvotes"]:
                        changed.append(paper.id)
                    else:
                        unchanged += 1
                if day is not None:
                    await db.execute(
                        "INSERT INTO daily_entries (day, paper_id, upvotes, first_seen, updated_at) "
                        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (day, paper_id) DO UPDATE SET "
                        "upvotes = excluded.upvotes, updated_at = excluded.updated_at "
                        "WHERE upvotes != excluded.upvotes",
                        (day.isoformat(), paper.id, paper.upvotes, now, now),
                    )
            for listing in listings:
                await write_listing(db, listing, now)
            result = UpsertResult(new=tuple(new), changed=tuple(changed), unchanged=unchanged)
            self.papers_version += 1
            if run is not None:
                await self._insert_run(db, run, new=len(new), updated=len(changed))
        return result

    @staticmethod
    async def _rows_by_id(db: Any, ids: list[str]) -> dict[str, sqlite3.Row]:
        rows: dict[str, sqlite3.Row] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            async with db.execute(f"SELECT {PAPER_COLUMNS} FROM papers WHERE id IN ({marks})", chunk) as cursor:
                for row in await cursor.fetchall():
                    rows[row["id"]] = row
        return rows

    @staticmethod
    async def _insert_run(db: Any, run: ScrapeRun, *, new: int, updated: int) -> None:
        await db.execute(
            "INSERT INTO scrape_runs (source, day, started, finished, outcome, fetched, new, updated, "
            "skipped, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            run_values(run, new=new, updated=updated),
        )

    async def record_scrape_run(self, run: ScrapeRun) -> None:
        """Record a fetch that wrote no papers (failed, empty, or markup changed)."""
        async with self.transaction() as db:
            await self._insert_run(db, run, new=run.new, updated=run.updated)

    async def get_paper(self, paper_id: str) -> Paper | None:
        """The cached paper with this arXiv id, if any."""
        async with self._db.execute(f"SELECT {PAPER_COLUMNS} FROM papers WHERE id = ?", (paper_id,)) as cursor:
            row = await cursor.fetchone()
        return paper_from_row(row) if row else None

    async def get_papers(self, paper_ids: Sequence[str]) -> list[Paper]:
        """The cached papers with these ids, in the order asked (missing ones left out)."""
        rows = await self._rows_by_id(self._db, list(paper_ids))
        return [paper_from_row(rows[pid]) for pid in paper_ids if pid in rows]

    async def papers_of_day(self, day: dt.date) -> list[Paper]:
        """Papers featured on `day`, most upvoted first, with that day's upvotes."""
        async with self._db.execute(
            f"SELECT {P_COLUMNS}, e.upvotes "
            "FROM daily_entries e JOIN papers p ON p.id = e.paper_id WHERE e.day = ? "
            "ORDER BY e.upvotes DESC, p.id",
            (day.isoformat(),),
        ) as cursor:
            rows = await cursor.fetchall()
        papers = []
        for row in rows:
            paper = paper_from_row(row)
            papers.append(replace(paper, upvotes=row[PAPER_COLUMN_COUNT], day=day))
        return papers

    async def daily_entries(self, day: dt.date) -> list[DailyEntry]:
        """The entries recorded for `day`."""
        async with self._db.execute(
            "SELECT day, paper_id, upvotes FROM daily_entries WHERE day = ? ORDER BY paper_id",
            (day.isoformat(),),
        ) as cursor:
            rows = await cursor.fetchall()
        return [DailyEntry(dt.date.fromisoformat(r[0]), r[1], r[2]) for r in rows]

    async def delete_paper(self, paper_id: str) -> bool:
        """Remove a paper and its entries; True if it existed."""
        async with self.transaction() as db:
            cursor = await db.execute("DELETE FROM papers WHERE id = ?", (paper_id,))
            return cursor.rowcount > 0

    async def counts(self) -> StoreCounts:
        """Row counts for status output."""
        async with self._db.execute(
            "SELECT (SELECT count(*) FROM papers), (SELECT count(DISTINCT day) FROM daily_entries), "
            "(SELECT count(*) FROM daily_entries), (SELECT count(*) FROM digest_settings), "
            "(SELECT count(*) FROM subscriptions)"
        ) as cursor:
            row = await cursor.fetchone()
        assert row is not None
        return StoreCounts(*(int(v) for v in row))

    async def newest_day(self) -> dt.date | None:
        """The most recent Daily Papers day with entries."""
        async with self._db.execute("SELECT max(day) FROM daily_entries") as cursor:
            row = await cursor.fetchone()
        return stored_date(row[0]) if row else None

    async def last_scrape_run(self, day: dt.date | None = None, source: str | None = None) -> ScrapeRun | None:
        """The latest recorded fetch (of `day`, from `source`, if given)."""
        runs = await self.scrape_runs(limit=1, day=day, source=source)
        return runs[0] if runs else None

    async def scrape_runs(
        self, limit: int = 50, day: dt.date | None = None, source: str | None = None
    ) -> list[ScrapeRun]:
        """The most recent scrape runs (of `day`, from `source`, if given), newest first."""
        conditions, params = runs_filter(day, source, "?")
        async with self._db.execute(
            f"SELECT {RUN_COLUMNS} FROM scrape_runs {conditions} ORDER BY id DESC LIMIT ?", [*params, limit]
        ) as cursor:
            rows = await cursor.fetchall()
        return [run_from_row(row) for row in rows]
