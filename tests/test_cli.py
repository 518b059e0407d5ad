"""The `paperboy` command line as an operator meets it: invite, offline failures, -v/-q, help, a quiet start."""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

import discord
import pytest

from bot.cli import build_parser
from tests.fakes.discord_fixtures import LabDiscord
from tests.fakes.harness import wait_until
from tests.fakes.hf_server import FakeHuggingFace
from tests.fakes.process import write_config

# View Channel 1024 + Send Messages 2048 + Embed Links 16384 + Read Message History 65536.
EXPECTED_PERMISSIONS = 309237730304
TIMEOUT = 60  # far above the 5 s these commands must take: a hang fails the test, a slow machine does not


def paperboy(*args: str, cwd: Path, token: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run `python -m bot ARGS` with a clean environment (no token unless given)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAPERBOY_", "DISCORD_"))}
    if token is not None:
        env["DISCORD_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def offline_config(tmp_path: Path, base_url: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[database]\npath = "{tmp_path / "paperboy.db"}"\n[huggingface]\nbase_url = "{base_url}"\n',
        encoding="utf-8",
    )
    return path


# ---------------------------------------------------------------- invite


def test_invite_with_a_client_id_prints_the_url_with_exactly_the_permissions_used(tmp_path: Path) -> None:
    result = paperboy("invite", "--client-id", "123456789012345678", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    url = result.stdout.splitlines()[0]
    assert url.startswith("https://discord.com/oauth2/authorize?")
    assert "client_id=123456789012345678" in url and "scope=bot+applications.commands" in url
    assert f"permissions={EXPECTED_PERMISSIONS}" in url
    expected = discord.Permissions(
        view_channel=True,
        send_messages=True,
        embed_links=True,
        read_message_history=True,
        create_public_threads=True,
        send_messages_in_threads=True,
    )
    assert expected.value == EXPECTED_PERMISSIONS
    for name in (
        "View Channel",
        "Send Messages",
        "Embed Links",
        "Read Message History",
        "Create Public Threads",
        "Send Messages In Threads",
    ):
        assert name in result.stdout
    assert "checked at run time" in result.stdout and "Manage Channels" in result.stdout


async def test_invite_asks_discord_for_the_application_id_of_the_token(
    world: tuple[LabDiscord, FakeHuggingFace], tmp_path: Path
) -> None:
    discord_server, hf = world
    config = write_config(tmp_path / "config.toml", discord_server, hf, tmp_path / "paperboy.db")
    result = await asyncio.to_thread(
        paperboy, "--config", str(config), "invite", cwd=tmp_path, token=discord_server.token
    )
    assert result.returncode == 0, result.stderr
    assert f"client_id={discord_server.application_id}&" in result.stdout
    assert f"permissions={EXPECTED_PERMISSIONS}" in result.stdout
    assert discord_server.token not in result.stdout + result.stderr


async def test_invite_with_a_rejected_token_exits_1(world: tuple[LabDiscord, FakeHuggingFace], tmp_path: Path) -> None:
    discord_server, hf = world
    discord_server.reject_token()
    config = write_config(tmp_path / "config.toml", discord_server, hf, tmp_path / "paperboy.db")
    result = await asyncio.to_thread(
        paperboy, "--config", str(config), "invite", cwd=tmp_path, token=discord_server.token
    )
    assert result.returncode == 1
    assert result.stderr.strip() == "paperboy: Discord rejected the token (401 Unauthorized): check DISCORD_TOKEN"


def test_invite_without_an_id_or_a_token_says_how_to_give_one(tmp_path: Path) -> None:
    result = paperboy("invite", cwd=tmp_path)
    assert result.returncode == 2
    assert "--client-id" in result.stderr and "DISCORD_TOKEN" in result.stderr
    assert result.stdout == ""


# ---------------------------------------------------------------- offline


@pytest.mark.slow
@pytest.mark.parametrize("where", ["closed port", "unknown host"])
@pytest.mark.parametrize("command", [("scrape",), ("show", "2406.12345"), ("digest",)])
def test_offline_commands_fail_at_once_with_exit_1_and_one_line(
    tmp_path: Path, where: str, command: tuple[str, ...]
) -> None:
    if where == "closed port":
        base_url, reason = f"http://127.0.0.1:{closed_port()}", "connection refused"
    else:
        base_url, reason = "http://nonexistent.invalid", "host name not found"
    config = offline_config(tmp_path, base_url)
    result = paperboy("--config", str(config), *command, cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("paperboy: ") and "cannot reach" in lines[0] and reason in lines[0]
    assert len(lines[0]) < 200
    if command[0] != "show":
        assert "may be stale" in lines[0]
    assert "No papers" not in result.stdout


# ---------------------------------------------------------------- -v and -q


@pytest.mark.parametrize("order", ["before", "after"])
def test_verbose_and_quiet_are_accepted_before_and_after_the_command(tmp_path: Path, order: str) -> None:
    config = offline_config(tmp_path, f"http://127.0.0.1:{closed_port()}")

    def run(flag: str) -> subprocess.CompletedProcess[str]:
        command = ["scrape", "--date", "2026-06-12"]
        args = [flag, *command] if order == "before" else [*command, flag]
        return paperboy("--config", str(config), *args, cwd=tmp_path)

    verbose = run("-v")
    assert verbose.returncode == 1
    assert " INFO " in verbose.stderr and "cannot reach" in verbose.stderr
    quiet = run("-q")
    assert quiet.returncode == 1 and " INFO " not in quiet.stderr and len(quiet.stderr.splitlines()) == 1


def test_verbosity_adds_up_across_both_places() -> None:
    from bot.cli_parser import verbosity

    parser = build_parser()
    assert verbosity(parser.parse_args(["-v", "search", "x", "-v"])) == 2
    assert verbosity(parser.parse_args(["db", "check", "-q"])) == -1
    assert verbosity(parser.parse_args(["alerts", "test", "x"])) == 0


# ---------------------------------------------------------------- help


def leaf_parsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> dict[str, argparse.ArgumentParser]:
    """Every command's parser, by its words: 'scrape', 'db migrate', ..."""
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found[" ".join((*path, name))] = sub
                found.update(leaf_parsers(sub, (*path, name)))
    return found


def test_every_command_has_a_description_examples_and_exit_codes() -> None:
    commands = leaf_parsers(build_parser())
    assert {
        "run",
        "invite",
        "digest",
        "db",
        "db migrate",
        "db check",
        "db backup",
        "scrape",
        "show",
        "search",
        "alerts",
        "alerts test",
    } <= set(commands)
    for name, parser in commands.items():
        text = parser.format_help()
        assert parser.description, f"{name} has no description"
        assert "examples:\n  " in text and "paperboy " in text.split("examples:")[1], f"{name} has no example"
        assert "exit codes:" in text, f"{name} does not list its exit codes"
        assert "network" in (parser.description or "").lower(), f"{name} does not say whether it uses the network"


def test_help_shows_the_defaults() -> None:
    commands = leaf_parsers(build_parser())
    assert "yesterday and today" in commands["scrape"].format_help()
    assert "(default: 10)" in commands["search"].format_help()
    assert "(default: relevance)" in commands["search"].format_help()
    assert "(default: 7)" in commands["alerts test"].format_help()
    assert "DISCORD_TOKEN" in commands["run"].format_help() and "config" in commands["run"].format_help()


@pytest.mark.parametrize("command", ["search", "alerts test"])
def test_query_help_lists_the_fields_and_filters(command: str) -> None:
    text = leaf_parsers(build_parser())[command].format_help()
    for word in ("title:", "author:", "abstract:", "keyword:", "upvotes:", "day:", "code:", " OR ", "-survey"):
        assert word in text, f"{command} --help does not mention {word}"


def test_help_runs_from_the_console() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "search", "--help"], capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    assert result.returncode == 0 and "query language:" in result.stdout


# ---------------------------------------------------------------- a quiet start


@pytest.mark.slow
async def test_the_run_log_has_no_voice_warnings_and_one_sync_line(
    world: tuple[LabDiscord, FakeHuggingFace], tmp_path: Path
) -> None:
    discord_server, hf = world
    config = write_config(tmp_path / "config.toml", discord_server, hf, tmp_path / "paperboy.db")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAPERBOY_", "DISCORD_"))}
    env["DISCORD_TOKEN"] = discord_server.token
    log_path = tmp_path / "run.log"
    with log_path.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "--config",
            str(config),
            "run",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=sink,
            stderr=sink,
            env=env,
        )
    try:
        await discord_server.wait_until_connected(timeout=20)
        await wait_until(
            lambda: "synced commands" in log_path.read_text(encoding="utf-8"), timeout=20, what="the sync line"
        )
        process.terminate()
        assert await asyncio.wait_for(process.wait(), 10) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    output = log_path.read_text(encoding="utf-8")
    assert "voice" not in output.lower() and "PyNaCl" not in output and "davey" not in output
    sync_lines = [line for line in output.splitlines() if "synced commands" in line]
    assert len(sync_lines) == 1 and "/paperboy" in sync_lines[0] and "globally" in sync_lines[0]
