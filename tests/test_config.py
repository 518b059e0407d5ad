"""Configuration: defaults, file, environment overrides, and every kind of error naming the key."""

from __future__ import annotations

import dataclasses
import datetime as dt
import tomllib
from pathlib import Path

import pytest

from bot.config import Config, ConfigError, build_config, load_config, parse_hhmm

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_any_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(None, env={})
    assert config.source is None
    assert config.database.path == "paperboy.db"
    assert config.scraper.interval_minutes == 30
    assert config.digest.default_time == "09:00"
    assert config.alerts.max_per_guild == 100
    assert config.discord.token == ""


def test_example_file_documents_exactly_the_defaults() -> None:
    with (ROOT / "config.example.toml").open("rb") as handle:
        config = build_config(tomllib.load(handle), {}, "config.example.toml")
    assert dataclasses.replace(config, source=None) == Config()


def test_file_values_are_read(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[database]\npath = "/data/x.db"\n[scraper]\ninterval_minutes = 0.05\n'
        '[discord]\ndev_guild_ids = [1, 2]\n[digest]\ndefault_timezone = "Asia/Kolkata"\n',
    )
    config = load_config(str(path), env={})
    assert config.database.path == "/data/x.db"
    assert config.scraper.interval_minutes == pytest.approx(0.05)
    assert config.discord.dev_guild_ids == (1, 2)
    assert config.digest.default_timezone == "Asia/Kolkata"
    assert config.source == str(path)


def test_load_order_explicit_then_env_then_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.toml").write_text('[database]\npath = "cwd.db"\n')
    (tmp_path / "env.toml").write_text('[database]\npath = "env.db"\n')
    (tmp_path / "flag.toml").write_text('[database]\npath = "flag.db"\n')
    assert load_config(None, env={}).database.path == "cwd.db"
    assert load_config(None, env={"PAPERBOY_CONFIG": "env.toml"}).database.path == "env.db"
    assert load_config("flag.toml", env={"PAPERBOY_CONFIG": "env.toml"}).database.path == "flag.db"


def test_environment_overrides_file_and_token_comes_from_env(tmp_path: Path) -> None:
    path = write(tmp_path, '[database]\npath = "file.db"\n[discord]\ntoken = "from-file"\n')
    env = {
        "PAPERBOY_DATABASE__PATH": "env.db",
        "PAPERBOY_SCRAPER__INTERVAL_MINUTES": "0.5",
        "PAPERBOY_DISCORD__DEV_GUILD_IDS": "10, 20",
        "DISCORD_TOKEN": "from-env",
    }
    config = load_config(str(path), env=env)
    assert config.database.path == "env.db"
    assert config.scraper.interval_minutes == 0.5
    assert config.discord.dev_guild_ids == (10, 20)
    assert config.discord.token == "from-env"
    assert "from-env" not in repr(config)


@pytest.mark.parametrize(
    ("text", "env", "needle"),
    [
        ('[database]\npathh = "x"\n', {}, "pathh"),
        ('[databse]\npath = "x"\n', {}, "[databse]"),
        ('[scraper]\ninterval_minutes = "often"\n', {}, "interval_minutes"),
        ("[scraper]\nbackfill_days = 1.5\n", {}, "backfill_days"),
        ("[scraper]\ninterval_minutes = 0\n", {}, "interval_minutes"),
        ('[digest]\ndefault_time = "25:00"\n', {}, "default_time"),
        ('[digest]\ndefault_time = "9am"\n', {}, "default_time"),
        ('[digest]\ndefault_timezone = "Mars/Olympus"\n', {}, "default_timezone"),
        ("[digest]\ndefault_top = 26\n", {}, "default_top"),
        ('[discord]\ndev_guild_ids = ["abc"]\n', {}, "dev_guild_ids"),
        ('[discord]\napi_base = "discord.com"\n', {}, "api_base"),
        ("[alerts]\nmax_per_channel = true\n", {}, "max_per_channel"),
        ("", {"PAPERBOY_ALERTS__MAX_PER_GUILD": "many"}, "max_per_guild"),
        ("", {"PAPERBOY_ALERTS__NOPE": "1"}, "PAPERBOY_ALERTS__NOPE"),
        ("database = 3\n", {}, "[database]"),
        ("[database\n", {}, "not valid TOML"),
    ],
)
def test_errors_name_the_key_and_the_file(tmp_path: Path, text: str, env: dict[str, str], needle: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(str(path), env=env)
    message = str(caught.value)
    assert needle in message
    if not env:
        assert str(path) in message


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(str(tmp_path / "absent.toml"), env={})


@pytest.mark.parametrize(
    ("text", "expected"), [("09:00", dt.time(9)), ("9:05", dt.time(9, 5)), ("23:59", dt.time(23, 59))]
)
def test_parse_hhmm_accepts_valid_times(text: str, expected: dt.time) -> None:
    assert parse_hhmm(text) == expected


@pytest.mark.parametrize("text", ["24:00", "12:60", "1200", "12:5", "", "ab:cd", "-1:00"])
def test_parse_hhmm_rejects_invalid_times(text: str) -> None:
    with pytest.raises(ValueError):
        parse_hhmm(text)
