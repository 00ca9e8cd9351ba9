"""The replicated commands: what a log entry asks the state machine to do.

They stay close to ZooKeeper's request records (zookeeper.jute: CreateRequest,
DeleteRequest, SetDataRequest, ...) so the server can translate a wire request into
one of these with no interpretation. What ZooKeeper's PrepRequestProcessor decides on
the leader (validation, ACL checks, the sequential suffix) is decided here, inside
`apply`, because apply is deterministic: every replica reaches the same verdict from
the same log prefix. What cannot be decided deterministically (the time, which sessions
expired, which TTL nodes are due) is decided by the leader and carried in the `Txn`.

Every record is a value, never changed once built: hashable, compared by fields. Most are frozen
dataclasses. The ones built for every write on every replica (Txn, Create, Delete,
SetData, Stat) are not frozen but declare each field `Final`: mypy --strict rejects any
assignment just the same, while construction skips the frozen `__init__`'s
`object.__setattr__` per field, 3-4x dearer on CPython 3.11 (`Node.stat()` took ~3 µs
of a ~9 µs setData apply; bench/apply_path.py). `unsafe_hash` keeps them hashable.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

__all__ = [
    "ACL",
    "CREATOR_ALL_ACL",
    "OPEN_ACL_UNSAFE",
    "READ_ACL_UNSAFE",
    "AcquireLock",
    "AddAuth",
    "Check",
    "CloseSession",
    "Create",
    "CreateMode",
    "CreateSession",
    "Delete",
    "DeleteTTLExpired",
    "ExpireSessions",
    "GrantDueLocks",
    "LockMode",
    "Multi",
    "MultiOp",
    "Noop",
    "Op",
    "Perms",
    "ReleaseLock",
    "SetACL",
    "SetData",
    "Stat",
    "Txn",
]


class Perms(enum.IntFlag):
    """ZooDefs.Perms: the bits of an ACL entry."""

    READ = 1
    WRITE = 2
    CREATE = 4
    DELETE = 8
    ADMIN = 16
    ALL = 31


class CreateMode(enum.IntEnum):
    """ZooKeeper's CreateMode flags, as sent in CreateRequest.flags."""

    PERSISTENT = 0
    EPHEMERAL = 1
    PERSISTENT_SEQUENTIAL = 2
    EPHEMERAL_SEQUENTIAL = 3
    CONTAINER = 4
    PERSISTENT_WITH_TTL = 5
    PERSISTENT_SEQUENTIAL_WITH_TTL = 6

    # The sets below hold plain ints: reading `CreateMode.X` is a descriptor call on
    # CPython 3.11, too slow for checks that run on every create.

    @property
    def is_ephemeral(self) -> bool:
        return self in _EPHEMERAL_MODES

    @property
    def is_sequential(self) -> bool:
        return self in _SEQUENTIAL_MODES

    @property
    def is_container(self) -> bool:
        return self == _CONTAINER_MODE

    @property
    def is_ttl(self) -> bool:
        return self in _TTL_MODES


_CONTAINER_MODE = int(CreateMode.CONTAINER)
_EPHEMERAL_MODES = frozenset({int(CreateMode.EPHEMERAL), int(CreateMode.EPHEMERAL_SEQUENTIAL)})
_SEQUENTIAL_MODES = frozenset(
    {
        int(CreateMode.PERSISTENT_SEQUENTIAL),
        int(CreateMode.EPHEMERAL_SEQUENTIAL),
        int(CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL),
    }
)
_TTL_MODES = frozenset(
    {int(CreateMode.PERSISTENT_WITH_TTL), int(CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL)}
)


@dataclass(frozen=True, slots=True)
class ACL:
    """One ACL entry: `perms` (Perms bits) granted to the identity `scheme:id`."""

    perms: int
    scheme: str
    id: str


OPEN_ACL_UNSAFE: tuple[ACL, ...] = (ACL(int(Perms.ALL), "world", "anyone"),)
READ_ACL_UNSAFE: tuple[ACL, ...] = (ACL(int(Perms.READ), "world", "anyone"),)
CREATOR_ALL_ACL: tuple[ACL, ...] = (ACL(int(Perms.ALL), "auth", ""),)


