"""Chubby-style locks in the replicated state machine (docs/design/locks.md).

Theory of operation (Chubby, Burrows OSDI '06, §2.4 "Sequencers" and "lock-delay"):

1. A lock is a set of holders (one EXCLUSIVE, or any number of SHARED) and a strict
   FIFO queue of waiters. It exists in the table only while it has a holder, a waiter
   or a pending lock-delay.
2. Grant rule: the head waiter is granted when the lock is not delayed and either has
   no holder, or the holders and the head are all SHARED. The loop stops at the first
   waiter that cannot be granted, so a shared waiter behind an exclusive one waits its
   turn (no writer starvation).
3. Every entry that changes a lock runs the grant loop before it returns. Hence after
   every apply the head waiter is blocked (by holders or by a lock-delay), which
   `check_invariants` asserts; every replica grants in the same entry.
4. The fencing token of a grant is the zxid of the granting entry: zxids only grow, so
   tokens grow with every grant and never repeat. Shared holders granted by one entry
   share a token; each holder keeps its own.
5. Lock-delay: when a *holder's* session expires (not on close or release), the lock
   stays unavailable until `available_at = expiry time_ms + the holder's delay`. Only
   an entry whose leader-stamped time is >= available_at grants again: normally the
   leader's `GrantDueLocks`, proposed when `locks_due(now)`.
6. Visibility: each lock in the table is mirrored by a persistent znode
   `/quorumd/locks/<path without its leading '/', '%' -> '%25', '/' -> '%2F'>` whose data
   describes it (zkCli can read and watch it). Clients may not write under /quorumd
   (`reserved` paths get NoAuth, even for the super user): the machine alone keeps
   these nodes in sync with the table.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Container, Iterable
from dataclasses import dataclass
from typing import Any

from quorumd.errors import BadArguments, NodeExists, NoNode, ProtocolError
from quorumd.machine.node import Node, next_version
from quorumd.machine.ops import READ_ACL_UNSAFE, AcquireLock, LockMode
from quorumd.machine.paths import validate_path
from quorumd.machine.results import (
    LOCK_FREE,
    LockGrant,
    LockGranted,
    LockInfo,
    LockStatus,
    Sequencer,
)
from quorumd.machine.tree import DataTree

__all__ = [
    "DEFAULT_LOCK_DELAY_MS",
    "LOCKS_ROOT",
    "MAX_LOCK_DELAY_MS",
    "RESERVED_ROOT",
    "LockTable",
    "lock_node_path",
    "reserved",
]

DEFAULT_LOCK_DELAY_MS = 10_000
MAX_LOCK_DELAY_MS = 60_000
RESERVED_ROOT = "/quorumd"
LOCKS_ROOT = "/quorumd/locks"


def reserved(path: str) -> bool:
    """Whether `path` is in the machine-owned namespace clients may not write."""
    return path == RESERVED_ROOT or path.startswith(RESERVED_ROOT + "/")


def lock_node_path(path: str) -> str:
    """The visibility node of lock `path`; '%' is escaped too, so the map is one-to-one."""
    return f"{LOCKS_ROOT}/" + path[1:].replace("%", "%25").replace("/", "%2F")


@dataclass(frozen=True, slots=True)
class _Waiter:
    session_id: int
    mode: LockMode
    delay_ms: int


@dataclass(frozen=True, slots=True)
class _Holder:
    token: int
    delay_ms: int


class _Lock:
    __slots__ = ("available_at", "holders", "mode", "waiters")

    def __init__(self) -> None:
        self.mode: LockMode | None = None  # None iff no holder
        self.holders: dict[int, _Holder] = {}  # in grant order
        self.waiters: deque[_Waiter] = deque()
        self.available_at = 0  # 0 = no lock-delay pending

    @property
    def idle(self) -> bool:
        return not self.holders and not self.waiters and not self.available_at

    @property
    def token(self) -> int:
        return max((h.token for h in self.holders.values()), default=0)

    def compatible(self, mode: LockMode) -> bool:
        return not self.holders or (self.mode is LockMode.SHARED and mode is LockMode.SHARED)

    def render(self) -> bytes:
        """The visibility node's data."""
        mode = "none" if self.mode is None else self.mode.name.lower()
        holders = ",".join(f"0x{sid:x}" for sid in self.holders)
        text = f"mode={mode} token={self.token} holders={holders} waiters={len(self.waiters)}"
        if self.available_at:
            text += f" available_at={self.available_at}"
        return text.encode()


