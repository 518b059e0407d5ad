"""Shard options: the config keys, the command line, the SQLite refusal, and one process running two shards."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, build_config
from tests.fakes.harness import BotHarness
from tests.test_cli import paperboy

POSTGRES_URL = "postgresql://paperboy@db.internal:5432/paperboy"


def test_shard_keys_are_read_from_the_file_and_the_environment() -> None:
    data = {"discord": {"shard_count": 4, "shard_ids": [0, 1]}, "database": {"url": POSTGRES_URL}}
    config = build_config(data, {}, "config.toml")
    assert (config.discord.shard_count, config.discord.shard_ids) == (4, (0, 1))
    env = {
        "PAPERBOY_DISCORD__SHARD_COUNT": "3",
        "PAPERBOY_DISCORD__SHARD_IDS": "2",
        "PAPERBOY_DATABASE__URL": POSTGRES_URL,
    }
    config = build_config({}, env, None)
    assert (config.discord.shard_count, config.discord.shard_ids) == (3, (2,))


def test_all_shards_in_one_process_are_fine_on_sqlite() -> None:
    config = build_config({"discord": {"shard_count": 2, "shard_ids": [1, 0]}}, {}, "config.toml")
    assert config.discord.shard_ids == (1, 0)
    assert build_config({"discord": {"shard_count": 2}}, {}, "config.toml").discord.shard_ids == ()


@pytest.mark.parametrize(
    ("discord", "database", "message"),
    [
        ({"shard_count": 4, "shard_ids": [0, 1]}, {}, "[discord] shard_ids (config.toml): running only some of the"),
        ({"shard_ids": [0]}, {"url": POSTGRES_URL}, "needs shard_count, the total over all processes"),
        ({"shard_count": 2, "shard_ids": [2]}, {"url": POSTGRES_URL}, "shard 2 does not exist: ids go 0..1"),
        ({"shard_count": 2, "shard_ids": [-1]}, {"url": POSTGRES_URL}, "shard -1 does not exist"),
        ({"shard_count": 2, "shard_ids": [1, 1]}, {"url": POSTGRES_URL}, "a shard is listed twice"),
        ({"shard_count": -1}, {}, "[discord] shard_count (config.toml): must be 0 (automatic) or more"),
    ],
)
def test_shard_options_that_cannot_work_name_the_key(
    discord: dict[str, object], database: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        build_config({"discord": discord, "database": database}, {}, "config.toml")
    assert message in str(caught.value)


def test_run_with_some_shards_on_sqlite_is_a_one_line_config_error(tmp_path: Path) -> None:
    result = paperboy("run", "--shard-count", "4", "--shard-ids", "0,1", cwd=tmp_path, token="x")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("paperboy: config error: [discord] shard_ids (command line): running only some of")
    assert "needs a shared Postgres database: set [database] url" in lines[0]
    assert not (tmp_path / "paperboy.db").exists()


def test_run_rejects_shard_ids_that_are_not_numbers(tmp_path: Path) -> None:
    result = paperboy("run", "--shard-ids", "0,a", cwd=tmp_path, token="x")
    assert result.returncode == 2 and "is not a list of shard ids like 0,1" in result.stderr


def test_the_environment_alone_refuses_some_shards_on_sqlite(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAPERBOY_", "DISCORD_"))}
    env |= {"PAPERBOY_DISCORD__SHARD_COUNT": "2", "PAPERBOY_DISCORD__SHARD_IDS": "1", "DISCORD_TOKEN": "x"}
    result = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "bot", "run"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    line = result.stderr.strip()
    assert line.startswith("paperboy: config error: [discord] shard_ids (") and "\n" not in line
    assert line.endswith(
        "running only some of the 2 shards means other processes run the rest, which needs a shared Postgres "
        "database: set [database] url"
    )


@pytest.mark.slow
async def test_one_process_runs_two_shards_and_answers_in_guilds_of_both(tmp_path: Path) -> None:
    harness = await BotHarness.create(tmp_path, discord={"shard_count": 2})
    try:
        bot = harness.running
        assert bot.shard_count == 2 and sorted(bot.shards) == [0, 1]
        assert harness.discord.gateway.shards_identified == [(0, 2), (1, 2)]
        for shard_id in (0, 1):
            guild = harness.discord.add_guild(f"on shard {shard_id}", shard=(shard_id, 2))
            channel = harness.discord.add_text_channel(guild, "papers")
            someone = harness.discord.add_member(guild, "someone")
            result = await harness.discord.slash("paperboy", "status", as_user=someone, channel=channel)
            assert "all 2 shards" in (result.message.text if result.message else "")
            assert bot.get_guild(guild.id) is not None and bot.get_guild(guild.id).shard_id == shard_id  # type: ignore[union-attr]
    finally:
        await harness.close()
