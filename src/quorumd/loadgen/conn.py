"""A raw, pipelined ZooKeeper connection over asyncio: wire.ClientConnection + a socket.

No retries, no reconnection, no watches: the load generator wants to see every failure
and pay for nothing it does not measure. Two ways to use it:

* `WireProtocol` with a handler, for the hot loop: `send(opcode, record, token)`, and
  the handler is called as `handler(token, reply, sent_ns)` for each reply, in order
  (`reply` is None when the connection died first). Frames sent from inside a handler
  are written in one `transport.write` once the received chunk is processed.
* `RawClient`, for setup and for the bench/ scripts: `await call(op, record)` and
  `await pipeline(steps, depth)`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any, cast

from quorumd.errors import ConnectionLoss, ProtocolError
from quorumd.wire import (
    ClientConnection,
    ConnectRequest,
    ConnectResponse,
    Notification,
    OpCode,
    Record,
    RecordType,
    Reply,
)

__all__ = ["Handler", "RawClient", "WireProtocol", "connect", "parse_hosts"]

Handler = Callable[[Any, Reply | None, int], None]
_monotonic_ns = time.monotonic_ns


def parse_hosts(spec: str) -> list[tuple[str, int]]:
    """`h1:p1,h2:p2` -> [(h1, p1), (h2, p2)]; a bare port means 127.0.0.1."""
    out: list[tuple[str, int]] = []
    for raw in spec.split(","):
        item = raw.strip()
        if item:
            host, _, port = item.rpartition(":")
            out.append((host or "127.0.0.1", int(port)))
    if not out:
        raise ValueError("no hosts given")
    return out


class WireProtocol(asyncio.Protocol):
    """One session on one TCP connection; replies dispatched to `handler` in order."""

    def __init__(
        self,
        handler: Handler,
        extensions: Mapping[int, tuple[RecordType | None, RecordType | None]] | None = None,
    ) -> None:
        self.handler = handler
        self.conn = ClientConnection(extensions=extensions)
        self.transport: asyncio.Transport | None = None
        self.handshake: asyncio.Future[ConnectResponse] = asyncio.get_running_loop().create_future()
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pending: deque[tuple[Any, int]] = deque()  # (token, sent_ns)
        self.error: BaseException | None = None
        self._xid = 0
        self._out: list[bytes] = []
        self._dispatching = False
        self._flush_scheduled = False

    # ------------------------------------------------------------ asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCPTransport does not subclass asyncio.Transport, but has its methods
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        conn = self.conn
        conn.receive_data(data)
        self._dispatching = True
        try:
            while True:
                event = conn.next_event()
                if event is None:
                    break
                if type(event) is Reply:
                    if event.xid > 0:
                        token, sent_ns = self.pending.popleft()
                        self.handler(token, event, sent_ns)
                elif isinstance(event, ConnectResponse):
                    if not self.handshake.done():
                        self.handshake.set_result(event)
                elif isinstance(event, Notification):
                    pass  # the load never sets watches; a stray event is harmless
        except ProtocolError as exc:
            self.abort(exc)
        finally:
            self._dispatching = False
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.error is None:
            self.error = exc or ConnectionLoss("connection closed by the server")
        if not self.handshake.done():
            self.handshake.set_exception(ConnectionLoss(str(self.error)))
        pending, self.pending = self.pending, deque()
        for token, sent_ns in pending:
            self.handler(token, None, sent_ns)
        if not self.lost.done():
            self.lost.set_result(None)

    # ------------------------------------------------------------------- sending

    @property
    def closed(self) -> bool:
        return self.transport is None or self.transport.is_closing()

    def send_connect(self, timeout_ms: int) -> None:
        request = ConnectRequest(0, 0, timeout_ms, 0, bytes(16), False)
        self._write(self.conn.connect(request))

    def send(self, opcode: int, record: Record | None, token: Any) -> None:
        """Send one request; its reply (or None) goes to the handler with `token`."""
        if self.closed:
            self.handler(token, None, _monotonic_ns())
            return
        self._xid = xid = self._xid % 0x7FFFFFFF + 1
        self.pending.append((token, _monotonic_ns()))
        self._out.append(self.conn.request(xid, opcode, record))
        if not self._dispatching and not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def ping(self) -> None:
        if not self.closed:
            self._write(self.conn.ping())

    def _write(self, frame: bytes) -> None:
        self._out.append(frame)
        self._flush()

    def _flush(self) -> None:
        self._flush_scheduled = False
        out = self._out
        if out and self.transport is not None and not self.transport.is_closing():
            self._out = []
            self.transport.write(out[0] if len(out) == 1 else b"".join(out))

    def abort(self, exc: BaseException) -> None:
        """Drop the connection at once (the handler sees None for what is pending)."""
        if self.error is None:
            self.error = exc
        if self.transport is not None:
            self.transport.abort()

    def oldest_sent_ns(self) -> int | None:
        return self.pending[0][1] if self.pending else None


async def connect(
    host: str,
    port: int,
    handler: Handler,
    *,
    session_timeout_ms: int = 30_000,
    extensions: Mapping[int, tuple[RecordType | None, RecordType | None]] | None = None,
    timeout_s: float = 5.0,
) -> WireProtocol:
    """Open a TCP connection and complete the session handshake."""
    loop = asyncio.get_running_loop()
    _, proto = await asyncio.wait_for(
        loop.create_connection(lambda: WireProtocol(handler, extensions), host, port),
        timeout_s,
    )
    proto.send_connect(session_timeout_ms)
    try:
        response = await asyncio.wait_for(proto.handshake, timeout_s)
    except BaseException:
        proto.abort(ConnectionLoss("handshake failed"))
        raise
    if response.timeout_ms <= 0:
        proto.abort(ConnectionLoss("session refused"))
        raise ConnectionLoss(f"{host}:{port} refused the session")
    return proto


def _resolve(token: Any, reply: Reply | None, sent_ns: int) -> None:
    future: asyncio.Future[Reply] = token
    if future.done():
        return
    if reply is None:
        future.set_exception(ConnectionLoss("connection lost before the reply"))
    else:
        future.set_result(reply)


class RawClient:
    """Awaitable calls over a `WireProtocol`; replies (including error replies) are
    returned as `Reply`, a lost connection raises ConnectionLoss."""

    def __init__(self, proto: WireProtocol) -> None:
        self.proto = proto
        self._pinger = asyncio.get_running_loop().create_task(self._ping_every(5.0))

    @classmethod
    async def open(
        cls,
        host: str,
        port: int,
        *,
        session_timeout_ms: int = 30_000,
        extensions: Mapping[int, tuple[RecordType | None, RecordType | None]] | None = None,
        timeout_s: float = 5.0,
    ) -> RawClient:
        proto = await connect(
            host,
            port,
            _resolve,
            session_timeout_ms=session_timeout_ms,
            extensions=extensions,
            timeout_s=timeout_s,
        )
        return cls(proto)

    async def _ping_every(self, period_s: float) -> None:
        while not self.proto.closed:
            await asyncio.sleep(period_s)
            self.proto.ping()

    def call_nowait(self, opcode: int, record: Record | None) -> asyncio.Future[Reply]:
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self.proto.send(opcode, record, future)
        return future

    async def call(self, opcode: int, record: Record | None) -> Reply:
        return await self.call_nowait(opcode, record)

    async def pipeline(self, steps: Iterable[tuple[int, Record | None]], depth: int) -> list[Reply]:
        """Every step's reply, in order, with at most `depth` requests in flight."""
        window: deque[asyncio.Future[Reply]] = deque()
        replies: list[Reply] = []
        for opcode, record in steps:
            if len(window) >= depth:
                replies.append(await window.popleft())
            window.append(self.call_nowait(opcode, record))
        while window:
            replies.append(await window.popleft())
        return replies

    async def close(self, timeout_s: float = 2.0) -> None:
        """closeSession (so ephemeral nodes go at once), then close the socket."""
        self._pinger.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._pinger
        if not self.proto.closed:
            with contextlib.suppress(ConnectionLoss, TimeoutError):
                await asyncio.wait_for(self.call(OpCode.CLOSE_SESSION, None), timeout_s)
        if self.proto.transport is not None:
            self.proto.transport.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.proto.lost), timeout_s)
