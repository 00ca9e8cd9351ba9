"""Snapshot FORMAT 3 (columns, breadth-first): round trips of random trees, agreement
with the format-2 decoder, the int sharing of node.py, and damaged columns."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from legacy_snapshot import encode_format_2
from machine_helpers import OPEN, Driver

from quorumd import errors
from quorumd.machine import (
    ACL,
    AcquireLock,
    AddAuth,
    Create,
    CreateMode,
    Delete,
    LockMode,
    SetACL,
    SetData,
    StateMachine,
)
from quorumd.machine.snapshot import FORMAT

# Names whose order by path differs from breadth-first order: "-" sorts before "/".
NAMES = ("a", "a-b", "a.b", "b", "zz", "0", "é")
ACLS = (OPEN, (ACL(1, "world", "anyone"),), (ACL(31, "digest", "u:pw="), ACL(1, "world", "anyone")))
MODES = (
    CreateMode.PERSISTENT,
    CreateMode.EPHEMERAL,
    CreateMode.PERSISTENT_SEQUENTIAL,
    CreateMode.CONTAINER,
)


def _objects(snapshot: bytes) -> list[Any]:
    unpacker = msgpack.Unpacker(raw=False)
    unpacker.feed(snapshot)
    return list(unpacker)


def _pack(objects: list[Any]) -> bytes:
    return b"".join(msgpack.packb(o, use_bin_type=True) for o in objects)


def _i64(*values: int) -> bytes:
    return struct.pack(f"<{len(values)}q", *values)


def _assert_same_nodes(a: StateMachine, b: StateMachine) -> None:
    nodes_a, nodes_b = a._tree.nodes, b._tree.nodes
    assert sorted(nodes_a) == sorted(nodes_b)
    for path, node in nodes_a.items():
        twin = nodes_b[path]
        assert twin.fields() == node.fields(), path
        assert twin.ephemeral_owner == node.ephemeral_owner, path
        assert twin.children == node.children, path
    assert a._tree.ephemerals == b._tree.ephemerals
    assert a._tree.containers == b._tree.containers
    assert a._tree.ttls == b._tree.ttls


@st.composite
def busy_machines(draw: st.DrawFn) -> Driver:
    d = Driver()
    d.session(1)
    d.session(2)
    d.zxid = 10**6  # zxids past the small-int cache, so sharing is observable
    paths = ["/"]
    for _ in range(draw(st.integers(0, 40))):
        parent = draw(st.sampled_from(paths))
        path = ("" if parent == "/" else parent) + "/" + draw(st.sampled_from(NAMES))
        op = draw(st.sampled_from(("create", "create", "create", "set", "acl", "delete")))
        sid = draw(st.sampled_from((1, 2)))
        time_ms = draw(st.sampled_from((1_000_000, 2_000_000)))
        if op == "create":
            mode = draw(st.sampled_from(MODES))
            data = draw(st.binary(max_size=6))
            applied = d.apply(Create(path, data, draw(st.sampled_from(ACLS)), mode), sid, time_ms)
            created = getattr(applied.result, "path", None)
            if created is not None:
                paths.append(created)
        elif op == "set":
            d.apply(SetData(parent, draw(st.binary(max_size=6))), sid, time_ms)
        elif op == "acl":
            d.apply(SetACL(parent, draw(st.sampled_from(ACLS))), sid, time_ms)
        elif parent != "/" and not isinstance(d.apply(Delete(parent), sid).result, Exception):
            paths = [p for p in paths if p != parent and not p.startswith(parent + "/")]
    if draw(st.booleans()):
        d.apply(AcquireLock("/lk", LockMode.EXCLUSIVE, False, 0), session_id=1)
    return d


@settings(max_examples=80, deadline=None)
@given(busy_machines())
def test_random_trees_round_trip_and_agree_with_format_2(d: Driver) -> None:
    snap = d.machine.snapshot()
    assert _objects(snap)[0][0] == FORMAT
    restored = StateMachine.restore(snap)
    restored.check_invariants()
    assert restored.snapshot() == snap
    _assert_same_nodes(d.machine, restored)
    # Two decoders, two layouts, one state.
    from_old = StateMachine.restore(encode_format_2(d.machine))
    _assert_same_nodes(d.machine, from_old)
    assert from_old.snapshot() == snap
    for path in d.machine._tree.nodes:
        assert restored.get_children(path, None) == d.machine.get_children(path, None)
        assert restored.exists(path) == d.machine.exists(path)


def _golden_machine() -> Driver:
    d = Driver(time_ms=1_700_000_000_000)
    d.session(5)
    d.session(6)
    d.ok(AddAuth(5, "digest", "u:pw="), session_id=5)
    d.create("/a", b"data", session_id=5)
    d.create("/a/", b"", CreateMode.PERSISTENT_SEQUENTIAL, session_id=5)
    d.create("/a/e", b"", CreateMode.EPHEMERAL, session_id=6)
    d.create("/a-b", b"x", session_id=5)
    d.create("/c", b"", CreateMode.CONTAINER, session_id=5)
    d.create("/c/x", b"", session_id=5)
    d.ok(Create("/t", b"", OPEN, CreateMode.PERSISTENT_WITH_TTL, 50), session_id=5)
    d.ok(SetData("/a", b"v2"), session_id=5)
    d.ok(SetACL("/a/e", (ACL(31, "digest", "u:pw="),)), session_id=5)
    d.apply(AcquireLock("/l", LockMode.EXCLUSIVE, False, 0), session_id=5)
    return d


# `_golden_machine()`'s snapshot as written by the FORMAT 2 encoder (commit ea79bf5).
FORMAT_2_GOLDEN = bytes.fromhex(
    "96020d0e9391931fa5776f726c64a6616e796f6e6591931fa6646967657374a5753a70773d919301a577"
    "6f726c64a6616e796f6e65929405c41000000000000000000000000000000000cd27109192a664696765"
    "7374a5753a70773d9406c41000000000000000000000000000000000cd2710909195a22f6c0000919305"
    "0d00909ca12fc4000000000d0000000500009ca22f61c402763200040b06cf0000018bcfe56800cf0000"
    "018bcfe56800010200009ca42f612d62c4017800070707cf0000018bcfe56800cf0000018bcfe5680000"
    "0000009cad2f612f30303030303030303030c40000050505cf0000018bcfe56800cf0000018bcfe56800"
    "000000009ca42f612f65c40001060606cf0000018bcfe56800cf0000018bcfe56800000001069ca22f63"
    "c40000080809cf0000018bcfe56800cf0000018bcfe56800000100d380000000000000009ca42f632f78"
    "c40000090909cf0000018bcfe56800cf0000018bcfe56800000000009ca82f71756f72756d64c400020d"
    "0d0dcf0000018bcfe56800cf0000018bcfe56800000100009cae2f71756f72756d642f6c6f636b73c400"
    "020d0d0dcf0000018bcfe56800cf0000018bcfe56800000100009cb02f71756f72756d642f6c6f636b73"
    "2f6cc42d6d6f64653d6578636c757369766520746f6b656e3d313320686f6c646572733d307835207761"
    "69746572733d30020d0d0dcf0000018bcfe56800cf0000018bcfe56800000000009ca22f74c400000a0a"
    "0acf0000018bcfe56800cf0000018bcfe56800000000d3ff000000000000329caa2f7a6f6f6b65657065"
    "72c400000000000000000000009cb12f7a6f6f6b65657065722f636f6e666967c4000200000000000000"
    "00009cb02f7a6f6f6b65657065722f71756f7461c40000000000000000000000"
)


def test_a_snapshot_written_by_the_format_2_encoder_loads() -> None:
    d = _golden_machine()
    m = StateMachine.restore(FORMAT_2_GOLDEN)
    m.check_invariants()
    assert m.snapshot() == d.machine.snapshot()
    assert m.lock_info("/l") == d.machine.lock_info("/l")
    assert m.get_ephemerals(6) == ["/a/e"] and m.ttl_expired(2 * 10**12) == ["/t"]
    assert encode_format_2(d.machine) == FORMAT_2_GOLDEN  # the test encoder is that one


def test_nodes_are_stored_breadth_first() -> None:
    d = Driver()
    d.session(1)
    for path in ("/a", "/a/x", "/a-b", "/b"):
        d.create(path)
    names = _objects(d.machine.snapshot())[1]
    assert names == ["a", "a-b", "b", "zookeeper", "x", "config", "quota"]


@pytest.mark.pure_python
def test_restored_nodes_share_ints_like_created_ones() -> None:
    """node.py, memory rule 4, and one ctime object for a millisecond's nodes."""
    d = Driver(time_ms=1_700_000_000_000)
    d.session(1)
    d.zxid = 10**6
    for path in ("/a", "/b", "/b/c"):
        d.create(path)
    d.ok(SetData("/a", b"x"), time_ms=1_700_000_000_001)
    nodes = StateMachine.restore(d.machine.snapshot())._tree.nodes
    a, b, c = nodes["/a"], nodes["/b"], nodes["/b/c"]
    assert c.mzxid is c.czxid and c.pzxid is c.czxid and c.mtime is c.ctime
    assert b.mzxid is b.czxid and b.pzxid == c.czxid and b.ctime is c.ctime
    assert a.ctime is b.ctime and a.mtime == 1_700_000_000_001 and a.mzxid == d.zxid


