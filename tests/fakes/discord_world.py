"""The loopback Discord's world: guilds, roles, channels, members, overwrites, and their gateway payloads."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import discord

from .discord_gateway import INTENT_GUILD_MEMBERS, INTENT_GUILDS, GatewayHub, GatewaySession
from .discord_model import (
    ADMINISTRATOR,
    DEFAULT_BOT_PERMISSIONS,
    DEFAULT_EVERYONE_PERMISSIONS,
    DM,
    GUILD_TEXT,
    OVERWRITE_MEMBER,
    OVERWRITE_ROLE,
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeRole,
    FakeUser,
    Overwrite,
    PermissionsLike,
    SnowflakeFactory,
    channel_permissions,
    permission_bits,
)
from .discord_records import FakeDiscordError

log = logging.getLogger(__name__)


class WorldBuilder:
    """Building the world before or after login, live changes dispatched (a mixin; FakeDiscord owns the state)."""

    if TYPE_CHECKING:
        ids: SnowflakeFactory
        application_id: int
        application_flags: int
        bot_user: FakeUser
        guilds: dict[int, FakeGuild]
        users: dict[int, FakeUser]
        channels: dict[int, FakeChannel]
        _dm_by_user: dict[int, FakeChannel]
        gateway: GatewayHub

        @property
        def resume_gateway_url(self) -> str: ...

        def notify(self) -> None: ...

    def add_guild(
        self,
        name: str,
        *,
        bot_permissions: PermissionsLike = DEFAULT_BOT_PERMISSIONS,
        everyone_permissions: PermissionsLike = DEFAULT_EVERYONE_PERMISSIONS,
        locale: str = "en-US",
        shard: tuple[int, int] | None = None,
    ) -> FakeGuild:
        """Create a guild with @everyone, an owner and the bot (with a managed role); dispatch it if live.

        `shard` (shard_id, shard_count) picks an id whose guild that shard receives.
        """
        guild_id = self.ids.next() if shard is None else self.ids.next_on_shard(*shard)
        guild = FakeGuild(id=guild_id, name=name, locale=locale)
        guild.roles[guild.id] = FakeRole(guild.id, guild, "@everyone", permission_bits(everyone_permissions))
        owner = FakeUser(self.ids.next(), f"{name.lower()}-owner")
        self.users[owner.id] = owner
        guild.owner_id = owner.id
        guild.members[owner.id] = FakeMember(owner, guild)
        bot_role = FakeRole(
            self.ids.next(),
            guild,
            self.bot_user.name,
            permission_bits(bot_permissions),
            position=1,
            managed=True,
            bot_id=self.bot_user.id,
        )
        guild.roles[bot_role.id] = bot_role
        guild.members[self.bot_user.id] = FakeMember(self.bot_user, guild, [bot_role])
        self.guilds[guild.id] = guild
        for session in self.gateway.sessions_for(guild.id):
            session.dispatch("GUILD_CREATE", self.guild_create_payload(guild, session, joined=True))
        self.notify()
        return guild

    def add_role(
        self, guild: FakeGuild, name: str, permissions: PermissionsLike = None, *, mentionable: bool = False
    ) -> FakeRole:
        """Create a role with these permissions (int, discord.Permissions or names)."""
        role = FakeRole(
            self.ids.next(), guild, name, permission_bits(permissions), len(guild.roles), mentionable=mentionable
        )
        guild.roles[role.id] = role
        self.gateway.broadcast(
            "GUILD_ROLE_CREATE", {"guild_id": str(guild.id), "role": role.to_payload()}, INTENT_GUILDS
        )
        return role

    def add_text_channel(
        self, guild: FakeGuild, name: str, *, topic: str | None = None, position: int | None = None
    ) -> FakeChannel:
        """Create a text channel; dispatch CHANNEL_CREATE if the bot is connected."""
        channel = FakeChannel(
            id=self.ids.next(),
            name=name,
            type=GUILD_TEXT,
            guild=guild,
            position=len(guild.channels) if position is None else position,
            topic=topic,
        )
        guild.channels[channel.id] = channel
        self.channels[channel.id] = channel
        self.gateway.broadcast("CHANNEL_CREATE", channel.to_payload(), INTENT_GUILDS)
        return channel

    def add_member(
        self,
        guild: FakeGuild,
        name: str,
        *,
        permissions: PermissionsLike = None,
        admin: bool = False,
        roles: tuple[FakeRole, ...] | list[FakeRole] = (),
    ) -> FakeMember:
        """Add a user to a guild; `permissions`/`admin` give them a personal role with those rights."""
        user = FakeUser(self.ids.next(), name)
        self.users[user.id] = user
        member = FakeMember(user, guild, list(roles))
        bits = permission_bits(permissions) | (ADMINISTRATOR if admin else 0)
        if bits:
            member.roles.append(self.add_role(guild, f"{name}-role", bits))
        guild.members[user.id] = member
        payload = member.to_payload() | {"guild_id": str(guild.id)}
        self.gateway.broadcast("GUILD_MEMBER_ADD", payload, INTENT_GUILD_MEMBERS)
        return member

    def add_user(self, name: str) -> FakeUser:
        """A user who shares no guild with the bot (for DMs)."""
        user = FakeUser(self.ids.next(), name)
        self.users[user.id] = user
        return user

    def dm_channel(self, user: FakeUser | FakeMember) -> FakeChannel:
        """The DM channel between the bot and `user`, created on first use."""
        person = user.user if isinstance(user, FakeMember) else user
        channel = self._dm_by_user.get(person.id)
        if channel is None:
            channel = FakeChannel(id=self.ids.next(), name=f"dm-{person.name}", type=DM, recipients=[person])
            self._dm_by_user[person.id] = channel
            self.channels[channel.id] = channel
        return channel

    def set_overwrite(
        self,
        channel: FakeChannel,
        target: FakeRole | FakeMember | FakeUser,
        *,
        allow: PermissionsLike = None,
        deny: PermissionsLike = None,
    ) -> None:
        """Set a channel permission overwrite for a role or member; dispatch CHANNEL_UPDATE."""
        if channel.guild is None:
            raise FakeDiscordError("DM channels have no permission overwrites")
        kind = OVERWRITE_ROLE if isinstance(target, FakeRole) else OVERWRITE_MEMBER
        channel.overwrites[target.id] = Overwrite(target.id, kind, permission_bits(allow), permission_bits(deny))
        self.gateway.broadcast("CHANNEL_UPDATE", channel.to_payload(), INTENT_GUILDS)
        self.notify()

    def clear_overwrite(self, channel: FakeChannel, target: FakeRole | FakeMember | FakeUser) -> None:
        """Remove a role's or member's overwrite from a channel."""
        channel.overwrites.pop(target.id, None)
        self.gateway.broadcast("CHANNEL_UPDATE", channel.to_payload(), INTENT_GUILDS)
        self.notify()

    def bot_member(self, guild: FakeGuild) -> FakeMember:
        """The bot's membership of a guild."""
        return guild.members[self.bot_user.id]

    def bot_permissions(self, channel: FakeChannel) -> discord.Permissions:
        """What the bot may do in a channel (what interactions report as app_permissions)."""
        member = self.bot_member(channel.guild) if channel.guild is not None else None
        return discord.Permissions(channel_permissions(channel, member))

    def member_permissions(self, member: FakeMember, channel: FakeChannel) -> discord.Permissions:
        """A member's permissions in a channel, overwrites applied."""
        return discord.Permissions(channel_permissions(channel, member))

    # ---- gateway payloads --------------------------------------------------------------------------
    def ready_payload(self, session: GatewaySession) -> dict[str, Any]:
        """The READY event for a new session."""
        user = self.bot_user.to_payload() | {"verified": True, "mfa_enabled": False, "email": None}
        payload: dict[str, Any] = {
            "v": 10,
            "user": user,
            "guilds": [{"id": str(g), "unavailable": True} for g in self.guilds if session.owns(g)],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.resume_gateway_url,
            "application": {"id": str(self.application_id), "flags": self.application_flags},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "user_settings": {},
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "_trace": ["fake-discord-gateway"],
        }
        if session.shard is not None:
            payload["shard"] = session.shard
        return payload

    def guild_create_payload(
        self, guild: FakeGuild, session: GatewaySession, *, joined: bool = False
    ) -> dict[str, Any]:
        """GUILD_CREATE; all members only with the GUILD_MEMBERS intent, else just the bot.

        A guild listed in READY comes back with `unavailable: false`; a guild joined later has no such key,
        which is how discord.py tells on_guild_available from on_guild_join.
        """
        everyone = session.wants(INTENT_GUILD_MEMBERS)
        payload = guild.to_payload(members=guild.members.values() if everyone else [self.bot_member(guild)])
        if joined:
            del payload["unavailable"]
        return payload
