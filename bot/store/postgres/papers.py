"""Papers, daily entries and scrape runs on Postgres: idempotent upserts and typed reads."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

import psycopg
from psycopg.rows import dict_row

from bot.models import ArxivListing, DailyEntry, Paper, ScrapeRun, UpsertResult
from bot.query.columns import SEARCH_COLUMNS
from bot.store.papers import StoreCounts
from bot.store.postgres.arxiv import write_listing
from bot.store.postgres.base import PostgresStoreBase
from bot.store.postgres.lexemes import search_columns
from bot.store.rows import (
    P_COLUMNS,
    PAPER_COLUMN_COUNT,
    PAPER_COLUMNS,
    RUN_COLUMNS,
    batches,
    moved_columns,
    paper_from_row,
    run_from_row,
    run_values,
    runs_filter,
    stored_date,
)

log = logging.getLogger(__name__)

_INSERT_PAPER = (
    f"INSERT INTO papers ({PAPER_COLUMNS}, first_seen, updated_at, search_vector, title_key) VALUES ("
    + ", ".join(f"%({name.strip()})s" for name in f"{PAPER_COLUMNS}, first_seen, updated_at".split(","))
    + ", %(search_vector)s::tsvector, %(title_key)s)"
)
_UPSERT_ENTRY = (
    "INSERT INTO daily_entries (day, paper_id, upvotes, first_seen, updated_at) "
    "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (day, paper_id) DO UPDATE SET "
    "upvotes = excluded.upvotes, updated_at = excluded.updated_at "
    "WHERE daily_entries.upvotes <> excluded.upvotes"
)
# Transaction-level advisory lock serialising paper writes across processes, as SQLite's one writer does
# (it also keeps the writers of search_terms' counts in one order).
PAPERS_WRITE_LOCK = 0x70617065_72730001
_COLUMN_NAMES = [name.strip() for name in PAPER_COLUMNS.split(",")]
# Columns whose change means the search columns must be computed again.
_SEARCHED = frozenset(column.source for column in SEARCH_COLUMNS)


class PostgresPapersMixin(PostgresStoreBase):
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
        # New rows and day entries go in batches (executemany pipelines them): one round trip, not one per paper.
        inserts: list[dict[str, Any]] = []
        entries: list[tuple[str, str, int, str, str]] = []
        async with self.transaction() as conn:
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (PAPERS_WRITE_LOCK,))
            existing = await _rows_by_id(conn, [p.id for p in papers])
            for paper in papers:
                values = search_columns(paper)
                old = existing.get(paper.id)
                if old is None:
                    values.update(first_seen=now, updated_at=now)
                    inserts.append(values)
                    new.append(paper.id)
                else:
                    moved = moved_columns(old, values)
                    if moved:
                        if _SEARCHED.intersection(moved):
                            # Computed from the merged row: a source may have kept the stored title or abstract.
                            merged = paper_from_row([values[name] for name in _COLUMN_NAMES])
                            values.update(search_columns(merged))
                            moved += ["search_vector", "title_key"]
                        assignments = ", ".join(
                            f"{name} = %({name})s::tsvector" if name == "search_vector" else f"{name} = %({name})s"
                            for name in moved
                        )
                        values["updated_at"] = now
                        await conn.execute(
                            f"UPDATE papers SET {assignments}, updated_at = %(updated_at)s WHERE id = %(id)s",
                            values,
                        )
                    if old["upvotes"] != values["upvotes"]:
                        changed.append(paper.id)
                    else:
                        unchanged += 1
                if day is not None:
                    entries.append((day.isoformat(), paper.id, paper.upvotes, now, now))
            async with conn.cursor() as cursor:
                if inserts:
                    await cursor.executemany(_INSERT_PAPER, inserts)
                if entries:
                    await cursor.executemany(_UPSERT_ENTRY, entries)
            for listing in listings:
                await write_listing(conn, listing, now)
            if run is not None:
                await _insert_run(conn, run, new=len(new), updated=len(changed))
        self.papers_version += 1
        return UpsertResult(new=tuple(new), changed=tuple(changed), unchanged=unchanged)

    async def bulk_insert_papers(self, papers: Iterable[Paper], *, batch_size: int = 5000) -> int:
        """Insert many papers not yet stored (and their daily entries), a batch per transaction.

        For loading a fresh cache quickly; an id already present makes the batch fail.
        """
        total = 0
        for batch in batches(papers, batch_size):
            total += await self._insert_batch(batch)
        return total

    async def _insert_batch(self, papers: Sequence[Paper]) -> int:
        now = self.now_text()
        columns = [*(name.strip() for name in PAPER_COLUMNS.split(",")), "search_vector", "title_key"]
        async with self.transaction() as conn:
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (PAPERS_WRITE_LOCK,))
            async with conn.cursor() as cursor:
                # COPY: one statement per batch, so the search_terms trigger counts the batch at once.
                async with cursor.copy(
                    f"COPY papers ({', '.join(columns)}, first_seen, updated_at) FROM STDIN"
                ) as copy:
                    for paper in papers:
                        values = search_columns(paper)
                        await copy.write_row([*(values[name] for name in columns), now, now])
                async with cursor.copy(
                    "COPY daily_entries (day, paper_id, upvotes, first_seen, updated_at) FROM STDIN"
                ) as copy:
                    for paper in papers:
                        if paper.day:
                            await copy.write_row([paper.day.isoformat(), paper.id, paper.upvotes, now, now])
        self.papers_version += 1
        return len(papers)

    async def record_scrape_run(self, run: ScrapeRun) -> None:
        """Record a fetch that wrote no papers (failed, empty, or markup changed)."""
        async with self.transaction() as conn:
            await _insert_run(conn, run, new=run.new, updated=run.updated)

    async def get_paper(self, paper_id: str) -> Paper | None:
        """The cached paper with this arXiv id, if any."""
        row = await self._fetchone(f"SELECT {PAPER_COLUMNS} FROM papers WHERE id = %s", (paper_id,))
        return paper_from_row(row) if row else None

    async def get_papers(self, paper_ids: Sequence[str]) -> list[Paper]:
        """The cached papers with these ids, in the order asked (missing ones left out)."""
        rows = await self._fetchall(f"SELECT {PAPER_COLUMNS} FROM papers WHERE id = ANY(%s)", (list(paper_ids),))
        found = {row[0]: paper_from_row(row) for row in rows}
        return [found[pid] for pid in paper_ids if pid in found]

    async def papers_of_day(self, day: dt.date) -> list[Paper]:
        """Papers featured on `day`, most upvoted first, with that day's upvotes."""
        rows = await self._fetchall(
            f"SELECT {P_COLUMNS}, e.upvotes FROM daily_entries e JOIN papers p ON p.id = e.paper_id "
            'WHERE e.day = %s ORDER BY e.upvotes DESC, p.id COLLATE "C"',
            (day.isoformat(),),
        )
        return [replace(paper_from_row(row), upvotes=row[PAPER_COLUMN_COUNT], day=day) for row in rows]

    async def daily_entries(self, day: dt.date) -> list[DailyEntry]:
        """The entries recorded for `day`."""
        rows = await self._fetchall(
            'SELECT day, paper_id, upvotes FROM daily_entries WHERE day = %s ORDER BY paper_id COLLATE "C"',
            (day.isoformat(),),
        )
        return [DailyEntry(dt.date.fromisoformat(r[0]), r[1], r[2]) for r in rows]

    async def delete_paper(self, paper_id: str) -> bool:
        """Remove a paper and its entries; True if it existed."""
        async with self.transaction() as conn:
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (PAPERS_WRITE_LOCK,))
            deleted = (await conn.execute("DELETE FROM papers WHERE id = %s", (paper_id,))).rowcount
        if deleted:
            self.papers_version += 1
        return deleted > 0

    async def counts(self) -> StoreCounts:
        """Row counts for status output."""
        row = await self._fetchone(
            "SELECT (SELECT count(*) FROM papers), (SELECT count(DISTINCT day) FROM daily_entries), "
            "(SELECT count(*) FROM daily_entries), (SELECT count(*) FROM digest_settings), "
            "(SELECT count(*) FROM subscriptions)"
        )
        assert row is not None
        return StoreCounts(*(int(v) for v in row))

    async def newest_day(self) -> dt.date | None:
        """The most recent Daily Papers day with entries."""
        row = await self._fetchone("SELECT max(day) FROM daily_entries")
        return stored_date(row[0]) if row else None

    async def last_scrape_run(self, day: dt.date | None = None, source: str | None = None) -> ScrapeRun | None:
        """The latest recorded fetch (of `day`, from `source`, if given)."""
        runs = await self.scrape_runs(limit=1, day=day, source=source)
        return runs[0] if runs else None

    async def scrape_runs(
        self, limit: int = 50, day: dt.date | None = None, source: str | None = None
    ) -> list[ScrapeRun]:
        """The most recent scrape runs (of `day`, from `source`, if given), newest first."""
        conditions, params = runs_filter(day, source, "%s")
        rows = await self._fetchall(
            f"SELECT {RUN_COLUMNS} FROM scrape_runs {conditions} ORDER BY id DESC LIMIT %s", (*params, limit)
        )
        return [run_from_row(row) for row in rows]


async def _rows_by_id(conn: psycopg.AsyncConnection[Any], ids: list[str]) -> dict[str, dict[str, Any]]:
    cursor = conn.cursor(row_factory=dict_row)
    await cursor.execute(f"SELECT {PAPER_COLUMNS} FROM papers WHERE id = ANY(%s)", (ids,))
    return {row["id"]: row for row in await cursor.fetchall()}


async def _insert_run(conn: psycopg.AsyncConnection[Any], run: ScrapeRun, *, new: int, updated: int) -> None:
    await conn.execute(
        "INSERT INTO scrape_runs (source, day, started, finished, outcome, fetched, new, updated, skipped, error) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        run_values(run, new=new, updated=updated),
    )