def _populated() -> bytes:
    d = Driver()
    d.session(1)
    for path in ("/a", "/b", "/a/x", "/a/y"):
        d.create(path)
    d.create("/e", mode=CreateMode.EPHEMERAL)
    d.ok(SetData("/a/x", b"v"))
    return d.machine.snapshot()


def _set(index: int, value: object) -> Callable[[list[Any]], None]:
    def mutate(objects: list[Any]) -> None:
        objects[index] = value

    return mutate


def _set_in(index: int, item: int, value: object) -> Callable[[list[Any]], None]:
    def mutate(objects: list[Any]) -> None:
        objects[index][item] = value

    return mutate


# Node order of _populated(): / a b e zookeeper x y config quota  (9 nodes; parents 0, 1, 4)
DAMAGE: dict[str, Callable[[list[Any]], None]] = {
    "name with a slash": _set_in(1, 0, "a/x"),
    "empty name": _set_in(1, 1, ""),
    "twin names": _set_in(1, 1, "a"),
    "a name short": lambda o: o[1].pop(),
    "name not a string": _set_in(1, 0, b"a"),
    "name '.'": _set_in(1, 0, "."),
    "name '..'": _set_in(1, 1, ".."),
    "name with a control character": _set_in(1, 0, "a\x00"),
    "name with a private-use character": _set_in(1, 4, "x\ue000"),
    "ephemeral of a session not in the snapshot": lambda o: o[0].__setitem__(4, []),
    "data not bytes": _set_in(2, 0, "x"),
    "data short": lambda o: o[2].pop(),
    "acl index past the end": _set_in(3, 2, 7),
    "negative acl index": _set_in(3, 2, -1),
    "acl index a boolean": _set_in(3, 2, True),
    "czxid column short": lambda o: o.__setitem__(4, o[4][:-8]),
    "ctime column ragged": lambda o: o.__setitem__(5, o[5][:-1]),
    "ctime column not bytes": _set(5, [1, 2]),
    "a sparse field missing": lambda o: o[6].pop(),
    "sparse index past the end": _set_in(6, 0, [_i64(9), _i64(5)]),
    "negative sparse index": _set_in(6, 1, [_i64(-1), _i64(5)]),
    "sparse values short": _set_in(6, 3, [_i64(1, 2), _i64(5)]),
    "children of a node not yet placed": _set(7, [_i64(0, 5, 4), _i64(4, 2, 3)]),
    "parents out of order": _set(7, [_i64(0, 4, 1), _i64(4, 3, 2)]),
    "a parent with no children": _set(7, [_i64(0, 1, 4), _i64(4, 0, 2)]),
    "nodes without a parent": _set(7, [_i64(0, 1), _i64(4, 2)]),
    "more children than nodes": _set(7, [_i64(0, 1, 4), _i64(4, 2, 9)]),
    "children columns of two lengths": _set(7, [_i64(0, 1, 4), _i64(4, 2)]),
    "a column missing": lambda o: o.pop(),
    "node count says more": lambda o: o[0].__setitem__(2, 10),
}


def test_damage_table_starts_from_a_good_snapshot() -> None:
    objects = _objects(_populated())
    assert objects[1] == ["a", "b", "e", "zookeeper", "x", "y", "config", "quota"]
    assert objects[7] == [_i64(0, 1, 4), _i64(4, 2, 2)]
    assert StateMachine.restore(_pack(objects)).snapshot() == _populated()


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_columns_are_protocol_errors(damage: str) -> None:
    objects = _objects(_populated())
    DAMAGE[damage](objects)
    with pytest.raises(errors.ProtocolError):
        StateMachine.restore(_pack(objects))
