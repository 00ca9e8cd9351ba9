"""The watch registry against ZooKeeper's rules, driven by real apply events."""

from __future__ import annotations

import pytest
from machine_helpers import OPEN, Driver

from quorumd import errors
from quorumd.machine import (
    ACL,
    CloseSession,
    Create,
    CreateMode,
    Delete,
    EventType,
    Multi,
    Perms,
    SetData,
    WatcherType,
    WatchKind,
    WatchRegistry,
)
from quorumd.machine.results import WatchTrigger

C, D, DC, CC = (
    EventType.NODE_CREATED,
    EventType.NODE_DELETED,
    EventType.NODE_DATA_CHANGED,
    EventType.NODE_CHILDREN_CHANGED,
)


@pytest.fixture
def d() -> Driver:
    driver = Driver()
    driver.session(1)
    return driver


def fire(w: WatchRegistry, d: Driver, op: object) -> list[tuple[object, EventType, str]]:
    fired = w.trigger(d.apply(op).events)  # type: ignore[arg-type]
    w.check_invariants()
    return fired


def test_exist_watch_fires_on_create_change_delete(d: Driver) -> None:
    w = WatchRegistry()
    w.add("a", "/x", WatchKind.EXIST)
    assert fire(w, d, Create("/x", b"", OPEN)) == [("a", C, "/x")]
    assert fire(w, d, SetData("/x", b"1")) == []  # one-shot: consumed
    w.add("a", "/x", WatchKind.EXIST)
    assert fire(w, d, SetData("/x", b"2")) == [("a", DC, "/x")]
    w.add("a", "/x", WatchKind.EXIST)
    assert fire(w, d, Delete("/x")) == [("a", D, "/x")]
    assert w.count == 0


def test_data_watch_fires_on_change_and_delete_not_create(d: Driver) -> None:
    w = WatchRegistry()
    w.add("a", "/x", WatchKind.DATA)
    assert fire(w, d, Create("/x", b"", OPEN)) == []
    assert fire(w, d, SetData("/x", b"1")) == [("a", DC, "/x")]
    assert fire(w, d, SetData("/x", b"2")) == []
    w.add("a", "/x", WatchKind.DATA)
    assert fire(w, d, Delete("/x")) == [("a", D, "/x")]


def test_child_watch_fires_on_children_changed_and_own_delete(d: Driver) -> None:
    d.create("/p")
    w = WatchRegistry()
    w.add("a", "/p", WatchKind.CHILD)
    assert fire(w, d, SetData("/p", b"x")) == []
    assert fire(w, d, Create("/p/c", b"", OPEN)) == [("a", CC, "/p")]
    assert fire(w, d, Delete("/p/c")) == []
    w.add("a", "/p", WatchKind.CHILD)
    assert fire(w, d, Delete("/p")) == [("a", D, "/p")]
    assert w.count == 0


def test_data_and_exist_and_child_watch_give_one_event(d: Driver) -> None:
    d.create("/x")
    w = WatchRegistry()
    for kind in (WatchKind.DATA, WatchKind.EXIST, WatchKind.CHILD):
        w.add("a", "/x", kind)
    w.add("b", "/x", WatchKind.DATA)
    assert fire(w, d, Delete("/x")) == [("a", D, "/x"), ("b", D, "/x")]
    assert w.count == 0
    w.add("a", "/y", WatchKind.DATA)
    w.add("a", "/y", WatchKind.EXIST)
    d.create("/y")
    assert w.count == 1  # create consumed the exist bit, the data watch stays (see docs)
    assert fire(w, d, SetData("/y", b"")) == [("a", DC, "/y")]


def test_persistent_fires_every_time_including_children(d: Driver) -> None:
    w = WatchRegistry()
    w.add("a", "/p", WatchKind.PERSISTENT)
    expected = [
        (Create("/p", b"", OPEN), [("a", C, "/p")]),
        (SetData("/p", b"1"), [("a", DC, "/p")]),
        (SetData("/p", b"2"), [("a", DC, "/p")]),
        (Create("/p/c", b"", OPEN), [("a", CC, "/p")]),
        (SetData("/p/c", b""), []),
        (Delete("/p/c"), [("a", CC, "/p")]),
        (Delete("/p"), [("a", D, "/p")]),  # once, though it is in both tables
        (Create("/p", b"", OPEN), [("a", C, "/p")]),  # survives the delete
    ]
    for op, fired in expected:
        assert fire(w, d, op) == fired, op


def test_persistent_recursive_covers_subtree_but_not_children_changed(d: Driver) -> None:
    w = WatchRegistry()
    w.add("r", "/a", WatchKind.PERSISTENT_RECURSIVE)
    assert fire(w, d, Create("/a", b"", OPEN)) == [("r", C, "/a")]
    assert fire(w, d, Create("/a/b", b"", OPEN)) == [("r", C, "/a/b")]
    assert fire(w, d, Create("/a/b/c", b"", OPEN)) == [("r", C, "/a/b/c")]
    assert fire(w, d, SetData("/a/b/c", b"1")) == [("r", DC, "/a/b/c")]
    assert fire(w, d, Create("/ab", b"", OPEN)) == []  # a sibling prefix, not a child
    assert fire(w, d, Delete("/a/b/c")) == [("r", D, "/a/b/c")]
    assert fire(w, d, SetData("/a/b/c", b"")) == []


