"""SIGTERM while an alert pass is posting: the real `paperboy run` waits for the posts under way, starts no
new ones, closes the database only after that, and the next start delivers what was left, once."""

from __future__ import annotations

import signal

import pytest

from bot.alerts import ALERT_KIND, BATCH_KIND
from bot.store import Store
from tests.fakes.harness import eventually
from tests.test_reliability_crash import World, open_deliveries
from tests.test_reliability_crash import world as world  # noqa: PLC0414 - the fixture, re-exported here

ALERT_CHANNELS = 60  # paced under 50 posts a second: over a second of posting for the signal to land in
ALERT_PAPERS = 2
POSTS_BEFORE_STOP = 5


@pytest.mark.slow
async def test_sigterm_during_an_alert_pass_logs_no_traceback_and_loses_nothing(world: World) -> None:
    await world.add_alert_channels(ALERT_CHANNELS)
    world.publish_alert_papers(ALERT_PAPERS)
    world.discord.latency = 0.2  # posts take a while: the signal comes with several of them under way
    process = await world.process("first").start()
    try:
        await world.discord.notifier.wait_for(
            lambda: len(world.completed_posts()) >= POSTS_BEFORE_STOP, 30, lambda: "the first alert posts"
        )
        process.signal(signal.SIGTERM)
        assert await process.wait(timeout=30) == 0
    finally:
        await process.stop()
    output = process.output
    assert "received SIGTERM; shutting down" in output
    assert "Traceback" not in output and "closed database" not in output, output[-3000:]
    posted_at_stop = [c for c in world.alert_channels if world.discord.messages_in(c)]
    assert POSTS_BEFORE_STOP <= len(posted_at_stop) < len(world.alert_channels), "the stop came after the pass"
    store = await Store.open(world.database, migrate=False)
    try:
        for channel in world.alert_channels:
            batch = await store.latest_delivery(channel.id, BATCH_KIND)
            assert batch is not None, f"{channel.name}: the pass claims every channel's post before sending"
            if channel in posted_at_stop:
                # Posts under way at the signal were waited for and recorded.
                assert batch.status == "sent", channel.name
                assert batch.message_id == world.discord.messages_in(channel)[0].id
            else:
                assert batch.status == "pending", channel.name
        assert await store.check() == []
    finally:
        await store.close()
    world.discord.latency = 0.0
    process = await world.process("second").start()
    try:
        await world.discord.notifier.wait_for(lambda: not world.alerts_missing(), 30, lambda: "every alert")

        async def settled() -> bool:
            return await open_deliveries(world.database) == []

        await eventually(settled, timeout=20, what="no open alert deliveries")
        process.signal(signal.SIGTERM)
        assert await process.wait(timeout=30) == 0
    finally:
        await process.stop()
    assert "Traceback" not in process.output
    for channel in world.alert_channels:
        assert set(world.alerted(channel).values()) == {1}, (channel.name, world.alerted(channel))
        assert len(world.discord.messages_in(channel)) == 1, channel.name
    store = await Store.open(world.database, migrate=False)
    try:
        for channel in world.alert_channels:
            for paper_id in world.alert_ids():
                alert = await store.get_delivery(channel.id, ALERT_KIND, paper_id)
                assert alert is not None and alert.status == "sent", (channel.name, paper_id)
    finally:
        await store.close()
