"""Txn encoding and snapshots: round trips, garbage, determinism."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import textwrap

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from machine_helpers import OPEN, Driver

from quorumd import errors
from quorumd.machine import (
    ACL,
    AddAuth,
    Check,
    CloseSession,
    Create,
    CreateMode,
    CreateSession,
    Delete,
    DeleteTTLExpired,
    ExpireSessions,
    Multi,
    Noop,
    SetACL,
    SetData,
    StateMachine,
    Txn,
    decode_txn,
    encode_txn,
)

i64 = st.integers(-(2**63), 2**63 - 1)
i32 = st.integers(-(2**31), 2**31 - 1)
text = st.text(max_size=12)
acls = st.lists(st.builds(ACL, i32, text, text), max_size=3).map(tuple)
multi_ops = st.one_of(
    st.builds(Create, text, st.binary(max_size=8), acls, i32, i64),
    st.builds(Delete, text, i32),
    st.builds(SetData, text, st.binary(max_size=8), i32),
    st.builds(Check, text, i32),
)
ops = st.one_of(
    multi_ops,
    st.builds(SetACL, text, acls, i32),
    st.builds(Multi, st.lists(multi_ops, max_size=4).map(tuple)),
    st.builds(CreateSession, i64, st.binary(max_size=16), i32),
    st.builds(CloseSession, i64),
    st.builds(ExpireSessions, st.lists(i64, max_size=4).map(tuple)),
    st.builds(AddAuth, i64, text, text),
    st.builds(DeleteTTLExpired, st.lists(text, max_size=4).map(tuple)),
    st.just(Noop()),
)
txns = st.builds(Txn, i64, i64, i64, i64, ops)


@settings(max_examples=150)
@given(txns)
def test_txn_round_trips(txn: Txn) -> None:
    assert decode_txn(encode_txn(txn)) == txn


@settings(max_examples=150)
@given(st.binary(max_size=64))
def test_garbage_never_escapes_as_another_error(data: bytes) -> None:
    with contextlib.suppress(errors.ProtocolError):
        decode_txn(data)


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"\xc1",
        encode_txn(Txn(1, 2, 3, 4, Noop())) + b"\x00",
        b"\x95\x01\x02\x03\x04\x91\x7f",  # unknown tag 127
        b"\x95\x01\x02\x03\x04\x92\x00\x00",  # noop with a field too many
        b"\x95\xc3\x02\x03\x04\x91\x00",  # a bool where an int belongs
        b"\x94\x01\x02\x03\x04",  # envelope too short
    ],
)
def test_malformed_txns_are_protocol_errors(payload: bytes) -> None:
    with pytest.raises(errors.ProtocolError):
        decode_txn(payload)


def test_nested_multi_is_rejected_by_the_decoder() -> None:
    raw = msgpack.packb([1, 2, 3, 4, [14, [[14, []]]]])
    with pytest.raises(errors.ProtocolError):
        decode_txn(raw)


def test_encoding_is_compact() -> None:
    txn = Txn(0x1234, 1_700_000_000_000, 2, 77, SetData("/a/b", b"xy", 3))
    assert len(encode_txn(txn)) < 32


def _populated() -> Driver:
    d = Driver()
    d.session(5)
    d.session(6)
    d.ok(AddAuth(5, "digest", "u:pw="))
    d.create("/a", b"data", session_id=5)
    d.create("/a/", b"", CreateMode.PERSISTENT_SEQUENTIAL, session_id=5)
    d.create("/a/e", b"", CreateMode.EPHEMERAL, session_id=6)
    d.create("/c", b"", CreateMode.CONTAINER, session_id=5)
    d.create("/c/x", b"", session_id=5)
    d.ok(Create("/t", b"", OPEN, CreateMode.PERSISTENT_WITH_TTL, 50), session_id=5)
    d.ok(SetData("/a", b"v2"), session_id=5)
    d.ok(SetACL("/a/e", (ACL(31, "digest", "u:pw="),)), session_id=5)
    return d


def test_snapshot_restores_everything() -> None:
    d = _populated()
    snap = d.machine.snapshot()
    m = StateMachine.restore(snap)
    m.check_invariants()
    assert m.snapshot() == snap
    assert m.last_zxid == d.machine.last_zxid
    assert m.sessions() == d.machine.sessions()
    for path in ("/", "/a", "/a/0000000000", "/a/e", "/c", "/c/x", "/t", "/zookeeper/config"):
        assert m.get_data(path, None) == d.machine.get_data(path, None)
        assert m.get_acl(path) == d.machine.get_acl(path)
        assert m.get_children(path, None) == d.machine.get_children(path, None)
    assert m.get_ephemerals(6) == ["/a/e"]
    assert m.ttl_expired(10**9) == ["/t"]
    # indexes work after restore: closing 6 and emptying /c behave as before
    again = Driver(m)
    assert [e.path for e in again.apply(CloseSession(6), session_id=6).events] == ["/a/e", "/a"]
    again.ok(Delete("/c/x"), session_id=5)
    assert m.exists("/c") is None


@pytest.mark.parametrize("cut", [0, 1, 10, -1])
def test_damaged_snapshots_are_protocol_errors(cut: int) -> None:
    snap = _populated().machine.snapshot()
    with pytest.raises(errors.ProtocolError):
        StateMachine.restore(snap[:cut])
    with pytest.raises(errors.ProtocolError):
        StateMachine.restore(snap + b"\x00")


def test_snapshot_encodes_acls_once() -> None:
    d = Driver()
    d.session(1)
    for i in range(200):
        d.create(f"/n{i}", b"x" * 10)
    per_node = (len(d.machine.snapshot()) - 100) / 200
    assert per_node < 40  # path, data, 10 ints: the ACL is an index, not a copy


_WORKLOAD = textwrap.dedent(
    """
    import hashlib, random
    from quorumd.machine import *
    m = StateMachine()
    rng = random.Random(7)
    z = 0
    h = hashlib.sha256()
    def ap(op, sid):
        global z
        z += 1
        h.update(repr(m.apply(z, Txn(sid, z * 10, 0, 0, op))).encode())
    for s in (1, 2, 3):
        ap(CreateSession(s, b"p", 1000), 0)
    for _ in range(600):
        sid = rng.choice((1, 2, 3))
        path = "/" + "/".join(rng.choice("abcd") for _ in range(rng.randint(1, 3)))
        ap(Create(path, b"d", OPEN_ACL_UNSAFE, rng.choice((0, 1, 2, 3, 4))), sid)
        if rng.random() < 0.3:
            ap(Delete(path), sid)
    for s in (3, 1):
        ap(ExpireSessions((s,)), 0)
    h.update(m.snapshot())
    print(h.hexdigest())
    """
)


def test_snapshot_independent_of_hash_seed() -> None:
    """Set iteration order changes with PYTHONHASHSEED; results, events and snapshots
    must not."""
    digests = set()
    for seed in ("1", "2", "3"):
        out = subprocess.run(
            [sys.executable, "-c", _WORKLOAD],
            env={"PYTHONHASHSEED": seed, "PATH": ""},
            capture_output=True,
            text=True,
            check=True,
        )
        digests.add(out.stdout.strip())
    assert len(digests) == 1
