"""One test per ZooKeeper rule of the namespace (DataTree, PrepRequestProcessor)."""

from __future__ import annotations

import pytest
from machine_helpers import OPEN, Driver

from quorumd import errors
from quorumd.machine import (
    CONTAINER_EPHEMERAL_OWNER,
    MAX_TTL_MS,
    READ_ACL_UNSAFE,
    Check,
    CloseSession,
    Create,
    Created,
    CreateMode,
    CreateSession,
    Delete,
    DeleteTTLExpired,
    EventType,
    ExpireSessions,
    Multi,
    Noop,
    RolledBack,
    SetACL,
    SetData,
    Stat,
    StateMachine,
    Txn,
)


@pytest.fixture
def d() -> Driver:
    driver = Driver()
    driver.session(1)
    return driver


def test_initial_tree_is_zookeepers() -> None:
    m = StateMachine()
    assert m.get_children("/", None)[0] == ["zookeeper"]
    assert m.get_children("/zookeeper", None)[0] == ["config", "quota"]
    assert m.node_count == 4
    assert m.get_acl("/zookeeper/config")[0] == READ_ACL_UNSAFE
    root = m.exists("/")
    assert root is not None and root.num_children == 1 and root.czxid == 0
    assert m.get_all_children_number("/") == 3


@pytest.mark.parametrize(
    "path",
    ["", "a", "/a/", "//a", "/a//b", "/a/./b", "/a/..", "/.", "/a\x00b", "/a\x01", "/\U0001f600"],
)
def test_bad_paths_are_bad_arguments(d: Driver, path: str) -> None:
    for op in (
        Create(path, b"", OPEN),
        Delete(path),
        SetData(path, b""),
        SetACL(path, OPEN),
        Check(path, -1),
    ):
        assert isinstance(d.apply(op).result, errors.BadArguments), (op, path)
    with pytest.raises(errors.BadArguments):
        d.machine.get_data(path, 1)


def test_dots_inside_names_are_fine(d: Driver) -> None:
    for path in ("/...", "/.a", "/a.", "/a..b"):
        assert d.create(path) == path


def test_create_sets_stat_and_parent(d: Driver) -> None:
    created = d.ok(Create("/a", b"hello", OPEN), time_ms=5_000)
    assert isinstance(created, Created)
    zxid = d.zxid
    s = created.stat
    assert (s.czxid, s.mzxid, s.pzxid, s.ctime, s.mtime) == (zxid, zxid, zxid, 5_000, 5_000)
    assert (s.version, s.cversion, s.aversion, s.ephemeral_owner) == (0, 0, 0, 0)
    assert (s.data_length, s.num_children) == (5, 0)
    root = d.machine.exists("/")
    assert root is not None and root.cversion == 1 and root.pzxid == zxid
    assert d.machine.get_data("/a", 1) == (b"hello", s)


def test_create_errors(d: Driver) -> None:
    d.create("/a")
    assert isinstance(d.apply(Create("/a", b"", OPEN)).result, errors.NodeExists)
    assert isinstance(d.apply(Create("/x/y", b"", OPEN)).result, errors.NoNode)
    assert isinstance(d.apply(Create("/", b"", OPEN)).result, errors.NodeExists)
    assert isinstance(d.apply(Create("/b", b"", OPEN, mode=9)).result, errors.BadArguments)
    assert isinstance(d.apply(Create("/b", b"", ())).result, errors.InvalidACL)
    d.create("/e", mode=CreateMode.EPHEMERAL)
    assert isinstance(d.apply(Create("/e/c", b"", OPEN)).result, errors.NoChildrenForEphemerals)


def test_unknown_session_cannot_write(d: Driver) -> None:
    for op in (Create("/a", b"", OPEN), Delete("/zookeeper/quota"), SetData("/", b"")):
        assert isinstance(d.apply(op, session_id=99).result, errors.SessionExpired)


def test_sequential_suffix_is_parent_cversion(d: Driver) -> None:
    d.create("/q")
    assert d.create("/q/n-", mode=CreateMode.PERSISTENT_SEQUENTIAL) == "/q/n-0000000000"
    d.create("/q/plain")
    assert d.create("/q/n-", mode=CreateMode.EPHEMERAL_SEQUENTIAL) == "/q/n-0000000002"
    # delete moves pzxid but not cversion: numbers never repeat after a delete
    d.ok(Delete("/q/n-0000000000"))
    stat = d.machine.exists("/q")
    assert stat is not None and stat.cversion == 3 and stat.pzxid == d.zxid
    assert d.create("/q/", mode=CreateMode.PERSISTENT_SEQUENTIAL) == "/q/0000000003"
    assert d.create("/", mode=CreateMode.PERSISTENT_SEQUENTIAL).startswith("/00000000")


