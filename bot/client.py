"""PaperBot: the discord.py client that owns nothing but borrows the store and HTTP client it is given."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import json
import logging
import signal
from collections.abc import Iterable
from typing import Any, Literal

import aiohttp
import discord
import httpx
import yarl
from discord import app_commands
from discord.ext import commands

from bot.clock import Clock, SystemClock
from bot.config import Config
from bot.errors import BadQuery, UserError
from bot.outbox import SendError, ShuttingDown
from bot.post_limiter import PostLimiter
from bot.render import CONTENT_LIMIT, ELLIPSIS, NO_MENTIONS, MessagePayload, plural, query_error_text
from bot.scrape import DayReport, Scraper, ScrapeSummary
from bot.scrape_sources import build_scraper
from bot.search.factory import SearchEngine, open_search
from bot.services.leader import ScheduledWork, leadership_for
from bot.services.tasks import STOP_TIMEOUT, BackgroundTasks, favour_interactive_threads, freeze_start_up_objects
from bot.similar import SimilarPapers
from bot.store import AnyStore

log = logging.getLogger(__name__)

EXTENSIONS: tuple[str, ...] = (
    "cogs.admin",
    "cogs.scraper",
    "cogs.digest",
    "cogs.search",
    "cogs.alerts",
)

COMMAND_HASH_KEY = "global_command_hash"

# Discord allows 50 requests per second per bot; posts the bot makes on its own stay just under it,
# evenly spaced, leaving room for interaction replies (which Discord does not count globally).
POSTS_PER_SECOND = 48.0
# At most this many of the bot's own requests reach Discord in any one second: one under the limit of 50,
# left for the few requests outside the pace (command sync, the gateway's URL).
POSTS_PER_WINDOW = 49

LOGIN_REJECTED = "Discord rejected the token (401 Unauthorized)"
GATEWAY_AUTHENTICATION_FAILED = 4004  # the gateway's close code for a token it no longer accepts
THREAD_ALREADY_CREATED = 160004  # Discord's code when a message already has a thread
THREAD_CHANNEL_TYPES = (10, 11, 12)  # news, public and private thread channels
THREAD_ARCHIVE_MINUTES: Literal[1440] = 1440  # a discussion thread hides after a day without messages


async def _no_wait(grace: float) -> None:
    """Stopping what has nothing running."""


def make_post_limiter(posts_per_second: float = POSTS_PER_SECOND) -> PostLimiter:
    """The pace of the bot's own posts, never over Discord's global limit in any second however they bunch."""
    return PostLimiter(posts_per_second, window_limit=POSTS_PER_WINDOW)


def part_to_kwargs(part: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments for `Messageable.send` from a stored part."""
    kwargs: dict[str, Any] = {
        "content": part.get("content"),
        "embeds": [discord.Embed.from_dict(data) for data in part.get("embeds", [])],
        "allowed_mentions": NO_MENTIONS,
    }
    if part.get("components"):
        kwargs["view"] = components_view(part["components"])
    return kwargs


def dispatch_only_view() -> discord.ui.View:
    """An empty view for controls that persistent (dynamic) items answer, found by their custom ids on any
    click. Stopped before it is sent, so discord.py does not keep it: it would hold a private followup's
    view for 15 minutes, and a busy bot sends thousands."""
    view = discord.ui.View(timeout=None)
    view.stop()
    return view


def components_view(rows: list[dict[str, Any]]) -> discord.ui.View:
    """Stored action rows as a view to send, answered by the persistent items registered for them."""
    view = dispatch_only_view()
    for row_number, row in enumerate(rows):
        for component in row.get("components", []):
            if component.get("type") == discord.ComponentType.button.value:
                view.add_item(discord.ui.Button(
                    label=component.get("label"), custom_id=component.get("custom_id"), row=row_number,
                    style=discord.ButtonStyle(component.get("style", discord.ButtonStyle.secondary.value)),
                ))  # fmt: skip
            elif component.get("type") == discord.ComponentType.select.value:
                options = [
                    discord.SelectOption(label=o["label"], value=o["value"], description=o.get("description"))
                    for o in component.get("options", [])
                ]
                view.add_item(discord.ui.Select(
                    custom_id=component["custom_id"], placeholder=component.get("placeholder"), options=options,
                    row=row_number,
                ))  # fmt: skip
    return view


