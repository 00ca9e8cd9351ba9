"""Every record round-trips, and decoding hostile bytes fails only with MalformedFrame."""

from __future__ import annotations

import contextlib
import struct
import tracemalloc
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wire_strategies import all_record_classes, record_strategy

from quorumd.errors import UsageError
from quorumd.wire import (
    ACL,
    ConnectRequest,
    ConnectResponse,
    CreateRequest,
    DeleteResult,
    ErrorResult,
    GetChildrenResponse,
    Id,
    MalformedFrame,
    MultiOp,
    MultiRequest,
    MultiResponse,
    OpCode,
    Reader,
    SetWatches,
    Stat,
    Writer,
)

RECORDS = all_record_classes()
EXAMPLES = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def encode(record: Any) -> bytes:
    w = Writer()
    record.encode(w)
    return w.getvalue()


def decode(cls: Any, data: bytes) -> Any:
    r = Reader(memoryview(data))
    record = cls.decode(r)
    r.expect_end()
    return record


def test_every_opcode_record_is_covered() -> None:
    names = {c.__name__ for c in RECORDS}
    for expected in (
        "CreateRequest", "CreateTTLRequest", "DeleteRequest", "ExistsRequest", "GetDataRequest",
        "SetDataRequest", "GetACLRequest", "SetACLRequest", "GetChildrenRequest",
        "GetChildren2Request", "SyncRequest", "CheckVersionRequest", "MultiRequest",
        "AuthPacket", "SetWatches", "SetWatches2", "AddWatchRequest", "RemoveWatchesRequest",
        "CheckWatchesRequest", "GetEphemeralsRequest", "GetAllChildrenNumberRequest",
        "CreateResponse", "Create2Response", "ExistsResponse", "GetDataResponse",
        "SetDataResponse", "GetACLResponse", "SetACLResponse", "GetChildrenResponse",
        "GetChildren2Response", "SyncResponse", "MultiResponse", "GetEphemeralsResponse",
        "GetAllChildrenNumberResponse", "WhoAmIResponse", "ConnectRequest", "ConnectResponse",
        "RequestHeader", "ReplyHeader", "WatcherEvent", "Stat", "ACL", "Id", "MultiHeader",
        "ErrorResponse",
    ):  # fmt: skip
        assert expected in names


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: c.__name__)
def test_round_trip(cls: type) -> None:
    @EXAMPLES
    @given(record_strategy(cls))
    def check(record: Any) -> None:
        data = encode(record)
        back = decode(cls, data)
        assert back == record
        assert encode(back) == data

    check()


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: c.__name__)
def test_every_strict_prefix_is_malformed(cls: type) -> None:
    optional_tail = cls in (ConnectRequest, ConnectResponse)

    @FEW
    @given(record_strategy(cls))
    def check(record: Any) -> None:
        data = encode(record)
        for cut in range(len(data)):
            if optional_tail and cut == len(data) - 1 and record.read_only is not None:
                assert decode(cls, data[:cut]).read_only is None  # the 44-byte form
                continue
            with pytest.raises(MalformedFrame):
                decode(cls, data[:cut])

    check()


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: c.__name__)
def test_random_bytes_decode_or_raise_malformed(cls: type) -> None:
    @FEW
    @given(st.binary(max_size=200))
    def check(data: bytes) -> None:
        with contextlib.suppress(MalformedFrame):
            decode(cls, data)

    check()


def test_trailing_bytes_are_malformed() -> None:
    with pytest.raises(MalformedFrame, match="trailing"):
        decode(Stat, encode(Stat(*range(11))) + b"\0")


def test_null_string_buffer_and_vector_read_as_empty() -> None:
    null = struct.pack(">i", -1)
    record = decode(CreateRequest, null + null + null + struct.pack(">i", 3))
    assert record == CreateRequest("", b"", (), 3)
    r = Reader(null + null)
    assert r.read_ustring_opt() is None
    assert r.read_buffer_opt() is None


