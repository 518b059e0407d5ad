"""The loopback Discord gateway: HELLO, heartbeats, IDENTIFY/READY, RESUME with replay, member chunks, shards.

Several connections may be open at once, one per shard: a session IDENTIFYs with `shard: [id, count]` and,
as on Discord, receives only the events of the guilds whose `(guild_id >> 22) % count` is its id (DMs go
to shard 0). A session without `shard` receives everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
import zlib
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from .discord_records import FakeDiscordError

if TYPE_CHECKING:
    from .discord_server import FakeDiscord

log = logging.getLogger(__name__)

# Gateway opcodes.
DISPATCH = 0
HEARTBEAT = 1
IDENTIFY = 2
PRESENCE_UPDATE = 3
VOICE_STATE_UPDATE = 4
RESUME = 6
RECONNECT = 7
REQUEST_GUILD_MEMBERS = 8
INVALID_SESSION = 9
HELLO = 10
HEARTBEAT_ACK = 11

# Gateway intents the fake looks at.
INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_MESSAGE_CONTENT = 1 << 15

# Close codes after which Discord will not resume the session.
SESSION_ENDING_CLOSE_CODES = frozenset({4004, 4007, 4009, 4010, 4011, 4012, 4013, 4014})

_REPLAY_BUFFER = 5000


def shard_of(guild_id: int | None, shard_count: int) -> int:
    """The shard that receives a guild's events: (guild_id >> 22) % shard_count; DMs go to shard 0."""
    return 0 if guild_id is None else (guild_id >> 22) % shard_count


def guild_of(event: str, data: dict[str, Any]) -> int | None:
    """The guild an event belongs to: its `id` for GUILD_CREATE/UPDATE/DELETE, else its `guild_id`."""
    raw = data.get("id") if event in ("GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE") else data.get("guild_id")
    return int(raw) if raw is not None else None


def valid_shard(shard: Any) -> bool:
    """Whether IDENTIFY's `shard` is [shard_id, num_shards] with 0 <= shard_id < num_shards."""
    return (
        isinstance(shard, list)
        and len(shard) == 2
        and all(isinstance(n, int) and not isinstance(n, bool) for n in shard)
        and 0 <= shard[0] < shard[1]
    )


class GatewayConnection:
    """One websocket; frames go out in order through a queue so dispatch can be called from sync code."""

    def __init__(self, ws: web.WebSocketResponse, *, compress: bool, path: str) -> None:
        self.ws = ws
        self.path = path
        self.session: GatewaySession | None = None
        self.closed = False
        self.closed_by_server = False
        self.opened_at = time.monotonic()
        self.compressed = compress
        self._zlib = zlib.compressobj() if compress else None
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._writer = asyncio.create_task(self._write_loop(), name="fake-discord-gateway-writer")

    def send(self, payload: dict[str, Any]) -> None:
        """Queue a frame for this socket."""
        if not self.closed:
            self._queue.put_nowait(payload)

    async def _write_loop(self) -> None:
        while True:
            payload = await self._queue.get()
            text = json.dumps(payload, separators=(",", ":"))
            try:
                if self._zlib is not None:
                    data = self._zlib.compress(text.encode()) + self._zlib.flush(zlib.Z_SYNC_FLUSH)
                    await self.ws.send_bytes(data)
                else:
                    await self.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                # The peer went away; anything unsent stays in the session buffer for a RESUME.
                return
            finally:
                self._queue.task_done()

    async def flush(self, timeout: float = 2.0) -> None:
        """Wait until queued frames were written."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), timeout)

    async def close(self, code: int, reason: str = "", *, flush: bool = False) -> None:
        """Close the socket from the server side with a close code."""
        if self.closed:
            return
        if flush:
            await self.flush()
        self.closed = True
        self.closed_by_server = True
        self._writer.cancel()
        with contextlib.suppress(Exception):
            await self.ws.close(code=code, message=reason.encode())

    def stop_writer(self) -> None:
        """Stop the writer task after the socket ended."""
        self.closed = True
        self._writer.cancel()


@dataclass(eq=False)
class GatewaySession:
    """A gateway session: survives disconnects and replays missed dispatches on RESUME."""

    id: str
    intents: int
    shard: list[int] | None = None
    seq: int = 0
    valid: bool = True
    connection: GatewayConnection | None = None
    buffer: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=_REPLAY_BUFFER))
    created_at: float = field(default_factory=time.monotonic)

    def owns(self, guild_id: int | None) -> bool:
        """Whether this session's shard receives the events of `guild_id` (None: DMs, shard 0's)."""
        if self.shard is None:
            return True
        shard_id, shard_count = self.shard
        return shard_of(guild_id, shard_count) == shard_id

    def wants(self, intent: int | None) -> bool:
        """Whether the session's intents include `intent` (None means always sent)."""
        return intent is None or bool(self.intents & intent)

    def dispatch(self, event: str, data: dict[str, Any]) -> int:
        """Send (or buffer, if disconnected) one DISPATCH and return its sequence number."""
        self.seq += 1
        payload = {"op": DISPATCH, "t": event, "s": self.seq, "d": data}
        self.buffer.append(payload)
        if self.connection is not None:
            self.connection.send(payload)
        return self.seq


