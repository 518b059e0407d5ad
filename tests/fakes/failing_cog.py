"""A test-only extension with a command that fails, to exercise the tree error handler."""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import UserError

log = logging.getLogger(__name__)


class Failing(commands.Cog):
    """Commands that raise."""

    @app_commands.command(name="boom", description="Raises an unexpected error")
    async def boom(self, interaction: discord.Interaction) -> None:
        """Fail like a bug would."""
        raise RuntimeError("kaboom")

    @app_commands.command(name="oops", description="Raises a user error")
    async def oops(self, interaction: discord.Interaction) -> None:
        """Fail like bad input would."""
        raise UserError("That is not how this works: try again with a number.")


async def setup(bot: commands.Bot) -> None:
    """Extension entry point."""
    await bot.add_cog(Failing())