@pytest.mark.parametrize(
    "length", [-2, -(2**31), 2**31 - 1, 0xFFFFF * 2 + 1], ids=["-2", "min", "max", "over"]
)
def test_hostile_string_length_rejected_before_allocating(length: int) -> None:
    data = struct.pack(">i", length) + b"abc"
    tracemalloc.start()
    try:
        with pytest.raises(MalformedFrame):
            Reader(data).read_ustring()
        with pytest.raises(MalformedFrame):
            Reader(data).read_buffer()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


def test_hostile_vector_count_rejected_before_allocating() -> None:
    data = struct.pack(">q", 1) + struct.pack(">i", 2**31 - 1) + b"\0" * 16
    tracemalloc.start()
    try:
        with pytest.raises(MalformedFrame, match="cannot fit"):
            decode(SetWatches, data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


def test_field_limit_is_maxbuffer_plus_extra() -> None:
    data = struct.pack(">i", 11) + b"x" * 11
    assert Reader(data, max_field=11).read_buffer() == b"x" * 11
    with pytest.raises(MalformedFrame, match="field limit"):
        Reader(data, max_field=10).read_buffer()


def test_invalid_utf8_is_malformed() -> None:
    with pytest.raises(MalformedFrame, match="UTF-8"):
        Reader(struct.pack(">i", 2) + b"\xc3\x28").read_ustring()


def test_unencodable_string_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        Writer().write_ustring("\ud800")


def test_bool_reads_any_nonzero_as_true() -> None:
    assert Reader(b"\x02").read_bool() is True
    assert Reader(b"\x00").read_bool() is False


def test_connect_request_sizes_are_44_and_45_bytes() -> None:
    base = ConnectRequest(0, 5, 30000, 0, b"\0" * 16, None)
    assert len(encode(base)) == 44
    assert len(encode(ConnectRequest(0, 5, 30000, 0, b"\0" * 16, True))) == 45
    assert len(encode(ConnectResponse(0, 30000, 7, b"p" * 16, None))) == 36
    assert len(encode(ConnectResponse(0, 30000, 7, b"p" * 16, False))) == 37


def test_multi_request_matches_zookeeper_layout() -> None:
    request = MultiRequest(
        (MultiOp(OpCode.CREATE, CreateRequest("/a", b"x", (ACL(31, Id("world", "anyone")),), 1)),)
    )
    expected = (
        struct.pack(">iBi", 1, 0, -1)
        + struct.pack(">i", 2) + b"/a"
        + struct.pack(">i", 1) + b"x"
        + struct.pack(">ii", 1, 31)
        + struct.pack(">i", 5) + b"world"
        + struct.pack(">i", 6) + b"anyone"
        + struct.pack(">i", 1)
        + struct.pack(">iBi", -1, 1, -1)
    )  # fmt: skip
    assert encode(request) == expected


def test_multi_error_result_layout() -> None:
    response = MultiResponse((ErrorResult(0), ErrorResult(-101), DeleteResult()))
    expected = (
        struct.pack(">iBi", -1, 0, 0) + struct.pack(">i", 0)
        + struct.pack(">iBi", -1, 0, -101) + struct.pack(">i", -101)
        + struct.pack(">iBi", 2, 0, 0)
        + struct.pack(">iBi", -1, 1, -1)
    )  # fmt: skip
    assert encode(response) == expected


def test_multi_rejects_ops_outside_the_allowed_set() -> None:
    data = struct.pack(">iBi", OpCode.SYNC, 0, -1) + struct.pack(">i", 1) + b"/"
    with pytest.raises(MalformedFrame, match="not allowed"):
        decode(MultiRequest, data)
    with pytest.raises(MalformedFrame, match="not a valid multi result"):
        decode(MultiResponse, data)


def test_children_vector_layout() -> None:
    data = encode(GetChildrenResponse(("a", "bc")))
    assert data == struct.pack(">ii", 2, 1) + b"a" + struct.pack(">i", 2) + b"bc"
