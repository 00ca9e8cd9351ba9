"""The namespace: a table of znodes by path, plus the indexes ZooKeeper's DataTree
keeps (ephemerals by session, containers, TTL nodes).

Mutations go through four primitives (`add_node`, `remove_node`, `set_data`,
`set_acl`). Each appends the watch triggers ZooKeeper's DataTree fires, in its order,
and — while a Multi is open (`begin`) — an undo record, so a failed Multi is rolled
back exactly (`rollback`) and leaves no trace: not in the tree, not in the indexes,
not in the events.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from quorumd.machine.node import (
    CONTAINER_EPHEMERAL_OWNER,
    EphemeralType,
    Node,
    ephemeral_type,
    int32,
)
from quorumd.machine.ops import ACL, OPEN_ACL_UNSAFE, READ_ACL_UNSAFE
from quorumd.machine.paths import parent_of
from quorumd.machine.results import EventType, WatchTrigger

__all__ = ["DataTree"]

_Saved = tuple[bytes, tuple[ACL, ...], int, int, int, int, int, int, int, int]

# Enum members read once: `EventType.NODE_CREATED` is a descriptor lookup (~0.1 µs on
# CPython 3.11), and every mutation fires one or two of them.
_CREATED = EventType.NODE_CREATED
_DELETED = EventType.NODE_DELETED
_DATA_CHANGED = EventType.NODE_DATA_CHANGED
_CHILDREN_CHANGED = EventType.NODE_CHILDREN_CHANGED


class DataTree:
    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {}
        self.ephemerals: dict[int, set[str]] = {}
        self.containers: set[str] = set()
        self.ttls: set[str] = set()
        self.events: list[WatchTrigger] = []
        # containers that lost their last child during the current apply
        self.emptied: list[str] = []
        # Seeded so that any ACL equal to OPEN_ACL_UNSAFE interns to that very tuple
        # (also after a restore): StateMachine's ACL checks recognise it by identity.
        self._acls: dict[tuple[ACL, ...], tuple[ACL, ...]] = {OPEN_ACL_UNSAFE: OPEN_ACL_UNSAFE}
        self._undo: list[Callable[[], None]] | None = None

    @classmethod
    def fresh(cls) -> DataTree:
        """The initial tree: "/", "/zookeeper", "/zookeeper/quota" and
        "/zookeeper/config" (read-only to everyone but the super user, ZOOKEEPER-2014),
        all with zeroed stats, as DataTree's constructor builds them."""
        tree = cls()
        for path, acl in (
            ("/", OPEN_ACL_UNSAFE),
            ("/zookeeper", OPEN_ACL_UNSAFE),
            ("/zookeeper/quota", OPEN_ACL_UNSAFE),
            ("/zookeeper/config", READ_ACL_UNSAFE),
        ):
            tree.link(path, Node(b"", tree.intern_acl(acl), 0, 0, 0))
        return tree

    # -- structure -------------------------------------------------------------------

    def intern_acl(self, acl: tuple[ACL, ...]) -> tuple[ACL, ...]:
        return self._acls.setdefault(acl, acl)

    def link(self, path: str, node: Node) -> None:
        """Insert a node whose parent exists, with no stat change (restore, bootstrap)."""
        self.nodes[path] = node
        if path != "/":
            parent = self.nodes[parent_of(path)]
            if parent.children is None:
                parent.children = set()
            parent.children.add(path)
        self._index(path, node)

    def install(self, nodes: dict[str, Node], owned: Iterable[str]) -> None:
        """Take over a whole node table whose children sets are already linked (restore
        of a snapshot). `owned` are the paths with an ephemeralOwner, the only nodes the
        indexes hold: the other nodes need no visit at all."""
        assert len(self.nodes) == 0, "install into a tree that has nodes"
        self.nodes = nodes
        for path in owned:
            self._index(path, nodes[path])

    def _index(self, path: str, node: Node) -> None:
        owner = node.ephemeral_owner
        if owner == 0:
            return
        kind = ephemeral_type(owner)
        if kind is EphemeralType.CONTAINER:
            self.containers.add(path)
        elif kind is EphemeralType.TTL:
            self.ttls.add(path)
        else:
            self.ephemerals.setdefault(owner, set()).add(path)

    def _unindex(self, path: str, node: Node) -> None:
        owner = node.ephemeral_owner
        if owner == 0:
            return
        kind = ephemeral_type(owner)
        if kind is EphemeralType.CONTAINER:
            self.containers.discard(path)
        elif kind is EphemeralType.TTL:
            self.ttls.discard(path)
        else:
            paths = self.ephemerals.get(owner)
            if paths is not None:
                paths.discard(path)
                if not paths:
                    del self.ephemerals[owner]

    # -- mutations ------------------------------------------------------------------

    def add_node(self, path: str, parent_path: str, parent: Node, node: Node, zxid: int) -> None:
        if self._undo is not None:
            saved = parent.fields()
            self._undo.append(lambda: self._unadd(path, parent, saved))
        self.nodes[path] = node
        if parent.children is None:
            parent.children = set()
        parent.children.add(path)
        parent.cversion = int32(parent.cversion + 1)
        parent.pzxid = zxid
        self._index(path, node)
        self.events.append(WatchTrigger(_CREATED, path, node.acl))
        self.events.append(WatchTrigger(_CHILDREN_CHANGED, parent_path, parent.acl))

    def _unadd(self, path: str, parent: Node, saved: _Saved) -> None:
        node = self.nodes.pop(path)
        assert parent.children is not None
        parent.children.discard(path)
        if not parent.children:
            parent.children = None
        self._unindex(path, node)
        parent.restore_fields(saved)

    def remove_node(self, path: str, node: Node, parent_path: str, parent: Node, zxid: int) -> None:
        """DataTree.deleteNode: the parent's pzxid moves, its cversion does not."""
        assert not node.children, path
        if self._undo is not None:
            saved = parent.fields()
            self._undo.append(lambda: self._unremove(path, node, parent, saved))
        del self.nodes[path]
        assert parent.children is not None
        parent.children.discard(path)
        if not parent.children:
            parent.children = None
            if parent.ephemeral_owner == CONTAINER_EPHEMERAL_OWNER:
                self.emptied.append(parent_path)
        parent.pzxid = zxid
        self._unindex(path, node)
        self.events.append(WatchTrigger(_DELETED, path, node.acl))
        self.events.append(WatchTrigger(_CHILDREN_CHANGED, parent_path, parent.acl))

    def _unremove(self, path: str, node: Node, parent: Node, saved: _Saved) -> None:
        self.nodes[path] = node
        if parent.children is None:
            parent.children = set()
        parent.children.add(path)
        self._index(path, node)
        parent.restore_fields(saved)

    def set_data(
        self, path: str, node: Node, data: bytes, *, version: int, zxid: int, time_ms: int
    ) -> None:
        if self._undo is not None:
            self._save(node)
        node.data = data
        node.version = version
        node.mzxid = zxid
        node.mtime = time_ms
        self.events.append(WatchTrigger(_DATA_CHANGED, path, node.acl))

    def set_acl(self, node: Node, acl: tuple[ACL, ...], aversion: int) -> None:
        self._save(node)
        node.acl = self.intern_acl(acl)
        node.aversion = aversion

    def _save(self, node: Node) -> None:
        if self._undo is not None:
            saved = node.fields()
            self._undo.append(lambda: node.restore_fields(saved))

    # -- multi ----------------------------------------------------------------------

    def begin(self) -> tuple[int, int]:
        assert self._undo is None, "nested multi"
        self._undo = []
        return len(self.events), len(self.emptied)

    def commit(self) -> None:
        self._undo = None

    def rollback(self, mark: tuple[int, int]) -> None:
        undo, self._undo = self._undo, None
        assert undo is not None
        for step in reversed(undo):
            step()
        del self.events[mark[0] :]
        del self.emptied[mark[1] :]

    # -- queries --------------------------------------------------------------------

    def get(self, path: str) -> Node | None:
        return self.nodes.get(path)

    @staticmethod
    def child_names(path: str, node: Node) -> list[str]:
        if not node.children:
            return []
        cut = 1 if path == "/" else len(path) + 1
        return sorted(child[cut:] for child in node.children)

    def descendants(self, node: Node) -> Iterator[str]:
        """Paths of every node below `node`, in no particular order."""
        stack = [node]
        while stack:
            current = stack.pop()
            if current.children:
                for child in current.children:
                    yield child
                    stack.append(self.nodes[child])

    def check_invariants(self) -> None:
        """The tree's structural rules; tests run this after every apply."""
        total_children = 0
        for path, node in self.nodes.items():
            if path != "/":
                parent = self.nodes[parent_of(path)]
                assert parent.children is not None and path in parent.children, path
            if node.children is not None:
                assert node.children, f"empty children set kept on {path}"
                total_children += len(node.children)
            kind = ephemeral_type(node.ephemeral_owner)
            if kind is EphemeralType.CONTAINER:
                assert path in self.containers, path
            elif kind is EphemeralType.TTL:
                assert path in self.ttls, path
            elif kind is EphemeralType.NORMAL:
                assert path in self.ephemerals[node.ephemeral_owner], path
                assert not node.children, f"ephemeral {path} has children"
        assert total_children == len(self.nodes) - 1
        for owner, paths in self.ephemerals.items():
            assert paths, owner
            assert all(self.nodes[p].ephemeral_owner == owner for p in paths)
        assert all(
            ephemeral_type(self.nodes[p].ephemeral_owner) is EphemeralType.CONTAINER
            for p in self.containers
        )
        assert all(
            ephemeral_type(self.nodes[p].ephemeral_owner) is EphemeralType.TTL for p in self.ttls
        )
