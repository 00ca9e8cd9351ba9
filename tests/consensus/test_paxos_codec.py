"""Paxos message codec: every message round-trips; garbage is a ProtocolError, never a
crash or a half-built message (DESIGN.md rule 5)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quorumd._types import LogIndex, NodeId, Term
from quorumd.consensus.engine import ClusterConfig, Entry, EntryKind, Snapshot, SnapshotMeta
from quorumd.consensus.paxos import (
    Accept,
    Accepted,
    Heartbeat,
    HeartbeatAck,
    InstallSnapshot,
    Prepare,
    Promise,
    ReadIndexRequest,
    ReadIndexResponse,
    SnapshotAck,
    TimeoutNow,
    decode_message,
    encode_message,
)
from quorumd.consensus.raft import RequestVote
from quorumd.consensus.raft import encode_message as raft_encode
from quorumd.errors import ProtocolError, UsageError

A, B = NodeId(1), NodeId(2)
BAL = Term(5 << 16 | 1)
ENTRIES = (
    Entry(Term(3), LogIndex(4), EntryKind.NORMAL, b"x"),
    Entry(BAL, LogIndex(5), EntryKind.NOOP, b""),
)
SNAP = Snapshot(SnapshotMeta(LogIndex(3), Term(2), ClusterConfig((A, B), (NodeId(3),))), b"st")

SAMPLES = [
    Prepare(A, B, BAL, LogIndex(4)),
    Prepare(A, B, BAL, LogIndex(1), probe=True, transfer=True),
    Promise(A, B, BAL, granted=False, probe=True),
    Promise(A, B, BAL, True, False, LogIndex(3), LogIndex(5), BAL, ENTRIES, SNAP),
    Accept(A, B, BAL, LogIndex(3), Term(2), ENTRIES, LogIndex(3)),
    Accepted(A, B, BAL, True, LogIndex(5)),
    Accepted(A, B, BAL, False, LogIndex(5), LogIndex(2)),
    Heartbeat(A, B, BAL, LogIndex(9), 4),
    HeartbeatAck(A, B, BAL, 4),
    InstallSnapshot(A, B, BAL, SNAP),
    SnapshotAck(A, B, BAL, LogIndex(3)),
    TimeoutNow(A, B, BAL),
    ReadIndexRequest(A, B, BAL, b"ctx"),
    ReadIndexResponse(A, B, BAL, LogIndex(7), b"ctx"),
]


@pytest.mark.parametrize("msg", SAMPLES, ids=lambda m: type(m).__name__)
def test_round_trip(msg: object) -> None:
    assert decode_message(encode_message(msg)) == msg


def test_encoding_is_plain_lists_of_ints_bytes_and_none() -> None:
    def plain(obj: object) -> bool:
        if isinstance(obj, list):
            return all(plain(x) for x in obj)
        return obj is None or type(obj) in (int, bytes)

    assert all(plain(encode_message(m)) for m in SAMPLES)


def test_encoding_something_else_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        encode_message(RequestVote(A, B, Term(1), LogIndex(0), Term(0)))


GARBAGE = [
    None,
    b"bytes",
    [],
    [103, 1, 2],
    [999, 1, 2, 3],
    ["103", 1, 2, 3, 0, 0, [], 0],
    [103, -1, 2, 3, 0, 0, [], 0],  # negative node id
    [103, 1, 2, 3, 0, 0, [], 0, 0],  # one field too many
    [104, 1, 2, 3, 2, 0, 0],  # flag out of range
    [104, 1, 2, 3, True, 0, 0],  # bool is not a flag
    [103, 1, 2, 3, 0, 0, [[1, 1, 7, b""]], 0],  # unknown entry kind
    [103, 1, 2, 3, 0, 0, [[1, 1, 0, b""], [1, 3, 0, b""]], 0],  # gap between slots
    [103, 1, 2, 3, 0, 0, [[2, 1, 0, b""], [1, 2, 0, b""]], 0],  # ballot goes down
    [103, 1, 2, 3, 0, 0, [[1, 1, 0, "str"]], 0],  # data not bytes
    [107, 1, 2, 3, [1, 1, [1], [], b"", b"extra"]],  # snapshot of the wrong shape
    [102, 1, 2, 3, 1, 0, 0, 0, 0, [], [1, 1, "voters", [], b""]],
    [110, 1, 2, 3, 1 << 64],
]


@pytest.mark.parametrize("obj", GARBAGE, ids=range(len(GARBAGE)))
def test_garbage_is_a_protocol_error(obj: object) -> None:
    with pytest.raises(ProtocolError):
        decode_message(obj)


def test_a_raft_message_is_refused_not_misread() -> None:
    with pytest.raises(ProtocolError):
        decode_message(raft_encode(RequestVote(A, B, Term(1), LogIndex(0), Term(0))))


_LEAF = st.one_of(st.none(), st.integers(-5, 2**65), st.binary(max_size=4), st.booleans())
_TREE = st.recursive(_LEAF, lambda inner: st.lists(inner, max_size=8), max_leaves=30)


@settings(max_examples=300, deadline=None)
@given(tag=st.integers(100, 112), rest=st.lists(_TREE, max_size=10))
def test_random_input_never_escapes_as_another_error(tag: int, rest: list[object]) -> None:
    try:
        msg = decode_message([tag, *rest])
    except ProtocolError:
        return
    assert decode_message(encode_message(msg)) == msg
