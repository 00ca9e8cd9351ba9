"""A real KazooClient against a tiny in-test server that speaks through ServerConnection.

The server is a toy (a dict of nodes, one thread per connection, 127.0.0.1 only); what
is under test is the codec: every frame kazoo sends must decode to the request record
we expect, and every reply we encode must make kazoo return the right values.
"""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError
from kazoo.protocol.states import EventType as KEventType

from quorumd.wire import (
    ACL,
    AUTH_XID,
    AuthPacket,
    CheckResult,
    CheckVersionRequest,
    ConnectRequest,
    ConnectResponse,
    Create2Response,
    CreateMode,
    CreateRequest,
    CreateResponse,
    DeleteRequest,
    DeleteResult,
    EventType,
    ExistsRequest,
    ExistsResponse,
    FourLetterWord,
    GetChildren2Request,
    GetChildren2Response,
    GetChildrenRequest,
    GetChildrenResponse,
    GetDataRequest,
    GetDataResponse,
    Id,
    MultiOp,
    MultiRequest,
    MultiResponse,
    OpCode,
    Request,
    ServerConnection,
    SetDataRequest,
    SetDataResponse,
    Stat,
    SyncRequest,
    SyncResponse,
)
from quorumd.wire.fourletter import ServerStats, render

SESSION_ID = 0x0102030405060708
PASSWD = b"quorumd-passwd!!"
OPEN = (ACL(31, Id("world", "anyone")),)
NONODE = -101