def test_sequential_counter_wraps_like_java_int(d: Driver) -> None:
    d.create("/q")
    node = d.machine._tree.nodes["/q"]
    node.cversion = 2**31 - 1
    assert d.create("/q/s", mode=CreateMode.PERSISTENT_SEQUENTIAL) == "/q/s2147483647"
    assert d.create("/q/s", mode=CreateMode.PERSISTENT_SEQUENTIAL) == "/q/s-2147483648"


def test_set_data_versions(d: Driver) -> None:
    d.create("/a", b"0")
    stat = d.ok(SetData("/a", b"1", version=0), time_ms=9_000)
    assert stat.version == 1 and stat.mzxid == d.zxid and stat.mtime == 9_000  # type: ignore[attr-defined]
    assert stat.czxid != stat.mzxid  # type: ignore[attr-defined]
    assert isinstance(d.apply(SetData("/a", b"2", version=0)).result, errors.BadVersion)
    d.ok(SetData("/a", b"2", version=-1))
    assert d.machine.get_data("/a", 1)[0] == b"2"
    assert isinstance(d.apply(SetData("/nope", b"")).result, errors.NoNode)


def test_version_skips_minus_one_on_wrap(d: Driver) -> None:
    d.create("/a")
    d.machine._tree.nodes["/a"].version = -2
    assert d.ok(SetData("/a", b"")).version == 0  # type: ignore[attr-defined]


def test_delete_rules(d: Driver) -> None:
    d.create("/a")
    d.create("/a/b")
    assert isinstance(d.apply(Delete("/a")).result, errors.NotEmpty)
    assert isinstance(d.apply(Delete("/a/b", version=3)).result, errors.BadVersion)
    assert d.apply(Delete("/a/b", version=0)).result is None
    assert isinstance(d.apply(Delete("/a/b")).result, errors.NoNode)
    for special in ("/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"):
        assert isinstance(d.apply(Delete(special)).result, errors.BadArguments)


def test_check_op(d: Driver) -> None:
    d.create("/a")
    assert d.apply(Check("/a", 0)).result is None
    assert d.apply(Check("/a", -1)).result is None
    assert isinstance(d.apply(Check("/a", 1)).result, errors.BadVersion)
    assert isinstance(d.apply(Check("/b", 0)).result, errors.NoNode)


def test_events_in_zookeeper_order(d: Driver) -> None:
    events = d.apply(Create("/a", b"", OPEN)).events
    assert [(e.kind, e.path) for e in events] == [
        (EventType.NODE_CREATED, "/a"),
        (EventType.NODE_CHILDREN_CHANGED, "/"),
    ]
    events = d.apply(SetData("/a", b"x")).events
    assert [(e.kind, e.path) for e in events] == [(EventType.NODE_DATA_CHANGED, "/a")]
    events = d.apply(Delete("/a")).events
    assert [(e.kind, e.path) for e in events] == [
        (EventType.NODE_DELETED, "/a"),
        (EventType.NODE_CHILDREN_CHANGED, "/"),
    ]
    assert d.apply(SetACL("/", OPEN)).events == ()
    assert d.apply(Delete("/a")).events == ()


def test_set_acl_bumps_aversion(d: Driver) -> None:
    d.create("/a")
    stat = d.ok(SetACL("/a", READ_ACL_UNSAFE, version=0))
    assert stat.aversion == 1 and stat.version == 0  # type: ignore[attr-defined]
    assert isinstance(d.apply(SetACL("/a", OPEN, version=0)).result, errors.NoAuth)
    assert d.machine.get_acl("/a")[0] == READ_ACL_UNSAFE


# -- sessions and ephemerals ---------------------------------------------------------


def test_session_lifecycle(d: Driver) -> None:
    info = d.machine.session(1)
    assert info is not None and info.timeout_ms == 10_000 and info.passwd == bytes(16)
    assert isinstance(d.apply(CreateSession(1, b"x", 5), session_id=0).result, errors.BadArguments)
    assert isinstance(d.apply(CreateSession(0, b"x", 5)).result, errors.BadArguments)
    d.session(2)
    assert [s.session_id for s in d.machine.sessions()] == [1, 2]
    assert d.machine.session_timeouts() == {1: 10_000, 2: 10_000}
    assert d.apply(CloseSession(2)).result is None
    assert d.machine.session(2) is None
    assert d.apply(CloseSession(2)).result is None  # closing twice is harmless


