"""Who may do what: every slash command × (admin, member without Manage Channels, DM) × (this server, another).

A combination that is not allowed must change nothing (settings, subscriptions, deliveries, public
messages) and must be refused privately with a reason: the missing permission, or that the target belongs to
another server. Allowed combinations must do their job. Guild-only commands are not offered in DMs at all; if
Discord delivered one anyway (e.g. to a user-installed copy), the bot must still refuse it privately.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Literal

import pytest

from tests.fakes.discord_interaction_result import InteractionResult
from tests.fakes.discord_model import FakeChannel, FakeMember
from tests.fakes.discord_records import FakeDiscordError
from tests.fakes.harness import BotHarness, wait_until
from tests.fakes.hf_items import make_daily_item
from tests.test_hostile_input import alerts_caught_up, table_snapshot

DAY = dt.date(2026, 6, 12)
GUARDED_TABLES = ("digest_settings", "subscriptions", "deliveries")

Who = Literal["admin", "member", "dm"]
Target = Literal["here", "foreign"]
WHO: tuple[Who, ...] = ("admin", "member", "dm")
TARGETS: tuple[Target, ...] = ("here", "foreign")


@dataclasses.dataclass
class World:
    """The harness plus a second server with its own admin and digest, and a DM with the member."""

    harness: BotHarness
    their_admin: FakeMember
    dm: FakeChannel
    lab_alert: int
    their_alert: int

    async def guarded(self) -> dict[str, Any]:
        """What permissions protect: settings, subscriptions, deliveries and every public message."""
        tables = table_snapshot(self.harness.config.database.path)
        state: dict[str, Any] = {name: tables.get(name, []) for name in GUARDED_TABLES}
        state["public messages"] = sorted(
            (m.channel.id, m.id, m.content, json.dumps(m.embeds, sort_keys=True))
            for m in self.harness.discord.messages.values()
            if not m.ephemeral and not m.deleted
        )
        return state


async def build_world(harness: BotHarness) -> World:
    """Papers for the day, a digest and an alert in each server, and the Lab people also (plainly) in the other
    server."""
    harness.hf.set_day(
        DAY, [make_daily_item(f"2606.{i:05d}", f"Sparse routing paper {i}", day=DAY, upvotes=i) for i in range(5)]
    )
    await harness.scrape()
    await alerts_caught_up(harness)
    server = harness.discord
    their_admin = server.add_member(harness.other_guild, "their-admin", admin=True)
    for person in (harness.admin, harness.member):
        harness.other_guild.members[person.id] = FakeMember(person.user, harness.other_guild)
    for who, channel in ((harness.admin, harness.channel), (their_admin, harness.foreign_channel)):
        made = await server.slash("digest", "set", as_user=who, channel=channel, time="09:00", timezone="UTC")
        assert made.ephemeral and (made.content or "").startswith("Digest for"), made.content
    alert_ids = []
    for who, channel, query in (
        (harness.admin, harness.channel, "sparse routing"),
        (their_admin, harness.foreign_channel, "elsewhere only"),
    ):
        added = await server.slash("alerts", "add", as_user=who, channel=channel, query=query)
        assert "added" in (await added.wait_final()).text
        (subscription,) = await harness.store.list_subscriptions(channel_id=channel.id)
        alert_ids.append(subscription.id)
    return World(harness, their_admin, server.dm_channel(harness.member), *alert_ids)


@pytest.fixture
async def world(harness: BotHarness) -> AsyncIterator[World]:
    """A world per test: each command starts from the same state."""
    yield await build_world(harness)


Check = Callable[[World, InteractionResult, str], Awaitable[None]]


@dataclasses.dataclass(frozen=True)
class CommandSpec:
    """One slash command: how its target is chosen, who may use it, and what an allowed use does."""

    path: tuple[str, ...]
    target: Literal["channel option", "alert id", "where typed"]
    guild_only: bool
    needs_manage_channels: bool
    writes: bool
    options: Callable[[World], dict[str, Any]]
    check: Check

    @property
    def name(self) -> str:
        """'/digest set'."""
        return "/" + " ".join(self.path)


async def digest_time_changed(world: World, result: InteractionResult, shown: str) -> None:
    stored = await world.harness.store.get_digest_settings(world.harness.channel.id)
    assert stored is not None and stored.time == dt.time(10, 30), stored


async def digest_gone(world: World, result: InteractionResult, shown: str) -> None:
    stored = await world.harness.store.get_digest_settings(world.harness.channel.id)
    assert stored is None or not stored.enabled, stored
    assert "turned off" in shown


async def digest_posted(world: World, result: InteractionResult, shown: str) -> None:
    posted = world.harness.discord.messages_in(world.harness.channel)
    assert len(posted) == 1 and "Sparse routing paper 4" in posted[0].text
    assert "Posted the digest" in shown


async def preview_shown(world: World, result: InteractionResult, shown: str) -> None:
    assert result.ephemeral and "Sparse routing paper" in shown


def lists_only(server: Literal["lab", "theirs"]) -> Check:
    async def check(world: World, result: InteractionResult, shown: str) -> None:
        lab, theirs = world.harness.channel.id, world.harness.foreign_channel.id
        shown_id, hidden_id = (lab, theirs) if server == "lab" else (theirs, lab)
        assert f"<#{shown_id}>" in shown and f"<#{hidden_id}>" not in shown, shown

    return check


async def alert_added(world: World, result: InteractionResult, shown: str) -> None:
    stored = await world.harness.store.list_subscriptions(channel_id=world.harness.channel.id)
    assert sorted(s.query for s in stored) == ["diffusion", "sparse routing"], stored


async def alert_removed(world: World, result: InteractionResult, shown: str) -> None:
    assert await world.harness.store.get_subscription(world.lab_alert) is None
    assert await world.harness.store.get_subscription(world.their_alert) is not None
    assert f"Removed alert **#{world.lab_alert}**" in (result.content or "")


async def alerts_listed(world: World, result: InteractionResult, shown: str) -> None:
    assert "sparse routing" in shown and "elsewhere only" not in shown


async def alert_tested(world: World, result: InteractionResult, shown: str) -> None:
    assert "5 cached papers of the last 7 days match" in shown


async def status_shown(world: World, result: InteractionResult, shown: str) -> None:
    assert result.ephemeral and "Version" in shown and "Papers cached" in shown


async def papers_shown(world: World, result: InteractionResult, shown: str) -> None:
    assert "Sparse routing paper" in shown


async def cited(world: World, result: InteractionResult, shown: str) -> None:
    assert result.ephemeral and "eprint = {2606.00004}" in shown


async def reading_list_shown(world: World, result: InteractionResult, shown: str) -> None:
    assert result.ephemeral and "Your reading list" in shown


COMMANDS: list[CommandSpec] = [
    CommandSpec(("paperboy", "status"), "where typed", False, False, False, lambda w: {}, status_shown),
    CommandSpec(("paper", "search"), "where typed", False, False, False, lambda w: {"query": "sparse"}, papers_shown),
    CommandSpec(("paper", "show"), "where typed", False, False, False, lambda w: {"paper": "2606.00004"}, papers_shown),
    CommandSpec(("paper", "trending"), "where typed", False, False, False, lambda w: {"period": "week"}, papers_shown),
    CommandSpec(
        ("paper", "similar"), "where typed", False, False, False, lambda w: {"paper": "2606.00004"}, papers_shown
    ),
    CommandSpec(("paper", "cite"), "where typed", False, False, False, lambda w: {"paper": "2606.00004"}, cited),
    CommandSpec(("paper", "saved"), "where typed", False, False, False, lambda w: {}, reading_list_shown),
    CommandSpec(("digest", "show"), "where typed", True, False, False, lambda w: {}, lists_only("lab")),
    CommandSpec(("digest", "preview"), "channel option", True, False, False, lambda w: {}, preview_shown),
    CommandSpec(
        ("digest", "set"), "channel option", True, True, True, lambda w: {"time": "10:30"}, digest_time_changed
    ),
    CommandSpec(("digest", "off"), "channel option", True, True, True, lambda w: {}, digest_gone),
    CommandSpec(("digest", "now"), "channel option", True, True, True, lambda w: {}, digest_posted),
    CommandSpec(("alerts", "add"), "channel option", True, True, True, lambda w: {"query": "diffusion"}, alert_added),
    CommandSpec(("alerts", "remove"), "alert id", True, True, True, lambda w: {}, alert_removed),
    CommandSpec(("alerts", "list"), "channel option", True, False, False, lambda w: {}, alerts_listed),
    CommandSpec(("alerts", "test"), "where typed", True, False, False, lambda w: {"query": "sparse"}, alert_tested),
]


def expectation(spec: CommandSpec, who: Who, target: Target) -> Literal["allowed", "not offered", "denied"]:
    """What Discord and the bot should do with this combination."""
    if who == "dm":
        return "not offered" if spec.guild_only else "allowed"
    if spec.target != "where typed" and target == "foreign":
        return "denied"
    if spec.needs_manage_channels and who == "member":
        return "denied"
    return "allowed"


async def final_text(result: InteractionResult) -> str:
    """The text the user ends up seeing (after a deferred answer is filled in)."""
    assert result.acknowledged and result.elapsed is not None and result.elapsed < 3, result
    if result.deferred:
        await result.wait_final()
        await wait_until(
            lambda: bool(result.followups) or not (result.original and result.original.loading),
            what="the deferred answer",
        )
    return "\n".join(m.text for m in result.messages)


def invocation(world: World, spec: CommandSpec, who: Who, target: Target) -> tuple[Any, FakeChannel, dict[str, Any]]:
    """(as_user, channel typed in, options) for one combination."""
    harness = world.harness
    options = dict(spec.options(world))
    if who == "dm":
        return harness.member, world.dm, options
    person = harness.admin if who == "admin" else harness.member
    if spec.target == "channel option":
        options["channel"] = harness.channel if target == "here" else harness.foreign_channel
        return person, harness.channel, options
    if spec.target == "alert id":
        options["id"] = world.lab_alert if target == "here" else world.their_alert
        return person, harness.channel, options
    return person, harness.channel if target == "here" else harness.foreign_channel, options


@pytest.mark.parametrize("spec", COMMANDS, ids=lambda s: s.name)
async def test_only_allowed_combinations_change_anything(world: World, spec: CommandSpec) -> None:
    harness = world.harness
    # Refusals first, so the one allowed write is observed against the seeded state.
    combos = sorted(((w, t) for w in WHO for t in TARGETS), key=lambda c: expectation(spec, *c) == "allowed")
    for who, target in combos:
        if who == "dm" and target == "foreign" and spec.target == "where typed":
            continue  # a DM is one place: there is no other server's copy of it to type in
        expected = expectation(spec, who, target)
        as_user, channel, options = invocation(world, spec, who, target)
        before = await world.guarded()
        label = f"{spec.name} as {who} on {target}"
        if expected == "not offered":
            with pytest.raises(FakeDiscordError, match="not available in DMs"):
                await harness.discord.slash(*spec.path, as_user=as_user, channel=channel, options=options)
            assert await world.guarded() == before, label
            continue
        result = await harness.discord.slash(
            *spec.path, as_user=as_user, channel=channel, options=options, enforce_default_permissions=False
        )
        shown = await final_text(result)
        after = await world.guarded()
        if expected == "denied":
            assert result.ephemeral and all(m.ephemeral for m in result.messages), label
            assert after == before, f"{label} changed something"
            if target == "foreign":
                assert "server" in shown, (label, shown)
            else:
                assert "Manage Channels" in shown, (label, shown)
        else:
            assert "You need" not in shown and "another server" not in shown, (label, shown)
            if spec.writes:
                assert after != before, f"{label} did nothing"
            else:
                tables = {k: v for k, v in after.items() if k != "public messages"}
                assert tables == {k: v for k, v in before.items() if k != "public messages"}, label
            if who != "dm" and not (spec.target == "where typed" and target == "foreign"):
                await spec.check(world, result, shown)


async def test_digest_show_in_another_server_lists_only_that_servers_digests(world: World) -> None:
    harness = world.harness
    result = await harness.discord.slash("digest", "show", as_user=harness.admin, channel=harness.foreign_channel)
    shown = await final_text(result)
    await lists_only("theirs")(world, result, shown)
    status = await harness.discord.slash("paperboy", "status", as_user=harness.member, channel=harness.foreign_channel)
    assert "1 digest channel, 1 alert" in await final_text(status)


async def test_guild_only_commands_are_not_offered_in_dms_and_refused_if_delivered(world: World) -> None:
    harness = world.harness
    synced = {c["name"]: c for c in harness.discord.synced_commands()}
    guild_only = {spec.path[0] for spec in COMMANDS if spec.guild_only}
    for name in guild_only:
        assert synced[name].get("contexts") == [0] or synced[name].get("dm_permission") is False, synced[name]
    # Model a client that delivers them anyway (a user-installed copy of the app, or a forged request).
    for command in harness.discord.global_commands:
        if command["name"] in guild_only:
            command["contexts"], command["dm_permission"] = [0, 1, 2], True
    for spec in (s for s in COMMANDS if s.guild_only):
        before = await world.guarded()
        _, _, options = invocation(world, spec, "admin", "here")  # even naming this server's channel or alert
        result = await harness.discord.slash(*spec.path, as_user=harness.member, channel=world.dm, options=options)
        shown = await final_text(result)
        assert result.ephemeral and "only works in a server" in shown, (spec.name, shown)
        assert await world.guarded() == before, spec.name


async def test_every_synced_command_is_in_the_matrix(harness: BotHarness) -> None:
    synced = set()
    for command in harness.discord.synced_commands():
        for sub in command.get("options") or []:
            if sub["type"] == 1:
                synced.add((command["name"], sub["name"]))
    assert synced == {spec.path for spec in COMMANDS}
