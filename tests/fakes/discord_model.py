"""The world held by the loopback Discord server: ids, users, guilds, roles, channels and permissions."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import discord

log = logging.getLogger(__name__)

DISCORD_EPOCH_MS = 1_420_070_400_000

# Channel types (Discord API numbering).
GUILD_TEXT = 0
DM = 1
GUILD_VOICE = 2
GUILD_CATEGORY = 4
GUILD_NEWS = 5

# Overwrite target types.
OVERWRITE_ROLE = 0
OVERWRITE_MEMBER = 1


def _bits(**flags: bool) -> int:
    return discord.Permissions(**flags).value


ALL_PERMISSIONS = discord.Permissions.all().value
ADMINISTRATOR = _bits(administrator=True)
VIEW_CHANNEL = _bits(view_channel=True)
SEND_MESSAGES = _bits(send_messages=True)
SEND_TTS_MESSAGES = _bits(send_tts_messages=True)
MANAGE_MESSAGES = _bits(manage_messages=True)
EMBED_LINKS = _bits(embed_links=True)
ATTACH_FILES = _bits(attach_files=True)
READ_MESSAGE_HISTORY = _bits(read_message_history=True)
MENTION_EVERYONE = _bits(mention_everyone=True)

# What a new server's @everyone role can do (close to Discord's default for new guilds).
DEFAULT_EVERYONE_PERMISSIONS = _bits(
    create_instant_invite=True,
    change_nickname=True,
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    create_public_threads=True,
    create_private_threads=True,
    embed_links=True,
    attach_files=True,
    add_reactions=True,
    external_emojis=True,
    external_stickers=True,
    read_message_history=True,
    use_application_commands=True,
    connect=True,
    speak=True,
    stream=True,
    use_voice_activation=True,
)

# What the bot's managed role grants (the usual invite-link scope for a message bot).
DEFAULT_BOT_PERMISSIONS = _bits(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    embed_links=True,
    attach_files=True,
    read_message_history=True,
    add_reactions=True,
    external_emojis=True,
    use_application_commands=True,
)

# Permissions Discord reports for an app in a DM with a user.
DM_PERMISSIONS = _bits(
    view_channel=True,
    send_messages=True,
    embed_links=True,
    attach_files=True,
    read_message_history=True,
    add_reactions=True,
    external_emojis=True,
    mention_everyone=True,
    use_application_commands=True,
)

# Without Send Messages, Discord implicitly removes these too.
_NEEDS_SEND = SEND_TTS_MESSAGES | MENTION_EVERYONE | EMBED_LINKS | ATTACH_FILES

PermissionsLike = int | discord.Permissions | str | Iterable[str] | None


def permission_bits(value: PermissionsLike) -> int:
    """Turn an int, a discord.Permissions or permission names ('manage_channels') into a bitfield."""
    if value is None:
        return 0
    if isinstance(value, discord.Permissions):
        return value.value
    if isinstance(value, bool):
        raise TypeError("permissions must be an int, discord.Permissions or permission names, not bool")
    if isinstance(value, int):
        return value
    names = [value] if isinstance(value, str) else list(value)
    bits = 0
    for name in names:
        if name not in discord.Permissions.VALID_FLAGS:
            raise ValueError(
                f"unknown permission {name!r}; use discord.Permissions attribute names such as 'manage_channels'"
            )
        bits |= discord.Permissions(**{name: True}).value
    return bits


class SnowflakeFactory:
    """Makes increasing, unique Discord snowflakes whose timestamp part is the current time."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> int:
        """Return a fresh snowflake."""
        candidate = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
        if candidate <= self._last:
            candidate = self._last + 1
        self._last = candidate
        return candidate

    def next_on_shard(self, shard_id: int, shard_count: int) -> int:
        """A fresh snowflake whose guild goes to this shard ((id >> 22) % count): a later millisecond if need be."""
        stamp = max(int(time.time() * 1000) - DISCORD_EPOCH_MS, (self._last >> 22) + 1)
        stamp += (shard_id - stamp) % shard_count
        self._last = stamp << 22
        return self._last


def iso(moment: dt.datetime) -> str:
    """Format a timestamp the way Discord does (ISO 8601 with offset)."""
    return moment.isoformat()


