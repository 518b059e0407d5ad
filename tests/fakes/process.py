"""The real `paperboy run` as a subprocess against the loopback fakes."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

import bot
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.hf_server import FakeHuggingFace

log = logging.getLogger(__name__)

# The folder holding the `bot` package this process imported. The child runs from there: `python -m`
# imports from its current folder first, so elsewhere it could run another checkout's bot.
BOT_ROOT = Path(bot.__file__).resolve().parents[1]


def write_config(
    path: Path, discord: FakeDiscord, hf: FakeHuggingFace, database: Path, **sections: dict[str, object]
) -> Path:
    """A config.toml pointing Paperboy at the fakes (token left to the environment)."""
    lines = [
        "[discord]",
        f'api_base = "{discord.api_base}"',
        f'gateway_url = "{discord.gateway_url}"',
        "[database]",
        f'path = "{database}"',
        "[huggingface]",
        f'base_url = "{hf.base_url}"',
    ]
    for section, values in sections.items():
        lines.append(f"[{section}]")
        for key, value in values.items():
            lines.append(f"{key} = {value!r}".replace("'", '"'))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class BotProcess:
    """`python -m bot --config PATH run` with its output captured to a file."""

    def __init__(self, config: Path, token: str, log_path: Path, run_args: tuple[str, ...] = ()) -> None:
        self.config = config
        self.token = token
        self.log_path = log_path
        self.run_args = run_args  # options of `run`, e.g. ("--shard-count", "3", "--shard-ids", "0")
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> BotProcess:
        """Spawn the bot."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_")}
        env["DISCORD_TOKEN"] = self.token
        with self.log_path.open("ab") as sink:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "-v",
                "--config",
                str(self.config),
                "run",
                *self.run_args,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=sink,
                stderr=sink,
                env=env,
                cwd=BOT_ROOT,
            )
        return self

    def signal(self, sig: signal.Signals) -> None:
        """Send a signal to the process."""
        assert self.process is not None
        self.process.send_signal(sig)

    async def wait(self, timeout: float) -> int:
        """Wait for the exit code."""
        assert self.process is not None
        return await asyncio.wait_for(self.process.wait(), timeout)

    async def stop(self) -> None:
        """Kill the process if it still runs."""
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()

    @property
    def output(self) -> str:
        """Everything the process printed so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""
