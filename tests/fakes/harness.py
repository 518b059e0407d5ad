"""The whole bot in one test: real PaperBot + real discord.py + real httpx against the loopback fakes."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from bot.client import EXTENSIONS, PaperBot
from bot.config import Config, DatabaseConfig, DiscordConfig, HuggingFaceConfig, ScraperConfig
from bot.scrape import Scraper, ScrapeSummary
from bot.sources.http import PoliteClient
from bot.sources.huggingface import HuggingFaceSource
from bot.store import AnyStore, open_store
from tests.fakes.clock import ManualClock
from tests.fakes.discord_interaction_result import InteractionResult
from tests.fakes.discord_model import FakeChannel, FakeGuild, FakeMember, FakeUser
from tests.fakes.discord_records import UPDATE_MESSAGE, RecordedMessage
from tests.fakes.discord_server import FakeDiscord, point_discord_at
from tests.fakes.hf_server import FakeHuggingFace

log = logging.getLogger(__name__)

START = dt.datetime(2026, 6, 13, 6, 0, tzinfo=dt.UTC)  # the morning after the fixture day 2026-06-12
READY_TIMEOUT = 10.0


async def wait_until(predicate: Callable[[], bool], *, timeout: float = 5.0, what: str = "condition") -> None:
    """Yield to the event loop until `predicate()` holds; fail after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def eventually(check: Callable[[], Awaitable[bool]], *, timeout: float = 5.0, what: str = "condition") -> None:
    """Re-evaluate an async check (e.g. a store read) until it holds; fail after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def open_card(
    discord: FakeDiscord,
    listing: RecordedMessage | InteractionResult,
    menu_id: str,
    paper_id: str,
    *,
    as_user: FakeMember | FakeUser,
) -> RecordedMessage:
    """Pick a paper in a list's card menu and return the card it opens: the answer to the pick, or its
    followup when the answer renamed the list's "Post to channel" button (an update of the list)."""
    picked = await discord.select(listing, menu_id, [paper_id], as_user=as_user)
    if picked.callback_type == UPDATE_MESSAGE:
        (card,) = await picked.wait_followups(1)
        return card
    return await picked.wait_final()


