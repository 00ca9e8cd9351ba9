"""ServerConnection and ClientConnection talking to each other, byte by byte."""

from __future__ import annotations

import contextlib
import struct
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quorumd.errors import ProtocolError, UsageError
from quorumd.wire import (
    ACL,
    AUTH_XID,
    JUTE_MAX_BUFFER,
    AuthPacket,
    ClientConnection,
    ConnectRequest,
    ConnectResponse,
    Create2Response,
    CreateRequest,
    DeleteRequest,
    ErrorResult,
    EventType,
    ExistsRequest,
    FourLetterWord,
    FrameTooLarge,
    GetDataRequest,
    GetDataResponse,
    Id,
    MalformedFrame,
    MultiOp,
    MultiRequest,
    MultiResponse,
    Notification,
    OpCode,
    Reply,
    Request,
    ServerConnection,
    SetWatches,
    Stat,
    UnknownOpcode,
    XidOutOfOrder,
)
from quorumd.wire.records import SyncRequest, SyncResponse

STAT = Stat(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
OPEN_ACL = (ACL(31, Id("world", "anyone")),)
CONNECT = ConnectRequest(0, 0, 30000, 0, b"\0" * 16, False)
ACCEPT = ConnectResponse(0, 30000, 0x1234, b"p" * 16, False)


def drain(conn: Any) -> list[Any]:
    events = []
    while (event := conn.next_event()) is not None:
        events.append(event)
    return events


def handshake() -> tuple[ServerConnection, ClientConnection]:
    server, client = ServerConnection(), ClientConnection()
    server.receive_data(client.connect(CONNECT))
    assert drain(server) == [CONNECT]
    client.receive_data(server.connect_response(ACCEPT))
    assert drain(client) == [ACCEPT]
    return server, client


def requests_stream(client: ClientConnection) -> tuple[bytes, list[Request]]:
    items: list[tuple[int, int, Any]] = [
        (1, OpCode.CREATE, CreateRequest("/a", b"data", OPEN_ACL, 3)),
        (2, OpCode.GET_DATA, GetDataRequest("/a", True)),
        (-2, OpCode.PING, None),
        (AUTH_XID, OpCode.AUTH, AuthPacket(0, "digest", b"user:pw")),
        (3, OpCode.MULTI, MultiRequest((MultiOp(OpCode.DELETE, DeleteRequest("/a", -1)),))),
        (-8, OpCode.SET_WATCHES, SetWatches(5, ("/a",), (), ("/",))),
        (4, OpCode.CLOSE_SESSION, None),
    ]
    data = b"".join(client.request(x, op, rec) for x, op, rec in items)
    return data, [Request(x, op, rec) for x, op, rec in items]


def test_requests_reach_the_server_as_records() -> None:
    server, client = handshake()
    data, expected = requests_stream(client)
    server.receive_data(data)
    assert drain(server) == expected
    assert client.pending == (
        (1, OpCode.CREATE),
        (2, OpCode.GET_DATA),
        (3, OpCode.MULTI),
        (-8, OpCode.SET_WATCHES),
        (4, OpCode.CLOSE_SESSION),
    )


def test_create_reply_uses_the_create_record_the_opcode_names() -> None:
    server, _ = handshake()
    with pytest.raises(UsageError, match="CreateResponse"):
        server.reply(1, 11, 0, OpCode.CREATE, Create2Response("/a", STAT))


def _conversation() -> tuple[ServerConnection, ClientConnection, bytes, list[Any]]:
    server, client = handshake()
    client.request(1, OpCode.CREATE2, CreateRequest("/a", b"", OPEN_ACL, 0))
    client.request(2, OpCode.GET_DATA, GetDataRequest("/a", False))
    client.request(3, OpCode.MULTI, MultiRequest(()))
    client.request(-8, OpCode.SET_WATCHES, SetWatches(0, (), (), ()))
    client.request(4, OpCode.CLOSE_SESSION)
    frames = [
        server.ping_reply(10),
        server.reply(AUTH_XID, 0, 0, OpCode.AUTH),
        server.reply(1, 11, 0, OpCode.CREATE2, Create2Response("/a", STAT)),
        server.notification(EventType.NODE_DATA_CHANGED, path="/a"),
        server.reply(2, 12, -101, OpCode.GET_DATA, GetDataResponse(b"dropped", STAT)),
        server.reply(3, 13, 0, OpCode.MULTI, MultiResponse((ErrorResult(0), ErrorResult(-101)))),
        server.reply(-8, 13, 0, OpCode.SET_WATCHES),
        server.reply(4, 14, 0, OpCode.CLOSE_SESSION),
    ]
    events = [
        Reply(-2, 10, 0, OpCode.PING, None),
        Reply(AUTH_XID, 0, 0, OpCode.AUTH, None),
        Reply(1, 11, 0, OpCode.CREATE2, Create2Response("/a", STAT)),
        Notification(EventType.NODE_DATA_CHANGED, 3, "/a", -1),
        Reply(2, 12, -101, OpCode.GET_DATA, None),
        Reply(3, 13, 0, OpCode.MULTI, MultiResponse((ErrorResult(0), ErrorResult(-101)))),
        Reply(-8, 13, 0, OpCode.SET_WATCHES, None),
        Reply(4, 14, 0, OpCode.CLOSE_SESSION, None),
    ]
    return server, client, b"".join(frames), events


def test_client_decodes_replies_in_order() -> None:
    _, client, data, events = _conversation()
    client.receive_data(data)
    assert drain(client) == events
    assert client.pending == ()


def test_error_body_is_omitted_on_the_wire() -> None:
    server, _ = handshake()
    frame = server.reply(2, 12, -101, OpCode.GET_DATA, GetDataResponse(b"x", STAT))
    assert frame == struct.pack(">iiqi", 16, 2, 12, -101)


def test_failed_multi_keeps_its_body() -> None:
    _, client = handshake()
    server = ServerConnection()
    server.receive_data(ClientConnection().connect(CONNECT))
    drain(server)
    client.request(7, OpCode.MULTI, MultiRequest(()))
    body = MultiResponse((ErrorResult(-110), ErrorResult(-2)))
    client.receive_data(server.reply(7, 1, -110, OpCode.MULTI, body))
    assert drain(client) == [Reply(7, 1, -110, OpCode.MULTI, body)]


@pytest.mark.parametrize("side", ["server", "client"])
def test_every_split_point_yields_the_same_events(side: str) -> None:
    if side == "server":
        _server, client = handshake()
        data, expected = requests_stream(client)
        make: Any = _server_after_handshake
    else:
        _, _, data, expected = _conversation()
        make = lambda: _conversation()[1]  # noqa: E731
    for cut in range(len(data) + 1):
        conn = make()
        conn.receive_data(data[:cut])
        events = drain(conn)
        conn.receive_data(data[cut:])
        assert events + drain(conn) == expected
    conn = make()
    events = []
    for i in range(len(data)):
        conn.receive_data(data[i : i + 1])
        events += drain(conn)
    assert events == expected


def _server_after_handshake() -> ServerConnection:
    server = ServerConnection()
    server.receive_data(ClientConnection().connect(CONNECT))
    drain(server)
    return server


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(0, 400), max_size=8))
def test_random_chunking_of_a_long_stream(cuts: list[int]) -> None:
    _, client = handshake()
    data, expected = requests_stream(client)
    data, expected = data * 3, expected * 3
    server = _server_after_handshake()
    events: list[Any] = []
    last = 0
    for cut in [*sorted(c % (len(data) + 1) for c in cuts), len(data)]:
        server.receive_data(data[last:cut])
        events += drain(server)
        last = cut
    assert events == expected


