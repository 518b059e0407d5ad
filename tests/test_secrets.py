"""The bot token never shows: not in logs (ours or discord.py's, at DEBUG), errors, replies, `/paperboy status`,
the config's repr, HTTP client exceptions, or the output of the real `paperboy -vv run`."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import textwrap
import traceback
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TypedDict

import discord
import pytest

from bot.config import build_config, load_config
from bot.logs import REDACTED
from tests.fakes.discord_fixtures import LabDiscord
from tests.fakes.discord_model import FakeChannel, FakeMember
from tests.fakes.harness import BotHarness, wait_until
from tests.fakes.hf_items import make_daily_item
from tests.fakes.hf_server import FakeHuggingFace
from tests.fakes.process import write_config

DAY = dt.date(2026, 6, 12)


class Invocation(TypedDict):
    """Who types a slash command, where, and how long to wait for the answer: shared by several calls."""

    as_user: FakeMember
    channel: FakeChannel
    timeout: float


def everything_logged(records: list[logging.LogRecord]) -> str:
    """Each record as a handler would print it, traceback included, plus its raw arguments."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    lines = []
    for record in records:
        lines.append(formatter.format(record))
        lines.append(repr(record.args))
        if record.stack_info:
            lines.append(record.stack_info)
    return "\n".join(lines)


def everything_sent(harness: BotHarness) -> str:
    """Every message the bot sent and every request body it made, as text."""
    parts = [json.dumps(record.body, default=str) for record in harness.discord.requests if record.body is not None]
    parts += [m.text for m in harness.discord.messages.values()]
    return "\n".join(parts)