@dataclass(slots=True, unsafe_hash=True)
class Stat:
    """ZooKeeper's Stat record, fields in jute order (zookeeper.jute `Stat`)."""

    czxid: Final[int]
    mzxid: Final[int]
    ctime: Final[int]
    mtime: Final[int]
    version: Final[int]
    cversion: Final[int]
    aversion: Final[int]
    ephemeral_owner: Final[int]
    data_length: Final[int]
    num_children: Final[int]
    pzxid: Final[int]


@dataclass(slots=True, unsafe_hash=True)
class Create:
    """create / create2 / createContainer / createTTL. `mode` is a CreateMode flag
    (0..6); `ttl_ms` must be > 0 for the TTL modes and is not allowed (> 0) otherwise."""

    path: Final[str]
    data: Final[bytes]
    acl: Final[tuple[ACL, ...]]
    mode: Final[int] = 0
    ttl_ms: Final[int] = 0


@dataclass(slots=True, unsafe_hash=True)
class Delete:
    path: Final[str]
    version: Final[int] = -1


@dataclass(slots=True, unsafe_hash=True)
class SetData:
    path: Final[str]
    data: Final[bytes]
    version: Final[int] = -1


@dataclass(frozen=True, slots=True)
class SetACL:
    path: str
    acl: tuple[ACL, ...]
    version: int = -1


@dataclass(frozen=True, slots=True)
class Check:
    """CheckVersionRequest (only meaningful inside a Multi, but allowed alone)."""

    path: str
    version: int


MultiOp = Create | Delete | SetData | Check


@dataclass(frozen=True, slots=True)
class Multi:
    """All-or-nothing: either every op applies or none does."""

    ops: tuple[MultiOp, ...]


@dataclass(frozen=True, slots=True)
class CreateSession:
    """Opens a session chosen by the leader (id and 16-byte password)."""

    session_id: int
    passwd: bytes
    timeout_ms: int


@dataclass(frozen=True, slots=True)
class CloseSession:
    """The client closed its session: its ephemeral nodes go in the same apply."""

    session_id: int


@dataclass(frozen=True, slots=True)
class ExpireSessions:
    """The leader decided these sessions timed out. Unknown ids are ignored."""

    session_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class AddAuth:
    """Adds an authenticated identity to a session. The serving node already checked
    the credentials and computed the id (digest: `user:base64(sha1(user:password))`,
    ip: the client address), so every replica applies the same id."""

    session_id: int
    scheme: str
    id: str


@dataclass(frozen=True, slots=True)
class DeleteTTLExpired:
    """The leader found these TTL nodes expired (`StateMachine.ttl_expired`); each is
    deleted only if it is still eligible at the txn's time."""

    paths: tuple[str, ...]


class LockMode(enum.IntEnum):
    """The mode of a Chubby lock, as sent in LockAcquireRequest.mode."""

    EXCLUSIVE = 0
    SHARED = 1


@dataclass(frozen=True, slots=True)
class AcquireLock:
    """The txn's session asks for the lock named `path` (any valid path but "/"; it
    need not exist as a znode). `wait=False` is a try-lock: granted at once or
    NodeExists (LockBusy), never queued. `lock_delay_ms` (-1 = the 10 s default,
    capped at 60 s) applies if this session's expiry releases the lock."""

    path: str
    mode: int
    wait: bool
    lock_delay_ms: int = -1


@dataclass(frozen=True, slots=True)
class ReleaseLock:
    """Release a held lock, or leave its queue (cancel a wait)."""

    path: str


@dataclass(frozen=True, slots=True)
class GrantDueLocks:
    """The leader saw `StateMachine.locks_due(now)`: grant the waiters of every lock
    whose lock-delay has passed at the txn's time."""


@dataclass(frozen=True, slots=True)
class Noop:
    pass


Op = (
    Create
    | Delete
    | SetData
    | SetACL
    | Check
    | Multi
    | CreateSession
    | CloseSession
    | ExpireSessions
    | AddAuth
    | DeleteTTLExpired
    | AcquireLock
    | ReleaseLock
    | GrantDueLocks
    | Noop
)


@dataclass(slots=True, unsafe_hash=True)
class Txn:
    """The envelope of one log entry.

    `time_ms` is wall-clock time stamped by the leader (ctime/mtime, TTL decisions).
    `origin` (the node that holds the client's connection) and `request_id` are opaque
    routing data for the server; `apply` ignores them.
    """

    session_id: Final[int]
    time_ms: Final[int]
    origin: Final[int]
    request_id: Final[int]
    op: Final[Op]
