"""One ZooKeeper client connection: handshake, session, and replies in request order.

Theory of operation:
1. Bytes go into a sans-I/O `wire.ServerConnection`; events come out (connect request,
   request, four-letter word). Anything malformed closes this connection with a logged
   reason, and nothing else.
2. Replies leave in request order (ZooKeeper's per-session FIFO): each request takes a
   slot in `queue`. A write's slot fills when its entry is applied here; a read is
   evaluated when it reaches the head, so it sees every earlier write of the session.
   With nothing queued, a read is answered at once — the common, fast case.
3. Watch notifications are written when the change is applied, before the reply of any
   request evaluated after it: a client never sees new data before the event about it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import TYPE_CHECKING, cast

from quorumd import machine as m
from quorumd import wire as w
from quorumd.errors import (
    AuthFailed,
    ProtocolError,
    ReconfigDisabled,
    Unimplemented,
    ZKError,
)
from quorumd.server.reads import READS, run_read
from quorumd.server.translate import WRITE_OPCODES, write_op, write_response
from quorumd.wire.constants import AUTH_XID, KeeperState, OpCode

if TYPE_CHECKING:
    from quorumd.server.clients import ClientServer

log = logging.getLogger("quorumd.clients")

_ZERO_PASSWD = bytes(16)


class _Slot:
    """A request waiting for its turn to be answered."""

    __slots__ = ("opcode", "rec", "reply", "started", "xid")

    def __init__(self, xid: int, opcode: int, rec: object, started: float) -> None:
        self.xid = xid
        self.opcode = opcode
        self.rec = rec
        self.reply: bytes | None = None  # None: pending write/sync, or a read to evaluate
        self.started = started


class ClientConn(asyncio.Protocol):
    def __init__(self, server: ClientServer) -> None:
        self.server = server
        self.node = server.node
        self.watches = server.watches
        self.wire = w.ServerConnection(server.cfg.max_client_frame, extensions=server.extensions)
        self.transport: asyncio.Transport | None = None
        self.peer_ip = "?"
        self.session_id = 0
        self.timeout_ms = 0
        self.opened = False
        self.closed = False
        self.queue: deque[_Slot] = deque()
        self.early: list[w.Request] = []
        self.connected_at = time.time()
        self.received = 0
        self.sent = 0
        self._out: list[bytes] = []
        self._flush_scheduled = False

    @property
    def machine(self) -> m.StateMachine:
        return self.node.machine  # replaced when a snapshot is installed

    # ---------------------------------------------------------------- transport events

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        peer = transport.get_extra_info("peername")
        self.peer_ip = str(peer[0]) if peer else "?"
        self.server.conns.add(self)

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        wire = self.wire
        try:
            wire.receive_data(data)
            while (event := wire.next_event()) is not None:
                self.received += 1
                if isinstance(event, w.Request):
                    if self.opened:
                        self._on_request(event)
                    else:
                        self.early.append(event)
                elif isinstance(event, w.ConnectRequest):
                    self._on_connect(event)
                else:
                    self._write(self.server.four_letter(event.word).encode())
                    self.close("four-letter word answered", flush=True, level=logging.DEBUG)
                    return
        except w.UnknownOpcode as unknown:  # a name of its own: mypyc types one per name
            self.close(f"unknown opcode {unknown.opcode} (xid {unknown.xid})",
                       level=logging.WARNING)
        except ProtocolError as exc:
            self.close(f"protocol error: {exc}", level=logging.WARNING)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.server.detach(self)

    def close(self, reason: str, flush: bool = False, level: int = logging.INFO) -> None:
        if self.closed:
            return
        self.closed = True
        log.log(level, "closing client %s (session 0x%x): %s", self.peer_ip, self.session_id,
                reason)
        t = self.transport
        if t is not None:
            if flush:
                self.flush()
                t.close()
            else:
                t.abort()
        self.server.detach(self)

    def _write(self, data: bytes) -> None:
        self._out.append(data)
        self.sent += 1
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.server.schedule_flush(self)

    def flush(self) -> None:
        self._flush_scheduled = False
        out = self._out
        if out and self.transport is not None and not self.transport.is_closing():
            self.transport.write(out[0] if len(out) == 1 else b"".join(out))
        out.clear()

    # ---------------------------------------------------------------- session handshake

    def _on_connect(self, req: w.ConnectRequest) -> None:
        machine = self.machine
        if req.last_zxid_seen > machine.last_zxid:
            self.close(
                f"client has seen zxid 0x{req.last_zxid_seen:x}, this node only "
                f"0x{machine.last_zxid:x}: the client must try another server"
            )
            return
        if not self.server.serving:
            self.close("no leader: not serving sessions until one is elected")
            return
        cfg = self.server.cfg
        timeout = min(max(req.timeout_ms, cfg.min_session_timeout_ms), cfg.max_session_timeout_ms)
        if req.session_id == 0:
            sid, passwd = self.server.new_session()
            op = m.CreateSession(sid, passwd, timeout)
            self.node.write(sid, op, self._session_created)
        elif machine.session(req.session_id) is None:
            # we may lag the node that created it: catch up to the leader, then decide
            self.node.linearizable_read(lambda: self._resume(req))
        else:
            self._resume(req)

    def _session_created(self, applied: m.Applied) -> None:
        info = applied.result
        if self.closed:
            return
        if not isinstance(info, m.SessionInfo):
            self.close(f"session could not be created: {info!r}")
            return
        self._open(info)

    def _resume(self, req: w.ConnectRequest) -> None:
        if self.closed:
            return
        info = self.machine.session(req.session_id)
        if info is None or info.passwd != req.passwd:
            why = "expired or unknown" if info is None else "wrong password"
            self._write(self.wire.connect_response(w.ConnectResponse(0, 0, 0, _ZERO_PASSWD)))
            self.close(f"session 0x{req.session_id:x} {why}", flush=True)
            return
        self._open(info)

    def _open(self, info: m.SessionInfo) -> None:
        self.session_id = info.session_id
        self.timeout_ms = info.timeout_ms
        self.opened = True
        self.server.attach(self)
        self.node.touch_session(self.session_id)
        resp = w.ConnectResponse(0, info.timeout_ms, info.session_id, info.passwd)
        self._write(self.wire.connect_response(resp))
        early, self.early = self.early, []
        for req in early:
            if self.closed:
                return
            self._on_request(req)

    # ---------------------------------------------------------------- requests

    def _on_request(self, req: w.Request) -> None:
        self.node.touch_session(self.session_id)
        op = req.opcode
        if op == OpCode.PING:
            # An answered ping tells the client its session is alive on the quorum
            # (Chubby's KeepAlive): only say so while this node hears from a leader.
            if self.server.leader_recent():
                self._write(self.wire.ping_reply(self.machine.last_zxid))
            return
        slot = _Slot(req.xid, op, req.record, time.perf_counter())
        if op in READS:
            if not self.queue:
                self._answer(slot, *run_read(self, op, req.record))
            else:
                self.queue.append(slot)
            return
        self.queue.append(slot)
        if op in WRITE_OPCODES:
            try:
                mop = write_op(op, req.record)
            except ZKError as exc:
                self.fill(slot, exc.code, None)
                return
            self.node.write(self.session_id, mop, lambda a: self._written(slot, a))
        elif op == OpCode.SYNC:
            assert isinstance(req.record, w.SyncRequest)
            path = req.record.path
            self.node.linearizable_read(lambda: self.fill(slot, 0, w.SyncResponse(path)))
        elif op == OpCode.AUTH:
            self._auth(slot)
        elif op == OpCode.CLOSE_SESSION:
            close = m.CloseSession(self.session_id)
            self.node.write(self.session_id, close, lambda a: self._closed_session(slot))
        elif op == OpCode.RECONFIG:
            self.fill(slot, ReconfigDisabled.code, None)
        elif op in self.server.extension_handlers:
            self.server.extension_handlers[op](self, slot)
        else:
            self.fill(slot, Unimplemented.code, None)

    def _auth(self, slot: _Slot) -> None:
        rec = slot.rec
        assert isinstance(rec, w.AuthPacket)
        if rec.scheme != "digest":
            self.fill(slot, AuthFailed.code, None)
            self.close(f"auth scheme {rec.scheme!r} is not supported", flush=True)
            return
        user, sep, password = rec.auth.decode("utf-8", "replace").partition(":")
        if not sep or not user:
            self.fill(slot, AuthFailed.code, None)
            self.close("malformed digest credentials (expected user:password)", flush=True)
            return
        add = m.AddAuth(self.session_id, "digest", m.digest_id(user, password))
        self.node.write(self.session_id, add, lambda a: self._written(slot, a))

    def _written(self, slot: _Slot, applied: m.Applied) -> None:
        if slot.opcode == OpCode.AUTH:
            err = applied.result.code if isinstance(applied.result, ZKError) else 0
            self.fill(slot, err, None)
            return
        err, record = write_response(slot.opcode, slot.rec, applied.result)
        self.fill(slot, err, record)

    def _closed_session(self, slot: _Slot) -> None:
        self.fill(slot, 0, None)
        self.close("session closed by the client", flush=True)

    def session_gone(self) -> None:
        """The session expired (or was closed elsewhere): drop the connection; the
        client learns it is expired when it reconnects (ZooKeeper's behaviour)."""
        self.close(f"session 0x{self.session_id:x} expired")

    # ---------------------------------------------------------------- replies

    def _answer(self, slot: _Slot, err: int, record: w.Record | None) -> None:
        xid = AUTH_XID if slot.opcode == OpCode.AUTH else slot.xid
        self._write(self.wire.reply(xid, self.machine.last_zxid, err, slot.opcode, record))
        self.server.record_latency(time.perf_counter() - slot.started)

    def fill(self, slot: _Slot, err: int, record: w.Record | None) -> None:
        """A pending slot is done: send it, and everything after it that is ready."""
        if self.closed:
            return
        xid = AUTH_XID if slot.opcode == OpCode.AUTH else slot.xid
        slot.reply = self.wire.reply(xid, self.machine.last_zxid, err, slot.opcode, record)
        queue = self.queue
        while queue:
            head = queue[0]
            if head.reply is not None:
                self._write(head.reply)
                self.server.record_latency(time.perf_counter() - head.started)
            elif head.opcode in READS:
                self._answer(head, *run_read(self, head.opcode, head.rec))
            else:
                break
            queue.popleft()

    def notify(self, event_type: int, path: str) -> None:
        if not self.closed:
            self._write(self.wire.notification(event_type, KeeperState.SYNC_CONNECTED, path))
