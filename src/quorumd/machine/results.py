"""What `apply` hands back: the op's result and the watch triggers it caused."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import ClassVar

from quorumd.errors import ZKError
from quorumd.machine.ops import ACL, Stat

__all__ = [
    "Applied",
    "Created",
    "EventType",
    "Result",
    "RolledBack",
    "SessionInfo",
    "WatchTrigger",
]


class EventType(enum.IntEnum):
    """Watcher.Event.EventType codes (as sent in WatcherEvent.type)."""

    NODE_CREATED = 1
    NODE_DELETED = 2
    NODE_DATA_CHANGED = 3
    NODE_CHILDREN_CHANGED = 4


@dataclass(frozen=True, slots=True)
class WatchTrigger:
    """A change that may fire watches: `path` is the changed node (for
    NODE_CHILDREN_CHANGED, the parent). `acl` is that node's ACL at the time of the
    change: ZooKeeper (3.8.4+, CVE-2024-23944) delivers an event only to watchers
    whose session may READ it; see `StateMachine.check_perm`."""

    kind: EventType
    path: str
    acl: tuple[ACL, ...] = ()


@dataclass(frozen=True, slots=True)
class Created:
    """Result of a create: the actual path (with any sequential suffix) and the new
    node's Stat (what create2/createContainer/createTTL return)."""

    path: str
    stat: Stat


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


Result = Created | Stat | SessionInfo | ZKError | tuple[object, ...] | None


@dataclass(frozen=True, slots=True)
class Applied:
    """The outcome of applying one entry. `result` by op:

    Create -> Created; Delete -> None; SetData/SetACL -> Stat; Check -> None;
    Multi -> tuple of per-op results (or one ZKError if the Multi itself is malformed);
    CreateSession -> SessionInfo; CloseSession/AddAuth/Noop -> None;
    ExpireSessions -> tuple of the session ids actually expired;
    DeleteTTLExpired -> tuple of the paths actually deleted.
    A failed op's result is its ZKError instance: failures are deterministic outcomes,
    returned rather than raised. `events` are in the order ZooKeeper fires them.
    """

    result: Result
    events: tuple[WatchTrigger, ...] = ()