def test_close_and_expire_delete_ephemerals_with_events(d: Driver) -> None:
    d.session(2)
    d.create("/p")
    d.create("/p/e2", mode=CreateMode.EPHEMERAL, session_id=2)
    d.create("/p/e1", mode=CreateMode.EPHEMERAL, session_id=2)
    d.create("/p/mine", mode=CreateMode.EPHEMERAL, session_id=1)
    assert d.machine.get_ephemerals(2) == ["/p/e1", "/p/e2"]
    assert d.machine.get_ephemerals(2, "/p/e1") == ["/p/e1"]
    assert d.machine.exists("/p/e1").ephemeral_owner == 2  # type: ignore[union-attr]
    applied = d.apply(ExpireSessions((2, 42, 2)), session_id=0)
    assert applied.result == (2,)
    assert [(e.kind, e.path) for e in applied.events] == [
        (EventType.NODE_DELETED, "/p/e1"),
        (EventType.NODE_CHILDREN_CHANGED, "/p"),
        (EventType.NODE_DELETED, "/p/e2"),
        (EventType.NODE_CHILDREN_CHANGED, "/p"),
    ]
    assert d.machine.get_children("/p", 1)[0] == ["mine"]
    assert d.apply(ExpireSessions((2,)), session_id=0).result == ()
    d.apply(CloseSession(1))
    assert d.machine.get_children("/p", None)[0] == []
    assert d.machine.ephemeral_count == 0


# -- containers and TTL ----------------------------------------------------------------


def test_container_goes_with_its_last_child(d: Driver) -> None:
    d.create("/c", mode=CreateMode.CONTAINER)
    assert d.machine.exists("/c").ephemeral_owner == CONTAINER_EPHEMERAL_OWNER  # type: ignore[union-attr]
    d.create("/c/inner", mode=CreateMode.CONTAINER)
    d.create("/c/inner/a")
    d.create("/c/inner/b")
    d.ok(Delete("/c/inner/a"))
    assert d.machine.exists("/c/inner") is not None
    applied = d.apply(Delete("/c/inner/b"))
    assert d.machine.exists("/c") is None  # cascades up through emptied containers
    assert [(e.kind, e.path) for e in applied.events][-4:] == [
        (EventType.NODE_DELETED, "/c/inner"),
        (EventType.NODE_CHILDREN_CHANGED, "/c"),
        (EventType.NODE_DELETED, "/c"),
        (EventType.NODE_CHILDREN_CHANGED, "/"),
    ]


def test_new_container_is_kept_and_multi_can_refill_it(d: Driver) -> None:
    d.create("/c", mode=CreateMode.CONTAINER)
    d.apply(Noop())
    assert d.machine.exists("/c") is not None  # never had a child: not removed
    d.create("/c/x")
    d.ok(Multi((Delete("/c/x"), Create("/c/y", b"", OPEN))))
    assert d.machine.get_children("/c", 1)[0] == ["y"]
    d.create("/c/e", mode=CreateMode.EPHEMERAL_SEQUENTIAL, session_id=1)
    d.ok(Delete("/c/y"))
    d.apply(CloseSession(1))
    assert d.machine.exists("/c") is None


def test_ttl_validation(d: Driver) -> None:
    bad = [
        Create("/t", b"", OPEN, CreateMode.PERSISTENT_WITH_TTL, 0),
        Create("/t", b"", OPEN, CreateMode.PERSISTENT_WITH_TTL, -5),
        Create("/t", b"", OPEN, CreateMode.PERSISTENT_WITH_TTL, MAX_TTL_MS + 1),
        Create("/t", b"", OPEN, CreateMode.PERSISTENT, 100),
        Create("/t", b"", OPEN, CreateMode.EPHEMERAL, 100),
    ]
    for op in bad:
        assert isinstance(d.apply(op).result, errors.BadArguments), op
    created = d.ok(Create("/t", b"", OPEN, CreateMode.PERSISTENT_WITH_TTL, MAX_TTL_MS))
    assert created.stat.ephemeral_owner & (2**64 - 1) == 0xFF0000FFFFFFFFFF  # type: ignore[attr-defined]
    created = d.ok(Create("/t1", b"", OPEN, CreateMode.PERSISTENT_WITH_TTL, 1))
    assert created.stat.ephemeral_owner & (2**64 - 1) == 0xFF00000000000001  # type: ignore[attr-defined]