def _lock_path(path: str) -> str:
    validate_path(path)
    if path == "/":
        raise BadArguments("the root cannot be a lock")
    return path


def _lock_mode(mode: int) -> LockMode:
    try:
        return LockMode(mode)
    except ValueError:
        raise BadArguments(f"unknown lock mode {mode}") from None


def _lock_delay(delay_ms: int) -> int:
    if delay_ms == -1:
        return DEFAULT_LOCK_DELAY_MS
    if delay_ms < 0:
        raise BadArguments(f"lock delay must be >= 0 or -1 (default): {delay_ms}")
    return min(delay_ms, MAX_LOCK_DELAY_MS)


class LockTable:
    """The locks of one state machine. It mutates `tree` only through the tree's own
    primitives, so the visibility nodes fire watches like any other change."""

    def __init__(self, tree: DataTree) -> None:
        self._tree = tree
        self._locks: dict[str, _Lock] = {}
        self._by_session: dict[int, set[str]] = {}  # paths a session holds or waits on
        self._delayed: set[str] = set()  # paths with a pending lock-delay
        # grants to queued waiters in the current apply; StateMachine.apply drains it
        self.grants: list[LockGranted] = []

    # -- ops ------------------------------------------------------------------------

    def acquire(self, op: AcquireLock, zxid: int, time_ms: int, session_id: int) -> LockGrant:
        """The caller has checked that the session exists."""
        path = _lock_path(op.path)
        mode = _lock_mode(op.mode)
        delay_ms = _lock_delay(op.lock_delay_ms)
        if path in self._by_session.get(session_id, ()):
            raise BadArguments(f"session 0x{session_id:x} already holds or waits on {path}")
        lock = self._locks.get(path)
        if lock is None:
            lock = self._locks[path] = _Lock()
        lock.waiters.append(_Waiter(session_id, mode, delay_ms))
        self._by_session.setdefault(session_id, set()).add(path)
        self._grant(path, lock, zxid, time_ms, requester=session_id)
        holder = lock.holders.get(session_id)
        busy = holder is None and not op.wait
        if busy:  # a try-lock is never queued; it is last, so nothing behind it moves
            lock.waiters.pop()
            self._unindex(session_id, path)
        self._sync(path, lock, zxid, time_ms)
        if busy:
            raise NodeExists(f"lock {path} is busy")
        if holder is not None:
            return LockGrant(LockStatus.GRANTED, holder.token, 0)
        return LockGrant(LockStatus.QUEUED, 0, len(lock.waiters))

    def release(self, path: str, zxid: int, time_ms: int, session_id: int) -> None:
        """Release a held lock or cancel a wait; NoNode if the session does neither."""
        path = _lock_path(path)
        if path not in self._by_session.get(session_id, ()):
            raise NoNode(f"session 0x{session_id:x} neither holds nor waits on {path}")
        lock = self._locks[path]
        self._drop(path, lock, session_id, expired=False, time_ms=time_ms)
        self._grant(path, lock, zxid, time_ms, requester=None)
        self._sync(path, lock, zxid, time_ms)

    def sessions_ended(
        self, session_ids: Iterable[int], zxid: int, time_ms: int, *, expired: bool
    ) -> None:
        """Closed or expired sessions leave every lock and queue in one step, and only
        then are the waiters granted: a session that ends in this entry is never
        granted by it. Expiry of a holder starts its lock-delay (rule 5)."""
        touched: set[str] = set()
        for sid in session_ids:
            for path in sorted(self._by_session.get(sid, ())):
                self._drop(path, self._locks[path], sid, expired=expired, time_ms=time_ms)
                touched.add(path)
        for path in sorted(touched):
            lock = self._locks[path]
            self._grant(path, lock, zxid, time_ms, requester=None)
            self._sync(path, lock, zxid, time_ms)

    def grant_due(self, zxid: int, time_ms: int) -> tuple[str, ...]:
        """GrantDueLocks: the paths whose lock-delay ended at `time_ms`, sorted."""
        ended = sorted(p for p in self._delayed if self._locks[p].available_at <= time_ms)
        for path in ended:
            lock = self._locks[path]
            self._grant(path, lock, zxid, time_ms, requester=None)
            self._sync(path, lock, zxid, time_ms)
        return tuple(ended)

    # -- mechanics ------------------------------------------------------------------

    def _unindex(self, session_id: int, path: str) -> None:
        paths = self._by_session[session_id]
        paths.discard(path)
        if not paths:
            del self._by_session[session_id]

    def _drop(
        self, path: str, lock: _Lock, session_id: int, *, expired: bool, time_ms: int
    ) -> None:
        holder = lock.holders.pop(session_id, None)
        if holder is None:
            lock.waiters = deque(w for w in lock.waiters if w.session_id != session_id)
        else:
            if not lock.holders:
                lock.mode = None
            if expired and holder.delay_ms > 0:
                lock.available_at = max(lock.available_at, time_ms + holder.delay_ms)
                self._delayed.add(path)
        self._unindex(session_id, path)

    def _grant(
        self, path: str, lock: _Lock, zxid: int, time_ms: int, requester: int | None
    ) -> None:
        """Rule 2, at the entry's time; `requester` is answered by its reply instead."""
        if lock.available_at:
            if time_ms < lock.available_at:
                return
            lock.available_at = 0
            self._delayed.discard(path)
        waiters = lock.waiters
        while waiters and lock.compatible(waiters[0].mode):
            waiter = waiters.popleft()
            lock.mode = waiter.mode
            lock.holders[waiter.session_id] = _Holder(zxid, waiter.delay_ms)
            if waiter.session_id != requester:
                self.grants.append(LockGranted(waiter.session_id, path, waiter.mode, zxid))

    def _sync(self, path: str, lock: _Lock, zxid: int, time_ms: int) -> None:
        """Bring the table entry and the visibility node in line with `lock`."""
        tree = self._tree
        node_path = lock_node_path(path)
        node = tree.get(node_path)
        if lock.idle:
            del self._locks[path]
            if node is not None:
                tree.remove_node(node_path, node, LOCKS_ROOT, tree.nodes[LOCKS_ROOT], zxid)
            return
        data = lock.render()
        if node is None:
            parent = self._ensure_root(zxid, time_ms)
            new = Node(data, tree.intern_acl(READ_ACL_UNSAFE), zxid, time_ms, 0)
            tree.add_node(node_path, LOCKS_ROOT, parent, new, zxid)
        elif node.data != data:
            version = next_version(node.version)
            tree.set_data(node_path, node, data, version=version, zxid=zxid, time_ms=time_ms)

    def _ensure_root(self, zxid: int, time_ms: int) -> Node:
        tree = self._tree
        for path, parent_path in ((RESERVED_ROOT, "/"), (LOCKS_ROOT, RESERVED_ROOT)):
            if path not in tree.nodes:
                node = Node(b"", tree.intern_acl(READ_ACL_UNSAFE), zxid, time_ms, 0)
                tree.add_node(path, parent_path, tree.nodes[parent_path], node, zxid)
        return tree.nodes[LOCKS_ROOT]

    # -- queries --------------------------------------------------------------------

    def check_sequencer(self, path: str, mode: int, token: int) -> tuple[bool, int]:
        """(valid, current token): valid iff a current holder holds `path` in `mode`
        with exactly `token`. The current token is the newest holder's (0 if free)."""
        lock = self._locks.get(_lock_path(path))
        if lock is None:
            return False, 0
        valid = lock.mode is not None and int(lock.mode) == mode
        valid = valid and any(h.token == token for h in lock.holders.values())
        return valid, lock.token

    def lock_info(self, path: str, session_id: int | None = None) -> LockInfo:
        """`token` is `session_id`'s own token when it holds the lock (shared holders
        granted by different entries have different tokens), else the newest one."""
        lock = self._locks.get(_lock_path(path))
        if lock is None:
            return LockInfo(LOCK_FREE, 0, (), ())
        own = lock.holders.get(session_id) if session_id is not None else None
        return LockInfo(
            LOCK_FREE if lock.mode is None else int(lock.mode),
            lock.token if own is None else own.token,
            tuple(lock.holders),
            tuple(w.session_id for w in lock.waiters),
        )

    def locks_due(self, now_ms: int) -> bool:
        return any(self._locks[p].available_at <= now_ms for p in self._delayed)

    def locks_held(self, session_id: int) -> tuple[Sequencer, ...]:
        out = []
        for path in sorted(self._by_session.get(session_id, ())):
            lock = self._locks[path]
            holder = lock.holders.get(session_id)
            if holder is not None:
                assert lock.mode is not None
                out.append(Sequencer(path, int(lock.mode), holder.token))
        return tuple(out)

    def check_invariants(self, sessions: Container[int]) -> None:
        """Rules 1-3 and 6; tests run it after every apply."""
        index: dict[int, set[str]] = {}
        for path, lock in self._locks.items():
            assert not lock.idle, f"idle lock {path} kept"
            assert (lock.mode is None) == (not lock.holders), path
            if lock.mode is LockMode.EXCLUSIVE:
                assert len(lock.holders) == 1, f"{path}: several exclusive holders"
            sids = [*lock.holders, *(w.session_id for w in lock.waiters)]
            assert len(sids) == len(set(sids)), f"{path}: a session is queued twice"
            for sid in sids:
                assert sid in sessions, f"{path}: dead session 0x{sid:x}"
                index.setdefault(sid, set()).add(path)
            if lock.waiters and lock.compatible(lock.waiters[0].mode):
                assert lock.available_at, f"{path}: grantable head waiter left queued"
            assert (path in self._delayed) == bool(lock.available_at), path
            node = self._tree.get(lock_node_path(path))
            assert node is not None and node.data == lock.render(), f"{path}: stale node"
        assert index == self._by_session, "session index out of sync"
        assert self._delayed <= self._locks.keys()
        locks_root = self._tree.get(LOCKS_ROOT)
        count = len(locks_root.children or ()) if locks_root is not None else 0
        assert count == len(self._locks), "visibility nodes out of sync"

    # -- snapshots ------------------------------------------------------------------

    def to_records(self) -> list[list[Any]]:
        """[path, mode (-1 free), available_at, [[sid, token, delay_ms]...] in grant
        order, [[sid, mode, delay_ms]...] in queue order], sorted by path."""
        return [
            [
                path,
                LOCK_FREE if lock.mode is None else int(lock.mode),
                lock.available_at,
                [[sid, h.token, h.delay_ms] for sid, h in lock.holders.items()],
                [[w.session_id, int(w.mode), w.delay_ms] for w in lock.waiters],
            ]
            for path, lock in sorted(self._locks.items())
        ]

    @classmethod
    def from_records(cls, tree: DataTree, records: Any) -> LockTable:
        """Raises ProtocolError on records `to_records` cannot have written."""
        table = cls(tree)
        if type(records) is not list:
            raise ProtocolError("bad lock table in snapshot")
        for record in records:
            try:
                path, mode, available_at, holders, waiters = record
                lock = _Lock()
                lock.mode = None if mode == LOCK_FREE else LockMode(mode)
                lock.available_at = _int(available_at)
                for sid, token, delay_ms in holders:
                    lock.holders[_int(sid)] = _Holder(_int(token), _int(delay_ms))
                for sid, wmode, delay_ms in waiters:
                    lock.waiters.append(_Waiter(_int(sid), LockMode(wmode), _int(delay_ms)))
            except (TypeError, ValueError) as exc:
                raise ProtocolError(f"bad lock record: {exc}") from exc
            exclusive = lock.mode is LockMode.EXCLUSIVE
            if (
                type(path) is not str
                or path in table._locks
                or lock.idle
                or (lock.mode is None) != (not lock.holders)
                or (exclusive and len(lock.holders) != 1)
            ):
                raise ProtocolError(f"bad lock record for {path!r:.40}")
            table._locks[path] = lock
            if lock.available_at:
                table._delayed.add(path)
            for sid in [*lock.holders, *(w.session_id for w in lock.waiters)]:
                table._by_session.setdefault(sid, set()).add(path)
        return table


def _int(value: object) -> int:
    if type(value) is not int:
        raise TypeError(f"expected an integer, got {value!r:.40}")
    return value
