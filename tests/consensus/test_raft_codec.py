"""encode_message/decode_message: plain nested lists both ways; bad input -> ProtocolError."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quorumd._types import LogIndex, NodeId, Term
from quorumd.consensus.engine import ClusterConfig, Entry, EntryKind, Snapshot, SnapshotMeta
from quorumd.consensus.raft import (
    AppendEntries,
    AppendEntriesResponse,
    Heartbeat,
    HeartbeatResponse,
    InstallSnapshot,
    InstallSnapshotResponse,
    ReadIndexRequest,
    ReadIndexResponse,
    RequestVote,
    RequestVoteResponse,
    TimeoutNow,
    decode_message,
    encode_message,
)
from quorumd.errors import ProtocolError, UsageError

ints = st.integers(min_value=0, max_value=2**63)
nodes = st.integers(min_value=1, max_value=9).map(NodeId)
terms = ints.map(Term)
indexes = ints.map(LogIndex)


@st.composite
def entry_runs(draw: st.DrawFn) -> tuple[Entry, ...]:
    start = draw(st.integers(min_value=1, max_value=1000))
    term = draw(st.integers(min_value=1, max_value=50))
    out = []
    for n in range(draw(st.integers(min_value=0, max_value=5))):
        term += draw(st.integers(min_value=0, max_value=2))
        kind = draw(st.sampled_from(EntryKind))
        out.append(Entry(Term(term), LogIndex(start + n), kind, draw(st.binary(max_size=20))))
    return tuple(out)


snapshots = st.builds(
    Snapshot,
    st.builds(
        SnapshotMeta,
        indexes,
        terms,
        st.builds(ClusterConfig, st.tuples(nodes, nodes), st.tuples(nodes)),
    ),
    st.binary(max_size=30),
)

messages = st.one_of(
    st.builds(RequestVote, nodes, nodes, terms, indexes, terms, st.booleans(), st.booleans()),
    st.builds(RequestVoteResponse, nodes, nodes, terms, st.booleans(), st.booleans()),
    st.builds(
        AppendEntries, nodes, nodes, terms, indexes, terms, entry_runs(), indexes, st.booleans()
    ),
    st.builds(
        AppendEntriesResponse,
        nodes,
        nodes,
        terms,
        st.booleans(),
        indexes,
        st.none() | terms,
        indexes,
    ),
    st.builds(Heartbeat, nodes, nodes, terms, indexes, ints),
    st.builds(HeartbeatResponse, nodes, nodes, terms, ints),
    st.builds(InstallSnapshot, nodes, nodes, terms, snapshots),
    st.builds(InstallSnapshotResponse, nodes, nodes, terms, indexes),
    st.builds(TimeoutNow, nodes, nodes, terms),
    st.builds(ReadIndexRequest, nodes, nodes, terms, st.binary(max_size=10)),
    st.builds(ReadIndexResponse, nodes, nodes, terms, indexes, st.binary(max_size=10)),
)


def _plain(obj: object) -> bool:
    if isinstance(obj, list):
        return all(_plain(x) for x in obj)
    return obj is None or type(obj) in (int, bytes)


@settings(max_examples=300)
@given(messages)
def test_round_trip_through_plain_lists(msg: object) -> None:
    encoded = encode_message(msg)
    assert _plain(encoded)
    assert decode_message(encoded) == msg


plain = st.recursive(
    st.none() | st.integers(min_value=-5, max_value=2**65) | st.binary(max_size=4) | st.booleans(),
    lambda children: st.lists(children, max_size=8),
    max_leaves=30,
)


@settings(max_examples=300)
@given(plain)
def test_garbage_raises_only_protocol_error(obj: object) -> None:
    with contextlib.suppress(ProtocolError):
        decode_message(obj)


@settings(max_examples=200)
@given(messages, st.data())
def test_corrupted_field_raises_protocol_error(msg: object, data: st.DataObject) -> None:
    encoded = encode_message(msg)
    position = data.draw(st.integers(min_value=0, max_value=len(encoded) - 1))
    encoded[position] = data.draw(st.sampled_from([-1, "x", 2.5, True, {"a": 1}]))
    with pytest.raises(ProtocolError):
        decode_message(encoded)


@pytest.mark.parametrize(
    "bad",
    [
        [],
        [99, 1, 2, 3],
        [1, 1, 2, 3],  # RequestVote without its fields
        [2, 1, 2, 3, 2, 0],  # a flag that is not 0/1
        [3, 1, 2, 1, 0, 0, [[1, 5, 0, b""], [1, 7, 0, b""]], 0],  # a gap in entries
        [3, 1, 2, 1, 0, 0, [[2, 5, 0, b""], [1, 6, 0, b""]], 0],  # terms going down
        [3, 1, 2, 1, 0, 0, [[1, 5, 9, b""]], 0],  # unknown entry kind
        [10, 1, 2, 1, "ctx"],  # str where bytes belong
        [3.0, 1, 2, 5, 4, 5, [[5, 5, 1, b"d"]], 4, 1],  # a float tag (fast path shape)
        [4.0, 2, 1, 5, 1, 5, None, 0],  # the same for an AppendEntriesResponse
        b"\x01\x02",
    ],
)
def test_malformed_examples(bad: object) -> None:
    with pytest.raises(ProtocolError):
        decode_message(bad)


def test_an_append_entries_without_the_ack_field_asks_for_an_ack() -> None:
    """Nodes that predate commit notices send four AppendEntries fields; a newer node
    reads them as `ack=True` (what they expect), so a rolling upgrade keeps replicating."""
    msg = AppendEntries(NodeId(1), NodeId(2), Term(3), LogIndex(4), Term(3), (), LogIndex(4))
    old = encode_message(msg)[:-1]
    assert decode_message(old) == msg and decode_message(old).ack


def test_encoding_a_foreign_object_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        encode_message(object())


@settings(max_examples=100)
@given(
    st.one_of(
        st.builds(
            AppendEntries, nodes, nodes, terms, indexes, terms, entry_runs(), indexes,
            st.booleans(),
        ),
        st.builds(
            AppendEntriesResponse, nodes, nodes, terms, st.booleans(), indexes,
            st.none() | terms, indexes,
        ),
    )
)
def test_the_messages_of_every_write_take_the_fast_path(msg: object) -> None:
    """AppendEntries and its response are decoded without the generic checking path
    (it costs several times more, on every node, for every write) and to the same
    message; anything malformed still goes through it (the tests above)."""
    from quorumd.consensus.raft import codec

    def checked(obj: object) -> object:
        raise AssertionError(f"slow path taken for {obj!r}")

    original = codec._decode_checked
    codec._decode_checked = checked  # type: ignore[assignment]
    try:
        assert decode_message(encode_message(msg)) == msg
    finally:
        codec._decode_checked = original