def test_ttl_expiry_is_leader_decided_and_rechecked(d: Driver) -> None:
    d.ok(Create("/t", b"", OPEN, CreateMode.PERSISTENT_WITH_TTL, 100), time_ms=1_000)
    seq = d.ok(Create("/s", b"", OPEN, CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL, 100))
    d.ok(Create("/busy", b"", OPEN, CreateMode.PERSISTENT_WITH_TTL, 100), time_ms=1_000)
    d.create("/busy/child")
    assert d.machine.ttl_expired(1_100) == []
    due = d.machine.ttl_expired(1_101)
    assert due == sorted(["/t", seq.path])  # type: ignore[attr-defined]
    d.ok(SetData("/t", b"touch"), time_ms=1_050)  # mtime moves: no longer due
    applied = d.apply(DeleteTTLExpired(tuple(due)), session_id=0, time_ms=1_101)
    assert applied.result == (seq.path,)  # type: ignore[attr-defined]
    assert d.machine.exists("/t") is not None
    assert d.apply(DeleteTTLExpired(("/t", "/none", "/")), time_ms=1_151).result == ("/t",)


# -- multi ----------------------------------------------------------------------------


def test_multi_success_results_and_events(d: Driver) -> None:
    applied = d.apply(
        Multi(
            (
                Create("/m", b"", OPEN),
                Create("/m/", b"", OPEN, CreateMode.PERSISTENT_SEQUENTIAL),
                SetData("/m", b"v", 0),
                Check("/m", 1),
                Delete("/m/0000000000"),
            )
        )
    )
    assert isinstance(applied.result, tuple)
    created, seq, stat, check, deleted = applied.result
    assert isinstance(created, Created) and isinstance(seq, Created)
    assert created.path == "/m" and seq.path == "/m/0000000000"
    assert isinstance(stat, Stat) and stat.version == 1
    assert check is None and deleted is None
    assert [e.kind for e in applied.events] == [
        EventType.NODE_CREATED,
        EventType.NODE_CHILDREN_CHANGED,
        EventType.NODE_CREATED,
        EventType.NODE_CHILDREN_CHANGED,
        EventType.NODE_DATA_CHANGED,
        EventType.NODE_DELETED,
        EventType.NODE_CHILDREN_CHANGED,
    ]
    assert all(e.path.startswith("/") for e in applied.events)


def test_failed_multi_changes_nothing(d: Driver) -> None:
    d.create("/a", b"old")
    d.create("/c", mode=CreateMode.CONTAINER)
    d.create("/c/x")
    before = d.machine.snapshot()
    applied = d.apply(
        Multi(
            (
                Create("/b", b"", OPEN),
                SetData("/a", b"new"),
                Delete("/c/x"),
                Create("/b/", b"", OPEN, CreateMode.EPHEMERAL_SEQUENTIAL),
                Check("/a", 0),  # fails: setData above made it version 1
                Delete("/a"),
            )
        )
    )
    assert applied.events == ()
    results = applied.result
    assert isinstance(results, tuple) and len(results) == 6
    assert all(type(r) is RolledBack and r.code == 0 for r in results[:4])
    assert isinstance(results[4], errors.BadVersion)
    assert isinstance(results[5], errors.RuntimeInconsistency)
    after = StateMachine.restore(d.machine.snapshot())
    assert after.exists("/b") is None and after.get_data("/a", None)[0] == b"old"
    # only last_zxid moved
    assert StateMachine.restore(before).snapshot() != d.machine.snapshot()
    assert _without_zxid(before) == _without_zxid(d.machine.snapshot())


def _without_zxid(snapshot: bytes) -> bytes:
    machine = StateMachine.restore(snapshot)
    machine._last_zxid = 0
    return machine.snapshot()


def test_multi_rejects_other_ops(d: Driver) -> None:
    bad = Multi((SetACL("/", OPEN),))  # type: ignore[arg-type]
    assert isinstance(_apply(d, bad), errors.BadArguments)
    assert d.apply(Multi(())).result == ()


def _apply(d: Driver, op: object) -> object:
    d.zxid += 1
    return d.machine.apply(d.zxid, Txn(1, 0, 0, 0, op)).result  # type: ignore[arg-type]


def test_zxid_must_increase(d: Driver) -> None:
    with pytest.raises(errors.UsageError):
        d.machine.apply(d.zxid, Txn(1, 0, 0, 0, Noop()))
    d.machine.apply_noop(d.zxid + 5)
    assert d.machine.last_zxid == d.zxid + 5
