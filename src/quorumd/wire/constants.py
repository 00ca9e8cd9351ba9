"""ZooKeeper 3.8 protocol numbers: opcodes, create modes, watch events, special xids.

Every value here is fixed by ZooKeeper (ZooDefs.OpCode, CreateMode, Watcher.Event,
ZooDefs.Perms) and by the clients in the wild that hard-code them; changing one breaks
every client. quorumd's own extension operations live in a reserved opcode range,
200-219, which ZooKeeper does not use (its highest client opcode is 107 in 3.8/3.9).
No extension opcode is defined here yet: the lock operations will take numbers from
`EXTENSION_OPCODES` and must register their records in `records.REQUEST_DECODERS`.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag

__all__ = [
    "AUTH_XID",
    "EXTENSION_OPCODES",
    "JUTE_MAX_BUFFER",
    "NOTIFICATION_XID",
    "PING_XID",
    "SET_WATCHES_XID",
    "AddWatchMode",
    "CreateMode",
    "EventType",
    "KeeperState",
    "OpCode",
    "Perms",
    "WatcherType",
    "jute_extra_allowance",
]

#: `jute.maxbuffer` default: the largest frame a ZooKeeper server accepts (0xfffff bytes).
JUTE_MAX_BUFFER = 0xFFFFF

#: Reply xid of a watch notification (server to client only).
NOTIFICATION_XID = -1
#: Xid of a ping request and its reply.
PING_XID = -2
#: Xid of an auth packet and its reply (answered out of order: the server handles it inline).
AUTH_XID = -4
#: Xid the C client puts on setWatches (the Java client sends an ordinary xid instead).
SET_WATCHES_XID = -8

#: Opcodes reserved for quorumd's extension operations (Chubby-style locks, ...).
EXTENSION_OPCODES = range(200, 220)


def jute_extra_allowance(max_buffer: int) -> int:
    """ZooKeeper's `zookeeper.jute.maxbuffer.extrasize`: defaults to maxbuffer, never < 1024.

    BinaryInputArchive lets a single buffer or string be up to maxbuffer + extra bytes
    (padding for "extra fields"); the frame length itself is bounded by maxbuffer alone.
    """
    return max(max_buffer, 1024)


class OpCode(IntEnum):
    """ZooDefs.OpCode (identical in 3.8.4, 3.9.3 and master); 10 is unused upstream."""

    NOTIFICATION = 0
    CREATE = 1
    DELETE = 2
    EXISTS = 3
    GET_DATA = 4
    SET_DATA = 5
    GET_ACL = 6
    SET_ACL = 7
    GET_CHILDREN = 8
    SYNC = 9
    PING = 11
    GET_CHILDREN2 = 12
    CHECK = 13
    MULTI = 14
    CREATE2 = 15
    RECONFIG = 16
    CHECK_WATCHES = 17
    REMOVE_WATCHES = 18
    CREATE_CONTAINER = 19
    DELETE_CONTAINER = 20
    CREATE_TTL = 21
    MULTI_READ = 22
    AUTH = 100
    SET_WATCHES = 101
    SASL = 102
    GET_EPHEMERALS = 103
    GET_ALL_CHILDREN_NUMBER = 104
    SET_WATCHES2 = 105
    ADD_WATCH = 106
    WHO_AM_I = 107
    CREATE_SESSION = -10
    CLOSE_SESSION = -11
    ERROR = -1


class CreateMode(IntEnum):
    """The `flags` of a create request (CreateMode.toFlag)."""

    PERSISTENT = 0
    EPHEMERAL = 1
    PERSISTENT_SEQUENTIAL = 2
    EPHEMERAL_SEQUENTIAL = 3
    CONTAINER = 4
    PERSISTENT_WITH_TTL = 5
    PERSISTENT_SEQUENTIAL_WITH_TTL = 6

    @property
    def ephemeral(self) -> bool:
        return self in (CreateMode.EPHEMERAL, CreateMode.EPHEMERAL_SEQUENTIAL)

    @property
    def sequential(self) -> bool:
        return self in (
            CreateMode.PERSISTENT_SEQUENTIAL,
            CreateMode.EPHEMERAL_SEQUENTIAL,
            CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL,
        )

    @property
    def ttl(self) -> bool:
        return self in (CreateMode.PERSISTENT_WITH_TTL, CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL)


class EventType(IntEnum):
    """Watcher.Event.EventType: the `type` of a WatcherEvent."""

    NONE = -1
    NODE_CREATED = 1
    NODE_DELETED = 2
    NODE_DATA_CHANGED = 3
    NODE_CHILDREN_CHANGED = 4
    DATA_WATCH_REMOVED = 5
    CHILD_WATCH_REMOVED = 6
    PERSISTENT_WATCH_REMOVED = 7


class KeeperState(IntEnum):
    """Watcher.Event.KeeperState: the `state` of a WatcherEvent (servers send SYNC_CONNECTED)."""

    UNKNOWN = -1
    DISCONNECTED = 0
    NO_SYNC_CONNECTED = 1
    SYNC_CONNECTED = 3
    AUTH_FAILED = 4
    CONNECTED_READ_ONLY = 5
    SASL_AUTHENTICATED = 6
    CLOSED = 7
    EXPIRED = -112


class WatcherType(IntEnum):
    """The `type` of checkWatches/removeWatches."""

    CHILDREN = 1
    DATA = 2
    ANY = 3
    PERSISTENT = 4
    PERSISTENT_RECURSIVE = 5


class AddWatchMode(IntEnum):
    """The `mode` of addWatch."""

    PERSISTENT = 0
    PERSISTENT_RECURSIVE = 1


class Perms(IntFlag):
    """ZooDefs.Perms: the bits of an ACL entry."""

    READ = 1
    WRITE = 2
    CREATE = 4
    DELETE = 8
    ADMIN = 16
    ALL = 31
