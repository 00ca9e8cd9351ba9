"""What `apply` hands back: the op's result and the watch triggers it caused.

Applied, Created and WatchTrigger are made for every write on every replica, so like
the hot records of `ops` they are non-frozen dataclasses whose fields are all `Final`
(read-only to mypy, hashable by `unsafe_hash`): a frozen `__init__` costs several times
more. The rest are frozen.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import ClassVar, Final

from quorumd.errors import ZKError
from quorumd.machine.ops import ACL, Stat

__all__ = [
    "LOCK_FREE",
    "Applied",
    "Created",
    "EventType",
    "LockGrant",
    "LockGranted",
    "LockInfo",
    "LockStatus",
    "Result",
    "RolledBack",
    "Sequencer",
    "SessionInfo",
    "WatchTrigger",
]


class EventType(enum.IntEnum):
    """Watcher.Event.EventType codes (as sent in WatcherEvent.type)."""

    NODE_CREATED = 1
    NODE_DELETED = 2
    NODE_DATA_CHANGED = 3
    NODE_CHILDREN_CHANGED = 4


@dataclass(slots=True, unsafe_hash=True)
class WatchTrigger:
    """A change that may fire watches: `path` is the changed node (for
    NODE_CHILDREN_CHANGED, the parent). `acl` is that node's ACL at the time of the
    change: ZooKeeper (3.8.4+, CVE-2024-23944) delivers an event only to watchers
    whose session may READ it; see `StateMachine.check_perm`."""

    kind: Final[EventType]
    path: Final[str]
    acl: Final[tuple[ACL, ...]] = ()


@dataclass(slots=True, unsafe_hash=True)
class Created:
    """Result of a create: the actual path (with any sequential suffix) and the new
    node's Stat (what create2/createContainer/createTTL return)."""

    path: Final[str]
    stat: Final[Stat]


@dataclass(frozen=True, slots=True)
class SessionInfo:
    session_id: int
    passwd: bytes
    timeout_ms: int
    auth: tuple[tuple[str, str], ...]  # (scheme, id), in the order they were added


class RolledBack(ZKError):
    """The per-op result of a failed Multi for the ops *before* the failing one.

    ZooKeeper reports them as an ErrorResult with code 0 (DataTree.processTxn sets
    Code.OK for them; kazoo shows RolledBackError); the ops after the failing one get
    RuntimeInconsistency. Not in the errors registry on purpose: code 0 is "OK" on
    the wire everywhere else.
    """

    code: ClassVar[int] = 0
    zk_name: ClassVar[str] = "OK"


class LockStatus(enum.IntEnum):
    """LockAcquireResponse.status (docs/design/locks.md)."""

    GRANTED = 0
    QUEUED = 1


#: `LockInfo.mode` of a lock nobody holds.
LOCK_FREE = -1


@dataclass(frozen=True, slots=True)
class LockGrant:
    """Result of AcquireLock. GRANTED: `token` is the fencing token, `position` 0.
    QUEUED: `token` 0, `position` the 1-based place in the FIFO queue (1 = next)."""

    status: LockStatus
    token: int
    position: int


@dataclass(frozen=True, slots=True)
class LockGranted:
    """A queued waiter got the lock in this entry: the node holding the session's
    connection notifies it (WatcherEvent type 100)."""

    session_id: int
    path: str
    mode: int
    token: int


@dataclass(frozen=True, slots=True)
class LockInfo:
    """A lock as `lockInfo` reports it: `mode` is LOCK_FREE when nobody holds it;
    `holders` in grant order, `waiters` in queue order."""

    mode: int
    token: int
    holders: tuple[int, ...]
    waiters: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Sequencer:
    """Chubby's sequencer (§2.4): what a holder hands a resource server, which checks
    it with `StateMachine.check_sequencer`."""

    path: str
    mode: int
    token: int


Result = Created | Stat | SessionInfo | LockGrant | ZKError | tuple[object, ...] | None


@dataclass(slots=True, unsafe_hash=True)
class Applied:
    """The outcome of applying one entry. `result` by op:

    Create -> Created; Delete -> None; SetData/SetACL -> Stat; Check -> None;
    Multi -> tuple of per-op results (or one ZKError if the Multi itself is malformed);
    CreateSession -> SessionInfo; CloseSession/AddAuth/Noop -> None;
    ExpireSessions -> tuple of the session ids actually expired;
    DeleteTTLExpired -> tuple of the paths actually deleted;
    AcquireLock -> LockGrant; ReleaseLock -> None;
    GrantDueLocks -> tuple of the lock paths whose lock-delay ended.
    A failed op's result is its ZKError instance: failures are deterministic outcomes,
    returned rather than raised. `events` are in the order ZooKeeper fires them.
    `grants` are the lock grants this entry made to *queued* waiters (an acquire,
    release, session close/expiry or GrantDueLocks can make them); an AcquireLock
    granted at once is answered by `result` and not listed.
    """

    result: Final[Result]
    events: Final[tuple[WatchTrigger, ...]] = ()
    grants: Final[tuple[LockGranted, ...]] = ()
