"""Checks shared by the commands: which channel a command acts on, and who (and the bot) may act there."""

from __future__ import annotations

import logging

import discord

from bot.client import PaperBot
from bot.errors import UserError

log = logging.getLogger(__name__)


def require_guild_text_channel(
    interaction: discord.Interaction[PaperBot], channel: discord.TextChannel | None, *, posts: str = "digests"
) -> discord.TextChannel:
    """The channel option, or the current channel; it must be a text channel of this guild."""
    guild = interaction.guild
    if guild is None:
        raise UserError("This command only works in a server channel.")
    target = channel if channel is not None else interaction.channel
    if not isinstance(target, discord.TextChannel):
        raise UserError(f"Pick a text channel of this server: {posts} can only be posted in text channels.")
    if target.guild.id != guild.id:
        raise UserError("That channel belongs to another server: pick one of this server's channels.")
    return target


def require_guild(interaction: discord.Interaction[PaperBot]) -> discord.Guild:
    """The guild the command was used in."""
    if interaction.guild is None:
        raise UserError("This command only works in a server channel.")
    return interaction.guild


def require_manage_channels(
    interaction: discord.Interaction[PaperBot], channel: discord.TextChannel, *, change: str = "its digest"
) -> None:
    """Refuse unless the user may manage `channel`."""
    user = interaction.user
    if not isinstance(user, discord.Member) or not channel.permissions_for(user).manage_channels:
        raise UserError(f"You need the Manage Channels permission in #{channel.name} to change {change}.")


def require_manage_channel_id(
    interaction: discord.Interaction[PaperBot], guild: discord.Guild, channel_id: int
) -> None:
    """Refuse unless the user may manage the channel (or, for a deleted channel, channels in general)."""
    channel = guild.get_channel(channel_id)
    if isinstance(channel, discord.TextChannel):
        require_manage_channels(interaction, channel, change="its alerts")
    elif not interaction.permissions.manage_channels:
        raise UserError("You need the Manage Channels permission to remove this alert.")


def require_bot_can_post(channel: discord.TextChannel) -> None:
    """Refuse if the bot could not post in `channel`."""
    me = channel.guild.me
    if me is None:
        return
    permissions = channel.permissions_for(me)
    needed = (
        ("View Channel", permissions.view_channel),
        ("Send Messages", permissions.send_messages),
        ("Embed Links", permissions.embed_links),
    )
    missing = [name for name, ok in needed if not ok]
    if missing:
        raise UserError(
            f"I can't post in #{channel.name}: I need the {', '.join(missing)} permission there. "
            "Grant it in the channel's settings and try again."
        )