def _same_message(message: discord.Message, part: dict[str, Any]) -> bool:
    wanted = [(e.get("title"), e.get("description")) for e in part.get("embeds", [])]
    shown = [(e.title, e.description) for e in message.embeds]
    return (message.content or None) == (part.get("content") or None) and shown == wanted


class DiscordTransport:
    """The outbox's way into Discord: posts with nonces, paced under the global limit, errors classified."""

    def __init__(self, bot: commands.Bot | commands.AutoShardedBot, posts_per_second: float = POSTS_PER_SECOND) -> None:
        self.bot = bot
        # Digests and alerts post at the same time: every transport of one PaperBot shares its pace.
        shared = bot.post_limiter if isinstance(bot, PaperBot) else None
        self.limiter = shared or make_post_limiter(posts_per_second)

    async def send(self, channel_id: int, part: dict[str, Any], nonce: str) -> int:
        """Post one part; raise SendError (permanent for a gone channel or a missing permission)."""
        channel = self.bot.get_partial_messageable(channel_id)
        self._refuse_if_stopping()
        try:
            async with self.limiter.slot():
                self._refuse_if_stopping()
                message = await channel.send(nonce=nonce, **part_to_kwargs(part))
        except discord.NotFound as exc:
            raise SendError("the channel no longer exists", permanent=True) from exc
        except discord.Forbidden as exc:
            raise SendError(
                "the bot may not post there (needs View Channel, Send Messages and Embed Links)", permanent=True
            ) from exc
        except discord.HTTPException as exc:
            if exc.status == 401:
                raise self._token_rejected() from exc
            permanent = 400 <= exc.status < 500 and exc.status != 429
            raise SendError(f"Discord answered {exc.status}: {exc.text[:200]}", permanent=permanent) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SendError(f"could not reach Discord: {type(exc).__name__}", permanent=False) from exc
        return message.id

    def _refuse_if_stopping(self) -> None:
        """A stopping bot starts no new post: what was not sent stays pending for the next start."""
        if isinstance(self.bot, PaperBot) and self.bot.stopping:
            raise ShuttingDown()

    def _token_rejected(self) -> SendError:
        """A 401: the token was revoked. Stop the bot; the delivery stays open, due at the next start."""
        if isinstance(self.bot, PaperBot):
            self.bot.stop_for(discord.LoginFailure(LOGIN_REJECTED))
        return ShuttingDown(LOGIN_REJECTED)

    async def find_sent(self, channel_id: int, part: dict[str, Any], since: dt.datetime) -> int | None:
        """Look through the bot's messages since `since` for one equal to `part`."""
        channel = self.bot.get_partial_messageable(channel_id)
        after = discord.Object(id=discord.utils.time_snowflake(since - dt.timedelta(minutes=1)))
        # Lookups count against the same global limit as posts: a restart resuming many at once must not trip it.
        self._refuse_if_stopping()
        try:
            async with self.limiter.slot():  # one request: up to 100 messages
                self._refuse_if_stopping()
                messages = [message async for message in channel.history(limit=100, after=after)]
            for message in messages:
                if self.bot.user and message.author.id == self.bot.user.id and _same_message(message, part):
                    return message.id
        except discord.NotFound as exc:
            raise SendError("the channel no longer exists", permanent=True) from exc
        except discord.Forbidden:
            # Without Read Message History we cannot verify; the nonce still guards against a duplicate.
            return None
        except discord.HTTPException as exc:
            if exc.status == 401:
                raise self._token_rejected() from exc
            raise SendError(f"could not check the channel: {exc}", permanent=False) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SendError(f"could not check the channel: {exc}", permanent=False) from exc
        return None

    async def open_thread(self, channel_id: int, message_id: int, name: str) -> int:
        """Open a public thread on a message; an existing one (same id as the message) is returned, not doubled."""
        self._refuse_if_stopping()
        try:
            async with self.limiter.slot():
                self._refuse_if_stopping()
                existing = await self._existing_thread(message_id)
            if existing is not None:
                return existing
            async with self.limiter.slot():
                self._refuse_if_stopping()
                thread = await self.bot.http.start_thread_with_message(
                    channel_id, message_id, name=name, auto_archive_duration=THREAD_ARCHIVE_MINUTES
                )
            return int(thread["id"])
        except discord.Forbidden as exc:
            raise SendError("the bot may not open threads there (needs Create Public Threads)", permanent=True) from exc
        except discord.NotFound as exc:
            raise SendError("the message or its channel no longer exists", permanent=True) from exc
        except discord.HTTPException as exc:
            if exc.code == THREAD_ALREADY_CREATED:
                return message_id  # a thread started from a message takes the message's id
            if exc.status == 401:
                raise self._token_rejected() from exc
            permanent = 400 <= exc.status < 500 and exc.status != 429
            reason = f"Discord refused the thread ({exc.status}): {exc.text[:200]}"
            raise SendError(reason, permanent=permanent) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SendError(f"could not reach Discord: {type(exc).__name__}", permanent=False) from exc

    async def _existing_thread(self, message_id: int) -> int | None:
        """The thread already started from a message: Discord gives it the message's id."""
        try:
            channel = await self.bot.http.get_channel(message_id)
        except (discord.NotFound, discord.Forbidden):
            return None
        return int(channel["id"]) if channel.get("type") in THREAD_CHANNEL_TYPES else None


