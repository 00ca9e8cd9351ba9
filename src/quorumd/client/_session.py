"""The session engine: one TCP connection at a time, kept alive, moved on failure.

Theory of operation (ZooKeeper's ClientCnxn; Chubby §2.8 for jeopardy):

1. Hosts are shuffled once and tried in turn. A handshake sends the session id,
   password and the last zxid seen, so a reconnect to any node resumes the session
   and never goes back in time. A reply `timeout_ms <= 0` means the session expired.
2. After each handshake: auth packets, then setWatches(2), then CONNECTED and the
   queued requests. Requests are pipelined: any number in flight, replies matched in
   order (the wire connection checks the order).
3. Liveness: a ping when nothing was sent for timeout/3; the connection is dropped
   when nothing was received for 2/3 of the negotiated timeout (ZooKeeper's
   readTimeout), and another node is tried.
4. Requests in flight when a connection drops fail with ConnectionLoss: the caller
   (or `retry`) decides, because only it knows whether a replay is safe. Requests
   made while SUSPENDED wait for the next connection for up to one session timeout.
5. `last_confirmed` is the send time of the latest request the servers answered: the
   session is known alive at that instant, so on the servers it cannot expire before
   `last_confirmed + timeout`. Past that instant without news, the client declares the
   session LOST itself (Chubby's local expiry) and starts a new one.

All of it runs on the event loop, no threads: data arrives through an
`asyncio.Protocol`, timers are one supervising task per connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from quorumd.client._states import SessionEvent, SessionState, StateChange, next_state
from quorumd.client._watches import WatchManager
from quorumd.errors import (
    AuthFailed,
    ConnectionLoss,
    ProtocolError,
    QuorumdError,
    SessionExpired,
    UsageError,
    ZKError,
    error_for_code,
)
from quorumd.wire import (
    AUTH_XID,
    PING_XID,
    AuthPacket,
    ClientConnection,
    ConnectRequest,
    ConnectResponse,
    Notification,
    OpCode,
    Record,
    RecordType,
    Reply,
    SetWatches,
    SetWatches2,
)

__all__ = ["ClientClosed", "Session", "parse_hosts"]

log = logging.getLogger("quorumd.client")

_MAX_XID = 2**31 - 1
_SET_WATCHES_BATCH_BYTES = 128 * 1024  # ZooKeeper's SET_WATCHES_MAX_LENGTH


class ClientClosed(QuorumdError):
    """The client was closed: no request can be sent any more."""


def parse_hosts(hosts: str) -> list[tuple[str, int]]:
    """`"h1:p1,h2:p2"` (a missing port is 2181; "[::1]:p" for IPv6)."""
    out: list[tuple[str, int]] = []
    for raw in hosts.split(","):
        item = raw.strip()
        if not item:
            continue
        host, sep, port = item.rpartition(":")
        if not sep or host.endswith(":"):
            host, port = item, "2181"
        host = host.strip("[]")
        if not host or not port.isdigit():
            raise UsageError(f"bad host {item!r} in connect string {hosts!r}")
        out.append((host, int(port)))
    if not out:
        raise UsageError(f"empty connect string {hosts!r}")
    return out


@dataclass(slots=True)
class _Pending:
    xid: int
    opcode: int
    path: str
    sent_at: float
    future: asyncio.Future[Record | None] | None
    #: Runs when the reply arrives, before anything else is decoded (watch registration).
    on_reply: Callable[[int], None] | None = None


class _Wire(asyncio.Protocol):
    """One TCP connection: bytes to events, and the requests awaiting replies."""

    def __init__(
        self,
        session: Session,
        extensions: Mapping[int, tuple[RecordType | None, RecordType | None]],
    ) -> None:
        self.session = session
        self.conn = ClientConnection(extensions=extensions)
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.pending: deque[_Pending] = deque()
        self.pings: deque[float] = deque()
        self.auths: deque[asyncio.Future[None] | None] = deque()
        self.handshake: asyncio.Future[ConnectResponse] = self.loop.create_future()
        self.lost: asyncio.Future[None] = self.loop.create_future()
        self.last_send = self.last_recv = self.loop.time()
        self.ready = False  # handshake done, auth and watches re-sent

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def send(self, data: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            raise ConnectionLoss("connection closed")
        self.transport.write(data)
        self.last_send = self.loop.time()

    def data_received(self, data: bytes) -> None:
        self.last_recv = self.loop.time()
        conn = self.conn
        try:
            conn.receive_data(data)
            while (event := conn.next_event()) is not None:
                if isinstance(event, Reply):
                    self._on_reply(event)
                elif isinstance(event, Notification):
                    self.session.on_notification(event)
                elif not self.handshake.done():
                    self.handshake.set_result(event)
        except ProtocolError as exc:
            log.warning("protocol error from server, dropping connection: %s", exc)
            self.abort()

    def _on_reply(self, reply: Reply) -> None:
        session = self.session
        session.last_zxid = max(session.last_zxid, reply.zxid)
        if reply.xid == PING_XID:
            if self.pings:
                session.confirm(self.pings.popleft())
            return
        if reply.xid == AUTH_XID:
            waiter = self.auths.popleft() if self.auths else None
            if waiter is not None and not waiter.done():
                if reply.err:
                    waiter.set_exception(error_for_code(reply.err, "auth failed"))
                else:
                    waiter.set_result(None)
            return
        pending = self.pending.popleft()
        assert pending.xid == reply.xid  # ClientConnection already refused any other order
        session.confirm(pending.sent_at)
        if pending.on_reply is not None:
            pending.on_reply(reply.err)
        fut = pending.future
        if fut is None or fut.done():
            if reply.err and fut is None:
                log.warning("background request %s failed: %d", pending.opcode, reply.err)
            return
        if reply.err and not (pending.opcode == OpCode.MULTI and reply.record is not None):
            fut.set_exception(error_for_code(reply.err, pending.path))
        else:
            fut.set_result(reply.record)  # a failed multi: the caller reads each op's error

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.ready = False
        error = ConnectionLoss("connection to the server lost")
        if not self.handshake.done():
            self.handshake.set_exception(error)
            self.handshake.exception()  # mark retrieved: the connector may have given up
        while self.pending:
            fut = self.pending.popleft().future
            if fut is not None and not fut.done():
                fut.set_exception(ConnectionLoss("connection lost before the reply"))
        while self.auths:
            waiter = self.auths.popleft()
            if waiter is not None and not waiter.done():
                waiter.set_exception(ConnectionLoss("connection lost before the auth reply"))
        if not self.lost.done():
            self.lost.set_result(None)


@dataclass(slots=True)
class SessionConfig:
    hosts: list[tuple[str, int]]
    timeout_ms: int
    auth: list[tuple[str, bytes]] = field(default_factory=list)
    connect_timeout_s: float | None = None
    extensions: Mapping[int, tuple[RecordType | None, RecordType | None]] = field(
        default_factory=dict
    )
    can_be_read_only: bool = False
    #: Ping this often when idle (default: a third of the negotiated timeout).
    ping_interval_s: float | None = None


def _log_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("session task crashed", exc_info=task.exception())


class Session:
    """The state and connection of one client; `Client` is the API over it."""

    def __init__(self, config: SessionConfig, rng: random.Random | None = None) -> None:
        self.config = config
        self._hosts = list(config.hosts)
        self._rng = rng or random.Random()
        self._rng.shuffle(self._hosts)
        self.state = SessionState.CONNECTING
        self.session_id = 0
        self.passwd = b"\x00" * 16
        self.negotiated_timeout_ms = config.timeout_ms
        self.last_zxid = 0
        self.last_confirmed = 0.0
        self.connected_host: tuple[str, int] | None = None
        self.watches = WatchManager()
        self.listeners: list[Callable[[StateChange], object]] = []
        self.notification_hooks: list[Callable[[Notification], bool]] = []
        self._wire: _Wire | None = None
        self._xid = 0
        self._state_changed = asyncio.Condition()
        self._runner: asyncio.Task[None] | None = None
        self._closing = False

    # ------------------------------------------------------------------ public-ish

    @property
    def read_timeout_s(self) -> float:
        return self.negotiated_timeout_ms * 2 / 3000

    @property
    def ping_interval_s(self) -> float:
        default = self.negotiated_timeout_ms / 3000
        asked = self.config.ping_interval_s
        return default if asked is None else min(asked, default)

    def confirm(self, sent_at: float) -> None:
        self.last_confirmed = max(self.last_confirmed, sent_at)

    async def start(self, timeout_s: float | None) -> None:
        if self._runner is not None:
            raise UsageError("client already started")
        self._runner = asyncio.get_running_loop().create_task(self._run(), name="quorumd-session")
        self._runner.add_done_callback(_log_crash)
        try:
            await self.wait_connected(timeout_s)
        except BaseException:
            await self.close()
            raise

    def _usable(self) -> _Wire | None:
        wire = self._wire
        if (
            self.state is SessionState.CONNECTED
            and wire is not None
            and wire.ready
            and wire.transport is not None
            and not wire.transport.is_closing()
        ):
            return wire
        return None

    async def wait_connected(self, timeout_s: float | None) -> None:
        """Until CONNECTED on a live connection; ConnectionLoss after `timeout_s`,
        ClientClosed if the client is closed meanwhile."""

        async def until() -> None:
            async with self._state_changed:
                await self._state_changed.wait_for(
                    lambda: self._usable() is not None or self.state is SessionState.CLOSED
                )

        if self._usable() is None:
            try:
                await asyncio.wait_for(until(), timeout_s)
            except TimeoutError:
                raise ConnectionLoss(f"not connected within {timeout_s}s") from None
        if self.state is SessionState.CLOSED:
            raise ClientClosed("client closed")

    async def close(self) -> None:
        """Close the session on the servers (ephemerals go at once), then the socket."""
        if self._closing:
            return
        self._closing = True
        wire = self._wire
        if wire is not None and wire.ready and self.state is SessionState.CONNECTED:
            with contextlib.suppress(ZKError, TimeoutError, ClientClosed):
                await asyncio.wait_for(self._send(wire, OpCode.CLOSE_SESSION, None, ""), 2.0)
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
        if self._wire is not None:
            self._wire.abort()
        self._transition(SessionEvent.CLOSED)
        async with self._state_changed:
            self._state_changed.notify_all()

    async def submit(
        self,
        opcode: int,
        record: Record | None,
        path: str = "",
        on_reply: Callable[[int], None] | None = None,
    ) -> Record | None:
        """Send one request and await its reply record (rule 4 for failures)."""
        wire = self._usable()
        if wire is None:
            if self.state is SessionState.CLOSED:
                raise ClientClosed("client closed")
            await self.wait_connected(self.negotiated_timeout_ms / 1000)
            wire = self._usable()
            if wire is None:
                raise ConnectionLoss("connection dropped again")
        return await self._send(wire, opcode, record, path, on_reply)

    def _send(
        self,
        wire: _Wire,
        opcode: int,
        record: Record | None,
        path: str,
        on_reply: Callable[[int], None] | None = None,
        want_reply: bool = True,
    ) -> asyncio.Future[Record | None]:
        self._xid = self._xid % _MAX_XID + 1
        data = wire.conn.request(self._xid, opcode, record)
        fut = wire.loop.create_future() if want_reply else None
        wire.pending.append(_Pending(self._xid, opcode, path, wire.loop.time(), fut, on_reply))
        wire.send(data)
        if fut is None:
            fut = wire.loop.create_future()
            fut.set_result(None)
        return fut

    async def add_auth(self, scheme: str, credential: bytes) -> None:
        if self.state is SessionState.CLOSED:
            raise ClientClosed("client closed")
        self.config.auth.append((scheme, credential))
        wire = self._usable()
        if wire is None:
            return  # sent with the next handshake
        waiter: asyncio.Future[None] = wire.loop.create_future()
        wire.auths.append(waiter)
        wire.send(wire.conn.request(AUTH_XID, OpCode.AUTH, AuthPacket(0, scheme, credential)))
        try:
            await waiter
        except AuthFailed:
            self.config.auth.remove((scheme, credential))
            raise

    # ------------------------------------------------------------------ internals

    def on_notification(self, note: Notification) -> None:
        for hook in self.notification_hooks:
            if hook(note):
                return
        self.watches.dispatch(note.event_type, note.path)

    def _transition(self, event: SessionEvent) -> None:
        old = self.state
        new = next_state(old, event)
        if new is old:
            return
        self.state = new
        change = StateChange(old, new, self.session_id)
        log.info("session 0x%x: %s -> %s", self.session_id, old.value, new.value)
        for listener in list(self.listeners):
            try:
                listener(change)
            except Exception:
                log.exception("state listener %r failed", listener)

    async def _notify_state(self) -> None:
        async with self._state_changed:
            self._state_changed.notify_all()

    async def _run(self) -> None:
        attempt = 0
        while not self._closing:
            host = self._hosts[attempt % len(self._hosts)]
            attempt += 1
            try:
                wire = await self._connect(host)
            except SessionExpired:
                await self._expire("the server reports the session expired")
                continue
            except (OSError, TimeoutError, ZKError, ProtocolError) as exc:
                log.debug("connect to %s:%d failed: %s", *host, exc)
                self._check_local_expiry()
                if attempt % len(self._hosts) == 0:
                    await asyncio.sleep(min(1.0, 0.05 * attempt) * self._rng.uniform(0.5, 1.0))
                continue
            attempt = 0
            self._hosts.append(self._hosts.pop(self._hosts.index(host)))  # next: another node
            await self._serve(wire)
            self._wire = None
            self.connected_host = None
            if not self._closing:
                self._transition(SessionEvent.DISCONNECTED)
                await self._notify_state()
                self._check_local_expiry()

    def _check_local_expiry(self) -> None:
        """Rule 5: no news for a whole session timeout means the session is gone."""
        if self.state is SessionState.SUSPENDED:
            silent = asyncio.get_running_loop().time() - self.last_confirmed
            if silent >= self.negotiated_timeout_ms / 1000:
                self._expire_now("no server reachable for a whole session timeout")

    async def _expire(self, why: str) -> None:
        self._expire_now(why)
        await self._notify_state()

    def _expire_now(self, why: str) -> None:
        log.warning("session 0x%x lost: %s", self.session_id, why)
        self._transition(SessionEvent.EXPIRED)
        self.session_id = 0
        self.passwd = b"\x00" * 16
        self.watches.expire()

    async def _connect(self, host: tuple[str, int]) -> _Wire:
        loop = asyncio.get_running_loop()
        timeout = self.config.connect_timeout_s or max(1.0, self.read_timeout_s)
        if self.state is SessionState.SUSPENDED:  # rule 5 must not wait for a hung connect
            expiry = self.last_confirmed + self.negotiated_timeout_ms / 1000
            timeout = min(timeout, max(0.01, expiry - loop.time()))
        wire = _Wire(self, self.config.extensions)
        async with asyncio.timeout(timeout):
            await loop.create_connection(lambda: wire, host[0], host[1])
            try:
                wire.send(wire.conn.connect(ConnectRequest(
                    0, self.last_zxid, self.config.timeout_ms, self.session_id, self.passwd,
                    self.config.can_be_read_only,
                )))  # fmt: skip
                response = await wire.handshake
            except BaseException:
                wire.abort()
                raise
        if response.timeout_ms <= 0:
            wire.abort()
            raise SessionExpired("session expired")
        new_session = response.session_id != self.session_id
        self.session_id = response.session_id
        self.passwd = response.passwd
        self.negotiated_timeout_ms = response.timeout_ms
        self.connected_host = host
        self.confirm(wire.last_send)
        for scheme, credential in self.config.auth:
            wire.auths.append(None)
            wire.send(wire.conn.request(AUTH_XID, OpCode.AUTH, AuthPacket(0, scheme, credential)))
        if not new_session:
            self._rearm_watches(wire)
        self._wire = wire
        wire.ready = True
        self._transition(SessionEvent.CONNECTED)
        await self._notify_state()
        return wire

    def _rearm_watches(self, wire: _Wire) -> None:
        data, exist, child, persistent, recursive = self.watches.rearm_lists()
        if not (data or exist or child or persistent or recursive):
            return
        batches: list[list[list[str]]] = [[[], [], [], [], []]]
        size = 0
        for kind, paths in enumerate((data, exist, child, persistent, recursive)):
            for path in paths:
                if size + len(path) > _SET_WATCHES_BATCH_BYTES:
                    batches.append([[], [], [], [], []])
                    size = 0
                batches[-1][kind].append(path)
                size += len(path) + 4
        for d, e, c, p, r in batches:
            if persistent or recursive:
                record: Record = SetWatches2(self.last_zxid, *map(tuple, (d, e, c, p, r)))
                opcode = OpCode.SET_WATCHES2
            else:
                record = SetWatches(self.last_zxid, tuple(d), tuple(e), tuple(c))
                opcode = OpCode.SET_WATCHES
            self._send(wire, opcode, record, "", want_reply=False)

    async def _serve(self, wire: _Wire) -> None:
        """Keep one connection alive until it drops (rule 3)."""
        loop = wire.loop
        while not wire.lost.done():
            now = loop.time()
            if now - wire.last_recv >= self.read_timeout_s:
                log.info("no reply from %s:%d for %.1fs: trying another node",
                         *(self.connected_host or ("?", 0)), now - wire.last_recv)
                wire.abort()
                break
            if now - wire.last_send >= self.ping_interval_s:
                wire.pings.append(now)
                try:
                    wire.send(wire.conn.ping())
                except ConnectionLoss:
                    break
            wake = min(wire.last_send + self.ping_interval_s, wire.last_recv + self.read_timeout_s)
            await asyncio.wait([wire.lost], timeout=max(0.01, wake - loop.time()))
        await wire.lost
