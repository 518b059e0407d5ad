"""pytest fixtures for the loopback Hugging Face; import `fake_hf` into a test module or conftest."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fakes.hf_items import load_fixture, make_daily_item, paper_object
from tests.fakes.hf_server import FakeHuggingFace, render_daily_page

__all__ = [
    "FakeHuggingFace",
    "fake_hf",
    "load_fixture",
    "make_daily_item",
    "paper_object",
    "render_daily_page",
]


@pytest.fixture
async def fake_hf() -> AsyncIterator[FakeHuggingFace]:
    """A started loopback Hugging Face with no days; fill it with `set_day` and switch faults on."""
    server = FakeHuggingFace()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