class CurrentScraper:
    """The bot's scraper as the services see it: always the one the bot holds now (it may be replaced)."""

    def __init__(self, bot: PaperBot) -> None:
        self.bot = bot

    async def scrape_day(self, day: dt.date) -> DayReport:
        """Fetch one day into the store."""
        return await self.bot.scraper.scrape_day(day)

    async def scrape_days(self, days: Iterable[dt.date]) -> ScrapeSummary:
        """Fetch several days into the store."""
        return await self.bot.scraper.scrape_days(days)


def point_discord_at(api_base: str, gateway_url: str) -> None:
    """Send discord.py's REST calls and gateway connection to the configured endpoints."""
    discord.http.Route.BASE = api_base.rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


def minimal_intents() -> discord.Intents:
    """Guild structure only: no message content, no members, no presences."""
    intents = discord.Intents.none()
    intents.guilds = True
    return intents


class PaperTree(app_commands.CommandTree["PaperBot"]):
    """Command tree whose single error handler turns known errors into ephemeral replies."""

    async def interaction_check(self, interaction: discord.Interaction[PaperBot]) -> bool:
        """Refuse guild-only commands outside a server, even when a client offers them there."""
        command = interaction.command
        if interaction.guild_id is not None or not isinstance(command, app_commands.Command):
            return True
        root = command.root_parent or command
        if not (command.guild_only or root.guild_only):
            return True
        if interaction.type is discord.InteractionType.autocomplete:
            return False  # no suggestions; the command itself is refused when sent
        raise app_commands.NoPrivateMessage()

    async def on_error(self, interaction: discord.Interaction[PaperBot], error: app_commands.AppCommandError) -> None:
        """Answer the user with what went wrong; log what they cannot fix."""
        message = describe_error(error)
        if message is None:
            command = interaction.command.qualified_name if interaction.command else "?"
            log.exception("command /%s failed", command, exc_info=error)
            message = "Something went wrong on our side; it has been logged. Please try again later."
        await send_ephemeral(interaction, message)


def describe_error(error: BaseException) -> str | None:
    """The user-facing text for a known error, or None for a bug."""
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    if isinstance(error, BadQuery):
        return query_error_text(error.query, error.error)
    if isinstance(error, UserError):
        return str(error)
    if isinstance(error, app_commands.MissingPermissions):
        needed = ", ".join(p.replace("_", " ").title() for p in error.missing_permissions)
        return f"You need the {needed} permission to do this."
    if isinstance(error, app_commands.BotMissingPermissions):
        needed = ", ".join(p.replace("_", " ").title() for p in error.missing_permissions)
        return f"I need the {needed} permission in this channel."
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Slow down: try again in {error.retry_after:.0f} s."
    if isinstance(error, app_commands.NoPrivateMessage):
        return "This command only works in a server channel."
    if isinstance(error, app_commands.CheckFailure):
        return str(error) or "You can't use this command here."
    if isinstance(error, app_commands.TransformerError):
        if error.type is discord.AppCommandOptionType.channel:
            return "That channel isn't one I can use here: pick a text channel of this server."
        return f"{error.value!r} is not a valid value for this option."
    # Bad queries come from the shared query language; imported here to keep the tree free of it otherwise.
    from bot.query import QueryError

    if isinstance(error, QueryError):  # raised where the query text was not kept: no caret to show
        return f"That query cannot be read: {error.message} (character {error.position + 1}). {error.hint}"
    return None


