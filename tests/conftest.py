"""Shared fixtures: the loopback fakes and a running bot against them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.harness import BotHarness
from tests.fakes.hf_fixtures import fake_hf

__all__ = ["fake_hf", "harness"]


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[BotHarness]:
    """A ready PaperBot talking to the loopback Discord and Hugging Face, on a manual clock."""
    running = await BotHarness.create(tmp_path)
    try:
        yield running
    finally:
        await running.close()
