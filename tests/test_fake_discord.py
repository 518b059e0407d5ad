"""The loopback Discord server, exercised by a real discord.py bot (no mocks)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands
from discord.http import Route

from tests.fakes import discord_fixtures
from tests.fakes.discord_fixtures import LabDiscord, make_lab_discord, running_bot
from tests.fakes.discord_records import CallbackRejected, FakeDiscordError, InteractionNotAnswered
from tests.fakes.discord_server import FakeDiscord, point_discord_at

fake_discord = discord_fixtures.fake_discord


# ---- a small real bot -------------------------------------------------------------------------------
@dataclass
class Seen:
    """What the bot's handlers observed, for assertions."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    choices: list[app_commands.Choice[str]] | None = None
    delay: float = 0.0
    late_done: asyncio.Event = field(default_factory=asyncio.Event)
    revised: asyncio.Event = field(default_factory=asyncio.Event)

    def last(self, name: str) -> dict[str, Any]:
        return [args for call, args in self.calls if call == name][-1]


class Pager(discord.ui.View):
    def __init__(self, seen: Seen) -> None:
        super().__init__(timeout=60)
        self.seen = seen

    @discord.ui.button(label="Next", custom_id="pager:next")
    async def next_page(self, interaction: discord.Interaction, button: discord.ui.Button[Pager]) -> None:
        self.seen.calls.append(("next", {"user": interaction.user.id}))
        await interaction.response.edit_message(content="page 2")

    @discord.ui.button(label="Open", custom_id="pager:open")
    async def open_one(self, interaction: discord.Interaction, button: discord.ui.Button[Pager]) -> None:
        asked_by = interaction.message.interaction_metadata if interaction.message is not None else None
        self.seen.calls.append(("open", {"asked_by": asked_by.id if asked_by is not None else None}))
        await interaction.response.edit_message(content="opened one")
        await interaction.followup.send("the one, privately", ephemeral=True)

    @discord.ui.select(
        custom_id="pager:pick", options=[discord.SelectOption(label=x, value=x) for x in "abc"], max_values=2
    )
    async def pick(self, interaction: discord.Interaction, select: discord.ui.Select[Pager]) -> None:
        self.seen.calls.append(("pick", {"values": list(select.values)}))
        await interaction.response.defer()
        await interaction.followup.send(f"picked {','.join(select.values)}", ephemeral=True)


class Feedback(discord.ui.Modal, title="Feedback"):
    text: discord.ui.TextInput[Feedback] = discord.ui.TextInput(label="Text", custom_id="feedback:text")

    def __init__(self, seen: Seen) -> None:
        super().__init__()
        self.seen = seen

    async def on_submit(self, interaction: discord.Interaction) -> None:
        self.seen.calls.append(("feedback", {"text": self.text.value}))
        await interaction.response.send_message(f"thanks: {self.text.value}", ephemeral=True)


TITLES = ["Mamba: linear-time sequences", "Mamba-2", "Mixture of experts", "Diffusion transformers"]