@pytest.fixture
async def logged_harness(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> AsyncIterator[BotHarness]:
    """A harness whose whole life, login included, is captured at DEBUG on every logger."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="discord")  # an earlier `paperboy` run in this process may have raised it
    running = await BotHarness.create(tmp_path, extra_extensions=("tests.fakes.failing_cog",))
    try:
        yield running
    finally:
        await running.close()


async def test_token_stays_out_of_debug_logs_replies_and_status_in_process(
    logged_harness: BotHarness, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    harness = logged_harness
    token = harness.discord.token
    server = harness.discord
    harness.hf.set_day(DAY, [make_daily_item("2606.00001", "A paper on routing", day=DAY, upvotes=3)])
    await harness.scrape()
    replies = []
    replies.append(await server.slash("paperboy", "status", as_user=harness.admin, channel=harness.channel))
    replies.append(
        await server.slash("paper", "search", as_user=harness.member, channel=harness.channel, query="routing")
    )
    replies.append(
        await server.slash("paper", "search", as_user=harness.member, channel=harness.channel, query='"unclosed')
    )
    replies.append(await server.slash("boom", as_user=harness.member, channel=harness.channel))  # a bug
    replies.append(await server.slash("digest", "set", as_user=harness.admin, channel=harness.channel, time="09:00"))
    replies.append(await server.slash("alerts", "add", as_user=harness.admin, channel=harness.channel, query="routing"))
    replies.append(
        await server.slash("alerts", "test", as_user=harness.member, channel=harness.channel, query="routing")
    )
    server.fail_next_posts(1, status=403, code=50013, message="Missing Permissions")
    replies.append(await server.slash("digest", "now", as_user=harness.admin, channel=harness.channel))
    assert "Could not post" in (await replies[-1].wait_final()).text
    await server.close_gateway(4000)  # a resume sends the token again
    await server.wait_for_op(6)
    replies.append(await server.slash("paperboy", "status", as_user=harness.admin, channel=harness.channel))
    assert "Something went wrong" in replies[3].text and "Unclosed quote (character 1)" in replies[2].text
    assert "Version" in replies[-1].text and "Last scrape" in replies[-1].text
    # The token is revoked while the bot runs: discord.py's failed resume must not log it either.
    server.reject_token()
    await server.close_gateway(4000)
    await wait_until(lambda: harness._task is not None and harness._task.done(), timeout=10, what="the bot to stop")

    logged = everything_logged(caplog.records)
    assert "discord.gateway" in logged and "discord.http" in logged, "discord.py's DEBUG lines were not captured"
    assert "command /boom failed" in logged and "kaboom" in logged
    captured = capsys.readouterr()
    for where, text in (
        ("logs", logged),
        ("stdout", captured.out),
        ("stderr", captured.err),
        ("messages and request bodies", everything_sent(harness)),
        ("replies", "\n".join(r.text for r in replies)),
    ):
        assert token not in text, f"the token appeared in {where}"


def test_config_repr_and_errors_never_show_the_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token = "MTIz.secret-token-from-env.abc"
    monkeypatch.setenv("DISCORD_TOKEN", token)
    config_file = tmp_path / "config.toml"
    config_file.write_text('[database]\npath = "x.db"\n', encoding="utf-8")
    config = load_config(str(config_file))
    assert config.discord.token == token
    for shown in (repr(config), str(config), repr(config.discord), f"{config}"):
        assert token not in shown
    in_file = build_config({"discord": {"token": "MTIz.secret-in-toml.xyz"}}, {}, "config.toml")
    assert "secret-in-toml" not in repr(in_file)
    # A token of the wrong type (unquoted in TOML) is refused without echoing it.
    for wrong in (1234567890123, ["MTIz.secret-in-a-list.xyz"], {"value": "MTIz.secret-in-a-table.xyz"}):
        with pytest.raises(Exception) as refused:
            build_config({"discord": {"token": wrong}}, {}, "config.toml")
        message = str(refused.value)
        assert "[discord] token" in message and "secret" in message and str(wrong) not in message
        assert "1234567890123" not in message and "secret-in-a" not in message


async def test_http_client_exceptions_do_not_carry_the_token(harness: BotHarness) -> None:
    token = harness.discord.token
    bot = harness.running
    harness.discord.reject_token()
    with pytest.raises(discord.HTTPException) as rejected:
        await bot.http.request(discord.http.Route("GET", "/users/@me"))
    harness.discord.accept_token()
    harness.discord.fail_next_posts(1, status=403, code=50013, message="Missing Permissions")
    with pytest.raises(discord.Forbidden) as forbidden:
        await bot.get_partial_messageable(harness.channel.id).send("hello")
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    unreachable = discord.Client(intents=discord.Intents.none())
    old_base = discord.http.Route.BASE
    discord.http.Route.BASE = f"http://127.0.0.1:{closed_port}/api/v10"
    try:
        with pytest.raises(Exception) as unreached:
            await unreachable.login(token)
    finally:
        discord.http.Route.BASE = old_base
        await unreachable.close()
    for caught in (rejected.value, forbidden.value, unreached.value):
        shown = "".join(traceback.format_exception(caught)) + repr(caught) + str(caught)
        response = getattr(caught, "response", None)
        if response is not None:
            shown += repr(response) + str(response)  # (its request_info does hold the header: never log that)
        assert token not in shown, type(caught).__name__


def test_redact_filter_from_setup_logging_covers_discord_records_and_tracebacks(tmp_path: Path) -> None:
    """`paperboy run` installs the filter on the root handler; records of discord.py's loggers pass through it."""
    token = "MTIz.token-for-the-filter.xyz"
    script = textwrap.dedent(
        f"""
        import logging
        from bot.logs import redact_secret, setup_logging
        setup_logging(2)
        redact_secret({token!r})
        logging.getLogger("discord.http").debug("Authorization: Bot %s", {token!r})
        logging.getLogger("discord.gateway").warning("pre-formatted {token}")
        logging.getLogger("discord.client").info("as a mapping %(token)s", {{"token": {token!r}}})
        try:
            raise RuntimeError("failed with " + {token!r})
        except RuntimeError:
            logging.getLogger("discord.client").exception("Ignoring exception in on_ready")
        logging.getLogger("bot.client").error("ours %s", {token!r}, exc_info=ValueError({token!r}))
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_")}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert token not in done.stderr and token not in done.stdout
    assert done.stderr.count(REDACTED) == 6, done.stderr
    assert "discord.http" in done.stderr and "Traceback" in done.stderr


# ---------------------------------------------------------------- the real process at -vv


async def run_paperboy(config: Path, log_path: Path, *, token_env: str | None) -> asyncio.subprocess.Process:
    """`python -m bot -vv --config PATH run`, output to `log_path`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_") and k != "DISCORD_TOKEN"}
    if token_env is not None:
        env["DISCORD_TOKEN"] = token_env
    with log_path.open("ab") as sink:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "-vv",
            "--config",
            str(config),
            "run",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=sink,
            stderr=sink,
            env=env,
        )


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.kill()
        await process.wait()


@pytest.mark.slow
async def test_paperboy_run_at_debug_never_prints_the_token(
    world: tuple[LabDiscord, FakeHuggingFace], tmp_path: Path
) -> None:
    discord_server, hf = world
    token = discord_server.token
    config = write_config(tmp_path / "config.toml", discord_server, hf, tmp_path / "paperboy.db")
    output = tmp_path / "bot.log"
    process = await run_paperboy(config, output, token_env=token)
    try:
        await discord_server.wait_until_connected(timeout=20)
        await wait_until(lambda: bool(discord_server.synced_commands()), timeout=20, what="command sync")
        where: Invocation = {"as_user": discord_server.member, "channel": discord_server.papers, "timeout": 10}
        status = await discord_server.slash("paperboy", "status", **where)
        bad = await discord_server.slash("paper", "search", query="(unbalanced", **where)
        await discord_server.close_gateway(4000)
        await discord_server.wait_for_op(6, timeout=10)
        again = await discord_server.slash("paperboy", "status", **where)
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 10) == 0
    finally:
        await stop(process)
    printed = output.read_text(encoding="utf-8", errors="replace")
    assert "DEBUG" in printed and "discord.gateway" in printed, printed[-2000:]
    assert "RESUME" in printed
    assert token not in printed
    for reply in (status, bad, again):
        assert token not in reply.text and reply.ephemeral


@pytest.mark.slow
async def test_paperboy_run_with_a_rejected_token_at_debug_never_prints_it(
    world: tuple[LabDiscord, FakeHuggingFace], tmp_path: Path
) -> None:
    discord_server, hf = world
    discord_server.reject_token()
    token = discord_server.token
    config = write_config(tmp_path / "config.toml", discord_server, hf, tmp_path / "paperboy.db")
    # This time the token comes from the config file rather than the environment.
    config.write_text(
        config.read_text(encoding="utf-8").replace("[discord]\n", f'[discord]\ntoken = "{token}"\n'), encoding="utf-8"
    )
    output = tmp_path / "bot.log"
    process = await run_paperboy(config, output, token_env=None)
    try:
        code = await asyncio.wait_for(process.wait(), 20)
    finally:
        await stop(process)
    printed = output.read_text(encoding="utf-8", errors="replace")
    assert code == 1 and "Discord rejected the token" in printed, printed[-2000:]
    assert "DEBUG" in printed
    assert token not in printed
