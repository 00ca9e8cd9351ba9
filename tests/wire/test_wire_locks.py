"""The lock extension records (opcodes 200-203): byte layout, round trips, hostile
input, and a full exchange through ServerConnection/ClientConnection."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quorumd.errors import UsageError
from quorumd.wire import (
    EXTENSION_OPCODES,
    ClientConnection,
    ConnectRequest,
    ConnectResponse,
    KeeperState,
    MalformedFrame,
    Notification,
    Reader,
    Reply,
    Request,
    ServerConnection,
    UnknownOpcode,
    Writer,
)
from quorumd.wire.locks import (
    LOCK_EXTENSIONS,
    LOCK_GRANTED,
    CheckSequencerRequest,
    CheckSequencerResponse,
    LockAcquireRequest,
    LockAcquireResponse,
    LockInfoRequest,
    LockInfoResponse,
    LockMode,
    LockOpCode,
    LockReleaseRequest,
    LockStatus,
)

EXAMPLES = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
INT32 = st.integers(-(2**31), 2**31 - 1)
INT64 = st.integers(-(2**63), 2**63 - 1)
PATH = st.text(st.characters(exclude_categories=["Cs"]), max_size=16)
LONGS = st.lists(INT64, max_size=5).map(tuple)

RECORDS: st.SearchStrategy[Any] = st.one_of(
    st.builds(LockAcquireRequest, PATH, INT32, st.booleans(), INT32),
    st.builds(LockAcquireResponse, INT32, INT64, INT32),
    st.builds(LockReleaseRequest, PATH),
    st.builds(CheckSequencerRequest, PATH, INT32, INT64),
    st.builds(CheckSequencerResponse, st.booleans(), INT64),
    st.builds(LockInfoRequest, PATH),
    st.builds(LockInfoResponse, INT32, INT64, LONGS, LONGS),
)


def encode(record: Any) -> bytes:
    w = Writer()
    record.encode(w)
    return w.getvalue()


def decode(cls: Any, data: bytes) -> Any:
    r = Reader(memoryview(data))
    record = cls.decode(r)
    r.expect_end()
    return record


def _ustring(s: str) -> bytes:
    data = s.encode()
    return struct.pack(">i", len(data)) + data


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (
            LockAcquireRequest("/l", 1, True, -1),
            _ustring("/l") + struct.pack(">i?i", 1, True, -1),
        ),
        (LockAcquireResponse(1, 2**40, 3), struct.pack(">iqi", 1, 2**40, 3)),
        (LockReleaseRequest("/l"), _ustring("/l")),
        (CheckSequencerRequest("/l", 0, 77), _ustring("/l") + struct.pack(">iq", 0, 77)),
        (CheckSequencerResponse(True, 77), struct.pack(">?q", True, 77)),
        (LockInfoRequest("/l"), _ustring("/l")),
        (
            LockInfoResponse(1, 9, (5, 6), (7,)),
            struct.pack(">iqiqqiq", 1, 9, 2, 5, 6, 1, 7),
        ),
    ],
)
def test_layout_is_the_one_in_locks_md(record: Any, expected: bytes) -> None:
    assert encode(record) == expected
    assert decode(type(record), expected) == record


@EXAMPLES
@given(RECORDS)
def test_records_round_trip(record: Any) -> None:
    assert decode(type(record), encode(record)) == record


@EXAMPLES
@given(RECORDS, st.data())
def test_truncated_records_are_malformed(record: Any, data: st.DataObject) -> None:
    raw = encode(record)
    cut = data.draw(st.integers(0, len(raw) - 1))
    with pytest.raises(MalformedFrame):
        decode(type(record), raw[:cut])


def test_hostile_vector_count_fails_before_allocating() -> None:
    raw = struct.pack(">iqi", 0, 1, 2**31 - 1)
    with pytest.raises(MalformedFrame):
        decode(LockInfoResponse, raw)


def test_extension_table() -> None:
    assert set(LOCK_EXTENSIONS) == {200, 201, 202, 203}
    assert all(op in EXTENSION_OPCODES for op in LOCK_EXTENSIONS)
    assert LOCK_EXTENSIONS[201] == (LockReleaseRequest, None)
    assert LOCK_GRANTED == 100
    assert (int(LockMode.EXCLUSIVE), int(LockMode.SHARED)) == (0, 1)
    assert (int(LockStatus.GRANTED), int(LockStatus.QUEUED)) == (0, 1)


def _pair(extensions: bool = True) -> tuple[ServerConnection, ClientConnection]:
    ext = LOCK_EXTENSIONS if extensions else None
    server, client = ServerConnection(extensions=ext), ClientConnection(extensions=ext)
    server.receive_data(client.connect(ConnectRequest(0, 0, 30000, 0, b"\0" * 16, False)))
    assert server.next_event() is not None
    client.receive_data(server.connect_response(ConnectResponse(0, 30000, 7, b"p" * 16)))
    assert client.next_event() is not None
    return server, client


def test_a_lock_conversation_through_both_connections() -> None:
    server, client = _pair()
    code = LockOpCode
    calls: list[tuple[int, Any, Any]] = [
        (code.LOCK_ACQUIRE, LockAcquireRequest("/l", 0, True), LockAcquireResponse(1, 0, 2)),
        (code.LOCK_RELEASE, LockReleaseRequest("/l"), None),
        (code.CHECK_SEQUENCER, CheckSequencerRequest("/l", 0, 5), CheckSequencerResponse(False, 9)),
        (code.LOCK_INFO, LockInfoRequest("/l"), LockInfoResponse(0, 9, (7,), (8, 9))),
    ]
    server.receive_data(b"".join(client.request(x, op, rq) for x, (op, rq, _) in enumerate(calls)))
    requests = [server.next_event() for _ in calls]
    assert requests == [Request(x, op, rq) for x, (op, rq, _) in enumerate(calls)]
    for xid, (op, _, response) in enumerate(calls):
        client.receive_data(server.reply(xid, 100 + xid, 0, op, response))
    client.receive_data(server.notification(LOCK_GRANTED, KeeperState.SYNC_CONNECTED, "/l"))
    events = []
    while (event := client.next_event()) is not None:
        events.append(event)
    assert events[:4] == [Reply(x, 100 + x, 0, op, rs) for x, (op, _, rs) in enumerate(calls)]
    assert events[4:] == [Notification(LOCK_GRANTED, 3, "/l", -1)]
    assert client.pending == ()


def test_busy_reply_has_no_body() -> None:
    server, client = _pair()
    client.request(1, LockOpCode.LOCK_ACQUIRE, LockAcquireRequest("/l", 0, False))
    client.receive_data(server.reply(1, 5, -110, LockOpCode.LOCK_ACQUIRE))
    assert client.next_event() == Reply(1, 5, -110, 200, None)


def test_without_the_extension_the_opcodes_are_unknown() -> None:
    server, client = _pair(extensions=False)
    with pytest.raises(UsageError):
        client.request(1, LockOpCode.LOCK_INFO, LockInfoRequest("/l"))
    _, ext_client = _pair()
    server.receive_data(ext_client.request(1, LockOpCode.LOCK_INFO, LockInfoRequest("/l")))
    with pytest.raises(UnknownOpcode):
        server.next_event()