class GatewayHub:
    """Accepts websocket connections at /gateway and /resume and runs the Discord gateway protocol."""

    def __init__(self, server: FakeDiscord) -> None:
        self.server = server
        self.sessions: dict[str, GatewaySession] = {}
        self.connections: list[GatewayConnection] = []
        self.ops_received: list[int] = []
        self.close_codes_received: list[int | None] = []
        self.shards_identified: list[tuple[int, int] | None] = []  # IDENTIFY's `shard`, in order

    # ---- delivery ----------------------------------------------------------------------------------
    def live_sessions(self) -> list[GatewaySession]:
        """Sessions that can still be resumed or are connected, oldest first."""
        return [s for s in self.sessions.values() if s.valid]

    def sessions_for(self, guild_id: int | None) -> list[GatewaySession]:
        """Valid sessions whose shard receives the events of `guild_id` (None: DMs), oldest first."""
        return [s for s in self.live_sessions() if s.owns(guild_id)]

    def primary_session(self, guild_id: int | None = None) -> GatewaySession:
        """The newest valid session of the shard owning `guild_id`; interactions there go to it."""
        live = self.sessions_for(guild_id)
        if not live:
            if self.live_sessions():
                raise FakeDiscordError(f"no connected shard owns guild {guild_id}: start the process running it")
            raise FakeDiscordError(
                "no bot is connected to the fake gateway; start one first (async with running_bot(bot, server))"
            )
        return live[-1]

    def deliver(self, event: str, data: dict[str, Any]) -> GatewaySession:
        """Dispatch an event to the session of the shard owning its guild."""
        session = self.primary_session(guild_of(event, data))
        session.dispatch(event, data)
        return session

    def broadcast(self, event: str, data: dict[str, Any], intent: int | None = None) -> None:
        """Dispatch an event to every valid session subscribed to `intent` whose shard owns its guild."""
        for session in self.sessions_for(guild_of(event, data)):
            if session.wants(intent):
                session.dispatch(event, data)

    async def close_all(self, code: int, reason: str = "") -> int:
        """Close every open socket with `code`; end sessions when the code means so. Returns the count."""
        open_connections = [c for c in self.connections if not c.closed]
        for connection in open_connections:
            if connection.session is not None and code in SESSION_ENDING_CLOSE_CODES:
                connection.session.valid = False
            await connection.close(code, reason)
        return len(open_connections)

    # ---- protocol ----------------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """aiohttp handler for the gateway websocket."""
        ws = web.WebSocketResponse(timeout=2.0, max_msg_size=0)
        await ws.prepare(request)
        compress = request.query.get("compress") == "zlib-stream" and self.server.gateway_compression
        connection = GatewayConnection(ws, compress=compress, path=request.path)
        self.connections.append(connection)
        self.server.stats.gateway_connections += 1
        connection.send(
            {"op": HELLO, "d": {"heartbeat_interval": self.server.heartbeat_interval_ms}, "s": None, "t": None}
        )
        try:
            async for message in ws:
                if message.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    break
                try:
                    frame = json.loads(message.data)
                except ValueError:
                    await connection.close(4002, "Decode error")
                    break
                await self._on_frame(connection, frame)
                if connection.closed:
                    break
        finally:
            self.close_codes_received.append(ws.close_code)
            session = connection.session
            if session is not None and session.connection is connection:
                session.connection = None
                # A client closing with 1000/1001 ends its session, as on Discord.
                if not connection.closed_by_server and ws.close_code in (1000, 1001):
                    session.valid = False
            connection.stop_writer()
            self.server.notify()
        return ws

    async def _on_frame(self, connection: GatewayConnection, frame: dict[str, Any]) -> None:
        op = frame.get("op")
        data = frame.get("d")
        self.ops_received.append(op if isinstance(op, int) else -1)
        try:
            if op == HEARTBEAT:
                self.server.stats.heartbeats += 1
                connection.send({"op": HEARTBEAT_ACK, "d": None, "s": None, "t": None})
            elif op == IDENTIFY:
                await self._identify(connection, data or {})
            elif op == RESUME:
                await self._resume(connection, data or {})
            elif connection.session is None:
                await connection.close(4003, "Not authenticated.")
            elif op == REQUEST_GUILD_MEMBERS:
                self._request_members(connection.session, data or {})
            elif op in (PRESENCE_UPDATE, VOICE_STATE_UPDATE):
                pass  # accepted and ignored: the fake has no presences or voice
            else:
                await connection.close(4001, "Unknown opcode.")
        finally:
            self.server.notify()

    async def _identify(self, connection: GatewayConnection, data: dict[str, Any]) -> None:
        self.server.stats.identifies += 1
        if connection.session is not None:
            await connection.close(4005, "Already authenticated.")
            return
        if not self.server.token_accepted(data.get("token")):
            await connection.close(4004, "Authentication failed.", flush=True)
            return
        intents = data.get("intents")
        if not isinstance(intents, int):
            await connection.close(4013, "Invalid intent(s).")
            return
        shard = data.get("shard")
        if shard is not None and not valid_shard(shard):
            await connection.close(4010, "Invalid shard.")
            return
        self.shards_identified.append(tuple(shard) if shard is not None else None)
        session = GatewaySession(id=secrets.token_hex(16), intents=intents, shard=shard)
        self.sessions[session.id] = session
        session.connection = connection
        connection.session = session
        session.dispatch("READY", self.server.ready_payload(session))
        for guild in self.server.guilds.values():
            if session.owns(guild.id):
                session.dispatch("GUILD_CREATE", self.server.guild_create_payload(guild, session))

    async def _resume(self, connection: GatewayConnection, data: dict[str, Any]) -> None:
        self.server.stats.resumes += 1
        if not self.server.token_accepted(data.get("token")):
            await connection.close(4004, "Authentication failed.", flush=True)
            return
        session = self.sessions.get(str(data.get("session_id")))
        seq = data.get("seq") or 0
        oldest = session.buffer[0]["s"] if session is not None and session.buffer else 1
        if session is None or not session.valid or seq < oldest - 1:
            self.server.stats.invalid_sessions += 1
            connection.send({"op": INVALID_SESSION, "d": False, "s": None, "t": None})
            return
        if seq > session.seq:
            session.valid = False
            await connection.close(4007, "Invalid seq.")
            return
        previous = session.connection
        session.connection = connection
        connection.session = session
        if previous is not None and previous is not connection:
            await previous.close(4000, "Session resumed elsewhere.")
        for payload in list(session.buffer):
            if payload["s"] > seq:
                connection.send(payload)
        session.dispatch("RESUMED", {})

    def _request_members(self, session: GatewaySession, data: dict[str, Any]) -> None:
        guild_ids = data.get("guild_id")
        if not isinstance(guild_ids, list):
            guild_ids = [guild_ids]
        query = str(data.get("query") or "").lower()
        limit = int(data.get("limit") or 0)
        wanted = {int(x) for x in data.get("user_ids") or []}
        for guild_id in guild_ids:
            guild = self.server.guilds.get(int(guild_id))
            if guild is None:
                continue
            members = [
                m for m in guild.members.values() if (not wanted or m.id in wanted) and m.name.lower().startswith(query)
            ]
            if limit:
                members = members[:limit]
            chunk: dict[str, Any] = {
                "guild_id": str(guild.id),
                "members": [m.to_payload() for m in members],
                "chunk_index": 0,
                "chunk_count": 1,
                "not_found": [str(x) for x in wanted - {m.id for m in members}],
            }
            if data.get("nonce") is not None:
                chunk["nonce"] = data["nonce"]
            session.dispatch("GUILD_MEMBERS_CHUNK", chunk)
