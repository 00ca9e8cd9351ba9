"""One znode, kept small: a million of them must fit in a few hundred MB.

Memory rules (measured by bench/machine_memory.py):

1. `Node` has `__slots__` and only the fields ZooKeeper persists (StatPersisted);
   dataLength and numChildren are derived.
2. `children` is None for a leaf (an empty set costs ~200 bytes) and otherwise holds
   the children's *full paths* — the very string objects that key the node table, so
   a child name costs a pointer, not a second string.
3. ACL tuples are interned by the tree (ZooKeeper's ReferenceCountedACLCache idea):
   a million nodes with the same ACL share one tuple.
4. czxid/mzxid/pzxid and ctime/mtime start as the same int objects.

The ephemeralOwner encoding is ZooKeeper's (EphemeralType): 0 = persistent,
Long.MIN_VALUE = container, high byte 0xff + two zero bytes + 5-byte TTL in ms = TTL
node, anything else = the owning session id.
"""

from __future__ import annotations

import enum

from quorumd.machine.ops import ACL, Stat

__all__ = [
    "CONTAINER_EPHEMERAL_OWNER",
    "MAX_TTL_MS",
    "EphemeralType",
    "Node",
    "ephemeral_type",
    "int32",
    "next_version",
    "ttl_of",
    "ttl_owner",
]

CONTAINER_EPHEMERAL_OWNER = -(1 << 63)  # Long.MIN_VALUE
_EXTENDED_MASK = 0xFF00000000000000
_RESERVED_MASK = 0x00FFFF0000000000
MAX_TTL_MS = 0x000000FFFFFFFFFF  # 5 bytes of milliseconds: about 34 years
_U64 = (1 << 64) - 1


class EphemeralType(enum.Enum):
    VOID = "void"  # persistent
    NORMAL = "normal"  # owned by a session
    CONTAINER = "container"
    TTL = "ttl"


# Members read once: an enum member lookup is a descriptor call on CPython 3.11.
_VOID = EphemeralType.VOID
_NORMAL = EphemeralType.NORMAL
_CONTAINER = EphemeralType.CONTAINER
_TTL = EphemeralType.TTL


def ephemeral_type(owner: int) -> EphemeralType:
    if owner == 0:
        return _VOID
    if owner == CONTAINER_EPHEMERAL_OWNER:
        return _CONTAINER
    unsigned = owner & _U64
    if unsigned & _EXTENDED_MASK == _EXTENDED_MASK and unsigned & _RESERVED_MASK == 0:
        return _TTL
    return _NORMAL


def ttl_owner(ttl_ms: int) -> int:
    """The signed 64-bit ephemeralOwner of a TTL node (0 < ttl_ms <= MAX_TTL_MS)."""
    assert 0 < ttl_ms <= MAX_TTL_MS, ttl_ms
    return (_EXTENDED_MASK | ttl_ms) - (1 << 64)


def ttl_of(owner: int) -> int:
    return owner & MAX_TTL_MS


def int32(value: int) -> int:
    """Java int overflow: wrap into [-2**31, 2**31)."""
    return ((value + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def next_version(current: int) -> int:
    """PrepRequestProcessor.checkAndIncVersion: +1 with int wrap, skipping -1
    (ZOOKEEPER-4743: -1 means "any version" in requests)."""
    if -1 <= current < 0x7FFFFFFF:  # the common case: no wrap, and never -1
        return current + 1
    nxt = int32(current + 1)
    return 0 if nxt == -1 else nxt


class Node:
    __slots__ = (
        "acl",
        "aversion",
        "children",
        "ctime",
        "cversion",
        "czxid",
        "data",
        "ephemeral_owner",
        "mtime",
        "mzxid",
        "pzxid",
        "version",
    )

    def __init__(
        self, data: bytes, acl: tuple[ACL, ...], zxid: int, time_ms: int, owner: int
    ) -> None:
        self.data = data
        self.acl = acl
        self.children: set[str] | None = None
        self.czxid = self.mzxid = self.pzxid = zxid
        self.ctime = self.mtime = time_ms
        self.version = self.cversion = self.aversion = 0
        self.ephemeral_owner = owner

    def stat(self) -> Stat:
        children = self.children
        return Stat(  # positional, in Stat's field order: keywords cost ~1/3 more here
            self.czxid,
            self.mzxid,
            self.ctime,
            self.mtime,
            self.version,
            self.cversion,
            self.aversion,
            self.ephemeral_owner,
            len(self.data),
            len(children) if children else 0,
            self.pzxid,
        )

    def fields(self) -> tuple[bytes, tuple[ACL, ...], int, int, int, int, int, int, int, int]:
        """Everything but `children`, for undo records and snapshots."""
        return (
            self.data,
            self.acl,
            self.czxid,
            self.mzxid,
            self.pzxid,
            self.ctime,
            self.mtime,
            self.version,
            self.cversion,
            self.aversion,
        )

    def restore_fields(
        self, saved: tuple[bytes, tuple[ACL, ...], int, int, int, int, int, int, int, int]
    ) -> None:
        (
            self.data,
            self.acl,
            self.czxid,
            self.mzxid,
            self.pzxid,
            self.ctime,
            self.mtime,
            self.version,
            self.cversion,
            self.aversion,
        ) = saved
