"""Shared fixtures: the loopback fakes and a running bot against them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.discord_fixtures import LabDiscord, make_lab_discord
from tests.fakes.harness import BotHarness
from tests.fakes.hf_fixtures import fake_hf
from tests.fakes.hf_server import FakeHuggingFace

__all__ = ["fake_hf", "harness", "world"]


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[BotHarness]:
    """A ready PaperBot talking to the loopback Discord and Hugging Face, on a manual clock."""
    running = await BotHarness.create(tmp_path)
    try:
        yield running
    finally:
        await running.close()


@pytest.fixture
async def world() -> AsyncIterator[tuple[LabDiscord, FakeHuggingFace]]:
    """Both loopback servers, started, for tests that run the real `paperboy run` process against them."""
    discord_server = make_lab_discord()
    await discord_server.start()
    hf = FakeHuggingFace()
    await hf.start()
    try:
        yield discord_server, hf
    finally:
        await hf.stop()
        await discord_server.close()