async def send_ephemeral(interaction: discord.Interaction[Any], content: str, **kwargs: Any) -> None:
    """Reply privately, whether or not the interaction was already answered or deferred."""
    # Error messages may quote what the user typed (up to 6000 characters); Discord refuses over 2000.
    if len(content) > CONTENT_LIMIT:
        content = content[: CONTENT_LIMIT - 1] + ELLIPSIS
    if interaction.client.is_closed():
        # Shutting down (e.g. the token was revoked): the HTTP session is gone and no reply can be sent.
        log.warning("not answering interaction %s: the bot is shutting down", interaction.id)
        return
    try:
        if interaction.response.is_done():
            await interaction.followup.send(content, ephemeral=True, allowed_mentions=NO_MENTIONS, **kwargs)
        else:
            await interaction.response.send_message(content, ephemeral=True, allowed_mentions=NO_MENTIONS, **kwargs)
    except discord.HTTPException:
        log.warning("could not deliver an error reply for interaction %s", interaction.id)


async def send_private_followups(interaction: discord.Interaction[Any], payloads: list[MessagePayload]) -> None:
    """Send messages only the caller sees, after the interaction was deferred ephemerally."""
    for payload in payloads:
        await interaction.followup.send(
            content=payload.content or discord.utils.MISSING,
            embeds=list(payload.embeds),
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )


