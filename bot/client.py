"""PaperBot: the discord.py client that owns nothing but borrows the store and HTTP client it is given."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import json
import logging
import signal
from typing import Any

import discord
import httpx
import yarl
from discord import app_commands
from discord.ext import commands

from bot.config import Config
from bot.errors import UserError
from bot.clock import Clock, SystemClock
from bot.render import NO_MENTIONS
from bot.store import Store

log = logging.getLogger(__name__)

EXTENSIONS: tuple[str, ...] = (
    "cogs.admin",
)

COMMAND_HASH_KEY = "global_command_hash"

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

    async def on_error(
        self, interaction: discord.Interaction[PaperBot], error: app_commands.AppCommandError
    ) -> None:
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
        return f"{error.value!r} is not a valid value for this option."
    # Bad queries come from the shared query language; imported here to keep the tree free of it otherwise.
    from bot.query import QueryError

    if isinstance(error, QueryError):
        return str(error)
    return None


async def send_ephemeral(interaction: discord.Interaction[Any], content: str, **kwargs: Any) -> None:
    """Reply privately, whether or not the interaction was already answered or deferred."""
    try:
        if interaction.response.is_done():
            await interaction.followup.send(content, ephemeral=True, allowed_mentions=NO_MENTIONS, **kwargs)
        else:
            await interaction.response.send_message(
                content, ephemeral=True, allowed_mentions=NO_MENTIONS, **kwargs
            )
    except discord.HTTPException:
        log.warning("could not deliver an error reply for interaction %s", interaction.id)


class PaperBot(commands.Bot):
    """The bot: loads the cogs, syncs the command tree, and shares the store and HTTP client."""

    def __init__(
        self,
        config: Config,
        store: Store,
        http_client: httpx.AsyncClient,
        *,
        clock: Clock | None = None,
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
        )
        self.config = config
        self.store = store
        self.http_client = http_client
        self.clock: Clock = clock or SystemClock()
        self.started_at = self.clock.now()
        self.next_scrape_at: dt.datetime | None = None
        self._extensions = extensions

    async def setup_hook(self) -> None:
        """Load the extensions, then sync commands."""
        for name in self._extensions:
            await self.load_extension(name)
        await self.sync_commands()

    def command_payload(self) -> list[dict[str, Any]]:
        """The JSON Discord receives for the global command set."""
        return [command.to_dict(self.tree) for command in self.tree.get_commands()]

    async def sync_commands(self) -> None:
        """Sync to dev guilds (instant) when configured; else globally, only if the commands changed."""
        if self.config.discord.dev_guild_ids:
            for guild_id in self.config.discord.dev_guild_ids:
                guild = discord.Object(id=guild_id)
                self.tree.copy_global_to(guild=guild)
                synced = await self.tree.sync(guild=guild)
                log.info("synced %d commands to guild %s", len(synced), guild_id)
            return
        digest = hashlib.sha256(
            json.dumps(self.command_payload(), sort_keys=True, default=str).encode()
        ).hexdigest()
        if await self.store.get_meta(COMMAND_HASH_KEY) == digest:
            log.info("global commands unchanged; not syncing")
            return
        synced = await self.tree.sync()
        await self.store.set_meta(COMMAND_HASH_KEY, digest)
        log.info("synced %d global commands", len(synced))

    def uptime(self) -> dt.timedelta:
        """How long this bot has been running."""
        return self.clock.now() - self.started_at


async def run_bot(config: Config, store: Store, http_client: httpx.AsyncClient) -> None:
    """Run the bot until it is closed or a SIGTERM/SIGINT arrives; raises LoginFailure on a bad token."""
    point_discord_at(config.discord.api_base, config.discord.gateway_url)
    bot = PaperBot(config, store, http_client)
    loop = asyncio.get_running_loop()
    stop_signals = (signal.SIGTERM, signal.SIGINT)
    for sig in stop_signals:
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, lambda s=sig: _request_close(bot, s))
    try:
        async with bot:
            await bot.start(config.discord.token)
    finally:
        for sig in stop_signals:
            with contextlib.suppress(NotImplementedError):
                loop.remove_signal_handler(sig)


def _request_close(bot: PaperBot, sig: signal.Signals) -> None:
    log.warning("received %s; shutting down", sig.name)
    asyncio.get_running_loop().create_task(bot.close())
