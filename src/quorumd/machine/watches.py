"""The watch registry of ONE serving node (not replicated, not in snapshots).

Watches live where the client's connection lives and fire when that node applies the
change (ZooKeeper paper §2.2). The layout follows ZooKeeper's DataTree: two tables,
each `path -> {watcher: mode bits}`:

* the *data* table holds getData (DATA) and exists (EXIST) one-shot watches, the
  PERSISTENT and the PERSISTENT_RECURSIVE ones;
* the *child* table holds getChildren (CHILD) one-shot watches and PERSISTENT ones.

Rules (WatchManager.triggerWatch, DataTree.createNode/deleteNode/setData):

1. NodeCreated(p): data-table watchers of p with EXIST or PERSISTENT;
   NodeDataChanged(p) and NodeDeleted(p): those with DATA, EXIST or PERSISTENT.
   Plus PERSISTENT_RECURSIVE watchers of p and of every ancestor of p.
2. NodeDeleted(p) also fires child-table watchers of p (CHILD or PERSISTENT), except
   those that already got this event from the data table: one event per watcher.
3. NodeChildrenChanged(p) fires child-table watchers of p only, so a recursive watch
   never sees it.
4. A one-shot watch is consumed by the event that fires it; a watcher that holds a
   data and an exists watch on p gets one event and loses both. Persistent watches
   stay, even after the node is deleted.
5. Each event reaches each watcher at most once, with the changed node's path.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Hashable, Iterable

from quorumd.errors import NoWatcher
from quorumd.machine.ops import Stat
from quorumd.machine.results import EventType, WatchTrigger

__all__ = ["Fired", "WatchKind", "WatchRegistry", "WatcherType"]


class WatchKind(enum.Enum):
    DATA = "data"  # getData(watch=true)
    EXIST = "exist"  # exists(watch=true)
    CHILD = "child"  # getChildren(watch=true)
    PERSISTENT = "persistent"  # addWatch mode 0
    PERSISTENT_RECURSIVE = "persistent_recursive"  # addWatch mode 1


class WatcherType(enum.IntEnum):
    """The `type` of checkWatches/removeWatches requests (Watcher.WatcherType)."""

    CHILDREN = 1
    DATA = 2
    ANY = 3
    PERSISTENT = 4
    PERSISTENT_RECURSIVE = 5


_DATA = 1  # data table: getData one-shot
_EXIST = 2  # data table: exists one-shot
_ONESHOT = 1  # child table: getChildren one-shot
_PERSISTENT = 4
_RECURSIVE = 8
_STANDARD = _DATA | _EXIST

_Table = dict[str, dict[Hashable, int]]
Fired = tuple[Hashable, EventType, str]

_DATA_MASK = {
    EventType.NODE_CREATED: _EXIST | _PERSISTENT | _RECURSIVE,
    EventType.NODE_DELETED: _STANDARD | _PERSISTENT | _RECURSIVE,
    EventType.NODE_DATA_CHANGED: _STANDARD | _PERSISTENT | _RECURSIVE,
}


def _ancestors(path: str) -> Iterable[str]:
    while path != "/":
        cut = path.rfind("/")
        path = path[:cut] if cut > 0 else "/"
        yield path


class WatchRegistry:
    def __init__(self) -> None:
        self._data: _Table = {}
        self._child: _Table = {}
        self._recursive = 0  # how many PERSISTENT_RECURSIVE watches exist
        # watcher -> paths it watches in either table (ZooKeeper's watch2Paths)
        self._by_watcher: dict[Hashable, dict[str, None]] = {}

    # -- registration ---------------------------------------------------------------

    def add(self, watcher: Hashable, path: str, kind: WatchKind) -> None:
        if kind is WatchKind.DATA:
            self._set(self._data, path, watcher, _DATA)
        elif kind is WatchKind.EXIST:
            self._set(self._data, path, watcher, _EXIST)
        elif kind is WatchKind.CHILD:
            self._set(self._child, path, watcher, _ONESHOT)
        elif kind is WatchKind.PERSISTENT:
            self._set(self._data, path, watcher, _PERSISTENT)
            self._set(self._child, path, watcher, _PERSISTENT)
        else:
            self._set(self._data, path, watcher, _RECURSIVE)

    def _set(self, table: _Table, path: str, watcher: Hashable, bits: int) -> None:
        watchers = table.setdefault(path, {})
        old = watchers.get(watcher, 0)
        if bits & _RECURSIVE and not old & _RECURSIVE:
            self._recursive += 1
        watchers[watcher] = old | bits
        self._by_watcher.setdefault(watcher, {})[path] = None

    def _clear(self, table: _Table, path: str, watcher: Hashable, bits: int) -> bool:
        """Drop `bits` of a watcher's registration; True if anything was dropped."""
        watchers = table.get(path)
        old = watchers.get(watcher, 0) if watchers else 0
        if not old & bits:
            return False
        assert watchers is not None
        if old & bits & _RECURSIVE:
            self._recursive -= 1
        if old & ~bits:
            watchers[watcher] = old & ~bits
        else:
            del watchers[watcher]
            if not watchers:
                del table[path]
            other = self._child if table is self._data else self._data
            if watcher not in other.get(path, ()):
                paths = self._by_watcher[watcher]
                del paths[path]
                if not paths:
                    del self._by_watcher[watcher]
        return True

    def remove(self, watcher: Hashable, path: str, watcher_type: WatcherType) -> None:
        """removeWatches (DataTree.removeWatch); raises NoWatcher if none matched."""
        if watcher_type is WatcherType.CHILDREN:
            removed = self._clear(self._child, path, watcher, _ONESHOT)
        elif watcher_type is WatcherType.DATA:
            removed = self._clear(self._data, path, watcher, _STANDARD)
        elif watcher_type is WatcherType.PERSISTENT:
            in_child = self._clear(self._child, path, watcher, _PERSISTENT)
            removed = self._clear(self._data, path, watcher, _PERSISTENT) or in_child
        elif watcher_type is WatcherType.PERSISTENT_RECURSIVE:
            removed = self._clear(self._data, path, watcher, _RECURSIVE)
        else:
            in_child = self._clear(self._child, path, watcher, -1)
            removed = self._clear(self._data, path, watcher, -1) or in_child
        if not removed:
            raise NoWatcher(f"{path} (type: {watcher_type.name})")

    def check(self, watcher: Hashable, path: str, watcher_type: WatcherType) -> None:
        """checkWatches (DataTree.containsWatcher); raises NoWatcher if absent."""
        data = self._data.get(path, {}).get(watcher, 0)
        child = self._child.get(path, {}).get(watcher, 0)
        found = {
            WatcherType.CHILDREN: child & _ONESHOT,
            WatcherType.DATA: data & _STANDARD,
            WatcherType.PERSISTENT: data & _PERSISTENT,
            WatcherType.PERSISTENT_RECURSIVE: data & _RECURSIVE,
            WatcherType.ANY: data | child,
        }[watcher_type]
        if not found:
            raise NoWatcher(f"{path} (type: {watcher_type.name})")

    def remove_all(self, watcher: Hashable) -> None:
        """The connection closed: forget every watch it holds."""
        for path in list(self._by_watcher.get(watcher, ())):
            self._clear(self._child, path, watcher, -1)
            self._clear(self._data, path, watcher, -1)

    # -- triggering -----------------------------------------------------------------

    def trigger(
        self,
        events: Iterable[WatchTrigger],
        allowed: Callable[[Hashable, WatchTrigger], bool] | None = None,
    ) -> list[Fired]:
        """The notifications `events` (from `Applied.events`) cause, in order.

        `allowed(watcher, event)` filters delivery (ZooKeeper drops an event the
        watcher's session may not READ); a filtered one-shot watch is still consumed.
        """
        out: list[Fired] = []
        for event in events:
            fired: dict[Hashable, None] = {}
            if event.kind is EventType.NODE_CHILDREN_CHANGED:
                self._fire(self._child, event.path, _ONESHOT | _PERSISTENT, _ONESHOT, fired)
            else:
                self._fire(self._data, event.path, _DATA_MASK[event.kind], _STANDARD, fired)
                if self._recursive:
                    for ancestor in _ancestors(event.path):
                        self._fire(self._data, ancestor, _RECURSIVE, 0, fired)
                if event.kind is EventType.NODE_DELETED:
                    self._fire(self._child, event.path, _ONESHOT | _PERSISTENT, _ONESHOT, fired)
            out.extend(
                (w, event.kind, event.path) for w in fired if allowed is None or allowed(w, event)
            )
        return out

    def _fire(
        self, table: _Table, path: str, mask: int, consume: int, fired: dict[Hashable, None]
    ) -> None:
        watchers = table.get(path)
        if not watchers:
            return
        for watcher, bits in list(watchers.items()):
            if bits & mask:
                fired[watcher] = None
                if bits & consume:
                    self._clear(table, path, watcher, consume)

    # -- reconnect ------------------------------------------------------------------

    def set_watches(
        self,
        watcher: Hashable,
        relative_zxid: int,
        stat_of: Callable[[str], Stat | None],
        *,
        data: Iterable[str] = (),
        exist: Iterable[str] = (),
        child: Iterable[str] = (),
        persistent: Iterable[str] = (),
        persistent_recursive: Iterable[str] = (),
    ) -> list[Fired]:
        """setWatches/setWatches2 after a reconnect (DataTree.setWatches): a watch whose
        event the client missed since `relative_zxid` fires now instead of being
        registered. `stat_of(path)` is the current Stat or None (StateMachine.exists)."""
        out: list[Fired] = []
        for path in data:
            stat = stat_of(path)
            if stat is None:
                out.append((watcher, EventType.NODE_DELETED, path))
            elif stat.mzxid > relative_zxid:
                out.append((watcher, EventType.NODE_DATA_CHANGED, path))
            else:
                self.add(watcher, path, WatchKind.DATA)
        for path in exist:
            if stat_of(path) is not None:
                out.append((watcher, EventType.NODE_CREATED, path))
            else:
                self.add(watcher, path, WatchKind.EXIST)
        for path in child:
            stat = stat_of(path)
            if stat is None:
                out.append((watcher, EventType.NODE_DELETED, path))
            elif stat.pzxid > relative_zxid:
                out.append((watcher, EventType.NODE_CHILDREN_CHANGED, path))
            else:
                self.add(watcher, path, WatchKind.CHILD)
        for path in persistent:
            self.add(watcher, path, WatchKind.PERSISTENT)
        for path in persistent_recursive:
            self.add(watcher, path, WatchKind.PERSISTENT_RECURSIVE)
        return out

    # -- figures (mntr / wchs) ------------------------------------------------------

    @property
    def count(self) -> int:
        """ZooKeeper's watch count: registrations per (table, path, watcher)."""
        return sum(len(ws) for ws in self._data.values()) + sum(
            len(ws) for ws in self._child.values()
        )

    @property
    def path_count(self) -> int:
        return len(self._data.keys() | self._child.keys())

    @property
    def watcher_count(self) -> int:
        return len(self._by_watcher)

    def paths_of(self, watcher: Hashable) -> list[str]:
        return sorted(self._by_watcher.get(watcher, ()))

    def check_invariants(self) -> None:
        for table in (self._data, self._child):
            for path, ws in table.items():
                assert ws, path
                for watcher, bits in ws.items():
                    assert bits, (path, watcher)
                    assert path in self._by_watcher[watcher], (path, watcher)
        for watcher, paths in self._by_watcher.items():
            assert paths, watcher
            for path in paths:
                assert watcher in self._data.get(path, ()) or watcher in self._child.get(
                    path, ()
                ), (path, watcher)
        assert self._recursive == sum(
            1 for ws in self._data.values() for bits in ws.values() if bits & _RECURSIVE
        )