def test_many_frames_in_one_chunk() -> None:
    server = _server_after_handshake()
    client = ClientConnection()
    client.connect(CONNECT)
    data = b"".join(
        client.request(i, OpCode.EXISTS, ExistsRequest(f"/n{i}", False)) for i in range(1, 2001)
    )
    server.receive_data(data)
    events = drain(server)
    assert [e.xid for e in events] == list(range(1, 2001))
    assert events[-1].record == ExistsRequest("/n2000", False)


@pytest.mark.parametrize("read_only", [None, False, True])
def test_connect_response_follows_the_request_form(read_only: bool | None) -> None:
    server = ServerConnection()
    request = ConnectRequest(0, 0, 30000, 0, b"\0" * 16, read_only)
    frame = ClientConnection().connect(request)
    assert len(frame) == 4 + (44 if read_only is None else 45)
    server.receive_data(frame)
    assert drain(server) == [request]
    response = server.connect_response(ConnectResponse(0, 30000, 9, b"p" * 16, True))
    assert len(response) == 4 + (36 if read_only is None else 37)
    client = ClientConnection()
    client.connect(request)
    client.receive_data(response)
    decoded = drain(client)[0]
    assert decoded.read_only == (None if read_only is None else True)


@pytest.mark.parametrize("word", ["ruok", "stat", "mntr", "envi", "srvr", "isro"])
def test_four_letter_word_before_handshake(word: str) -> None:
    server = ServerConnection()
    server.receive_data(word.encode()[:2])
    assert server.next_event() is None
    server.receive_data(word.encode()[2:] + b"\n")
    assert drain(server) == [FourLetterWord(word)]
    assert not server.handshake_done


def test_four_letter_word_after_handshake_is_just_a_bad_length() -> None:
    server = _server_after_handshake()
    server.receive_data(b"ruok")
    with pytest.raises(FrameTooLarge):
        server.next_event()


