"""A real `paperboy run` killed with SIGKILL while it opens a digest's thread: after a restart, one thread.

The loopback Discord holds the thread start until the process is dead, then serves it as Discord would
serve a request whose caller went away; the next start must find that thread, not open a second one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
from pathlib import Path

import pytest

from bot import digest as schedule
from bot.models import DigestSettings
from bot.services.threads import set_thread_mode, thread_state
from bot.store import Store
from tests.fakes.discord_fixtures import make_lab_discord
from tests.fakes.harness import eventually
from tests.fakes.hf_items import make_daily_item
from tests.fakes.hf_server import FakeHuggingFace
from tests.fakes.process import BotProcess, write_config

THREAD_STARTS = r"^/channels/\d+/messages/\d+/threads$"


@pytest.mark.slow
async def test_kill_9_while_opening_the_thread_leaves_one_digest_with_one_thread_after_restart(
    tmp_path: Path,
) -> None:
    discord = make_lab_discord()
    await discord.start()
    hf = FakeHuggingFace()
    await hf.start()
    try:
        due = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
        papers_day = schedule.papers_day_for(due.date(), due)
        hf.set_day(
            papers_day,
            [
                make_daily_item(f"2606.{i:05d}", f"Paper {i} on threads", day=papers_day, upvotes=10 + i)
                for i in range(5)
            ],
        )
        database = tmp_path / "paperboy.db"
        config = write_config(tmp_path / "config.toml", discord, hf, database)
        channel = discord.add_text_channel(discord.guild, "digest-threads")
        store = await Store.open(database)
        try:
            await store.save_digest_settings(
                DigestSettings(
                    guild_id=discord.guild.id,
                    channel_id=channel.id,
                    time=due.time(),
                    timezone="UTC",
                    top=5,
                    effective_from=due - dt.timedelta(minutes=1),
                )
            )
            await set_thread_mode(store, channel.id, "digest")
        finally:
            await store.close()

        gate = asyncio.Event()
        discord.thread_start_gate = gate
        first = BotProcess(config, discord.token, tmp_path / "first.log")
        await first.start()
        try:
            await discord.notifier.wait_for(lambda: discord.thread_starts_held == 1, 60, lambda: "a held thread start")
            assert len(discord.messages_in(channel)) == 1, "the digest is posted before its thread is opened"
        finally:
            await first.stop()  # SIGKILL
        assert first.process is not None and first.process.returncode == -signal.SIGKILL
        gate.set()
        (posted,) = discord.messages_in(channel)
        await discord.notifier.wait_for(
            lambda: discord.thread_of(posted.id) is not None, 10, lambda: "the held start to be served"
        )

        second = BotProcess(config, discord.token, tmp_path / "second.log")
        await second.start()
        try:

            async def recorded() -> bool:
                check = await Store.open(database, migrate=False)
                try:
                    return await thread_state(check, channel.id, papers_day.isoformat()) is not None
                finally:
                    await check.close()

            await eventually(recorded, timeout=30, what="the thread recorded by the second start")
            second.signal(signal.SIGTERM)
            assert await second.wait(timeout=10) == 0
        finally:
            await second.stop()

        assert "Traceback" not in first.output and "Traceback" not in second.output, second.output
        assert [m.id for m in discord.messages_in(channel)] == [posted.id]
        assert list(discord.threads) == [posted.id]
        assert len(discord.requests_to("POST", THREAD_STARTS)) == 1, "the restart found the thread, not a new one"
        store = await Store.open(database, migrate=False)
        try:
            assert await thread_state(store, channel.id, papers_day.isoformat()) == (posted.id, None)
            delivery = await store.get_delivery(channel.id, "digest", papers_day.isoformat())
            assert delivery is not None and delivery.status == "sent" and delivery.message_id == posted.id
            assert await store.check() == []
        finally:
            await store.close()
    finally:
        await hf.stop()
        await discord.close()
