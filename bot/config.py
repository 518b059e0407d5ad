"""Configuration: TOML file plus environment, checked into frozen dataclasses; errors name the key."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
import os
import tomllib
import urllib.parse
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

from bot.sources.arxiv_ids import is_category

log = logging.getLogger(__name__)

ENV_PREFIX = "PAPERBOY_"
CONFIG_ENV = "PAPERBOY_CONFIG"
TOKEN_ENV = "DISCORD_TOKEN"  # noqa: S105 - the name of the variable, not a secret


class ConfigError(Exception):
    """A configuration problem; the message names the key and where it came from."""


@dataclass(frozen=True, slots=True)
class DiscordConfig:
    """[discord]"""

    token: str = field(default="", repr=False)
    api_base: str = "https://discord.com/api/v10"
    gateway_url: str = "wss://gateway.discord.gg"
    dev_guild_ids: tuple[int, ...] = ()
    # 0: as many shards as Discord recommends; with Postgres, several processes may split them.
    shard_count: int = 0
    shard_ids: tuple[int, ...] = ()  # this process's shards; empty: all of them


@dataclass(frozen=True, slots=True)
class DatabaseConfig:
    """[database]"""

    path: str = "paperboy.db"
    # A postgresql:// URL selects the Postgres backend; empty keeps SQLite at `path`.
    url: str = ""


@dataclass(frozen=True, slots=True)
class HuggingFaceConfig:
    """[huggingface]"""

    base_url: str = "https://huggingface.co"
    user_agent: str = "paperboy (+https://github.com/paperboy-bot/paperboy)"


@dataclass(frozen=True, slots=True)
class ArxivConfig:
    """[arxiv]"""

    categories: tuple[str, ...] = ()  # empty: the arXiv source is off
    api_url: str = "https://export.arxiv.org/api/query"
    listing_url: str = "https://rss.arxiv.org/rss"  # + "/CATEGORY" for a category's announcement feed
    max_requests_per_minute: float = 20.0  # arXiv asks for at most one request every 3 seconds
    backfill_days: int = 3


@dataclass(frozen=True, slots=True)
class ScraperConfig:
    """[scraper]"""

    interval_minutes: float = 30.0
    backfill_days: int = 7
    max_requests_per_minute: float = 30.0


@dataclass(frozen=True, slots=True)
class DigestConfig:
    """[digest]"""

    default_time: str = "09:00"
    default_timezone: str = "UTC"
    default_top: int = 10
    grace_hours: float = 6.0


@dataclass(frozen=True, slots=True)
class AlertsConfig:
    """[alerts]"""

    max_per_channel: int = 25
    max_per_guild: int = 100
    hourly_cap_per_channel: int = 20


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration; `source` says which file it came from (None for defaults only)."""

    discord: DiscordConfig = field(default_factory=DiscordConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    huggingface: HuggingFaceConfig = field(default_factory=HuggingFaceConfig)
    arxiv: ArxivConfig = field(default_factory=ArxivConfig)
    scraper: ScraperConfig = field(default_factory=ScraperConfig)
    digest: DigestConfig = field(default_factory=DigestConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    source: str | None = None


_SECTIONS: dict[str, type] = {
    "discord": DiscordConfig,
    "database": DatabaseConfig,
    "huggingface": HuggingFaceConfig,
    "arxiv": ArxivConfig,
    "scraper": ScraperConfig,
    "digest": DigestConfig,
    "alerts": AlertsConfig,
}


def database_password(url: str) -> str:
    """The password inside a database URL ("" if none), so logs can redact it."""
    try:
        return urllib.parse.urlsplit(url).password or ""
    except ValueError:
        return ""


def _quoted(text: str, limit: int = 40) -> str:
    """`text` quoted for an error message, cut so that a pasted novel stays one short line."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


def parse_hhmm(text: str) -> dt.time:
    """Parse a 24-hour local time "HH:MM"; ValueError says what is wrong."""
    hours, sep, minutes = text.partition(":")
    # ASCII digits only: str.isdigit() also accepts "²" (int() fails) and other scripts' digits.
    digits = (hours + minutes).isascii() and hours.isdigit() and minutes.isdigit()
    if not sep or not digits or len(minutes) != 2 or len(hours) > 2:
        raise ValueError(f"{_quoted(text)} is not a time like 09:00 (24-hour HH:MM)")
    hour, minute = int(hours), int(minutes)
    if hour > 23 or minute > 59:
        raise ValueError(f"{_quoted(text)} is not a valid time: hours go 00-23, minutes 00-59")
    return dt.time(hour, minute)


@functools.cache
def _known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def check_timezone(name: str) -> str:
    """Return `name` if it is a known IANA zone; ValueError otherwise."""
    # Only names from the zone list: ZoneInfo() alone also opens other files under the zone folders
    # ("Europe" is a directory, a long name is "File name too long", "zone.tab" is not a zone file).
    if name not in _known_zones():
        raise ValueError(f"{_quoted(name)} is not an IANA time zone (e.g. Europe/Berlin)")
    return name


def _where(source: str, section: str, key: str) -> str:
    return f"[{section}] {key} ({source})"


SECRET_KEYS = frozenset({("discord", "token"), ("database", "url")})


def _coerce_bool(value: Any, from_env: bool, where: str) -> bool:
    """A TOML boolean, or true/false/1/0/yes/no from the environment."""
    if isinstance(value, bool):
        return value
    if from_env and isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.lower() in ("true", "1", "yes")
    raise ConfigError(f"{where}: expected true or false, got {value!r}")


def _coerce_number(value: Any, kind: type[int] | type[float], from_env: bool, where: str) -> int | float:
    """A TOML number of the field's kind (an int is a fine float), or its text from the environment."""
    accepted = (int,) if kind is int else (int, float)
    if isinstance(value, accepted) and not isinstance(value, bool):
        return kind(value)
    if from_env and isinstance(value, str):
        try:
            return kind(value)
        except ValueError:
            pass
    expected = "a whole number" if kind is int else "a number"
    raise ConfigError(f"{where}: expected {expected}, got {value!r}")


def _coerce_ids(value: Any, from_env: bool, where: str) -> tuple[int, ...]:
    """A TOML list of ids, or a comma-separated list from the environment."""
    if from_env and isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list):
        raise ConfigError(f"{where}: expected a list of ids, got {value!r}")
    items = []
    for item in value:
        if isinstance(item, int) and not isinstance(item, bool):
            items.append(item)
        elif isinstance(item, str) and item.isdigit():
            items.append(int(item))
        else:
            raise ConfigError(f"{where}: expected a list of ids, got {item!r} in it")
    return tuple(items)


def _coerce_names(value: Any, from_env: bool, where: str) -> tuple[str, ...]:
    """A list of names (an environment value is comma-separated)."""
    if from_env and isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f'{where}: expected a list of strings like ["cs.CL", "cs.LG"], got {value!r}')
    return tuple(value)