@pytest.mark.parametrize("length", [-1, JUTE_MAX_BUFFER + 1, 2**31 - 1])
def test_frame_length_outside_bounds(length: int) -> None:
    server = ServerConnection()
    server.receive_data(struct.pack(">i", length))
    with pytest.raises(FrameTooLarge) as info:
        server.next_event()
    assert info.value.length == length


def test_frame_of_exactly_max_buffer_is_accepted() -> None:
    server = ServerConnection(max_buffer=100)
    server.receive_data(ClientConnection().connect(CONNECT))
    drain(server)
    client = ClientConnection()
    client.connect(CONNECT)
    frame = client.request(1, OpCode.SYNC, SyncRequest("/" + "x" * (100 - 8 - 4 - 1)))
    assert len(frame) == 104
    server.receive_data(frame)
    assert len(drain(server)) == 1
    server.receive_data(client.request(2, OpCode.SYNC, SyncRequest("/" + "x" * 88)))
    with pytest.raises(FrameTooLarge):
        server.next_event()


def test_unknown_opcode_carries_the_xid() -> None:
    server = _server_after_handshake()
    server.receive_data(struct.pack(">iii", 8, 42, 10))
    with pytest.raises(UnknownOpcode) as info:
        server.next_event()
    assert (info.value.xid, info.value.opcode) == (42, 10)


def test_reply_out_of_order_is_a_protocol_error() -> None:
    server, client = handshake()
    client.request(1, OpCode.SYNC, SyncRequest("/"))
    client.request(2, OpCode.SYNC, SyncRequest("/"))
    client.receive_data(server.reply(2, 5, 0, OpCode.SYNC, SyncResponse("/")))
    with pytest.raises(XidOutOfOrder) as info:
        client.next_event()
    assert (info.value.expected, info.value.got) == (1, 2)


def test_reply_with_nothing_pending_is_a_protocol_error() -> None:
    server, client = handshake()
    client.receive_data(server.reply(1, 5, 0, OpCode.SYNC, SyncResponse("/")))
    with pytest.raises(XidOutOfOrder):
        client.next_event()


def test_request_body_must_fill_the_frame() -> None:
    server = _server_after_handshake()
    server.receive_data(struct.pack(">iii", 9, 1, OpCode.PING) + b"\0")
    with pytest.raises(MalformedFrame):
        server.next_event()


def test_wrong_record_for_opcode_is_a_usage_error() -> None:
    _, client = handshake()
    with pytest.raises(UsageError):
        client.request(1, OpCode.DELETE, SyncRequest("/"))
    with pytest.raises(UsageError):
        client.request(1, OpCode.PING, SyncRequest("/"))


def test_extension_opcodes_live_in_the_reserved_range() -> None:
    with pytest.raises(UsageError):
        ServerConnection(extensions={50: (SyncRequest, SyncResponse)})
    server = ServerConnection(extensions={200: (SyncRequest, SyncResponse)})
    server.receive_data(ClientConnection().connect(CONNECT))
    drain(server)
    client = ClientConnection(extensions={200: (SyncRequest, SyncResponse)})
    client.connect(CONNECT)
    server.receive_data(client.request(1, 200, SyncRequest("/lock")))
    assert drain(server) == [Request(1, 200, SyncRequest("/lock"))]


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300), st.booleans())
def test_random_bytes_raise_only_protocol_errors(data: bytes, after_handshake: bool) -> None:
    server = _server_after_handshake() if after_handshake else ServerConnection()
    _, client = handshake()
    client.request(1, OpCode.MULTI, MultiRequest(()))
    for conn in (server, client):
        conn.receive_data(data)
        with contextlib.suppress(ProtocolError):
            drain(conn)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**31 - 1), st.binary(max_size=64))
def test_corrupted_valid_stream_raises_only_protocol_errors(position: int, noise: bytes) -> None:
    _, client = handshake()
    data, _ = requests_stream(client)
    pos = position % len(data)
    corrupted = data[:pos] + noise + data[pos + len(noise) :]
    server = _server_after_handshake()
    server.receive_data(corrupted)
    with contextlib.suppress(ProtocolError):
        drain(server)


def test_usage_order_is_enforced() -> None:
    client = ClientConnection()
    with pytest.raises(UsageError):
        client.request(1, OpCode.SYNC, SyncRequest("/"))
    client.connect(CONNECT)
    with pytest.raises(UsageError):
        client.connect(CONNECT)
    with pytest.raises(UsageError):
        ServerConnection().connect_response(ACCEPT)


def test_buffer_is_compacted_as_frames_are_consumed() -> None:
    server = _server_after_handshake()
    client = ClientConnection()
    client.connect(CONNECT)
    frame = client.request(1, OpCode.DELETE, DeleteRequest("/x", -1))
    for _ in range(1000):
        server.receive_data(frame)
        assert len(drain(server)) == 1
    assert len(server._frames.buf) <= 2 * len(frame)