def utcnow() -> dt.datetime:
    """The current time, timezone-aware."""
    return dt.datetime.now(dt.UTC)


@dataclass(eq=False)
class FakeUser:
    """A Discord user (a person or the bot)."""

    id: int
    name: str
    bot: bool = False
    global_name: str | None = None

    @property
    def mention(self) -> str:
        """The `<@id>` mention text."""
        return f"<@{self.id}>"

    def to_payload(self) -> dict[str, Any]:
        """The user object as Discord sends it."""
        return {
            "id": str(self.id),
            "username": self.name,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
            "flags": 0,
        }

    def __repr__(self) -> str:
        return f"<FakeUser {self.name!r} id={self.id}>"


@dataclass(eq=False)
class FakeRole:
    """A guild role; the role whose id equals the guild id is @everyone."""

    id: int
    guild: FakeGuild
    name: str
    permissions: int
    position: int = 0
    managed: bool = False
    mentionable: bool = False
    bot_id: int | None = None

    @property
    def mention(self) -> str:
        """The `<@&id>` mention text."""
        return f"<@&{self.id}>"

    def to_payload(self) -> dict[str, Any]:
        """The role object as Discord sends it."""
        payload: dict[str, Any] = {
            "id": str(self.id),
            "name": self.name,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "managed": self.managed,
            "mentionable": self.mentionable,
            "flags": 0,
        }
        if self.bot_id is not None:
            payload["tags"] = {"bot_id": str(self.bot_id)}
        return payload

    def __repr__(self) -> str:
        return f"<FakeRole {self.name!r} id={self.id}>"