class PaperBot(commands.AutoShardedBot):
    """The bot: loads the cogs, syncs the command tree, and shares the store and HTTP client.

    It runs the configured shards (all of them by default) on one gateway connection each; the scheduled
    work runs only while this process leads (`leadership`), which the only process always does on SQLite.
    """

    def __init__(
        self,
        config: Config,
        store: AnyStore,
        http_client: httpx.AsyncClient,
        *,
        clock: Clock | None = None,
        scraper: Scraper | None = None,
        extensions: tuple[str, ...] = EXTENSIONS,
        guild_ready_timeout: float = 2.0,
    ) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=minimal_intents(),
            help_command=None,
            tree_cls=PaperTree,
            allowed_mentions=NO_MENTIONS,
            guild_ready_timeout=guild_ready_timeout,
            shard_count=config.discord.shard_count or None,
            shard_ids=list(config.discord.shard_ids) or None,  # type: ignore[arg-type]  # None: all shards
        )
        self.config = config
        self.store = store
        # The one search engine of this bot, for its store's backend (SQLite: its title index warms after login).
        self.search: SearchEngine = open_search(store)
        # Similar papers keep the counts of the index's frequent terms between lookups.
        self.similar = SimilarPapers(store)
        self.http_client = http_client
        self.clock: Clock = clock or SystemClock()
        self.started_at = self.clock.now()
        self.next_scrape_at: dt.datetime | None = None
        self.post_limiter = make_post_limiter()
        # Why the bot closed itself (e.g. the token was revoked while running); `run_bot` raises it.
        self.fatal_error: BaseException | None = None
        self.scraper = scraper or build_scraper(store, http_client, config, clock=self.clock.now)
        self._extensions = extensions
        self.leadership = leadership_for(config.database.url, self.clock)
        if config.database.url:
            # A process taking over from a dead leader first lets that leader's last posts leave Discord's window.
            self.leadership.add(ScheduledWork("post window", start=self.post_limiter.fill_window, stop=_no_wait))
        self.tasks = BackgroundTasks("bot")
        # Set when closing starts: services get until then + STOP_TIMEOUT to finish the work under way.
        self._stopping_at: float | None = None

    @property
    def stopping(self) -> bool:
        """Whether the bot is shutting down (no new posts start)."""
        return self._stopping_at is not None

    def shutdown_budget(self) -> float:
        """Seconds left for the services to finish work under way; the whole stop is bounded by STOP_TIMEOUT."""
        if self._stopping_at is None:
            return STOP_TIMEOUT
        return max(0.0, self._stopping_at + STOP_TIMEOUT - asyncio.get_running_loop().time())

    async def close(self) -> None:
        """Stop the title index build and the services (bounded wait for posts under way), then disconnect."""
        if self._stopping_at is None:
            self._stopping_at = asyncio.get_running_loop().time()
        await self.search.close()
        await super().close()
        await self.leadership.close()

    async def setup_hook(self) -> None:
        """Start warming the title index, load the extensions, compete for leadership, then sync commands."""
        if self.shard_count is None:
            # Asked here rather than by discord.py, which would then connect to the URL in the answer
            # instead of the configured gateway.
            self.shard_count = (await self.http.get_bot_gateway())[0]
        self.search.start_warming()
        for name in self._extensions:
            await self.load_extension(name)
        self.leadership.begin(tuple(self.shard_ids or range(self.shard_count)), self.shard_count)
        await self.sync_commands()

    def command_payload(self) -> list[dict[str, Any]]:
        """The JSON Discord receives for the global command set."""
        return [command.to_dict(self.tree) for command in self.tree.get_commands()]

    async def sync_commands(self) -> None:
        """Sync to dev guilds (instant) when configured; else globally, only if the commands changed."""
        names = ", ".join(f"/{command.name}" for command in self.tree.get_commands())
        if self.config.discord.dev_guild_ids:
            for guild_id in self.config.discord.dev_guild_ids:
                guild = discord.Object(id=guild_id)
                self.tree.copy_global_to(guild=guild)
                await self.tree.sync(guild=guild)
            guilds = ", ".join(str(guild_id) for guild_id in self.config.discord.dev_guild_ids)
            count = plural(len(self.config.discord.dev_guild_ids), "dev guild")
            log.info("synced commands %s to %s %s: usable there now", names, count, guilds)
            return
        digest = hashlib.sha256(json.dumps(self.command_payload(), sort_keys=True, default=str).encode()).hexdigest()
        if await self.store.get_meta(COMMAND_HASH_KEY) == digest:
            log.info("global commands %s unchanged since the last sync; not syncing", names)
            return
        await self.tree.sync()
        await self.store.set_meta(COMMAND_HASH_KEY, digest)
        log.info(
            "synced commands %s globally: Discord may take up to an hour to show changes "
            "(set dev_guild_ids for instant sync to test servers)",
            names,
        )

    def uptime(self) -> dt.timedelta:
        """How long this bot has been running."""
        return self.clock.now() - self.started_at

    def stop_for(self, error: BaseException) -> None:
        """Close the bot because of `error` (the first one wins), which `run_bot` then raises."""
        if self.fatal_error is not None:
            return
        log.error("shutting down: %s", error)
        self.fatal_error = error
        self.tasks.spawn(self.close(), name="close")


async def run_bot(config: Config, store: AnyStore, http_client: httpx.AsyncClient) -> None:
    """Run the bot until it is closed or a SIGTERM/SIGINT arrives; raises LoginFailure on a bad token."""
    point_discord_at(config.discord.api_base, config.discord.gateway_url)
    favour_interactive_threads()
    bot = PaperBot(config, store, http_client)
    loop = asyncio.get_running_loop()
    stop_signals = (signal.SIGTERM, signal.SIGINT)
    for sig in stop_signals:
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, _request_close, bot, sig)
    try:
        async with bot:
            bot.tasks.spawn(freeze_start_up_objects(bot.wait_until_ready, bot.search.start_warming), name="freeze")
            await bot.start(config.discord.token)
    except discord.ConnectionClosed as exc:
        if exc.code == GATEWAY_AUTHENTICATION_FAILED:
            raise discord.LoginFailure(LOGIN_REJECTED) from exc
        raise
    finally:
        for sig in stop_signals:
            with contextlib.suppress(NotImplementedError):
                loop.remove_signal_handler(sig)
    if bot.fatal_error is not None:
        raise bot.fatal_error


def _request_close(bot: PaperBot, sig: signal.Signals) -> None:
    log.warning("received %s; shutting down", sig.name)
    bot.tasks.spawn(bot.close(), name=f"close-on-{sig.name}")