def test_recursive_on_root_and_nested_deliver_once(d: Driver) -> None:
    w = WatchRegistry()
    w.add("r", "/", WatchKind.PERSISTENT_RECURSIVE)
    w.add("r", "/a", WatchKind.PERSISTENT_RECURSIVE)
    w.add("r", "/a", WatchKind.PERSISTENT)
    assert fire(w, d, Create("/a", b"", OPEN)) == [("r", C, "/a")]
    assert fire(w, d, Create("/a/b", b"", OPEN)) == [("r", C, "/a/b"), ("r", CC, "/a")]


def test_multi_and_session_close_fire_in_order(d: Driver) -> None:
    d.create("/p")
    w = WatchRegistry()
    w.add("a", "/p", WatchKind.PERSISTENT)
    w.add("b", "/p/e", WatchKind.EXIST)
    fired = fire(w, d, Multi((Create("/p/e", b"", OPEN, CreateMode.EPHEMERAL), SetData("/p", b""))))
    assert fired == [("b", C, "/p/e"), ("a", CC, "/p"), ("a", DC, "/p")]
    w.add("b", "/p/e", WatchKind.DATA)
    assert fire(w, d, CloseSession(1)) == [("b", D, "/p/e"), ("a", CC, "/p")]


def test_remove_and_check_follow_watcher_types() -> None:
    w = WatchRegistry()
    w.add("a", "/x", WatchKind.DATA)
    w.add("a", "/x", WatchKind.CHILD)
    w.add("a", "/x", WatchKind.PERSISTENT)
    w.add("a", "/y", WatchKind.PERSISTENT_RECURSIVE)
    for wt in (WatcherType.DATA, WatcherType.CHILDREN, WatcherType.PERSISTENT, WatcherType.ANY):
        w.check("a", "/x", wt)
    with pytest.raises(errors.NoWatcher):
        w.check("a", "/x", WatcherType.PERSISTENT_RECURSIVE)
    with pytest.raises(errors.NoWatcher):
        w.check("b", "/x", WatcherType.ANY)
    w.remove("a", "/x", WatcherType.DATA)
    with pytest.raises(errors.NoWatcher):
        w.remove("a", "/x", WatcherType.DATA)
    w.check("a", "/x", WatcherType.CHILDREN)
    w.remove("a", "/x", WatcherType.PERSISTENT)
    with pytest.raises(errors.NoWatcher):
        w.check("a", "/x", WatcherType.PERSISTENT)
    w.remove("a", "/x", WatcherType.ANY)
    with pytest.raises(errors.NoWatcher):
        w.check("a", "/x", WatcherType.ANY)
    w.remove("a", "/y", WatcherType.PERSISTENT_RECURSIVE)
    assert w.count == 0 and w.watcher_count == 0
    w.check_invariants()


def test_remove_all_on_disconnect(d: Driver) -> None:
    w = WatchRegistry()
    for path in ("/a", "/b"):
        w.add("gone", path, WatchKind.EXIST)
        w.add("gone", path, WatchKind.PERSISTENT_RECURSIVE)
        w.add("stays", path, WatchKind.EXIST)
    w.add("gone", "/c", WatchKind.PERSISTENT)
    assert w.paths_of("gone") == ["/a", "/b", "/c"]
    w.remove_all("gone")
    w.check_invariants()
    assert w.watcher_count == 1 and w.path_count == 2
    assert fire(w, d, Create("/a", b"", OPEN)) == [("stays", C, "/a")]


def test_acl_filter_drops_delivery_but_consumes(d: Driver) -> None:
    w = WatchRegistry()
    w.add("a", "/x", WatchKind.EXIST)
    w.add("b", "/x", WatchKind.EXIST)
    secret = (ACL(Perms.READ, "digest", "u:h"),)
    events = d.apply(Create("/x", b"", secret)).events
    assert events[0].acl == secret

    def allowed(watcher: object, event: WatchTrigger) -> bool:
        return watcher == "a" or d.machine.check_perm(1, event.acl, Perms.READ)

    assert w.trigger(events, allowed) == [("a", C, "/x")]
    assert w.count == 0


def test_set_watches_after_reconnect(d: Driver) -> None:
    d.create("/old")
    d.create("/kids")
    rel = d.zxid
    d.create("/changed")
    d.ok(SetData("/changed", b"x"))
    d.create("/kids/k")
    d.create("/new")
    w = WatchRegistry()
    fired = w.set_watches(
        "a",
        rel,
        d.machine.exists,
        data=["/old", "/changed", "/gone"],
        exist=["/new", "/absent"],
        child=["/kids", "/old", "/gone"],
        persistent=["/p"],
        persistent_recursive=["/r"],
    )
    assert fired == [
        ("a", DC, "/changed"),
        ("a", D, "/gone"),
        ("a", C, "/new"),
        ("a", CC, "/kids"),
        ("a", D, "/gone"),
    ]
    w.check("a", "/old", WatcherType.DATA)
    w.check("a", "/old", WatcherType.CHILDREN)
    w.check("a", "/absent", WatcherType.DATA)
    w.check("a", "/p", WatcherType.PERSISTENT)
    w.check("a", "/r", WatcherType.PERSISTENT_RECURSIVE)
    assert w.count == 6  # /old data+child, /absent, /p in both tables, /r