@dataclasses.dataclass
class BotHarness:
    """A running bot and the world around it. Build with `await BotHarness.create(tmp_path)`."""

    discord: FakeDiscord
    hf: FakeHuggingFace
    clock: ManualClock
    store: AnyStore
    config: Config
    guild: FakeGuild
    admin: FakeMember
    member: FakeMember
    channel: FakeChannel
    other_channel: FakeChannel
    other_guild: FakeGuild
    foreign_channel: FakeChannel
    http_client: httpx.AsyncClient
    extensions: tuple[str, ...] = EXTENSIONS
    bot: PaperBot | None = None
    _task: asyncio.Task[None] | None = None
    _pointer: Any = None

    @classmethod
    async def create(
        cls,
        tmp_path: Path,
        *,
        start: dt.datetime = START,
        extra_extensions: tuple[str, ...] = (),
        **config_changes: Any,
    ) -> BotHarness:
        """Start both fakes, open a fresh store, and start the bot (already ready and past its first scrape)."""
        discord_server = await FakeDiscord().start()
        hf = FakeHuggingFace()
        await hf.start()
        guild = discord_server.add_guild("Lab")
        channel = discord_server.add_text_channel(guild, "papers")
        other_channel = discord_server.add_text_channel(guild, "general")
        admin = discord_server.add_member(guild, "admin", admin=True)
        member = discord_server.add_member(guild, "member")
        other_guild = discord_server.add_guild("Elsewhere")
        foreign_channel = discord_server.add_text_channel(other_guild, "theirs")
        config = Config(
            discord=DiscordConfig(
                token=discord_server.token, api_base=discord_server.api_base, gateway_url=discord_server.gateway_url
            ),
            database=DatabaseConfig(path=str(tmp_path / "paperboy.db")),
            huggingface=HuggingFaceConfig(base_url=hf.base_url),
            scraper=ScraperConfig(interval_minutes=30, backfill_days=1, max_requests_per_minute=60000),
        )
        for section, values in config_changes.items():
            config = dataclasses.replace(config, **{section: dataclasses.replace(getattr(config, section), **values)})
        clock = ManualClock(start)
        # database={"url": ...} among the changes runs the bot on Postgres.
        store = await open_store(config.database, clock=clock)
        harness = cls(
            discord=discord_server,
            hf=hf,
            clock=clock,
            store=store,
            config=config,
            guild=guild,
            admin=admin,
            member=member,
            channel=channel,
            other_channel=other_channel,
            other_guild=other_guild,
            foreign_channel=foreign_channel,
            http_client=httpx.AsyncClient(timeout=5.0),
            extensions=EXTENSIONS + extra_extensions,
        )
        harness._pointer = point_discord_at(discord_server)
        harness._pointer.__enter__()
        await harness.start_bot()
        return harness

    def make_scraper(self) -> Scraper:
        """A scraper with quick retries against the loopback Hugging Face."""
        polite = PoliteClient(
            self.http_client,
            max_requests_per_minute=60000,
            max_attempts=3,
            backoff_base=0.01,
            backoff_max=0.05,
            retry_after_max=2.0,
        )
        return Scraper(self.store, HuggingFaceSource(polite, self.hf.base_url), clock=self.clock.now)

    async def start_bot(self) -> PaperBot:
        """Start a fresh PaperBot on the same database and wait until it is ready and has scraped once."""
        bot = PaperBot(
            self.config,
            self.store,
            self.http_client,
            clock=self.clock,
            scraper=self.make_scraper(),
            guild_ready_timeout=0.2,
            extensions=self.extensions,
        )
        self.bot = bot
        self._task = asyncio.create_task(bot.start(self.config.discord.token), name="paperbot")
        ready = asyncio.create_task(bot.wait_until_ready())
        done, _ = await asyncio.wait({ready, self._task}, timeout=READY_TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
        if self._task in done:
            ready.cancel()
            self._task.result()  # raises the start error
        if ready not in done:
            ready.cancel()
            raise AssertionError("the bot did not become ready")
        scraper = bot.get_cog("ScraperCog")
        if scraper is not None:
            refresher = scraper.refresher  # type: ignore[attr-defined]
            await wait_until(lambda: refresher.finished_runs > 0, what="the first scrape")
        if bot.search.warming is not None:  # the title index: built before a test starts, so results are steady
            await asyncio.wait({bot.search.warming}, timeout=READY_TIMEOUT)
        search = bot.get_cog("SearchCog")
        if search is not None:  # the index merge that follows the first scrape: settled before a test starts
            index = search.index  # type: ignore[attr-defined]
            await wait_until(lambda: index.merging is not None, what="the index merge")
            await asyncio.wait({index.merging}, timeout=READY_TIMEOUT)
        return bot

    async def stop_bot(self) -> None:
        """Close the bot as SIGTERM would (the store stays open)."""
        if self.bot is not None:
            await self.bot.close()
        if self._task is not None:
            await asyncio.wait({self._task}, timeout=READY_TIMEOUT)
            if self._task.done() and not self._task.cancelled() and self._task.exception() is not None:
                log.info("the bot stopped with %r", self._task.exception())
        self.bot, self._task = None, None

    async def restart(self) -> PaperBot:
        """Stop the bot and start a new one on the same database."""
        await self.stop_bot()
        return await self.start_bot()

    @property
    def running(self) -> PaperBot:
        """The running bot."""
        assert self.bot is not None, "the bot is not running"
        return self.bot

    async def scrape(self) -> ScrapeSummary:
        """Run one scrape cycle (yesterday and today) and dispatch `papers_scraped`, as the loop does."""
        from cogs.scraper import ScraperCog

        cog = self.running.get_cog("ScraperCog")
        assert isinstance(cog, ScraperCog)
        return await cog.refresh()

    async def close(self) -> None:
        """Stop everything."""
        await self.stop_bot()
        await self.store.close()
        await self.http_client.aclose()
        await self.hf.stop()
        await self.discord.close()
        if self._pointer is not None:
            self._pointer.__exit__(None, None, None)