@dataclass(eq=False)
class FakeMember:
    """A user's membership of one guild."""

    user: FakeUser
    guild: FakeGuild
    roles: list[FakeRole] = field(default_factory=list)
    nick: str | None = None
    joined_at: dt.datetime = field(default_factory=utcnow)

    @property
    def id(self) -> int:
        """The user id."""
        return self.user.id

    @property
    def name(self) -> str:
        """The user name."""
        return self.user.name

    @property
    def mention(self) -> str:
        """The `<@id>` mention text."""
        return self.user.mention

    def to_payload(self, *, include_user: bool = True) -> dict[str, Any]:
        """The guild member object as Discord sends it."""
        payload: dict[str, Any] = {
            "roles": [str(role.id) for role in self.roles],
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "joined_at": iso(self.joined_at),
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        if include_user:
            payload["user"] = self.user.to_payload()
        return payload

    def __repr__(self) -> str:
        return f"<FakeMember {self.name!r} id={self.id} guild={self.guild.name!r}>"


@dataclass
class Overwrite:
    """A channel permission overwrite for one role or member."""

    id: int
    type: int
    allow: int = 0
    deny: int = 0

    def to_payload(self) -> dict[str, Any]:
        """The overwrite object as Discord sends it."""
        return {"id": str(self.id), "type": self.type, "allow": str(self.allow), "deny": str(self.deny)}


@dataclass(eq=False)
class FakeChannel:
    """A guild channel or a DM channel between the bot and one user."""

    id: int
    name: str
    type: int
    guild: FakeGuild | None = None
    position: int = 0
    topic: str | None = None
    parent_id: int | None = None
    nsfw: bool = False
    overwrites: dict[int, Overwrite] = field(default_factory=dict)
    recipients: list[FakeUser] = field(default_factory=list)
    deleted: bool = False
    last_message_id: int | None = None

    @property
    def is_dm(self) -> bool:
        """Whether this is a DM channel."""
        return self.type == DM

    @property
    def mention(self) -> str:
        """The `<#id>` mention text."""
        return f"<#{self.id}>"

    def to_payload(self) -> dict[str, Any]:
        """The channel object as Discord sends it."""
        if self.is_dm:
            return {
                "id": str(self.id),
                "type": DM,
                "last_message_id": str(self.last_message_id) if self.last_message_id else None,
                "recipients": [user.to_payload() for user in self.recipients],
                "flags": 0,
            }
        assert self.guild is not None
        return {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(self.guild.id),
            "name": self.name,
            "position": self.position,
            "permission_overwrites": [ow.to_payload() for ow in self.overwrites.values()],
            "topic": self.topic,
            "nsfw": self.nsfw,
            "last_message_id": str(self.last_message_id) if self.last_message_id else None,
            "rate_limit_per_user": 0,
            "parent_id": str(self.parent_id) if self.parent_id else None,
            "flags": 0,
        }

    def __repr__(self) -> str:
        return f"<FakeChannel #{self.name} id={self.id}{' deleted' if self.deleted else ''}>"


@dataclass(eq=False)
class FakeGuild:
    """A guild the bot is in, with its roles, channels and members."""

    id: int
    name: str
    locale: str = "en-US"
    roles: dict[int, FakeRole] = field(default_factory=dict)
    channels: dict[int, FakeChannel] = field(default_factory=dict)
    members: dict[int, FakeMember] = field(default_factory=dict)
    owner_id: int = 0
    joined_at: dt.datetime = field(default_factory=utcnow)

    @property
    def everyone(self) -> FakeRole:
        """The @everyone role."""
        return self.roles[self.id]

    def channel(self, name: str) -> FakeChannel:
        """The live channel with this name (KeyError if none)."""
        for channel in self.channels.values():
            if channel.name == name and not channel.deleted:
                return channel
        raise KeyError(f"no channel named {name!r} in guild {self.name!r}")

    def member(self, name: str) -> FakeMember:
        """The member whose user name is this (KeyError if none)."""
        for member in self.members.values():
            if member.name == name:
                return member
        raise KeyError(f"no member named {name!r} in guild {self.name!r}")

    def role(self, name: str) -> FakeRole:
        """The role with this name (KeyError if none)."""
        for role in self.roles.values():
            if role.name == name:
                return role
        raise KeyError(f"no role named {name!r} in guild {self.name!r}")

    def live_channels(self) -> list[FakeChannel]:
        """Channels that were not deleted, by position."""
        return sorted((c for c in self.channels.values() if not c.deleted), key=lambda c: (c.position, c.id))

    def to_payload(self, *, members: Iterable[FakeMember]) -> dict[str, Any]:
        """The GUILD_CREATE / GET guild object; `members` are the members to include."""
        member_list = list(members)
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "premium_progress_bar_enabled": False,
            "preferred_locale": self.locale,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "features": [],
            "roles": [role.to_payload() for role in self.roles.values()],
            "emojis": [],
            "stickers": [],
            "channels": [channel.to_payload() for channel in self.live_channels()],
            "threads": [],
            "members": [member.to_payload() for member in member_list],
            "member_count": len(self.members),
            "large": False,
            "unavailable": False,
            "joined_at": iso(self.joined_at),
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    def __repr__(self) -> str:
        return f"<FakeGuild {self.name!r} id={self.id}>"


def base_permissions(guild: FakeGuild, member: FakeMember) -> int:
    """Guild-level permissions of a member: owner and Administrator get everything."""
    if member.id == guild.owner_id:
        return ALL_PERMISSIONS
    bits = guild.everyone.permissions
    for role in member.roles:
        bits |= role.permissions
    if bits & ADMINISTRATOR:
        return ALL_PERMISSIONS
    return bits


def channel_permissions(channel: FakeChannel, member: FakeMember | None) -> int:
    """A member's permissions in a channel, applying overwrites the way Discord documents it."""
    if channel.is_dm or channel.guild is None or member is None:
        return DM_PERMISSIONS
    guild = channel.guild
    bits = base_permissions(guild, member)
    if bits & ADMINISTRATOR:
        return ALL_PERMISSIONS
    everyone = channel.overwrites.get(guild.id)
    if everyone is not None:
        bits = (bits & ~everyone.deny) | everyone.allow
    allow = deny = 0
    for role in member.roles:
        overwrite = channel.overwrites.get(role.id)
        if overwrite is not None and overwrite.type == OVERWRITE_ROLE:
            allow |= overwrite.allow
            deny |= overwrite.deny
    bits = (bits & ~deny) | allow
    own = channel.overwrites.get(member.id)
    if own is not None and own.type == OVERWRITE_MEMBER:
        bits = (bits & ~own.deny) | own.allow
    if not bits & VIEW_CHANNEL:
        return 0
    if not bits & SEND_MESSAGES:
        bits &= ~_NEEDS_SEND
    return bits
