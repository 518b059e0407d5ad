"""Shared fixtures: the loopback fakes and a running bot against them."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.fakes.discord_fixtures import LabDiscord, make_lab_discord
from tests.fakes.harness import BotHarness
from tests.fakes.hf_fixtures import fake_hf
from tests.fakes.hf_server import FakeHuggingFace
from tests.fakes.postgres import PostgresServer, start_server

__all__ = ["fake_hf", "harness", "world"]


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """Two workers more than the processors this process may use: much of the suite waits on subprocesses
    and loopback servers, and another worker uses the processor meanwhile (on 2 cores, 4 workers run the
    suite in about 2 min 30 s against 3 min 35 s for 2)."""
    return len(os.sched_getaffinity(0)) + 2 if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1) + 2


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL server per test session (per xdist worker), started on first use.

    Missing binaries raise PostgresUnavailable: the Postgres tests error out, they are never skipped.
    """
    server = start_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of a fresh, empty database on the session's server, dropped after the test."""
    url = postgres_server.create_database()
    try:
        yield url
    finally:
        postgres_server.drop_database(url)


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