def build_tree(bot: commands.Bot, seen: Seen) -> None:
    paper = app_commands.Group(name="paper", description="Papers")

    @paper.command(name="search", description="Search papers")
    @app_commands.describe(query="Words to look for", sort="Order")
    @app_commands.choices(
        sort=[app_commands.Choice(name="new", value="new"), app_commands.Choice(name="top", value="top")]
    )
    async def search(interaction: discord.Interaction, query: str, sort: str = "new") -> None:
        seen.calls.append(("search", {"query": query, "sort": sort}))
        await interaction.response.send_message(f"results for {query} by {sort}")

    @paper.command(name="show", description="Show a paper")
    async def show(interaction: discord.Interaction, paper: str) -> None:
        await interaction.response.send_message(f"showing {paper}")

    @show.autocomplete("paper")
    async def show_autocomplete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        if seen.choices is not None:
            return seen.choices
        return [app_commands.Choice(name=t, value=t[:20]) for t in TITLES if current.lower() in t.lower()]

    lab = app_commands.Group(name="lab", description="Lab settings")
    config = app_commands.Group(name="config", description="Configuration", parent=lab)

    @config.command(name="set", description="Set a value")
    async def config_set(
        interaction: discord.Interaction,
        key: str,
        value: app_commands.Range[int, 1, 10],
        channel: discord.TextChannel | None = None,
        loud: bool = False,
    ) -> None:
        seen.calls.append(
            ("config set", {"key": key, "value": value, "channel": channel, "loud": loud, "user": interaction.user})
        )
        where = channel.mention if channel else "here"
        await interaction.response.send_message(f"{key}={value} in {where}", ephemeral=not loud)

    bot.tree.add_command(paper)
    bot.tree.add_command(lab)

    @bot.tree.command(name="buttons", description="A message with components")
    async def buttons(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("page 1", view=Pager(seen))

    @bot.tree.command(name="slow", description="Defers, then follows up")
    async def slow(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True, ephemeral=True)
        await interaction.followup.send("done thinking")
        await interaction.followup.send("and one more")

    @bot.tree.command(name="loud", description="Defers publicly, then tries to answer privately")
    async def loud(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.followup.send("meant to be private", ephemeral=True)
        await interaction.edit_original_response(content="still meant to be private")
        await interaction.followup.send("a second one can be private", ephemeral=True)

    @bot.tree.command(name="form", description="Opens a modal")
    async def form(interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(Feedback(seen))

    @bot.tree.command(name="whoami", description="Reports the interaction context")
    async def whoami(interaction: discord.Interaction) -> None:
        seen.calls.append(
            (
                "whoami",
                {
                    "guild_id": interaction.guild_id,
                    "user": interaction.user,
                    "channel_id": interaction.channel_id,
                    "app_permissions": interaction.app_permissions,
                    "permissions": interaction.permissions,
                    "locale": interaction.locale,
                },
            )
        )
        await interaction.response.send_message("you are you", ephemeral=True)

    @bot.tree.command(name="revise", description="Edits its answers")
    async def revise(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("v1")
        await interaction.edit_original_response(content="v2")
        original = await interaction.original_response()
        followup = await interaction.followup.send("f1", wait=True)
        await followup.edit(content="f1 edited")
        extra = await interaction.followup.send("gone soon", wait=True)
        await extra.delete()
        seen.calls.append(("revise", {"original": original.content}))
        seen.revised.set()

    @bot.tree.command(name="purge", description="Admins only")
    @app_commands.default_permissions(manage_channels=True)
    async def purge(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("purged")

    @bot.tree.command(name="late", description="Answers after a delay")
    async def late(interaction: discord.Interaction) -> None:
        await asyncio.sleep(seen.delay)
        try:
            await interaction.response.send_message("too late?")
        except discord.HTTPException as exc:
            seen.calls.append(("late failed", {"status": exc.status, "code": exc.code}))
        seen.late_done.set()


def make_bot(seen: Seen, **options: Any) -> commands.Bot:
    intents = options.pop("intents", discord.Intents.default())
    bot = commands.Bot(
        command_prefix="!",
        intents=intents,
        guild_ready_timeout=0.05,
        allowed_mentions=discord.AllowedMentions.none(),
        **options,
    )
    build_tree(bot, seen)

    async def setup_hook() -> None:
        await bot.tree.sync()

    bot.setup_hook = setup_hook  # type: ignore[method-assign]
    return bot


@dataclass
class Env:
    server: LabDiscord
    bot: commands.Bot
    seen: Seen

    def channel(self, name: str = "papers") -> discord.TextChannel:
        channel = discord.utils.get(self.bot.get_all_channels(), name=name)
        assert isinstance(channel, discord.TextChannel)
        return channel


@pytest.fixture
async def env(fake_discord: LabDiscord) -> AsyncIterator[Env]:
    seen = Seen()
    bot = make_bot(seen)
    async with running_bot(bot, fake_discord):
        yield Env(fake_discord, bot, seen)


async def raw_post(bot: commands.Bot, channel_id: int, payload: dict[str, Any]) -> Any:
    """POST a message body through discord.py's own HTTP client (for bodies its helpers refuse to build)."""
    route = Route("POST", "/channels/{channel_id}/messages", channel_id=channel_id)
    return await bot.http.request(route, json=payload)


# ---- login, READY, GUILD_CREATE, sync ---------------------------------------------------------------
async def test_login_ready_and_guild_create_populate_the_cache(env: Env) -> None:
    bot, server = env.bot, env.server
    assert bot.user is not None and bot.user.id == server.bot_user_id
    assert bot.application_id == server.application_id
    assert [g.name for g in bot.guilds] == ["Lab"]
    guild = bot.guilds[0]
    assert sorted(c.name for c in guild.text_channels) == ["general", "papers"]
    assert guild.me is not None and guild.me.guild_permissions.send_messages
    assert guild.get_role(guild.id) is not None  # @everyone arrived with the roles
    assert [op for op in server.gateway_ops if op != 1] == [2]  # heartbeats and one IDENTIFY, no RESUME
    assert bot.ws is not None and str(bot.ws.gateway) == server.resume_gateway_url
    assert server.stats.heartbeats >= 1  # discord.py beats right after HELLO


async def test_guild_added_after_ready_is_dispatched(env: Env) -> None:
    joined: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def on_guild_join(guild: discord.Guild) -> None:
        joined.set_result(guild.name)

    env.bot.add_listener(on_guild_join)
    guild = env.server.add_guild("Second lab")
    env.server.add_text_channel(guild, "reading")
    assert await asyncio.wait_for(joined, 5) == "Second lab"
    await env.server.slash("whoami", channel=guild.channel("reading"), as_user=env.server.add_member(guild, "zoe"))
    assert env.seen.last("whoami")["guild_id"] == guild.id


async def test_tree_sync_records_names_ids_and_option_schemas(env: Env) -> None:
    synced = {c["name"]: c for c in env.server.synced_commands()}
    assert set(synced) == {"paper", "lab", "buttons", "slow", "loud", "form", "whoami", "revise", "purge", "late"}
    search = next(o for o in synced["paper"]["options"] if o["name"] == "search")
    assert search["type"] == 1
    options = {o["name"]: o for o in search["options"]}
    assert options["query"]["type"] == 3 and options["query"]["required"] is True
    assert [c["value"] for c in options["sort"]["choices"]] == ["new", "top"]
    show = next(o for o in synced["paper"]["options"] if o["name"] == "show")
    assert show["options"][0]["autocomplete"] is True
    config = synced["lab"]["options"][0]
    assert (config["name"], config["type"]) == ("config", 2)
    setter = {o["name"]: o for o in config["options"][0]["options"]}
    assert setter["value"]["min_value"] == 1 and setter["value"]["max_value"] == 10
    assert setter["channel"]["type"] == 7
    assert synced["purge"]["default_member_permissions"] == str(discord.Permissions(manage_channels=True).value)
    fetched = await env.bot.tree.fetch_commands()
    assert {c.name: c.id for c in fetched} == {name: int(c["id"]) for name, c in synced.items()}


async def test_guild_sync_is_recorded_separately_and_found_first(env: Env) -> None:
    guild = discord.Object(id=env.server.guild.id)
    env.bot.tree.copy_global_to(guild=guild)
    await env.bot.tree.sync(guild=guild)
    guild_commands = env.server.synced_commands(env.server.guild)
    assert {c["name"] for c in guild_commands} >= {"paper", "lab"}
    assert all(c["guild_id"] == str(env.server.guild.id) for c in guild_commands)
    result = await env.server.slash("paper", "search", query="q")
    assert result.payload["data"]["guild_id"] == str(env.server.guild.id)
    assert result.content == "results for q by new"


async def test_sync_rejects_invalid_command_bodies(env: Env) -> None:
    route = Route("PUT", "/applications/{app}/commands", app=env.server.application_id)
    bad = [{"name": "Bad Name", "description": "x", "type": 1}, {"name": "ok", "description": "", "type": 1}]
    with pytest.raises(discord.HTTPException) as caught:
        await env.bot.http.request(route, json=bad)
    assert (caught.value.status, caught.value.code) == (400, 50035)
    assert "0.name" in caught.value.text and "1.description" in caught.value.text


# ---- slash commands ---------------------------------------------------------------------------------
async def test_slash_with_subcommand_group_and_options_reaches_the_handler(env: Env) -> None:
    server = env.server
    result = await server.slash(
        "lab",
        "config",
        "set",
        key="digest",
        value=3,
        loud=True,
        options={"channel": server.general},  # an option named like slash()'s own `channel` keyword
        as_user=server.admin,
        channel=server.papers,
    )
    call = env.seen.last("config set")
    assert (call["key"], call["value"], call["loud"]) == ("digest", 3, True)
    assert call["channel"].id == server.general.id
    assert call["user"].id == server.admin.id
    assert result.callback_type == 4 and not result.ephemeral
    assert result.content == f"digest=3 in <#{server.general.id}>"
    assert result.allowed_mentions == {"parse": []}
    assert result.elapsed is not None and result.elapsed < 3.0
    assert server.messages_in(server.papers) == [result.message]


async def test_slash_resolved_channel_carries_the_invokers_permissions(env: Env) -> None:
    server = env.server
    server.set_overwrite(server.general, server.guild.everyone, deny={"send_messages"})
    result = await server.slash(
        "lab", "config", "set", key="k", value=1, options={"channel": server.general}, as_user=server.member
    )
    resolved = result.payload["data"]["resolved"]["channels"][str(server.general.id)]
    perms = discord.Permissions(int(resolved["permissions"]))
    assert perms.view_channel and not perms.send_messages
    assert result.ephemeral


async def test_slash_refuses_what_discords_client_would_not_send(env: Env) -> None:
    server = env.server
    with pytest.raises(FakeDiscordError, match="never synced"):
        await server.slash("nope")
    with pytest.raises(FakeDiscordError, match="needs a sub-command"):
        await server.slash("lab", "config")
    with pytest.raises(FakeDiscordError, match="needs option 'query'"):
        await server.slash("paper", "search")
    with pytest.raises(FakeDiscordError, match="not one of"):
        await server.slash("paper", "search", query="x", sort="old")
    with pytest.raises(FakeDiscordError, match="outside 1..10"):
        await server.slash("lab", "config", "set", key="k", value=11)
    with pytest.raises(FakeDiscordError, match="default_member_permissions"):
        await server.slash("purge", as_user=server.member)
    assert (await server.slash("purge", as_user=server.admin)).content == "purged"
    granted = await server.slash("purge", as_user=server.member, enforce_default_permissions=False)
    assert granted.content == "purged"


async def test_interaction_carries_member_permissions_app_permissions_and_locale(env: Env) -> None:
    server = env.server
    await server.slash("whoami", as_user=server.member, channel=server.general, locale="de")
    call = env.seen.last("whoami")
    assert call["guild_id"] == server.guild.id and call["channel_id"] == server.general.id
    assert isinstance(call["user"], discord.Member) and call["user"].id == server.member.id
    assert call["permissions"].send_messages and not call["permissions"].manage_channels
    assert call["app_permissions"].embed_links and not call["app_permissions"].administrator
    assert call["locale"] is discord.Locale.german
    await server.slash("whoami", as_user=server.admin)
    assert env.seen.last("whoami")["permissions"] == discord.Permissions.all()


async def test_dm_interaction_has_a_user_and_no_guild(env: Env) -> None:
    server = env.server
    dm = server.dm_channel(server.member)
    result = await server.slash("whoami", channel=dm)
    call = env.seen.last("whoami")
    assert call["guild_id"] is None
    assert isinstance(call["user"], discord.User) and call["user"].id == server.member.id
    assert "member" not in result.payload and result.payload["user"]["id"] == str(server.member.id)
    assert server.messages_in(dm, ephemeral=True) == [result.message]


async def test_deferred_response_is_filled_by_the_first_followup(env: Env) -> None:
    result = await env.server.slash("slow")
    assert result.callback_type == 5 and result.deferred
    final = await result.wait_final()
    assert final.content == "done thinking" and final.ephemeral and not final.loading
    followups = await result.wait_followups(1)
    assert [m.content for m in result.messages] == ["done thinking", "and one more"]
    assert followups[0].ephemeral is False


async def test_a_public_deferral_stays_public_whatever_the_followup_asks(env: Env) -> None:
    # Discord keeps a deferral's visibility: the first followup fills the placeholder and its ephemeral flag
    # is ignored, and an edit cannot change it either; only later followups are new messages with their own flag.
    result = await env.server.slash("loud")
    followups = await result.wait_followups(1)
    final = await result.wait_final()
    assert not final.ephemeral and not final.loading
    assert final.content == "still meant to be private"
    assert [m.content for m in result.messages] == ["still meant to be private", "a second one can be private"]
    assert followups[0].ephemeral is True


async def test_original_response_and_followups_can_be_fetched_edited_and_deleted(env: Env) -> None:
    result = await env.server.slash("revise")
    await asyncio.wait_for(env.seen.revised.wait(), 5)
    assert env.seen.last("revise") == {"original": "v2"}
    assert result.content == "v2" and result.message is not None
    assert [version["content"] for version in result.message.history] == ["v1"]
    kept, gone = result.followups
    assert kept.content == "f1 edited" and kept.edit_count == 1
    assert gone.deleted
    assert [m.content for m in env.server.messages_in(env.server.papers)] == ["v2", "f1 edited"]
    assert len(env.server.requests_to("GET", r"/messages/@original$")) == 1


async def test_late_answer_is_not_accepted(env: Env) -> None:
    env.server.interaction_deadline = 0.2
    env.seen.delay = 0.4
    result = await env.server.slash("late", wait=False)
    with pytest.raises(InteractionNotAnswered):
        await result.wait_response()
    await asyncio.wait_for(env.seen.late_done.wait(), 5)
    assert env.seen.last("late failed") == {"status": 404, "code": 10062}
    assert result.rejected[0]["body"]["code"] == 10062 and not result.acknowledged


# ---- autocomplete -----------------------------------------------------------------------------------
async def test_autocomplete_returns_the_bots_choices(env: Env) -> None:
    choices = await env.server.autocomplete("paper", "show", focused="paper", value="mamba")
    assert [c["name"] for c in choices] == ["Mamba: linear-time sequences", "Mamba-2"]
    assert choices[0]["value"] == "Mamba: linear-time s"


@pytest.mark.parametrize(
    ("choices", "error_path"),
    [
        ([app_commands.Choice(name=f"c{i}", value=str(i)) for i in range(26)], "data.choices"),
        ([app_commands.Choice(name="n" * 101, value="v")], "data.choices.0.name"),
        ([app_commands.Choice(name="", value="v")], "data.choices.0.name"),
        ([app_commands.Choice(name="n", value="v" * 101)], "data.choices.0.value"),
    ],
    ids=["26-choices", "name-101", "name-empty", "value-101"],
)
async def test_autocomplete_limits_reject(env: Env, choices: list[app_commands.Choice[str]], error_path: str) -> None:
    env.seen.choices = choices
    with pytest.raises(CallbackRejected) as caught:
        await env.server.autocomplete("paper", "show", focused="paper", value="x")
    assert "50035" in str(caught.value)
    assert error_path.split(".")[-1] in str(caught.value)


async def test_autocomplete_limits_accept_the_maximum(env: Env) -> None:
    env.seen.choices = [app_commands.Choice(name=f"{i:03d}".ljust(100, "n"), value="v" * 100) for i in range(25)]
    choices = await env.server.autocomplete("paper", "show", focused="paper", value="x")
    assert len(choices) == 25 and len(choices[0]["name"]) == 100


# ---- components and modals --------------------------------------------------------------------------
async def test_button_click_reaches_the_view_and_updates_the_message(env: Env) -> None:
    server = env.server
    shown = await server.slash("buttons", as_user=server.member)
    assert shown.message is not None and shown.message.custom_ids == ["pager:next", "pager:open", "pager:pick"]
    clicked = await server.click(shown, "pager:next")
    assert env.seen.last("next") == {"user": server.member.id}
    assert clicked.callback_type == 7
    assert shown.message.content == "page 2" and shown.message.edit_count == 1
    assert shown.message.history[0]["content"] == "page 1"


async def test_an_updated_message_still_names_its_command_and_a_followup_after_it_picks_its_visibility(
    env: Env,
) -> None:
    # Discord: a message answering an interaction carries `interaction_metadata` naming that interaction, and an
    # update by a later click (type 7) keeps it; a followup after an update, not a deferral, is a new message with
    # its own ephemeral flag.
    server = env.server
    shown = await server.slash("buttons", as_user=server.member)
    await server.click(shown, "pager:next")
    opened = await server.click(shown, "pager:open")
    assert opened.callback_type == 7 and shown.message is not None and shown.message.content == "opened one"
    (followup,) = await opened.wait_followups(1)
    assert followup.ephemeral and followup.content == "the one, privately" and followup is not shown.message
    assert env.seen.last("open") == {"asked_by": shown.id}


async def test_select_menu_values_reach_the_view(env: Env) -> None:
    shown = await env.server.slash("buttons")
    picked = await env.server.select(shown, "pager:pick", ["a", "c"])
    assert env.seen.last("pick") == {"values": ["a", "c"]}
    assert picked.callback_type == 6
    final = await picked.wait_final()
    assert final.content == "picked a,c" and final.ephemeral
    with pytest.raises(FakeDiscordError, match="not an option"):
        await env.server.select(shown, "pager:pick", ["z"])


async def test_modal_opens_and_submits(env: Env) -> None:
    opened = await env.server.slash("form")
    assert opened.callback_type == 9 and opened.modal is not None and opened.modal["title"] == "Feedback"
    submitted = await env.server.submit_modal(opened, {"feedback:text": "great"})
    assert env.seen.last("feedback") == {"text": "great"}
    assert submitted.content == "thanks: great" and submitted.ephemeral


# ---- Discord's limits on messages -------------------------------------------------------------------
Send = Callable[[commands.Bot, discord.TextChannel, int], Awaitable[Any]]


def _embed(**kwargs: Any) -> discord.Embed:
    return discord.Embed(**kwargs)


def _fields(count: int, name: str = "f", value: str = "v") -> discord.Embed:
    embed = discord.Embed(title="t")
    for _ in range(count):
        embed.add_field(name=name, value=value)
    return embed


def _buttons(per_row: int, rows: int = 1) -> list[dict[str, Any]]:
    def button(row: int, index: int) -> dict[str, Any]:
        return {"type": 2, "style": 1, "label": "L", "custom_id": f"b{row}-{index}"}

    return [{"type": 1, "components": [button(r, i) for i in range(per_row)]} for r in range(rows)]


def _one_button(label: str = "L", custom_id: str = "b") -> list[dict[str, Any]]:
    return [{"type": 1, "components": [{"type": 2, "style": 1, "label": label, "custom_id": custom_id}]}]


def _select(options: int) -> list[dict[str, Any]]:
    opts = [{"label": f"o{i}", "value": f"v{i}"} for i in range(options)]
    return [{"type": 1, "components": [{"type": 3, "custom_id": "pick", "options": opts}]}]


def _components(build: Callable[[int], list[dict[str, Any]]]) -> Send:
    """A sender posting raw components, which discord.py's View would refuse to build past the limits."""

    async def send(bot: commands.Bot, channel: discord.TextChannel, size: int) -> Any:
        return await raw_post(bot, channel.id, {"content": "c", "components": build(size)})

    return send


# name: (largest accepted size, send(bot, channel, size), text expected in the error)
LIMIT_CASES: dict[str, tuple[int, Send, str]] = {
    "content": (2000, lambda b, c, n: c.send("x" * n), "content"),
    "embed-count": (10, lambda b, c, n: raw_post(b, c.id, {"embeds": [{"title": "t"}] * n}), "embeds"),
    "embed-title": (256, lambda b, c, n: c.send(embed=_embed(title="x" * n)), "embeds.0.title"),
    "embed-description": (4096, lambda b, c, n: c.send(embed=_embed(description="x" * n)), "embeds.0.description"),
    "embed-fields": (25, lambda b, c, n: c.send(embed=_fields(n)), "embeds.0.fields"),
    "field-name": (256, lambda b, c, n: c.send(embed=_fields(1, name="x" * n)), "embeds.0.fields.0.name"),
    "field-value": (1024, lambda b, c, n: c.send(embed=_fields(1, value="x" * n)), "embeds.0.fields.0.value"),
    "footer-text": (2048, lambda b, c, n: c.send(embed=_embed(title="t").set_footer(text="x" * n)), "footer.text"),
    "author-name": (256, lambda b, c, n: c.send(embed=_embed(title="t").set_author(name="x" * n)), "author.name"),
    "embed-total": (
        6000,
        lambda b, c, n: c.send(embeds=[_embed(description="x" * 4000), _embed(description="y" * (n - 4000))]),
        "Embed size exceeds maximum size of 6000",
    ),
    "action-rows": (5, _components(lambda n: _buttons(1, rows=n)), "components"),
    "row-buttons": (5, _components(lambda n: _buttons(n)), "components.0.components"),
    "custom-id": (100, _components(lambda n: _one_button(custom_id="x" * n)), "components.0.components.0.custom_id"),
    "button-label": (80, _components(lambda n: _one_button(label="x" * n)), "components.0.components.0.label"),
    "select-options": (25, _components(_select), "components.0.components.0.options"),
}


@pytest.mark.parametrize("case", list(LIMIT_CASES))
async def test_message_limit_accepts_the_maximum_and_rejects_one_more(env: Env, case: str) -> None:
    limit, send, error_path = LIMIT_CASES[case]
    channel = env.channel()
    await send(env.bot, channel, limit)
    with pytest.raises(discord.HTTPException) as caught:
        await send(env.bot, channel, limit + 1)
    assert (caught.value.status, caught.value.code) == (400, 50035)
    assert error_path in caught.value.text
    assert len(env.server.messages_in(env.server.papers)) == 1


async def test_empty_message_is_rejected_with_50006(env: Env) -> None:
    channel = env.channel()
    for attempt in (channel.send(), channel.send(""), raw_post(env.bot, channel.id, {"content": "", "embeds": []})):
        with pytest.raises(discord.HTTPException) as caught:
            await attempt
        assert (caught.value.status, caught.value.code) == (400, 50006)
    assert env.server.messages_in(env.server.papers) == []


async def test_interaction_responses_are_checked_too(env: Env) -> None:
    env.bot.tree.remove_command("whoami")

    @env.bot.tree.command(name="whoami", description="Too long")
    async def too_long(interaction: discord.Interaction) -> None:
        try:
            await interaction.response.send_message("x" * 2001)
        except discord.HTTPException as exc:
            await interaction.response.send_message(f"rejected {exc.code}", ephemeral=True)

    result = await env.server.slash("whoami")
    assert result.content == "rejected 50035" and result.ephemeral
    assert result.rejected[0]["body"]["errors"]["data"]["content"]["_errors"][0]["code"] == "BASE_TYPE_MAX_LENGTH"


async def test_mentions_follow_allowed_mentions(env: Env) -> None:
    server = env.server
    channel = env.channel()
    text = f"{server.member.mention} @everyone"
    await channel.send(text)  # the bot's default allowed_mentions is none()
    await channel.send(text, allowed_mentions=discord.AllowedMentions(users=True))
    quiet, loud = server.messages_in(server.papers)
    assert not quiet.pings.anyone
    assert loud.pings.users == {server.member.id} and not loud.pings.everyone


# ---- nonce, rate limits -----------------------------------------------------------------------------
async def test_enforced_nonce_returns_the_original_message(env: Env) -> None:
    channel = env.channel()
    first = await channel.send("once", nonce=42)
    again = await channel.send("once", nonce=42)
    assert again.id == first.id
    assert [m.content for m in env.server.messages_in(env.server.papers)] == ["once"]
    assert env.server.stats.nonce_dedupes == 1
    await raw_post(env.bot, channel.id, {"content": "not enforced", "nonce": "42"})
    assert len(env.server.messages_in(env.server.papers)) == 2


@pytest.mark.parametrize("global_", [False, True], ids=["route", "global"])
async def test_one_429_is_retried_and_the_message_arrives_once(env: Env, global_: bool) -> None:
    env.server.rate_limit_next_post(retry_after=0.05, global_=global_)
    await env.channel().send("hello")
    assert [m.content for m in env.server.messages_in(env.server.papers)] == ["hello"]
    posts = env.server.requests_to("POST", r"^/channels/\d+/messages$")
    assert [r.status for r in posts] == [429, 200]
    assert (env.server.stats.rate_limited_global, env.server.stats.rate_limited_local) == (
        int(global_),
        int(not global_),
    )


async def test_per_channel_limit_429s_are_waited_out(env: Env) -> None:
    # Without bucket headers discord.py cannot pace itself, so it meets real 429s and sleeps them off.
    env.server.set_rate_limits(per_channel=(2, 0.3), headers=False)
    channel = env.channel()
    for i in range(5):
        await channel.send(f"m{i}")
    assert [m.content for m in env.server.messages_in(env.server.papers)] == [f"m{i}" for i in range(5)]
    assert env.server.stats.rate_limited_local >= 1


async def test_rate_limit_headers_let_discord_py_pace_itself(env: Env) -> None:
    env.server.set_rate_limits(per_channel=(2, 0.3))
    channel = env.channel()
    await asyncio.gather(*(channel.send(f"m{i}") for i in range(5)))
    assert sorted(m.content for m in env.server.messages_in(env.server.papers)) == [f"m{i}" for i in range(5)]
    assert env.server.stats.rate_limited_local == 0
    ok = env.server.requests_to("POST", r"/messages$")[0]
    assert ok.status == 200


async def test_global_limit_answers_429_with_the_global_flag(env: Env) -> None:
    env.server.set_rate_limits(global_per_second=2)
    for _ in range(3):
        await env.bot.fetch_channel(env.server.papers.id)
    assert env.server.stats.rate_limited_global == 1
    assert [r.status for r in env.server.requests_to("GET", r"^/channels/\d+$")] == [200, 200, 429, 200]


async def test_rate_limits_can_be_switched_off(env: Env) -> None:
    env.server.set_rate_limits(per_channel=(1, 60.0), enabled=False)
    channel = env.channel()
    for i in range(3):
        await channel.send(f"m{i}")
    assert env.server.stats.rate_limited == 0


# ---- gateway faults ---------------------------------------------------------------------------------
@pytest.mark.parametrize("code", [4000, 1000])
async def test_close_resumes_replays_missed_events_and_still_serves(env: Env, code: int) -> None:
    server = env.server
    await server.close_gateway(code)
    added = server.add_text_channel(server.guild, "missed-while-away")  # buffered, replayed on RESUME
    await server.wait_for_op(6)
    assert (server.stats.identifies, server.stats.resumes) == (1, 1)
    assert server.gateway_ops.count(2) == 1
    result = await server.slash("paper", "search", query="after resume")
    assert result.content == "results for after resume by new"
    assert env.bot.get_channel(added.id) is not None
    assert server.gateway.connections[-1].path == "/resume"


async def test_close_4009_ends_the_session_and_the_bot_identifies_again(env: Env) -> None:
    server = env.server

    async def no_identify_pause(shard_id: int | None, *, initial: bool = False) -> None:
        """discord.py waits 5 s before re-identifying; the fake has no identify rate limit to respect."""

    env.bot.before_identify_hook = no_identify_pause  # type: ignore[method-assign]
    await server.close_gateway(4009)
    await server.wait_for_op(2, count=2)
    assert server.stats.invalid_sessions == 1
    await server.wait_until_connected()
    assert (await server.slash("paper", "search", query="again")).content == "results for again by new"


async def test_uncompressed_gateway_frames_work_too() -> None:
    async with make_lab_discord(gateway_compression=False) as server, running_bot(make_bot(Seen()), server):
        assert not server.gateway.connections[0].compressed
        assert (await server.slash("paper", "search", query="q")).content == "results for q by new"


async def test_compressed_gateway_is_used_when_asked(env: Env) -> None:
    assert env.server.gateway.connections[0].compressed  # discord.py asks for zlib-stream by default


async def test_members_intent_gets_members_chunks_and_joins(fake_discord: LabDiscord) -> None:
    intents = discord.Intents.default()
    intents.members = True
    bot = make_bot(Seen(), intents=intents)
    joined: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def on_member_join(member: discord.Member) -> None:
        joined.set_result(member.id)

    bot.add_listener(on_member_join)
    async with running_bot(bot, fake_discord):
        guild = bot.get_guild(fake_discord.guild.id)
        assert guild is not None and guild.chunked
        assert {"admin", "member"} <= {m.name for m in guild.members}
        newcomer = fake_discord.add_member(fake_discord.guild, "newcomer")
        assert await asyncio.wait_for(joined, 5) == newcomer.id
        chunk = await guild.chunk()
        assert newcomer.id in {m.id for m in chunk}
        assert 8 in fake_discord.gateway_ops


async def test_user_messages_reach_on_message_and_replies_are_awaitable(fake_discord: LabDiscord) -> None:
    intents = discord.Intents.default()
    intents.message_content = True
    bot = make_bot(Seen(), intents=intents)

    async def on_message(message: discord.Message) -> None:
        if message.content == "ping" and not message.author.bot:
            await message.reply("pong", mention_author=False)

    bot.add_listener(on_message)
    async with running_bot(bot, fake_discord):
        asked = fake_discord.user_message(fake_discord.member, fake_discord.papers, "ping")
        _, answer = await fake_discord.wait_for_messages(fake_discord.papers, 2)
        assert answer.content == "pong" and answer.author.id == fake_discord.bot_user_id
        assert answer.message_reference is not None and answer.message_reference["message_id"] == str(asked.id)
        assert not answer.pings.anyone


async def test_rejected_token_fails_login(fake_discord: LabDiscord) -> None:
    fake_discord.reject_token()
    with pytest.raises(discord.LoginFailure):
        async with running_bot(make_bot(Seen()), fake_discord):
            pass
    fake_discord.accept_token()
    with pytest.raises(discord.LoginFailure):
        async with running_bot(make_bot(Seen()), fake_discord, token="not-the-token"):
            pass


async def test_token_revoked_while_connected_closes_4004(fake_discord: LabDiscord) -> None:
    bot = make_bot(Seen())
    with point_discord_at(fake_discord):
        await bot.login(fake_discord.token)
        connect = asyncio.create_task(bot.connect())
        await bot.wait_until_ready()
        fake_discord.reject_token()
        await fake_discord.close_gateway(4000)
        with pytest.raises(discord.ConnectionClosed) as caught:
            await asyncio.wait_for(connect, 5)
        assert caught.value.code == 4004
        assert bot.is_closed()


# ---- REST faults ------------------------------------------------------------------------------------
async def test_a_500_is_retried(env: Env) -> None:
    env.server.fail_next_posts(1, status=500)
    await env.channel().send("after a 500")
    assert [m.content for m in env.server.messages_in(env.server.papers)] == ["after a 500"]
    assert [r.status for r in env.server.requests_to("POST", r"/messages$")] == [500, 200]


class ScaledSleepAsyncio:
    """The asyncio module as discord/http.py sees it, with sleeps shortened by `factor`."""

    def __init__(self, factor: float) -> None:
        self.factor = factor

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)

    async def sleep(self, delay: float, result: Any = None) -> Any:
        return await asyncio.sleep(delay * self.factor, result)


async def test_posts_failing_every_retry_raise_server_error(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    # discord.py backs off 1+3+5+7+9 s between its five attempts; only the count and the outcome matter here.
    monkeypatch.setattr(discord.http, "asyncio", ScaledSleepAsyncio(0.01))
    env.server.fail_next_posts(5, status=500)
    with pytest.raises(discord.DiscordServerError) as caught:
        await env.channel().send("never")
    assert caught.value.status == 500
    assert [r.status for r in env.server.requests_to("POST", r"/messages$")] == [500] * 5
    assert env.server.messages_in(env.server.papers) == []
    await env.channel().send("the sixth post goes through")
    assert env.server.stats.injected_failures == 5


async def test_unretried_5xx_raises_server_error(env: Env) -> None:
    env.server.fail_next_posts(2, status=503)
    with pytest.raises(discord.DiscordServerError) as caught:
        await env.channel().send("no")
    assert caught.value.status == 503
    assert env.server.messages_in(env.server.papers) == []


async def test_deleted_channel_gives_404_unknown_channel(env: Env) -> None:
    channel = env.channel()
    env.server.delete_channel(env.server.papers)
    with pytest.raises(discord.NotFound) as caught:
        await channel.send("into the void")
    assert caught.value.code == 10003
    await env.server.slash("whoami", channel=env.server.general)  # CHANNEL_DELETE was processed before this
    assert env.bot.get_channel(env.server.papers.id) is None


async def test_denied_send_gives_403_and_shows_in_app_permissions(env: Env) -> None:
    server = env.server
    server.deny_bot(server.papers, send=True, embed=True)
    with pytest.raises(discord.Forbidden) as caught:
        await env.channel().send("not allowed")
    assert caught.value.code == 50013
    await server.slash("whoami", channel=server.papers)
    app_permissions = env.seen.last("whoami")["app_permissions"]
    assert not app_permissions.send_messages and not app_permissions.embed_links
    channel = env.channel()
    assert not channel.permissions_for(channel.guild.me).send_messages  # CHANNEL_UPDATE reached the cache
    server.allow_bot(server.papers)
    await env.channel().send("allowed again")


async def test_without_embed_links_embeds_are_dropped(env: Env) -> None:
    env.server.deny_bot(env.server.papers, send=False, embed=True)
    await env.channel().send("text", embed=discord.Embed(title="hidden"))
    (message,) = env.server.messages_in(env.server.papers)
    assert message.embeds == [] and message.dropped_embeds[0]["title"] == "hidden"


async def test_wrong_authorization_gets_401_and_responses_are_plain_json(fake_discord: LabDiscord) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{fake_discord.api_base}/users/@me", headers={"Authorization": "Bot nope"}) as resp:
            assert resp.status == 401
            assert resp.headers["Content-Type"] == "application/json"
        headers = {"Authorization": f"Bot {fake_discord.token}"}
        async with session.get(f"{fake_discord.api_base}/users/@me", headers=headers) as resp:
            assert resp.status == 200 and (await resp.json())["id"] == str(fake_discord.bot_user_id)
            assert resp.headers["X-RateLimit-Bucket"] and resp.headers["X-RateLimit-Remaining"]


# ---- history, edits, deletes ------------------------------------------------------------------------
async def test_history_edit_and_delete_are_recorded(env: Env) -> None:
    channel = env.channel()
    first = await channel.send("one")
    second = await channel.send("two")
    await first.edit(content="one, edited")
    history = [m.content async for m in channel.history(limit=10)]
    assert history == ["two", "one, edited"]
    fetched = await channel.fetch_message(first.id)
    assert fetched.edited_at is not None
    await second.delete()
    assert [m.content for m in env.server.messages_in(env.server.papers)] == ["one, edited"]
    assert sorted(c.name for c in await channel.guild.fetch_channels()) == ["general", "papers"]
    assert env.server.messages_in(env.server.papers, deleted=True)[1].deleted


async def test_server_without_fixture_can_be_used_as_async_context() -> None:
    original_base = Route.BASE
    async with make_lab_discord() as server:
        assert isinstance(server, FakeDiscord)
        with point_discord_at(server):
            assert server.api_base == Route.BASE
        seen = Seen()
        async with running_bot(make_bot(seen), server) as bot:
            assert bot.is_ready()
    assert original_base == Route.BASE