class ToyServer:
    """Answers kazoo from a dict; records every decoded event in arrival order."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.events: list[Any] = []
        self.errors: list[BaseException] = []
        self.nodes: dict[str, bytes] = {"/": b""}
        self.watches: set[str] = set()
        self.zxid = 100
        self.last_reply_zxid = 0
        self.sequence = 0
        self.drop_after_next_reply = threading.Event()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._accept_loop, daemon=True)]
        self.threads[0].start()

    def close(self) -> None:
        self.stopping.set()
        for thread in list(self.threads):
            thread.join(timeout=5)
        self.listener.close()

    def _accept_loop(self) -> None:
        while not self.stopping.is_set():
            if select.select([self.listener], [], [], 0.05)[0]:
                sock, _ = self.listener.accept()
                thread = threading.Thread(target=self._serve, args=(sock,), daemon=True)
                self.threads.append(thread)
                thread.start()

    def _serve(self, sock: socket.socket) -> None:
        conn = ServerConnection()
        try:
            with sock:
                while not self.stopping.is_set():
                    if not select.select([sock], [], [], 0.05)[0]:
                        continue
                    data = sock.recv(65536)
                    if not data:
                        return
                    conn.receive_data(data)
                    while (event := conn.next_event()) is not None:
                        self.events.append(event)
                        out, done = self._answer(conn, event)
                        sock.sendall(out)
                        if done:
                            return
        except BaseException as exc:  # surfaced by the test, never swallowed
            self.errors.append(exc)

    def _answer(self, conn: ServerConnection, event: Any) -> tuple[bytes, bool]:
        if isinstance(event, FourLetterWord):
            return render(event.word, ServerStats("0.1.0")).encode(), True
        if isinstance(event, ConnectRequest):
            return conn.connect_response(
                ConnectResponse(0, event.timeout_ms, SESSION_ID, PASSWD, False)
            ), False
        assert isinstance(event, Request)
        if event.opcode == OpCode.PING:
            return conn.ping_reply(self.zxid), False
        if event.opcode == OpCode.AUTH:
            return conn.reply(AUTH_XID, 0, 0, OpCode.AUTH), False
        self.zxid += 1
        prefix, err, result = self._apply(conn, event.opcode, event.record)
        self.last_reply_zxid = self.zxid
        reply = conn.reply(event.xid, self.zxid, err, event.opcode, result)
        done = event.opcode == OpCode.CLOSE_SESSION or self.drop_after_next_reply.is_set()
        self.drop_after_next_reply.clear()
        return prefix + reply, done

    def _stat(self, path: str) -> Stat:
        children = len(self._children(path))
        return Stat(self.zxid, self.zxid, 1, 2, 0, 0, 0, 0, len(self.nodes[path]), children, 1)

    def _children(self, path: str) -> tuple[str, ...]:
        base = "" if path == "/" else path
        return tuple(
            sorted(
                p[len(base) + 1 :] for p in self.nodes if p != "/" and p.rpartition("/")[0] == base
            )
        )

    def _apply(self, conn: ServerConnection, op: int, rec: Any) -> tuple[bytes, int, Any]:
        if op in (OpCode.CREATE, OpCode.CREATE2):
            path = rec.path
            if CreateMode(rec.flags).sequential:
                self.sequence += 1
                path += f"{self.sequence:010d}"
            self.nodes[path] = rec.data
            if op == OpCode.CREATE:
                return b"", 0, CreateResponse(path)
            return b"", 0, Create2Response(path, self._stat(path))
        if op == OpCode.SYNC:
            return b"", 0, SyncResponse(rec.path)
        if op == OpCode.CLOSE_SESSION:
            return b"", 0, None
        if op == OpCode.MULTI:
            return b"", 0, self._multi(rec)
        if rec.path not in self.nodes:
            return b"", NONODE, None
        if op == OpCode.EXISTS:
            return b"", 0, ExistsResponse(self._stat(rec.path))
        if op == OpCode.GET_DATA:
            if rec.watch:
                self.watches.add(rec.path)
            return b"", 0, GetDataResponse(self.nodes[rec.path], self._stat(rec.path))
        if op == OpCode.SET_DATA:
            self.nodes[rec.path] = rec.data
            prefix = b""
            if rec.path in self.watches:
                self.watches.discard(rec.path)
                prefix = conn.notification(EventType.NODE_DATA_CHANGED, path=rec.path)
            return prefix, 0, SetDataResponse(self._stat(rec.path))
        if op == OpCode.DELETE:
            del self.nodes[rec.path]
            return b"", 0, None
        if op == OpCode.GET_CHILDREN:
            return b"", 0, GetChildrenResponse(self._children(rec.path))
        if op == OpCode.GET_CHILDREN2:
            return b"", 0, GetChildren2Response(self._children(rec.path), self._stat(rec.path))
        raise AssertionError(f"toy server cannot answer opcode {op}")

    def _multi(self, rec: MultiRequest) -> MultiResponse:
        results: list[Any] = []
        for op in rec.ops:
            if op.opcode == OpCode.CREATE:
                self.nodes[op.request.path] = op.request.data  # type: ignore[union-attr]
                results.append(CreateResponse(op.request.path))
            elif op.opcode == OpCode.DELETE:
                del self.nodes[op.request.path]
                results.append(DeleteResult())
            elif op.opcode == OpCode.CHECK:
                results.append(CheckResult())
            elif op.opcode == OpCode.SET_DATA:
                self.nodes[op.request.path] = op.request.data  # type: ignore[union-attr]
                results.append(SetDataResponse(self._stat(op.request.path)))
        return MultiResponse(tuple(results))


@pytest.fixture
def toy() -> Iterator[ToyServer]:
    server = ToyServer()
    try:
        yield server
    finally:
        server.close()
    assert server.errors == []


def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def session_requests(events: list[Any]) -> list[Any]:
    """What kazoo sent, without pings (their timing is kazoo's business)."""
    return [e for e in events if not (isinstance(e, Request) and e.opcode == OpCode.PING)]


def test_kazoo_session_golden(toy: ToyServer) -> None:
    client = KazooClient(hosts=f"127.0.0.1:{toy.port}", timeout=10.0)
    client.start(timeout=10)
    try:
        zxid_before_drop = run_session(client, toy)
    finally:
        client.stop()
        client.close()
    assert [e for e in toy.events if isinstance(e, FourLetterWord)] == [
        FourLetterWord("envi"),
        FourLetterWord("ruok"),
    ]
    sent = [e for e in session_requests(toy.events) if not isinstance(e, FourLetterWord)]
    assert sent[0] == ConnectRequest(0, 0, 10000, 0, b"\0" * 16, False)
    before, reconnect, after = sent[1:16], sent[16], sent[17:]
    assert [(r.opcode, r.record) for r in before] == expected_requests()
    assert reconnect == ConnectRequest(0, zxid_before_drop, 10000, SESSION_ID, PASSWD, False)
    assert [(r.xid, r.opcode, r.record) for r in after[:1]] == [
        (AUTH_XID, OpCode.AUTH, AuthPacket(0, "digest", b"user:pw"))
    ]
    assert [(r.opcode, r.record) for r in after[1:]] == [
        (OpCode.GET_DATA, GetDataRequest("/cfg", False)),
        (OpCode.CLOSE_SESSION, None),
    ]
    xids = [r.xid for r in before if r.xid > 0]
    assert xids == list(range(1, len(xids) + 1))


def run_session(client: KazooClient, toy: ToyServer) -> int:
    """Drive every operation kazoo has; returns the last zxid kazoo saw before the drop."""
    client.add_auth("digest", "user:pw")
    assert client.create("/lock-", b"me", ephemeral=True, sequence=True) == "/lock-0000000001"
    assert client.create("/cfg", b"one") == "/cfg"
    fired = threading.Event()
    seen: list[Any] = []

    def on_change(event: Any) -> None:
        seen.append(event)
        fired.set()

    data, stat = client.get("/cfg", watch=on_change)
    assert (data, stat.data_length, stat.mzxid) == (b"one", 3, toy.zxid)
    client.set("/cfg", b"two")
    assert fired.wait(10)
    assert (seen[0].type, seen[0].path) == (KEventType.CHANGED, "/cfg")
    assert client.exists("/missing") is None
    assert client.exists("/cfg").data_length == 3
    with pytest.raises(NoNodeError):
        client.get("/missing")
    assert sorted(client.get_children("/")) == ["cfg", "lock-0000000001"]
    children, stat = client.get_children("/", include_data=True)
    assert (sorted(children), stat.numChildren) == (["cfg", "lock-0000000001"], 2)
    path, stat = client.create("/c2", b"", include_data=True)
    assert (path, stat.czxid) == ("/c2", toy.zxid)
    txn = client.transaction()
    txn.create("/t", b"x")
    txn.delete("/c2")
    txn.set_data("/cfg", b"three")
    txn.check("/cfg", 0)
    results = txn.commit()
    assert results[:2] == ["/t", True] and results[3] is True
    assert results[2].data_length == 5
    assert client.sync("/cfg") == "/cfg"
    client.delete("/t")
    assert client.server_version() == (3, 8, 4)
    assert client.command(b"ruok") == "imok"
    # Force a reconnect with a watch armed: the server drops the connection after its
    # next reply. kazoo (2.11) resumes the session but sends no setWatches: the exact
    # request list after the reconnect, checked by the caller, pins that.
    toy.drop_after_next_reply.set()
    client.exists("/cfg", watch=lambda ev: None)
    zxid_before_drop = toy.last_reply_zxid
    wait_for(lambda: sum(isinstance(e, ConnectRequest) for e in toy.events) == 2)
    wait_for(lambda: client.connected)
    assert client.get("/cfg")[0] == b"three"
    return zxid_before_drop


def expected_requests() -> list[tuple[int, Any]]:
    return [
        (OpCode.AUTH, AuthPacket(0, "digest", b"user:pw")),
        (OpCode.CREATE, CreateRequest("/lock-", b"me", OPEN, CreateMode.EPHEMERAL_SEQUENTIAL)),
        (OpCode.CREATE, CreateRequest("/cfg", b"one", OPEN, CreateMode.PERSISTENT)),
        (OpCode.GET_DATA, GetDataRequest("/cfg", True)),
        (OpCode.SET_DATA, SetDataRequest("/cfg", b"two", -1)),
        (OpCode.EXISTS, ExistsRequest("/missing", False)),
        (OpCode.EXISTS, ExistsRequest("/cfg", False)),
        (OpCode.GET_DATA, GetDataRequest("/missing", False)),
        (OpCode.GET_CHILDREN, GetChildrenRequest("/", False)),
        (OpCode.GET_CHILDREN2, GetChildren2Request("/", False)),
        (OpCode.CREATE2, CreateRequest("/c2", b"", OPEN, 0)),
        (
            OpCode.MULTI,
            MultiRequest(
                (
                    MultiOp(OpCode.CREATE, CreateRequest("/t", b"x", OPEN, 0)),
                    MultiOp(OpCode.DELETE, DeleteRequest("/c2", -1)),
                    MultiOp(OpCode.SET_DATA, SetDataRequest("/cfg", b"three", -1)),
                    MultiOp(OpCode.CHECK, CheckVersionRequest("/cfg", 0)),
                )
            ),
        ),
        (OpCode.SYNC, SyncRequest("/cfg")),
        (OpCode.DELETE, DeleteRequest("/t", -1)),
        (OpCode.EXISTS, ExistsRequest("/cfg", True)),
    ]
