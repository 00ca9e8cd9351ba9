"""The replicated state machine: namespace + sessions, one `apply` per log entry.

Theory of operation (ZooKeeper paper §4; DataTree, PrepRequestProcessor):

1. `apply(zxid, txn)` is deterministic: it reads only the tree, the sessions and the
   txn (whose time the leader stamped). Every replica that applies the same log
   prefix holds byte-identical state (`snapshot()` proves it).
2. What ZooKeeper's leader checks before proposing (paths, ACLs, versions, parents,
   the sequential suffix) is checked here, at apply time, in ZooKeeper's order. A
   failed check is a *result* (a ZKError instance), not an exception: it is as
   deterministic as a success.
3. A Multi applies all its ops or none (an undo log rolls back a partial one).
4. A session's ephemeral nodes go in the entry that closes or expires it; a container
   goes in the entry that deletes its last child (ZooKeeper's ContainerManager does it
   later, on a timer; doing it at once keeps the log free of timer decisions).
5. Reads (`get_data`, `get_children`, ...) are served locally and raise ZKErrors.
6. Chubby locks live in a `LockTable` (machine/locks.py, its own theory of operation);
   their mirror nodes under /quorumd are machine-owned: client writes there get NoAuth.
7. Every path in the tree passed `validate_path` when its node was created (a
   sequential suffix is digits; lock mirror names are escaped valid paths), and
   `check_invariants` asserts it. So an op that needs an existing node validates its
   path only when the lookup misses, before reporting NoNode: the same verdict as
   validating first, without a regex on every write and read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from quorumd.errors import (
    AuthFailed,
    BadArguments,
    BadVersion,
    NoAuth,
    NoChildrenForEphemerals,
    NodeExists,
    NoNode,
    NotEmpty,
    RuntimeInconsistency,
    SessionExpired,
    UsageError,
    ZKError,
)
from quorumd.machine import snapshot as _snapshot
from quorumd.machine.acl import check_perm, fixup_acl, mask_digests
from quorumd.machine.locks import LockTable, reserved
from quorumd.machine.node import (
    CONTAINER_EPHEMERAL_OWNER,
    MAX_TTL_MS,
    EphemeralType,
    Node,
    ephemeral_type,
    next_version,
    ttl_of,
    ttl_owner,
)
from quorumd.machine.ops import (
    ACL,
    OPEN_ACL_UNSAFE,
    AcquireLock,
    AddAuth,
    Check,
    CloseSession,
    Create,
    CreateMode,
    CreateSession,
    Delete,
    DeleteTTLExpired,
    ExpireSessions,
    GrantDueLocks,
    Multi,
    Noop,
    Perms,
    ReleaseLock,
    SetACL,
    SetData,
    Stat,
    Txn,
)
from quorumd.machine.paths import SPECIAL_PATHS, parent_of, path_error, validate_path
from quorumd.machine.results import (
    Applied,
    Created,
    LockGrant,
    LockGranted,
    LockInfo,
    Result,
    RolledBack,
    Sequencer,
    SessionInfo,
    WatchTrigger,
)
from quorumd.machine.sessions import Session
from quorumd.machine.tree import DataTree

__all__ = ["StateMachine"]

_MULTI_OPS = (Create, Delete, SetData, Check)

# Perms as plain ints: `int & Perms` dispatches to IntFlag.__rand__ and builds a flag
# through EnumType.__call__, which cost more than the rest of an ACL check.
_READ = int(Perms.READ)
_WRITE = int(Perms.WRITE)
_CREATE = int(Perms.CREATE)
_DELETE = int(Perms.DELETE)
_ADMIN = int(Perms.ADMIN)
_ALL = int(Perms.ALL)

# CreateMode by value: a dict lookup instead of EnumType.__call__ on every create.
_CREATE_MODES: dict[int, CreateMode] = {int(mode): mode for mode in CreateMode}


class StateMachine:
    def __init__(self, super_digest: str | None = None) -> None:
        """`super_digest` is ZooKeeper's `DigestAuthenticationProvider.superDigest`
        ("super:<base64 sha1>"): a session holding that digest id passes every ACL
        check. It is configuration, not state: every replica must get the same."""
        self._tree = DataTree.fresh()
        self._locks = LockTable(self._tree)
        self._sessions: dict[int, Session] = {}
        self._last_zxid = 0
        self._super_digest = super_digest

    # -- apply ----------------------------------------------------------------------

    def apply(self, zxid: int, txn: Txn) -> Applied:
        if zxid <= self._last_zxid:
            raise UsageError(f"zxid {zxid} applied after {self._last_zxid}")
        self._last_zxid = zxid
        tree = self._tree
        op = txn.op
        handler = _HANDLERS.get(type(op))
        result: Result
        if handler is None:
            result = BadArguments(f"unknown op {type(op).__name__}")
        else:
            try:
                result = handler(self, op, zxid, txn.time_ms, txn.session_id)
            except ZKError as exc:
                result = exc
        if tree.emptied:
            self._reap_containers(zxid)
        events: tuple[WatchTrigger, ...] = ()
        if tree.events:
            events = tuple(tree.events)
            tree.events.clear()
        grants: tuple[LockGranted, ...] = ()
        if self._locks.grants:
            grants = tuple(self._locks.grants)
            self._locks.grants.clear()
        return Applied(result, events, grants)

    def apply_noop(self, zxid: int) -> None:
        self._advance(zxid)

    def _advance(self, zxid: int) -> None:
        if zxid <= self._last_zxid:
            raise UsageError(f"zxid {zxid} applied after {self._last_zxid}")
        self._last_zxid = zxid

    # -- checks shared by the ops ----------------------------------------------------

    def _session(self, session_id: int) -> Session:
        session = self._sessions.get(session_id)
        if session is None:
            raise SessionExpired(f"session 0x{session_id:x} is not open")
        return session

    def _is_super(self, auth: list[tuple[str, str]] | tuple[tuple[str, str], ...]) -> bool:
        return self._super_digest is not None and ("digest", self._super_digest) in auth

    def _require(self, acl: tuple[ACL, ...], perm: int, session: Session, path: str) -> None:
        # world:anyone with every bit grants any `perm` that has a bit of ALL; the tree
        # interns every equal ACL to this very tuple, so `is` finds it.
        if acl is OPEN_ACL_UNSAFE and perm & _ALL:
            return
        if not check_perm(acl, perm, session.auth, self._is_super(session.auth)):
            raise NoAuth(path)

    def _node(self, path: str) -> Node:
        node = self._tree.get(path)
        if node is None:
            raise NoNode(path)
        return node

    def _valid_node(self, path: str) -> Node:
        """validate_path + _node, validating only a miss (rule 7)."""
        node = self._tree.nodes.get(path)
        if node is None:
            validate_path(path)
            raise NoNode(path)
        return node

    @staticmethod
    def _writable(path: str) -> None:
        """Rule 6: the /quorumd nodes mirror the lock table; nobody else writes them."""
        if reserved(path):
            raise NoAuth(f"{path} is maintained by quorumd")

    @staticmethod
    def _check_version(expected: int, current: int, path: str) -> None:
        if expected not in (-1, current):
            raise BadVersion(f"{path}: expected version {expected}, is {current}")

    # -- data ops -------------------------------------------------------------------

    def _create(self, op: Create, zxid: int, time_ms: int, session_id: int) -> Created:
        mode = _CREATE_MODES.get(op.mode)
        if mode is None:
            raise BadArguments(f"unknown create mode {op.mode}")
        if mode.is_ttl:
            if not 0 < op.ttl_ms <= MAX_TTL_MS:
                raise BadArguments(f"ttl must be in 1..{MAX_TTL_MS}: {op.ttl_ms}")
        elif op.ttl_ms > 0:
            raise BadArguments(f"ttl not valid for mode {mode.name}")
        session = self._session(session_id)
        validate_path(op.path + "1" if mode.is_sequential else op.path)
        self._writable(op.path)
        if op.acl is OPEN_ACL_UNSAFE:  # what fixup_acl and intern_acl would return for it
            acl = OPEN_ACL_UNSAFE
        else:
            acl = self._tree.intern_acl(fixup_acl(op.path, session.auth, op.acl))
        parent_path = parent_of(op.path)
        parent = self._node(parent_path)
        self._require(parent.acl, _CREATE, session, op.path)
        path = op.path
        if mode.is_sequential:
            path += f"{parent.cversion:010d}"
        if path in self._tree.nodes:
            raise NodeExists(path)
        parent_owner = parent.ephemeral_owner
        if parent_owner and ephemeral_type(parent_owner) is EphemeralType.NORMAL:
            raise NoChildrenForEphemerals(path)
        if mode.is_container:
            owner = CONTAINER_EPHEMERAL_OWNER
        elif mode.is_ttl:
            owner = ttl_owner(op.ttl_ms)
        elif mode.is_ephemeral:
            owner = session_id
        else:
            owner = 0
        node = Node(op.data, acl, zxid, time_ms, owner)
        self._tree.add_node(path, parent_path, parent, node, zxid)
        return Created(path, node.stat())

    def _delete(self, op: Delete, zxid: int, time_ms: int, session_id: int) -> None:
        session = self._session(session_id)
        validate_path(op.path)
        self._writable(op.path)
        if op.path in SPECIAL_PATHS:
            raise BadArguments(f"cannot delete {op.path}")
        parent_path = parent_of(op.path)
        parent = self._node(parent_path)
        self._require(parent.acl, _DELETE, session, op.path)
        node = self._node(op.path)
        self._check_version(op.version, node.version, op.path)
        if node.children:
            raise NotEmpty(op.path)
        self._tree.remove_node(op.path, node, parent_path, parent, zxid)

    def _set_data(self, op: SetData, zxid: int, time_ms: int, session_id: int) -> Stat:
        session = self._session(session_id)
        path = op.path
        node = self._tree.nodes.get(path)
        if node is None:  # rule 7: only a path that names no node needs validating
            validate_path(path)
        self._writable(path)
        if node is None:
            raise NoNode(path)
        self._require(node.acl, _WRITE, session, path)
        if op.version not in (-1, node.version):
            raise BadVersion(f"{path}: expected version {op.version}, is {node.version}")
        self._tree.set_data(
            path, node, op.data, version=next_version(node.version), zxid=zxid, time_ms=time_ms
        )
        return node.stat()

    def _set_acl(self, op: SetACL, zxid: int, time_ms: int, session_id: int) -> Stat:
        session = self._session(session_id)
        validate_path(op.path)
        self._writable(op.path)
        acl = fixup_acl(op.path, session.auth, op.acl)
        node = self._node(op.path)
        self._require(node.acl, _ADMIN, session, op.path)
        self._check_version(op.version, node.aversion, op.path)
        self._tree.set_acl(node, acl, next_version(node.aversion))
        return node.stat()

    def _check(self, op: Check, zxid: int, time_ms: int, session_id: int) -> None:
        session = self._session(session_id)
        node = self._valid_node(op.path)
        self._require(node.acl, _READ, session, op.path)
        self._check_version(op.version, node.version, op.path)

    def _multi(self, op: Multi, zxid: int, time_ms: int, session_id: int) -> tuple[object, ...]:
        """ZooKeeper's multi: the failing op gets its error, the ops before it a
        code-0 RolledBack, the ops after it RuntimeInconsistency; nothing applies."""
        # Iterated as objects: compiled (mypyc), a loop over tuple[MultiOp, ...] checks
        # each item's type itself and would raise TypeError, not BadArguments.
        given: tuple[object, ...] = op.ops
        if not all(isinstance(sub, _MULTI_OPS) for sub in given):
            raise BadArguments("multi accepts only create, delete, setData and check")
        tree = self._tree
        mark = tree.begin()
        results: list[object] = []
        try:
            for index, sub in enumerate(op.ops):
                try:
                    results.append(_HANDLERS[type(sub)](self, sub, zxid, time_ms, session_id))
                except ZKError as exc:
                    tree.rollback(mark)
                    after = len(op.ops) - index - 1
                    return (
                        *(RolledBack("rolled back") for _ in range(index)),
                        exc,
                        *(RuntimeInconsistency("earlier op in multi failed") for _ in range(after)),
                    )
        except BaseException:
            tree.rollback(mark)
            raise
        tree.commit()
        return tuple(results)

    # -- sessions -------------------------------------------------------------------

    def _create_session(
        self, op: CreateSession, zxid: int, time_ms: int, session_id: int
    ) -> SessionInfo:
        if not 0 < op.session_id < (1 << 63):
            raise BadArguments(f"session id out of range: {op.session_id}")
        if op.session_id in self._sessions:
            raise BadArguments(f"session 0x{op.session_id:x} already exists")
        session = Session(op.session_id, op.passwd, op.timeout_ms)
        self._sessions[op.session_id] = session
        return session.info()

    def _close_session(self, op: CloseSession, zxid: int, time_ms: int, session_id: int) -> None:
        if op.session_id in self._sessions:
            self._kill_session(op.session_id, zxid)
            self._locks.sessions_ended((op.session_id,), zxid, time_ms, expired=False)

    def _expire_sessions(
        self, op: ExpireSessions, zxid: int, time_ms: int, session_id: int
    ) -> tuple[int, ...]:
        expired = []
        for sid in dict.fromkeys(op.session_ids):
            if sid in self._sessions:
                self._kill_session(sid, zxid)
                expired.append(sid)
        self._locks.sessions_ended(expired, zxid, time_ms, expired=True)
        return tuple(expired)

    def _kill_session(self, sid: int, zxid: int) -> None:
        """DataTree.killSession, deleting in sorted order (ZooKeeper iterates a
        HashSet; a replicated machine cannot)."""
        tree = self._tree
        for path in sorted(tree.ephemerals.get(sid, ())):
            parent_path = parent_of(path)
            tree.remove_node(path, tree.nodes[path], parent_path, tree.nodes[parent_path], zxid)
        del self._sessions[sid]

    def _add_auth(self, op: AddAuth, zxid: int, time_ms: int, session_id: int) -> None:
        session = self._session(op.session_id)
        if not op.scheme:
            raise AuthFailed("empty auth scheme")
        ident = (op.scheme, op.id)
        if ident not in session.auth:
            session.auth.append(ident)

    # -- TTL and containers ------------------------------------------------------------

    def _ttl_due(self, path: str, now_ms: int) -> bool:
        """ContainerManager's rule: a childless TTL node whose mtime is older than its
        TTL."""
        node = self._tree.get(path)
        if node is None or node.children:
            return False
        if ephemeral_type(node.ephemeral_owner) is not EphemeralType.TTL:
            return False
        return now_ms - node.mtime > ttl_of(node.ephemeral_owner)

    def _delete_ttl_expired(
        self, op: DeleteTTLExpired, zxid: int, time_ms: int, session_id: int
    ) -> tuple[str, ...]:
        deleted = []
        tree = self._tree
        for path in dict.fromkeys(op.paths):
            if self._ttl_due(path, time_ms):
                parent_path = parent_of(path)
                tree.remove_node(path, tree.nodes[path], parent_path, tree.nodes[parent_path], zxid)
                deleted.append(path)
        return tuple(deleted)

    def _reap_containers(self, zxid: int) -> None:
        tree = self._tree
        index = 0
        while index < len(tree.emptied):  # a removal may empty the parent container too
            path = tree.emptied[index]
            index += 1
            node = tree.get(path)
            if node is None or node.children or node.ephemeral_owner != CONTAINER_EPHEMERAL_OWNER:
                continue
            parent_path = parent_of(path)
            tree.remove_node(path, node, parent_path, tree.nodes[parent_path], zxid)
        tree.emptied.clear()

    def ttl_expired(self, now_ms: int) -> list[str]:
        """For the leader: TTL nodes due for deletion at `now_ms`, sorted. Propose
        `DeleteTTLExpired(tuple(paths))` to remove them."""
        return sorted(p for p in self._tree.ttls if self._ttl_due(p, now_ms))

    def _noop(self, op: Noop, zxid: int, time_ms: int, session_id: int) -> None:
        return None

    # -- locks (machine/locks.py) ------------------------------------------------------

    def _acquire_lock(
        self, op: AcquireLock, zxid: int, time_ms: int, session_id: int
    ) -> LockGrant:
        self._session(session_id)
        return self._locks.acquire(op, zxid, time_ms, session_id)

    def _release_lock(self, op: ReleaseLock, zxid: int, time_ms: int, session_id: int) -> None:
        self._session(session_id)
        self._locks.release(op.path, zxid, time_ms, session_id)

    def _grant_due_locks(
        self, op: GrantDueLocks, zxid: int, time_ms: int, session_id: int
    ) -> tuple[str, ...]:
        return self._locks.grant_due(zxid, time_ms)

    def check_sequencer(self, path: str, mode: int, token: int) -> tuple[bool, int]:
        """(valid, current token) of a sequencer; raises BadArguments for a bad path."""
        return self._locks.check_sequencer(path, mode, token)

    def lock_info(self, path: str, session_id: int | None = None) -> LockInfo:
        """The lock's state; with `session_id`, `token` is that holder's own token."""
        return self._locks.lock_info(path, session_id)

    def locks_due(self, now_ms: int) -> bool:
        """For the leader: whether a lock-delay has ended by `now_ms` (propose
        `GrantDueLocks()` then)."""
        return self._locks.locks_due(now_ms)

    def locks_held(self, session_id: int) -> tuple[Sequencer, ...]:
        """The sequencers of the locks `session_id` holds, by path."""
        return self._locks.locks_held(session_id)

    # -- reads ----------------------------------------------------------------------

    def _auth_of(self, session_id: int) -> Session:
        return self._sessions.get(session_id) or Session(session_id, b"", 0)

    def _read(self, path: str, session_id: int | None, perm: int) -> Node:
        node = self._valid_node(path)
        if session_id is not None:
            self._require(node.acl, perm, self._auth_of(session_id), path)
        return node

    def get_data(self, path: str, session_id: int | None) -> tuple[bytes, Stat]:
        """getData; `session_id=None` skips the ACL check (internal use only)."""
        node = self._read(path, session_id, _READ)
        return node.data, node.stat()

    def exists(self, path: str, session_id: int | None = None) -> Stat | None:
        """exists: None when absent; with a session, READ is checked (3.8.4+)."""
        node = self._tree.nodes.get(path)
        if node is None:
            validate_path(path)  # rule 7
            return None
        if session_id is not None:
            self._require(node.acl, _READ, self._auth_of(session_id), path)
        return node.stat()

    def get_children(self, path: str, session_id: int | None) -> tuple[list[str], Stat]:
        node = self._read(path, session_id, _READ)
        return DataTree.child_names(path, node), node.stat()

    def get_acl(self, path: str, session_id: int | None = None) -> tuple[tuple[ACL, ...], Stat]:
        """getACL needs READ or ADMIN; without ADMIN digest ids are masked `user:x`."""
        node = self._read(path, session_id, _READ | _ADMIN)
        acl = node.acl
        if session_id is not None and not self.check_perm(session_id, acl, _ADMIN):
            acl = mask_digests(acl)
        return acl, node.stat()

    def get_all_children_number(self, path: str, session_id: int | None = None) -> int:
        node = self._read(path, session_id, _READ)
        return sum(1 for _ in self._tree.descendants(node))

    def get_ephemerals(self, session_id: int, prefix: str = "/") -> list[str]:
        """getEphemerals: a blank or "/" prefix means all; else a string prefix."""
        paths = self._tree.ephemerals.get(session_id, ())
        if prefix.strip() in ("", "/"):
            return sorted(paths)
        return sorted(p for p in paths if p.startswith(prefix))

    def check_perm(self, session_id: int, acl: tuple[ACL, ...], perm: int) -> bool:
        """Whether the session may `perm` a node with `acl` (used to filter watch
        events, as ServerCnxn.process does)."""
        if acl is OPEN_ACL_UNSAFE and perm & _ALL:  # as in _require
            return True
        auth = self._auth_of(session_id).auth
        return check_perm(acl, perm, auth, self._is_super(auth))

    def session(self, session_id: int) -> SessionInfo | None:
        session = self._sessions.get(session_id)
        return None if session is None else session.info()

    def sessions(self) -> tuple[SessionInfo, ...]:
        return tuple(self._sessions[sid].info() for sid in sorted(self._sessions))

    def session_timeouts(self) -> dict[int, int]:
        """session id -> timeout_ms, by id: what a new leader starts tracking."""
        return {sid: self._sessions[sid].timeout_ms for sid in sorted(self._sessions)}

    @property
    def last_zxid(self) -> int:
        return self._last_zxid

    @property
    def node_count(self) -> int:
        """Nodes including "/" and the /zookeeper ones. (ZooKeeper's znode_count is
        one more: its node map also holds "" as an alias of the root.)"""
        return len(self._tree.nodes)

    @property
    def ephemeral_count(self) -> int:
        return sum(len(paths) for paths in self._tree.ephemerals.values())

    def approximate_data_size(self) -> int:
        """DataTree.approximateDataSize: path lengths plus data lengths (O(n))."""
        return sum(len(p) + len(n.data) for p, n in self._tree.nodes.items())

    def check_invariants(self) -> None:
        self._tree.check_invariants()
        for path in self._tree.nodes:
            assert path_error(path) is None, f"invalid path in the tree: {path!r}"  # rule 7
        for owner in self._tree.ephemerals:
            assert owner in self._sessions, f"ephemerals of dead session 0x{owner:x}"
        self._locks.check_invariants(self._sessions)

    # -- snapshots ------------------------------------------------------------------

    def snapshot(self) -> bytes:
        """The whole replicated state; byte-identical on every replica that applied
        the same prefix."""
        return _snapshot.encode(
            self._tree, self._sessions, self._last_zxid, self._locks.to_records()
        )

    @classmethod
    def restore(cls, data: bytes, super_digest: str | None = None) -> StateMachine:
        """Raises ProtocolError when `data` is not a snapshot."""
        machine = cls(super_digest)
        tree, machine._sessions, machine._last_zxid, locks = _snapshot.decode(data)
        machine._tree = tree
        machine._locks = LockTable.from_records(tree, locks)
        return machine


_HANDLERS: dict[type, Callable[[StateMachine, Any, int, int, int], Any]] = {
    Create: StateMachine._create,
    Delete: StateMachine._delete,
    SetData: StateMachine._set_data,
    SetACL: StateMachine._set_acl,
    Check: StateMachine._check,
    Multi: StateMachine._multi,
    CreateSession: StateMachine._create_session,
    CloseSession: StateMachine._close_session,
    ExpireSessions: StateMachine._expire_sessions,
    AddAuth: StateMachine._add_auth,
    DeleteTTLExpired: StateMachine._delete_ttl_expired,
    AcquireLock: StateMachine._acquire_lock,
    ReleaseLock: StateMachine._release_lock,
    GrantDueLocks: StateMachine._grant_due_locks,
    Noop: StateMachine._noop,
}
