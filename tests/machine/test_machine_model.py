"""The namespace against a plain dict-based reference model, under random workloads.

The model is written from ZooKeeper's rules directly (no undo logs, no indexes): a
dict of path -> node, children found by scanning. Every step compares the op's
outcome and the whole tree.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st
from machine_helpers import OPEN, Driver

from quorumd import errors
from quorumd.machine import (
    Check,
    CloseSession,
    Create,
    Created,
    CreateSession,
    Delete,
    Multi,
    MultiOp,
    Op,
    RolledBack,
    SessionInfo,
    SetData,
    StateMachine,
    Txn,
)

SPECIAL = {"/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"}
POOL = ["/a", "/b", "/a/a", "/a/b", "/b/a", "/a/a/a", "/a/b/c", "/a/", "/zookeeper"]


class Fail(Exception):
    def __init__(self, kind: type[errors.ZKError]) -> None:
        self.kind = kind


@dataclass
class MNode:
    data: bytes
    owner: int = 0
    container: bool = False
    version: int = 0
    cversion: int = 0


def _parent(path: str) -> str:
    return path.rsplit("/", 1)[0] or "/"


@dataclass
class Model:
    nodes: dict[str, MNode] = field(
        default_factory=lambda: {p: MNode(b"") for p in sorted(SPECIAL)}
    )
    sessions: set[int] = field(default_factory=lambda: {1, 2})
    emptied: list[str] = field(default_factory=list)

    def children(self, path: str) -> list[str]:
        return [p for p in self.nodes if p != "/" and _parent(p) == path]

    def _need_session(self, sid: int) -> None:
        if sid not in self.sessions:
            raise Fail(errors.SessionExpired)

    def _node(self, path: str) -> MNode:
        if path.endswith("/") and path != "/":
            raise Fail(errors.BadArguments)
        if path not in self.nodes:
            raise Fail(errors.NoNode)
        return self.nodes[path]

    def create(self, sid: int, path: str, data: bytes, mode: int) -> str:
        self._need_session(sid)
        sequential = mode in (2, 3)
        if path.endswith("/") and not sequential:
            raise Fail(errors.BadArguments)
        parent = self.nodes.get(path[: path.rfind("/")] or "/")
        if parent is None:
            raise Fail(errors.NoNode)
        if sequential:
            path += f"{parent.cversion:010d}"
        if path in self.nodes:
            raise Fail(errors.NodeExists)
        if parent.owner:
            raise Fail(errors.NoChildrenForEphemerals)
        owner = sid if mode in (1, 3) else 0
        self.nodes[path] = MNode(data, owner=owner, container=mode == 4)
        parent.cversion += 1
        return path

    def _remove(self, path: str) -> None:
        del self.nodes[path]
        parent = _parent(path)
        if self.nodes[parent].container and not self.children(parent):
            self.emptied.append(parent)

    def delete(self, sid: int, path: str, version: int) -> None:
        self._need_session(sid)
        if path in SPECIAL:
            raise Fail(errors.BadArguments)
        node = self._node(path)
        if version not in (-1, node.version):
            raise Fail(errors.BadVersion)
        if self.children(path):
            raise Fail(errors.NotEmpty)
        self._remove(path)

    def set_data(self, sid: int, path: str, data: bytes, version: int) -> int:
        self._need_session(sid)
        node = self._node(path)
        if version not in (-1, node.version):
            raise Fail(errors.BadVersion)
        node.data = data
        node.version += 1
        return node.version

    def check(self, sid: int, path: str, version: int) -> None:
        self._need_session(sid)
        node = self._node(path)
        if version not in (-1, node.version):
            raise Fail(errors.BadVersion)

    def close(self, sid: int) -> None:
        for path in sorted(p for p, n in self.nodes.items() if n.owner == sid):
            self._remove(path)
        self.sessions.discard(sid)

    def reap(self) -> None:
        while self.emptied:
            path = self.emptied.pop(0)
            node = self.nodes.get(path)
            if node is not None and node.container and not self.children(path):
                self._remove(path)


def model_apply(model: Model, sid: int, op: Op) -> tuple[Model, object]:
    """Returns the model after the op and the expected result (value or error class)."""
    if isinstance(op, Multi):
        trial = copy.deepcopy(model)
        results: list[object] = []
        for index, sub in enumerate(op.ops):
            try:
                results.append(_single(trial, sid, sub))
            except Fail as fail:
                rest = len(op.ops) - index - 1
                return model, [RolledBack] * index + [fail.kind] + [
                    errors.RuntimeInconsistency
                ] * rest
        trial.reap()
        return trial, results
    try:
        result = _single(model, sid, op)
    except Fail as fail:
        return model, fail.kind
    model.reap()
    return model, result


def _single(model: Model, sid: int, op: Op) -> object:
    if isinstance(op, Create):
        return model.create(sid, op.path, op.data, op.mode)
    if isinstance(op, Delete):
        model.delete(sid, op.path, op.version)
        return None
    if isinstance(op, SetData):
        return model.set_data(sid, op.path, op.data, op.version)
    if isinstance(op, Check):
        model.check(sid, op.path, op.version)
        return None
    if isinstance(op, CloseSession):
        model.close(op.session_id)
        return None
    assert isinstance(op, CreateSession)
    if op.session_id in model.sessions:
        raise Fail(errors.BadArguments)
    model.sessions.add(op.session_id)
    return ("session", op.session_id)


def assert_matches(expected: object, actual: object) -> None:
    if isinstance(expected, list):
        assert isinstance(actual, tuple) and len(actual) == len(expected)
        for e, a in zip(expected, actual, strict=True):
            assert_matches(e, a)
    elif isinstance(expected, tuple):
        assert isinstance(actual, SessionInfo) and actual.session_id == expected[1]
    elif isinstance(expected, type):
        assert type(actual) is expected, (expected, actual)
    elif isinstance(expected, str):
        assert isinstance(actual, Created) and actual.path == expected
    elif isinstance(expected, int):
        assert actual.version == expected  # type: ignore[attr-defined]
    else:
        assert expected is None and actual is None, actual


def assert_same_tree(model: Model, machine: StateMachine) -> None:
    seen: set[str] = set()
    stack = ["/"]
    while stack:
        path = stack.pop()
        seen.add(path)
        names, stat = machine.get_children(path, None)
        kids = [f"{path.rstrip('/')}/{n}" for n in names]
        stack.extend(kids)
        node = model.nodes[path]
        assert sorted(kids) == sorted(model.children(path)), path
        assert machine.get_data(path, None)[0] == node.data
        assert (stat.version, stat.cversion, stat.num_children) == (
            node.version,
            node.cversion,
            len(kids),
        ), path
        if node.owner:
            assert stat.ephemeral_owner == node.owner
    assert seen == set(model.nodes)


def _version() -> st.SearchStrategy[int]:
    return st.sampled_from([-1, -1, 0, 1, 2])


@st.composite
def an_op(draw: st.DrawFn, known: list[str], nested: bool = False) -> Op:
    path = draw(st.sampled_from(POOL + known))
    data = draw(st.sampled_from([b"", b"x", b"yy"]))
    kinds = ["create", "create", "delete", "set", "check"]
    if not nested:
        kinds += ["multi", "close", "open"]
    kind = draw(st.sampled_from(kinds))
    if kind == "create":
        return Create(path, data, OPEN, draw(st.sampled_from([0, 0, 1, 2, 3, 4])))
    if kind == "delete":
        return Delete(path, draw(_version()))
    if kind == "set":
        return SetData(path, data, draw(_version()))
    if kind == "check":
        return Check(path, draw(_version()))
    if kind == "multi":
        subs = draw(st.lists(an_op(known, nested=True), min_size=1, max_size=4))
        return Multi(tuple(sub for sub in subs if isinstance(sub, MultiOp)))
    sid = draw(st.sampled_from([1, 2]))
    return CloseSession(sid) if kind == "close" else CreateSession(sid, b"", 1000)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_namespace_matches_reference_model(data: st.DataObject) -> None:
    driver = Driver()
    driver.session(1)
    driver.session(2)
    model = Model()
    for _ in range(data.draw(st.integers(5, 40))):
        known = sorted(p for p in model.nodes if p not in SPECIAL)
        op = data.draw(an_op(known))
        sid = data.draw(st.sampled_from([1, 2]))
        model, expected = model_apply(model, sid, op)
        assert_matches(expected, driver.apply(op, session_id=sid).result)
        assert_same_tree(model, driver.machine)


@settings(max_examples=20, deadline=None)
@given(st.data())
def test_replicas_from_one_snapshot_stay_identical(data: st.DataObject) -> None:
    """Three replicas restored from one snapshot and fed the same entries end with
    byte-identical snapshots (and give identical results and events on the way)."""
    seed = Driver()
    seed.session(1)
    seed.session(2)
    for path in ("/a", "/b", "/a/a"):
        seed.create(path)
    snap = seed.machine.snapshot()
    replicas = [StateMachine.restore(snap) for _ in range(3)]
    zxid = seed.zxid
    known = ["/a", "/b", "/a/a"]
    for step in range(data.draw(st.integers(5, 30))):
        zxid += 1
        txn = Txn(data.draw(st.sampled_from([1, 2])), 10 * step, 0, 0, data.draw(an_op(known)))
        outcomes = {repr(r.apply(zxid, txn)) for r in replicas}
        assert len(outcomes) == 1
    assert len({r.snapshot() for r in replicas}) == 1
