"""Golden tests against a real ZooKeeper client's own codec: kazoo's serializers.

Frames kazoo's serializers write decode to the right records, and bodies we encode
decode correctly with kazoo's deserializers. (test_wire_kazoo_live.py runs a real
KazooClient against an in-test server.)

kazoo 2.11 has no setWatches (it never re-arms watches on reconnect) and no addWatch,
so those two are checked against byte layouts built by hand from zookeeper.jute.
"""

from __future__ import annotations

import struct
from typing import Any

import pytest
from kazoo.exceptions import NoNodeError, RolledBackError, RuntimeInconsistency
from kazoo.protocol import serialization as ks
from kazoo.security import ACL as KACL
from kazoo.security import Id as KId

from quorumd.wire import (
    ACL,
    AddWatchRequest,
    AuthPacket,
    CheckResult,
    CheckVersionRequest,
    ConnectRequest,
    ConnectResponse,
    Create2Response,
    CreateRequest,
    CreateResponse,
    DeleteRequest,
    DeleteResult,
    ErrorResult,
    EventType,
    ExistsRequest,
    ExistsResponse,
    GetACLResponse,
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
    Reader,
    Request,
    ServerConnection,
    SetDataRequest,
    SetDataResponse,
    SetWatches,
    SetWatches2,
    Stat,
    SyncRequest,
    SyncResponse,
    Writer,
)

STAT = Stat(10, 11, 1700000000000, 1700000000001, 2, 3, 1, 0x1234, 5, 0, 12)
OPEN = (ACL(31, Id("world", "anyone")),)
K_OPEN = [KACL(31, KId("world", "anyone"))]


def body(record: Any) -> bytes:
    w = Writer()
    record.encode(w)
    return w.getvalue()


def request_frame(kazoo_request: Any, xid: int = 1) -> Any:
    """Decode what kazoo's `_submit` puts on the wire for `kazoo_request`."""
    payload = struct.pack(">ii", xid, kazoo_request.type) + bytes(kazoo_request.serialize())
    return _decode_after_handshake(payload)


def _decode_after_handshake(payload: bytes) -> Any:
    server = ServerConnection()
    connect = body(ConnectRequest(0, 0, 10000, 0, b"\0" * 16, False))
    server.receive_data(struct.pack(">i", len(connect)) + connect)
    assert isinstance(server.next_event(), ConnectRequest)
    server.receive_data(struct.pack(">i", len(payload)) + payload)
    return server.next_event()


# ------------------------------------------------------------------- offline goldens


@pytest.mark.parametrize(
    ("kazoo_request", "opcode", "record"),
    [
        (ks.Create("/a", b"v", K_OPEN, 3), OpCode.CREATE, CreateRequest("/a", b"v", OPEN, 3)),
        (ks.Create2("/a", b"", K_OPEN, 0), OpCode.CREATE2, CreateRequest("/a", b"", OPEN, 0)),
        (ks.Delete("/a", 4), OpCode.DELETE, DeleteRequest("/a", 4)),
        (ks.Exists("/a", True), OpCode.EXISTS, ExistsRequest("/a", True)),
        (ks.GetData("/a", False), OpCode.GET_DATA, GetDataRequest("/a", False)),
        (ks.SetData("/a", b"x", -1), OpCode.SET_DATA, SetDataRequest("/a", b"x", -1)),
        (ks.GetChildren("/", True), OpCode.GET_CHILDREN, GetChildrenRequest("/", True)),
        (ks.GetChildren2("/", False), OpCode.GET_CHILDREN2, GetChildren2Request("/", False)),
        (ks.Sync("/a"), OpCode.SYNC, SyncRequest("/a")),
        (ks.Auth(0, "digest", "u:p"), OpCode.AUTH, AuthPacket(0, "digest", b"u:p")),
        (ks.Close(), OpCode.CLOSE_SESSION, None),
        (ks.Ping(), OpCode.PING, None),
        (
            ks.Transaction(
                [ks.Create("/t", b"", K_OPEN, 0), ks.Delete("/d", -1), ks.CheckVersion("/c", 2)]
            ),
            OpCode.MULTI,
            MultiRequest(
                (
                    MultiOp(OpCode.CREATE, CreateRequest("/t", b"", OPEN, 0)),
                    MultiOp(OpCode.DELETE, DeleteRequest("/d", -1)),
                    MultiOp(OpCode.CHECK, CheckVersionRequest("/c", 2)),
                )
            ),
        ),
    ],
    ids=lambda v: type(v).__name__,
)
def test_kazoo_serialized_requests_decode(kazoo_request: Any, opcode: int, record: Any) -> None:
    assert request_frame(kazoo_request) == Request(1, opcode, record)


def test_kazoo_connect_decodes_with_read_only_byte() -> None:
    raw = bytes(ks.Connect(0, 77, 15000, 0x99, b"s" * 16, False).serialize())
    assert len(raw) == 45
    r = Reader(raw)
    assert ConnectRequest.decode(r) == ConnectRequest(0, 77, 15000, 0x99, b"s" * 16, False)
    assert r.remaining == 0