def _coerce(value: Any, kind: Any, where: str, *, secret: bool = False) -> Any:
    """Check `value` against the field type; TOML gives real types, the environment gives strings."""
    from_env = where.endswith("(environment)")
    if secret and kind is str and not isinstance(value, str):
        # Never echo a secret, even one of the wrong type: error messages end up in logs and terminals.
        shown = type(value).__name__
        raise ConfigError(f"{where}: expected a string, got a value of type {shown} (not shown: it is a secret)")
    if kind is bool:
        return _coerce_bool(value, from_env, where)
    if kind is int or kind is float:
        return _coerce_number(value, kind, from_env, where)
    if kind is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    if kind == tuple[int, ...]:
        return _coerce_ids(value, from_env, where)
    if kind == tuple[str, ...]:
        return _coerce_names(value, from_env, where)
    raise ConfigError(f"{where}: unsupported setting type")  # pragma: no cover - schema bug


def _validate(config: Config) -> None:
    """Checks on values beyond their types."""
    src = config.source or "defaults"
    url = config.database.url
    checks: list[tuple[str, str, bool, str]] = [
        ("scraper", "interval_minutes", config.scraper.interval_minutes > 0, "must be greater than 0"),
        ("scraper", "backfill_days", 0 <= config.scraper.backfill_days <= 3650, "must be 0..3650"),
        ("scraper", "max_requests_per_minute", config.scraper.max_requests_per_minute > 0, "must be greater than 0"),
        ("arxiv", "backfill_days", 0 <= config.arxiv.backfill_days <= 3650, "must be 0..3650"),
        ("arxiv", "max_requests_per_minute", config.arxiv.max_requests_per_minute > 0, "must be greater than 0"),
        (
            "arxiv",
            "categories",
            all(is_category(name) for name in config.arxiv.categories),
            "must hold arXiv categories such as cs.CL or hep-th",
        ),
        (
            "arxiv",
            "api_url",
            config.arxiv.api_url.startswith(("http://", "https://"))
            and config.arxiv.listing_url.startswith(("http://", "https://")),
            "api_url and listing_url must start with http:// or https://",
        ),
        ("digest", "default_top", 1 <= config.digest.default_top <= 25, "must be 1..25"),
        ("digest", "grace_hours", config.digest.grace_hours >= 0, "must be 0 or more"),
        ("alerts", "max_per_channel", config.alerts.max_per_channel >= 1, "must be at least 1"),
        ("alerts", "max_per_guild", config.alerts.max_per_guild >= 1, "must be at least 1"),
        ("alerts", "hourly_cap_per_channel", config.alerts.hourly_cap_per_channel >= 1, "must be at least 1"),
        ("database", "path", bool(config.database.path), "must not be empty"),
        (
            "database",
            "url",
            not url or url.startswith(("postgresql://", "postgres://")),
            "must be empty or start with postgresql://",
        ),
        (
            "discord",
            "api_base",
            config.discord.api_base.startswith(("http://", "https://")),
            "must start with http:// or https://",
        ),
        (
            "discord",
            "gateway_url",
            config.discord.gateway_url.startswith(("ws://", "wss://")),
            "must start with ws:// or wss://",
        ),
        (
            "huggingface",
            "base_url",
            config.huggingface.base_url.startswith(("http://", "https://")),
            "must start with http:// or https://",
        ),
    ]
    for section, key, ok, message in checks:
        if not ok:
            raise ConfigError(f"{_where(src, section, key)}: {message}")
    check_sharding(config)
    for key, check in (("default_time", parse_hhmm), ("default_timezone", check_timezone)):
        try:
            check(getattr(config.digest, key))
        except ValueError as exc:
            raise ConfigError(f"{_where(src, 'digest', key)}: {exc}") from exc


