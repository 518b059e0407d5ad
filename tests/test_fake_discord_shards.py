"""The loopback gateway's sharding, checked with plain websocket clients: each shard gets only its guilds."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.fakes.discord_gateway import (
    DISPATCH,
    HELLO,
    IDENTIFY,
    INTENT_GUILD_MESSAGES,
    INTENT_GUILDS,
    guild_of,
    shard_of,
)
from tests.fakes.discord_server import FakeDiscord

SHARDS = 3


class RawShard:
    """A websocket client that IDENTIFYs as one shard and keeps every DISPATCH it receives."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.close_code: int | None = None
        self._reader = asyncio.create_task(self._read())
        self.changed = asyncio.Event()

    async def _read(self) -> None:
        async for message in self.ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                break
            frame = json.loads(message.data)
            if frame["op"] == DISPATCH:
                self.events.append((frame["t"], frame["d"]))
                self.changed.set()
        self.close_code = self.ws.close_code
        self.changed.set()

    async def wait_for(self, event: str, count: int = 1) -> list[dict[str, Any]]:
        """Wait until `count` events named `event` arrived; return them."""
        async with asyncio.timeout(5):
            while len(self.named(event)) < count:
                self.changed.clear()
                await self.changed.wait()
        return self.named(event)

    async def wait_closed(self) -> int | None:
        """Wait until the server closed the socket; its close code."""
        async with asyncio.timeout(5):
            await self._reader
        return self.close_code

    def named(self, event: str) -> list[dict[str, Any]]:
        return [data for name, data in self.events if name == event]

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()


@pytest.fixture
async def server() -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord(gateway_compression=False)
    fake.recommended_shards = SHARDS
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def connect(
    server: FakeDiscord, http: aiohttp.ClientSession, shard: list[int] | None, intents: int = INTENT_GUILDS
) -> RawShard:
    ws = await http.ws_connect(server.gateway_url + "?v=10&encoding=json")
    hello = await ws.receive_json()
    assert hello["op"] == HELLO
    identify: dict[str, Any] = {"token": server.token, "intents": intents, "properties": {}}
    if shard is not None:
        identify["shard"] = shard
    await ws.send_json({"op": IDENTIFY, "d": identify})
    return RawShard(ws)


def test_the_routing_rule_is_discords() -> None:
    # (guild_id >> 22) % num_shards, from Discord's gateway documentation; DMs go to shard 0.
    guild_id = 197038439483310086
    assert shard_of(guild_id, 1) == 0
    assert shard_of(guild_id, 4) == (guild_id >> 22) % 4 == 2
    assert shard_of(None, 4) == 0
    assert guild_of("GUILD_CREATE", {"id": "5"}) == 5
    assert guild_of("MESSAGE_CREATE", {"guild_id": "7"}) == 7
    assert guild_of("MESSAGE_CREATE", {"channel_id": "9"}) is None


async def test_each_shard_receives_only_its_guilds_and_their_events(
    server: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    guilds = [server.add_guild(f"g{shard}", shard=(shard, SHARDS)) for shard in range(SHARDS) for _ in range(2)]
    shards = [await connect(server, http, [shard, SHARDS], INTENT_GUILDS | INTENT_GUILD_MESSAGES) for shard in range(3)]
    try:
        for shard_id, shard in enumerate(shards):
            ready = (await shard.wait_for("READY"))[0]
            assert ready["shard"] == [shard_id, SHARDS]
            owned = {g.id for g in guilds if shard_of(g.id, SHARDS) == shard_id}
            assert len(owned) == 2
            assert {int(g["id"]) for g in ready["guilds"]} == owned
            created = await shard.wait_for("GUILD_CREATE", 2)
            assert {int(g["id"]) for g in created} == owned
        # A guild joined later, a channel created in it and a member's message reach its shard alone.
        late = server.add_guild("late", shard=(1, SHARDS))
        channel = server.add_text_channel(late, "news")
        member = server.add_member(late, "someone")
        server.user_message(member, channel, "hello")
        await shards[1].wait_for("MESSAGE_CREATE")
        assert [int(g["id"]) for g in shards[1].named("GUILD_CREATE")][-1] == late.id
        assert [int(c["id"]) for c in shards[1].named("CHANNEL_CREATE")] == [channel.id]
        for other in (shards[0], shards[2]):
            seen = {guild_of(name, data) for name, data in other.events if name != "READY"}
            assert late.id not in seen
            assert other.named("MESSAGE_CREATE") == []
        assert server.gateway.shards_identified == [(0, SHARDS), (1, SHARDS), (2, SHARDS)]
    finally:
        for shard in shards:
            await shard.close()


async def test_an_interaction_goes_to_the_shard_owning_its_guild(
    server: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    guild = server.add_guild("Lab", shard=(2, SHARDS))
    channel = server.add_text_channel(guild, "papers")
    member = server.add_member(guild, "member")
    commands_url = f"{server.api_base}/applications/{server.application_id}/commands"
    headers = {"Authorization": f"Bot {server.token}", "Content-Type": "application/json"}
    command = [{"name": "ping", "description": "Ping", "type": 1}]
    async with http.put(commands_url, json=command, headers=headers) as response:
        assert response.status == 200
    shards = [await connect(server, http, [shard, SHARDS]) for shard in range(SHARDS)]
    try:
        for shard in shards:
            await shard.wait_for("READY")
        await server.slash("ping", as_user=member, channel=channel, wait=False)
        interaction = (await shards[2].wait_for("INTERACTION_CREATE"))[0]
        assert interaction["guild_id"] == str(guild.id)
        assert shards[0].named("INTERACTION_CREATE") == shards[1].named("INTERACTION_CREATE") == []
    finally:
        for shard in shards:
            await shard.close()


async def test_a_shard_outside_the_count_is_refused_and_the_recommended_count_is_served(
    server: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    refused = await connect(server, http, [SHARDS, SHARDS])
    assert await refused.wait_closed() == 4010
    headers = {"Authorization": f"Bot {server.token}"}
    async with http.get(f"{server.api_base}/gateway/bot", headers=headers) as response:
        assert (await response.json())["shards"] == SHARDS


async def test_a_session_without_shard_receives_every_guild(server: FakeDiscord, http: aiohttp.ClientSession) -> None:
    guilds = [server.add_guild(f"g{shard}", shard=(shard, SHARDS)) for shard in range(SHARDS)]
    unsharded = await connect(server, http, None)
    try:
        created = await unsharded.wait_for("GUILD_CREATE", SHARDS)
        assert {int(g["id"]) for g in created} == {g.id for g in guilds}
    finally:
        await unsharded.close()