def _kstat(stat: Stat) -> tuple[int, ...]:
    return (
        stat.czxid, stat.mzxid, stat.ctime, stat.mtime, stat.version, stat.cversion,
        stat.aversion, stat.ephemeral_owner, stat.data_length, stat.num_children, stat.pzxid,
    )  # fmt: skip


def test_kazoo_deserializes_our_responses() -> None:
    data, stat = ks.GetData.deserialize(body(GetDataResponse(b"payload", STAT)), 0)
    assert (data, tuple(stat)) == (b"payload", _kstat(STAT))
    path, stat = ks.Create2.deserialize(body(Create2Response("/a0000000001", STAT)), 0)
    assert (path, tuple(stat)) == ("/a0000000001", _kstat(STAT))
    assert ks.Create.deserialize(body(CreateResponse("/x")), 0) == "/x"
    assert tuple(ks.Exists.deserialize(body(ExistsResponse(STAT)), 0)) == _kstat(STAT)
    assert tuple(ks.SetData.deserialize(body(SetDataResponse(STAT)), 0)) == _kstat(STAT)
    assert ks.GetChildren.deserialize(body(GetChildrenResponse(("a", "é"))), 0) == ["a", "é"]
    children, stat = ks.GetChildren2.deserialize(body(GetChildren2Response(("b",), STAT)), 0)
    assert (children, tuple(stat)) == (["b"], _kstat(STAT))
    acls, stat = ks.GetACL.deserialize(body(GetACLResponse(OPEN, STAT)), 0)
    assert (acls, tuple(stat)) == (K_OPEN, _kstat(STAT))
    assert ks.Sync.deserialize(body(SyncResponse("/s")), 0) == "/s"


def test_kazoo_deserializes_our_handshake_both_forms() -> None:
    for read_only in (None, True):
        raw = body(ConnectResponse(0, 12000, 0x5EED, b"p" * 16, read_only))
        connect, _ = ks.Connect.deserialize(raw, 0)
        assert (connect.time_out, connect.session_id, connect.passwd) == (
            12000,
            0x5EED,
            b"p" * 16,
        )
        assert connect.read_only is bool(read_only)


def test_kazoo_deserializes_our_multi_results() -> None:
    ok = MultiResponse((CreateResponse("/t"), DeleteResult(), SetDataResponse(STAT), CheckResult()))
    results = ks.Transaction.deserialize(body(ok), 0)
    assert results[:2] == ["/t", True]
    assert tuple(results[2]) == _kstat(STAT)
    assert results[3] is True
    failed = MultiResponse((ErrorResult(0), ErrorResult(-101), ErrorResult(-2)))
    errors = ks.Transaction.deserialize(body(failed), 0)
    assert [type(e) for e in errors] == [RolledBackError, NoNodeError, RuntimeInconsistency]


def test_kazoo_deserializes_our_notification_and_headers() -> None:
    server = ServerConnection()
    connect = body(ConnectRequest(0, 0, 10000, 0, b"\0" * 16, None))
    server.receive_data(struct.pack(">i", len(connect)) + connect)
    server.next_event()
    frame = server.notification(EventType.NODE_CHILDREN_CHANGED, path="/p")
    header, offset = ks.ReplyHeader.deserialize(frame[4:], 0)
    assert tuple(header) == (-1, -1, 0)
    watch, _ = ks.Watch.deserialize(frame[4:], offset)
    assert tuple(watch) == (4, 3, "/p")
    header, _ = ks.ReplyHeader.deserialize(server.ping_reply(42)[4:], 0)
    assert tuple(header) == (-2, 42, 0)


def test_set_watches_and_add_watch_match_the_jute_layout() -> None:
    def s(text: str) -> bytes:
        return struct.pack(">i", len(text)) + text.encode()

    set_watches = (
        struct.pack(">ii", -8, OpCode.SET_WATCHES) + struct.pack(">q", 0x1F)
        + struct.pack(">i", 1) + s("/d")
        + struct.pack(">i", 0)
        + struct.pack(">i", 2) + s("/c1") + s("/c2")
    )  # fmt: skip
    event = _decode_after_handshake(set_watches)
    assert event == Request(-8, OpCode.SET_WATCHES, SetWatches(0x1F, ("/d",), (), ("/c1", "/c2")))
    add_watch = struct.pack(">ii", 5, OpCode.ADD_WATCH) + s("/r") + struct.pack(">i", 1)
    assert _decode_after_handshake(add_watch) == Request(
        5, OpCode.ADD_WATCH, AddWatchRequest("/r", 1)
    )
    sw2 = struct.pack(">ii", 6, OpCode.SET_WATCHES2) + struct.pack(">q", 9)
    sw2 += struct.pack(">i", 0) * 3
    sw2 += struct.pack(">i", 1) + s("/p") + struct.pack(">i", 1) + s("/q")
    assert _decode_after_handshake(sw2) == Request(
        6, OpCode.SET_WATCHES2, SetWatches2(9, (), (), (), ("/p",), ("/q",))
    )