def check_sharding(config: Config, where: str | None = None) -> None:
    """Shard options that make sense: ids below the count, and only some of them only with Postgres."""
    src = where or config.source or "defaults"
    count, ids = config.discord.shard_count, config.discord.shard_ids
    if count < 0:
        raise ConfigError(f"{_where(src, 'discord', 'shard_count')}: must be 0 (automatic) or more")
    if not ids:
        return
    if count == 0:
        raise ConfigError(f"{_where(src, 'discord', 'shard_ids')}: needs shard_count, the total over all processes")
    wrong = [shard for shard in ids if not 0 <= shard < count]
    if wrong or len(set(ids)) != len(ids):
        problem = f"shard {wrong[0]} does not exist" if wrong else "a shard is listed twice"
        raise ConfigError(
            f"{_where(src, 'discord', 'shard_ids')}: {problem}: ids go 0..{count - 1} with shard_count = {count}"
        )
    if set(ids) != set(range(count)) and not config.database.url:
        raise ConfigError(
            f"{_where(src, 'discord', 'shard_ids')}: running only some of the {count} shards means other "
            "processes run the rest, which needs a shared Postgres database: set [database] url"
        )


def build_config(data: Mapping[str, Any], env: Mapping[str, str], source: str | None) -> Config:
    """Merge a parsed TOML document with environment overrides into a checked Config."""
    src = source or "defaults"
    for section in data:
        if section not in _SECTIONS:
            raise ConfigError(f"unknown section [{section}] in {src}")
        if not isinstance(data[section], dict):
            raise ConfigError(f"[{section}] in {src} must be a table")
    sections: dict[str, Any] = {}
    for section, cls in _SECTIONS.items():
        hints = get_type_hints(cls)
        names = {f.name for f in dataclasses.fields(cls)}
        given = dict(data.get(section, {}))
        for key in given:
            if key not in names:
                raise ConfigError(f"unknown key [{section}] {key} in {src}")
        values = {
            key: _coerce(value, hints[key], _where(src, section, key), secret=(section, key) in SECRET_KEYS)
            for key, value in given.items()
        }
        for key in names:
            env_name = f"{ENV_PREFIX}{section.upper()}__{key.upper()}"
            if env_name in env:
                values[key] = _coerce(
                    env[env_name],
                    hints[key],
                    _where("environment", section, key),
                    secret=(section, key) in SECRET_KEYS,
                )
        sections[section] = cls(**values)
    unknown_env = [name for name in env if name.startswith(ENV_PREFIX) and "__" in name and _env_target(name) is None]
    if unknown_env:
        raise ConfigError(f"unknown setting in environment: {unknown_env[0]}")
    if env.get(TOKEN_ENV):
        sections["discord"] = dataclasses.replace(sections["discord"], token=env[TOKEN_ENV])
    config = Config(**sections, source=source)
    _validate(config)
    return config


def _env_target(name: str) -> tuple[str, str] | None:
    section, _, key = name[len(ENV_PREFIX) :].partition("__")
    cls = _SECTIONS.get(section.lower())
    if cls is None or key.lower() not in {f.name for f in dataclasses.fields(cls)}:
        return None
    return section.lower(), key.lower()


def resolve_path(explicit: str | None, env: Mapping[str, str]) -> Path | None:
    """The config file to read: --config, then $PAPERBOY_CONFIG, then ./config.toml if present."""
    if explicit:
        return Path(explicit)
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV])
    default = Path("config.toml")
    return default if default.is_file() else None


def load_config(explicit: str | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Load the configuration the way the command line does."""
    env = os.environ if env is None else env
    path = resolve_path(explicit, env)
    data: dict[str, Any] = {}
    if path is not None:
        try:
            with path.open("rb") as handle:
                data = tomllib.load(handle)
        except FileNotFoundError as exc:
            raise ConfigError(f"config file {path} does not exist") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    return build_config(data, env, str(path) if path else None)
