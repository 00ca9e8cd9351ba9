"""A small in-test ZooKeeper server (asyncio, 127.0.0.1) speaking through ServerConnection.

Not quorumd's server: a dict of nodes with ZooKeeper's rules for what the client can
observe (versions, sequential names, ephemerals, one-shot and persistent watches,
multi all-or-nothing, session resume and expiry), plus knobs a real cluster does not
expose: drop every connection, stall (stop answering), expire a session. Several
`FakeNode`s can share one `FakeState` to look like a cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
from dataclasses import dataclass, field
from typing import Any

from quorumd.errors import (
    BadArguments,
    BadVersion,
    NodeExists,
    NoNode,
    NotEmpty,
    RuntimeInconsistency,
    ZKError,
)
from quorumd.wire import (
    ACL,
    AddWatchRequest,
    CheckResult,
    CheckVersionRequest,
    ConnectRequest,
    ConnectResponse,
    Create2Response,
    CreateRequest,
    CreateResponse,
    CreateTTLRequest,
    DeleteRequest,
    DeleteResult,
    ErrorResult,
    EventType,
    ExistsRequest,
    ExistsResponse,
    FourLetterWord,
    GetACLRequest,
    GetACLResponse,
    GetAllChildrenNumberRequest,
    GetAllChildrenNumberResponse,
    GetChildren2Request,
    GetChildren2Response,
    GetChildrenRequest,
    GetChildrenResponse,
    GetDataRequest,
    GetDataResponse,
    GetEphemeralsRequest,
    GetEphemeralsResponse,
    Id,
    MultiRequest,
    MultiResponse,
    OpCode,
    RemoveWatchesRequest,
    Request,
    ServerConnection,
    SetACLRequest,
    SetACLResponse,
    SetDataRequest,
    SetDataResponse,
    SetWatches,
    SetWatches2,
    Stat,
    SyncRequest,
    SyncResponse,
)

OPEN = (ACL(31, Id("world", "anyone")),)


@dataclass
class Node:
    data: bytes
    czxid: int
    mzxid: int
    version: int = 0
    cversion: int = 0
    ephemeral_owner: int = 0
    acl: tuple[ACL, ...] = OPEN
    pzxid: int = 0
    seq: int = 0

    def stat(self, num_children: int) -> Stat:
        return Stat(self.czxid, self.mzxid, 0, 0, self.version, self.cversion, 0,
                    self.ephemeral_owner, len(self.data), num_children, self.pzxid)


@dataclass
class Session:
    id: int
    passwd: bytes
    timeout_ms: int
    auth: list[tuple[str, bytes]] = field(default_factory=list)


class FakeState:
    """The replicated part: nodes, sessions, zxid; shared by every FakeNode."""

    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {"/": Node(b"", 0, 0)}
        self.sessions: dict[int, Session] = {}
        self.zxid = 0
        self.conns: list[FakeConn] = []
        self._ids = itertools.count(0x1000)
        self.extensions: dict[int, Any] = {}  # opcode -> (request, response) for locks
        self.ext_handler: Any = None

    # --------------------------------------------------------------- tree helpers

    def children(self, path: str) -> list[str]:
        prefix = path.rstrip("/") + "/"
        return sorted(p[len(prefix):] for p in self.nodes
                      if p.startswith(prefix) and "/" not in p[len(prefix):] and p != "/")

    def stat(self, path: str) -> Stat:
        return self.nodes[path].stat(len(self.children(path)))

    def node(self, path: str) -> Node:
        try:
            return self.nodes[path]
        except KeyError:
            raise NoNode(path) from None

    def fire(self, event: EventType, path: str) -> None:
        for conn in self.conns:
            conn.fire(event, path)

    def new_session(self, timeout_ms: int) -> Session:
        sid = next(self._ids)
        s = Session(sid, os.urandom(16), timeout_ms)
        self.sessions[sid] = s
        return s

    def expire(self, sid: int) -> None:
        """The session dies: ephemerals go (with their watches), connections close."""
        self.sessions.pop(sid, None)
        self.zxid += 1
        for path in [p for p, n in self.nodes.items() if n.ephemeral_owner == sid]:
            self._delete(path, -1)
        for conn in list(self.conns):
            if conn.session_id == sid:
                conn.close()
        if self.ext_handler is not None:
            self.ext_handler.session_gone(sid)

    # --------------------------------------------------------------- writes

    def _create(self, req: CreateRequest | CreateTTLRequest, sid: int) -> str:
        parent = req.path.rsplit("/", 1)[0] or "/"
        pnode = self.node(parent)
        if pnode.ephemeral_owner:
            raise BadArguments("no children for ephemerals")
        path = req.path
        if req.flags in (2, 3, 6):
            path = f"{path}{pnode.seq:010d}"
        if path in self.nodes:
            raise NodeExists(path)
        pnode.seq += 1
        pnode.cversion += 1
        pnode.pzxid = self.zxid
        owner = sid if req.flags in (1, 3) else 0
        self.nodes[path] = Node(req.data, self.zxid, self.zxid, ephemeral_owner=owner,
                                acl=req.acl or OPEN, pzxid=self.zxid)
        self.fire(EventType.NODE_CREATED, path)
        self.fire(EventType.NODE_CHILDREN_CHANGED, parent)
        return path

    def _delete(self, path: str, version: int) -> None:
        node = self.node(path)
        if version not in (-1, node.version):
            raise BadVersion(path)
        if self.children(path):
            raise NotEmpty(path)
        del self.nodes[path]
        parent = path.rsplit("/", 1)[0] or "/"
        self.nodes[parent].cversion += 1
        self.fire(EventType.NODE_DELETED, path)
        self.fire(EventType.NODE_CHILDREN_CHANGED, parent)

    def _set(self, req: SetDataRequest) -> Stat:
        node = self.node(req.path)
        if req.version not in (-1, node.version):
            raise BadVersion(req.path)
        node.data = req.data
        node.version += 1
        node.mzxid = self.zxid
        self.fire(EventType.NODE_DATA_CHANGED, req.path)
        return self.stat(req.path)

    def _multi(self, req: MultiRequest, sid: int) -> tuple[MultiResponse, int]:
        saved = {p: Node(**vars(n)) for p, n in self.nodes.items()}
        conns_fire = [c.suppress() for c in self.conns]
        results: list[Any] = []
        failed = 0
        for op in req.ops:
            r = op.request
            try:
                if isinstance(r, CreateRequest | CreateTTLRequest):
                    results.append(CreateResponse(self._create(r, sid)))
                elif isinstance(r, DeleteRequest):
                    self._delete(r.path, r.version)
                    results.append(DeleteResult())
                elif isinstance(r, SetDataRequest):
                    results.append(SetDataResponse(self._set(r)))
                elif isinstance(r, CheckVersionRequest):
                    if r.version not in (-1, self.node(r.path).version):
                        raise BadVersion(r.path)
                    results.append(CheckResult())
            except ZKError as exc:
                failed = exc.code
                break
        for c, pending in zip(self.conns, conns_fire, strict=False):
            c.release(pending, keep=not failed)
        if not failed:
            return MultiResponse(tuple(results)), 0
        self.nodes = saved
        n = len(results)
        out = [ErrorResult(0)] * n + [ErrorResult(failed)]
        out += [ErrorResult(RuntimeInconsistency.code)] * (len(req.ops) - n - 1)
        return MultiResponse(tuple(out)), failed

    def execute(self, conn: FakeConn, req: Request) -> tuple[int, Any]:
        """(err, response record) of one request; mutates state (writes bump zxid)."""
        r = req.record
        op = req.opcode
        sid = conn.session_id
        if op in (OpCode.CREATE, OpCode.CREATE2, OpCode.CREATE_CONTAINER, OpCode.CREATE_TTL,
                  OpCode.DELETE, OpCode.SET_DATA, OpCode.MULTI, OpCode.SET_ACL):
            self.zxid += 1
        try:
            if op in (OpCode.CREATE, OpCode.CREATE2, OpCode.CREATE_CONTAINER, OpCode.CREATE_TTL):
                assert isinstance(r, CreateRequest | CreateTTLRequest)
                path = self._create(r, sid)
                if op == OpCode.CREATE:
                    return 0, CreateResponse(path)
                return 0, Create2Response(path, self.stat(path))
            if op == OpCode.DELETE:
                assert isinstance(r, DeleteRequest)
                self._delete(r.path, r.version)
                return 0, None
            if op == OpCode.SET_DATA:
                assert isinstance(r, SetDataRequest)
                return 0, SetDataResponse(self._set(r))
            if op == OpCode.GET_DATA:
                assert isinstance(r, GetDataRequest)
                node = self.node(r.path)
                if r.watch:
                    conn.watch("data", r.path)
                return 0, GetDataResponse(node.data, self.stat(r.path))
            if op == OpCode.EXISTS:
                assert isinstance(r, ExistsRequest)
                if r.watch:
                    conn.watch("data" if r.path in self.nodes else "exist", r.path)
                return 0, ExistsResponse(self.stat(self.node(r.path) and r.path))
            if op in (OpCode.GET_CHILDREN, OpCode.GET_CHILDREN2):
                assert isinstance(r, GetChildrenRequest | GetChildren2Request)
                self.node(r.path)
                if r.watch:
                    conn.watch("child", r.path)
                kids = tuple(self.children(r.path))
                if op == OpCode.GET_CHILDREN:
                    return 0, GetChildrenResponse(kids)
                return 0, GetChildren2Response(kids, self.stat(r.path))
            if op == OpCode.MULTI:
                assert isinstance(r, MultiRequest)
                resp, err = self._multi(r, sid)
                return err, resp
            if op == OpCode.SYNC:
                assert isinstance(r, SyncRequest)
                return 0, SyncResponse(r.path)
            if op == OpCode.GET_ACL:
                assert isinstance(r, GetACLRequest)
                return 0, GetACLResponse(self.node(r.path).acl, self.stat(r.path))
            if op == OpCode.SET_ACL:
                assert isinstance(r, SetACLRequest)
                self.node(r.path).acl = r.acl
                return 0, SetACLResponse(self.stat(r.path))
            if op == OpCode.GET_EPHEMERALS:
                assert isinstance(r, GetEphemeralsRequest)
                return 0, GetEphemeralsResponse(tuple(sorted(
                    p for p, n in self.nodes.items()
                    if n.ephemeral_owner == sid and p.startswith(r.prefix_path))))
            if op == OpCode.GET_ALL_CHILDREN_NUMBER:
                assert isinstance(r, GetAllChildrenNumberRequest)
                self.node(r.path)
                prefix = r.path.rstrip("/") + "/"
                return 0, GetAllChildrenNumberResponse(
                    sum(1 for p in self.nodes if p.startswith(prefix) and p != "/"))
            if op == OpCode.ADD_WATCH:
                assert isinstance(r, AddWatchRequest)
                conn.watch("recursive" if r.mode else "persistent", r.path)
                return 0, None
            if op == OpCode.REMOVE_WATCHES:
                assert isinstance(r, RemoveWatchesRequest)
                kind = {4: "persistent", 5: "recursive"}.get(r.type, "data")
                conn.watches[kind].discard(r.path)
                return 0, None
            if op in (OpCode.SET_WATCHES, OpCode.SET_WATCHES2):
                assert isinstance(r, SetWatches | SetWatches2)
                conn.rearm(r, self)
                return 0, None
            if op in self.extensions and self.ext_handler is not None:
                return self.ext_handler.execute(conn, req)
        except ZKError as exc:
            return exc.code, None
        raise AssertionError(f"fake server: unhandled opcode {op}")


class FakeConn:
    def __init__(self, node: FakeNode, writer: asyncio.StreamWriter) -> None:
        self.node = node
        self.state = node.state
        self.writer = writer
        self.conn = ServerConnection(extensions=node.state.extensions)
        self.session_id = 0
        self.watches: dict[str, set[str]] = {
            k: set() for k in ("data", "exist", "child", "persistent", "recursive")}
        self._held: list[tuple[EventType, str]] | None = None
        self.requests: list[Request] = []

    def send(self, data: bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(data)

    def close(self) -> None:
        if self in self.state.conns:
            self.state.conns.remove(self)
        self.writer.transport.abort()

    def watch(self, kind: str, path: str) -> None:
        self.watches[kind].add(path)

    def suppress(self) -> list[tuple[EventType, str]]:
        self._held = []
        return self._held

    def release(self, held: list[tuple[EventType, str]], keep: bool) -> None:
        self._held = None
        if keep:
            for event, path in held:
                self.fire(event, path)

    def fire(self, event: EventType, path: str) -> None:
        if self._held is not None:
            self._held.append((event, path))
            return
        w = self.watches
        hit = False
        if event in (EventType.NODE_CREATED, EventType.NODE_DATA_CHANGED, EventType.NODE_DELETED):
            hit |= path in w["data"] or path in w["exist"]
            w["data"].discard(path)
            w["exist"].discard(path)
        if event in (EventType.NODE_CHILDREN_CHANGED, EventType.NODE_DELETED):
            hit |= path in w["child"]
            w["child"].discard(path)
        hit |= path in w["persistent"]
        if event != EventType.NODE_CHILDREN_CHANGED:
            p = path
            while True:
                hit |= p in w["recursive"]
                if p == "/":
                    break
                p = p.rsplit("/", 1)[0] or "/"
        if hit:
            self.send(self.conn.notification(event, path=path))

    def rearm(self, r: SetWatches | SetWatches2, state: FakeState) -> None:
        for path in r.data_watches:
            node = state.nodes.get(path)
            if node is None:
                self.send(self.conn.notification(EventType.NODE_DELETED, path=path))
            elif node.mzxid > r.relative_zxid:
                self.send(self.conn.notification(EventType.NODE_DATA_CHANGED, path=path))
            else:
                self.watch("data", path)
        for path in r.exist_watches:
            if path in state.nodes:
                self.send(self.conn.notification(EventType.NODE_CREATED, path=path))
            else:
                self.watch("exist", path)
        for path in r.child_watches:
            node = state.nodes.get(path)
            if node is None:
                self.send(self.conn.notification(EventType.NODE_DELETED, path=path))
            elif node.pzxid > r.relative_zxid:
                self.send(self.conn.notification(EventType.NODE_CHILDREN_CHANGED, path=path))
            else:
                self.watch("child", path)
        if isinstance(r, SetWatches2):
            self.watches["persistent"].update(r.persistent_watches)
            self.watches["recursive"].update(r.persistent_recursive_watches)


class FakeNode:
    """One listening "server" over a (possibly shared) FakeState."""

    def __init__(self, state: FakeState | None = None, max_timeout_ms: int = 60_000) -> None:
        self.state = state or FakeState()
        self.max_timeout_ms = max_timeout_ms
        self.stalled = False
        self.port = 0
        self.connects: list[ConnectRequest] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, port: int = 0) -> FakeNode:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def conns(self) -> list[FakeConn]:
        return [c for c in self.state.conns if c.node is self]

    def drop_connections(self) -> None:
        for c in self.conns():
            c.close()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self.drop_connections()
            await self._server.wait_closed()
            self._server = None
        for t in list(self._tasks):
            t.cancel()
        for t in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        conn = FakeConn(self, writer)
        try:
            while data := await reader.read(65536):
                if self.stalled:
                    continue
                conn.conn.receive_data(data)
                while (event := conn.conn.next_event()) is not None:
                    if not self._on_event(conn, event):
                        return
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            if conn in self.state.conns:
                self.state.conns.remove(conn)
            writer.transport.abort()
            self._tasks.discard(task)

    def _on_event(self, conn: FakeConn, event: Any) -> bool:
        state = self.state
        if isinstance(event, FourLetterWord):
            conn.send(b"imok")
            return False
        if isinstance(event, ConnectRequest):
            self.connects.append(event)
            timeout = min(event.timeout_ms, self.max_timeout_ms)
            if event.session_id:
                s = state.sessions.get(event.session_id)
                if s is None or s.passwd != event.passwd:
                    conn.send(conn.conn.connect_response(ConnectResponse(0, 0, 0, b"\0" * 16)))
                    return False
            else:
                s = state.new_session(timeout)
            conn.session_id = s.id
            state.conns.append(conn)
            conn.send(conn.conn.connect_response(ConnectResponse(0, s.timeout_ms, s.id, s.passwd)))
            return True
        assert isinstance(event, Request)
        conn.requests.append(event)
        if event.opcode == OpCode.PING:
            conn.send(conn.conn.ping_reply(state.zxid))
            return True
        if event.opcode == OpCode.AUTH:
            ok = event.record.scheme != "bad"  # type: ignore[union-attr]
            conn.send(conn.conn.reply(-4, state.zxid, 0 if ok else -115, OpCode.AUTH))
            return ok
        if event.opcode == OpCode.CLOSE_SESSION:
            conn.send(conn.conn.reply(event.xid, state.zxid, 0, OpCode.CLOSE_SESSION))
            state.expire(conn.session_id)
            return False
        err, record = state.execute(conn, event)
        conn.send(conn.conn.reply(event.xid, state.zxid, err, event.opcode, record))
        return True
