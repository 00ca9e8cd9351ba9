"""Jute records of the ZooKeeper 3.8 client protocol, as slotted dataclasses.

Each record mirrors a class of zookeeper.jute field for field, in order, and has
`encode(w: Writer)` and `decode(r: Reader)`. Nullable jute strings and buffers are read
as "" and b"" (rule 2 of `jute`); null vectors as (). Which record a request or reply of
a given opcode carries is in `REQUEST_RECORDS` / `RESPONSE_RECORDS` (None = no body);
the multi encoding lives in `multi`, the watch/session/control records in `control`.

Records are values. Headers, handshake and ACL records are frozen. Stat and the data
operation records, built for every request and reply on both sides of a connection,
are instead non-frozen with every field `Final`: mypy --strict refuses an assignment
just as it does on a frozen class, `unsafe_hash` keeps them hashable, and construction
skips the frozen `__init__`'s `object.__setattr__` per field (an 11-field Stat was
several times dearer frozen; bench/apply_path.py).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final, Self

from quorumd.wire.jute import Reader, Writer

__all__ = [
    "ACL",
    "CheckVersionRequest",
    "ClientInfo",
    "ConnectRequest",
    "ConnectResponse",
    "Create2Response",
    "CreateRequest",
    "CreateResponse",
    "CreateTTLRequest",
    "DeleteRequest",
    "ErrorResponse",
    "ExistsRequest",
    "ExistsResponse",
    "GetACLRequest",
    "GetACLResponse",
    "GetChildren2Request",
    "GetChildren2Response",
    "GetChildrenRequest",
    "GetChildrenResponse",
    "GetDataRequest",
    "GetDataResponse",
    "Id",
    "ReplyHeader",
    "RequestHeader",
    "SetACLRequest",
    "SetACLResponse",
    "SetDataRequest",
    "SetDataResponse",
    "Stat",
    "SyncRequest",
    "SyncResponse",
    "WatcherEvent",
]

_STAT = struct.Struct(">qqqqiiiqiiq")
_REQUEST_HEADER = struct.Struct(">ii")
_REPLY_HEADER = struct.Struct(">iqi")
_CONNECT_REQUEST_HEAD = struct.Struct(">iqiq")
_CONNECT_RESPONSE_HEAD = struct.Struct(">iiq")
_INT_INT = struct.Struct(">ii")

# Smallest encodings, used to reject absurd vector counts before reading elements.
ACL_MIN_SIZE = 12  # perms + two string lengths
CLIENT_INFO_MIN_SIZE = 8


# --------------------------------------------------------------------------- data records


@dataclass(frozen=True, slots=True)
class Id:
    scheme: str
    id: str

    def encode(self, w: Writer) -> None:
        w.write_ustring(self.scheme)
        w.write_ustring(self.id)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(r.read_ustring(), r.read_ustring())


@dataclass(frozen=True, slots=True)
class ACL:
    perms: int
    id: Id

    def encode(self, w: Writer) -> None:
        w.write_int(self.perms)
        w.write_ustring(self.id.scheme)
        w.write_ustring(self.id.id)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(r.read_int(), Id(r.read_ustring(), r.read_ustring()))


def write_acls(w: Writer, acls: tuple[ACL, ...]) -> None:
    w.write_int(len(acls))
    for acl in acls:
        acl.encode(w)


#: ZooDefs.Ids.OPEN_ACL_UNSAFE: world:anyone with every permission.
OPEN_ACL: tuple[ACL, ...] = (ACL(31, Id("world", "anyone")),)


def _encoded_open_acl() -> bytes:
    w = Writer()
    write_acls(w, OPEN_ACL)
    return bytes(w.buf)


_OPEN_ACL_BYTES = _encoded_open_acl()


def read_acls(r: Reader) -> tuple[ACL, ...]:
    # Nearly every create carries OPEN_ACL_UNSAFE (world:anyone, all perms): recognise its
    # exact bytes and hand back one shared tuple instead of decoding it every time.
    if r.startswith(_OPEN_ACL_BYTES):
        r.pos += len(_OPEN_ACL_BYTES)
        return OPEN_ACL
    return r.read_vector(ACL.decode, ACL_MIN_SIZE)


@dataclass(slots=True, unsafe_hash=True)
class Stat:
    """A znode's metadata as the client sees it (68 bytes on the wire)."""

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

    def encode(self, w: Writer) -> None:
        w.buf += _STAT.pack(
            self.czxid, self.mzxid, self.ctime, self.mtime, self.version, self.cversion,
            self.aversion, self.ephemeral_owner, self.data_length, self.num_children,
            self.pzxid,
        )  # fmt: skip

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(*r.read_struct(_STAT))


@dataclass(frozen=True, slots=True)
class ClientInfo:
    auth_scheme: str
    user: str

    def encode(self, w: Writer) -> None:
        w.write_ustring(self.auth_scheme)
        w.write_ustring(self.user)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(r.read_ustring(), r.read_ustring())


# --------------------------------------------------------------------- headers, handshake


@dataclass(frozen=True, slots=True)
class RequestHeader:
    xid: int
    type: int

    def encode(self, w: Writer) -> None:
        w.buf += _REQUEST_HEADER.pack(self.xid, self.type)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(*r.read_struct(_REQUEST_HEADER))


@dataclass(frozen=True, slots=True)
class ReplyHeader:
    xid: int
    zxid: int
    err: int

    def encode(self, w: Writer) -> None:
        w.buf += _REPLY_HEADER.pack(self.xid, self.zxid, self.err)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(*r.read_struct(_REPLY_HEADER))


@dataclass(frozen=True, slots=True)
class ConnectRequest:
    """The first frame of a session connection (no RequestHeader).

    `read_only` is None when the client omitted the byte (44-byte pre-3.4 form; 45 with
    it): the server answers in the same form. Bytes after it are ignored, as ZooKeeper
    does.
    """

    protocol_version: int
    last_zxid_seen: int
    timeout_ms: int
    session_id: int
    passwd: bytes
    read_only: bool | None = False

    def encode(self, w: Writer) -> None:
        w.buf += _CONNECT_REQUEST_HEAD.pack(
            self.protocol_version, self.last_zxid_seen, self.timeout_ms, self.session_id
        )
        w.write_buffer(self.passwd)
        if self.read_only is not None:
            w.write_bool(self.read_only)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        version, last_zxid, timeout_ms, session_id = r.read_struct(_CONNECT_REQUEST_HEAD)
        passwd = r.read_buffer()
        read_only = r.read_bool() if r.remaining > 0 else None
        return cls(version, last_zxid, timeout_ms, session_id, passwd, read_only)


@dataclass(frozen=True, slots=True)
class ConnectResponse:
    """The server's first frame. `timeout_ms` 0 means the session is expired/invalid."""

    protocol_version: int
    timeout_ms: int
    session_id: int
    passwd: bytes
    read_only: bool | None = False

    def encode(self, w: Writer) -> None:
        w.buf += _CONNECT_RESPONSE_HEAD.pack(
            self.protocol_version, self.timeout_ms, self.session_id
        )
        w.write_buffer(self.passwd)
        if self.read_only is not None:
            w.write_bool(self.read_only)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        version, timeout_ms, session_id = r.read_struct(_CONNECT_RESPONSE_HEAD)
        passwd = r.read_buffer()
        read_only = r.read_bool() if r.remaining > 0 else None
        return cls(version, timeout_ms, session_id, passwd, read_only)


@dataclass(frozen=True, slots=True)
class WatcherEvent:
    type: int
    state: int
    path: str

    def encode(self, w: Writer) -> None:
        w.buf += _INT_INT.pack(self.type, self.state)
        w.write_ustring(self.path)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        event_type, state = r.read_struct(_INT_INT)
        return cls(event_type, state, r.read_ustring())


@dataclass(frozen=True, slots=True)
class ErrorResponse:
    err: int

    def encode(self, w: Writer) -> None:
        w.write_int(self.err)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(r.read_int())


# ----------------------------------------------------------------------- data operations


@dataclass(slots=True, unsafe_hash=True)
class CreateRequest:
    """create (1), create2 (15) and createContainer (19) all carry this record."""

    path: Final[str]
    data: Final[bytes]
    acl: Final[tuple[ACL, ...]]
    flags: Final[int]

    def encode(self, w: Writer) -> None:
        w.write_ustring(self.path)
        w.write_buffer(self.data)
        write_acls(w, self.acl)
        w.write_int(self.flags)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(r.read_ustring(), r.read_buffer(), read_acls(r), r.read_int())


@dataclass(slots=True, unsafe_hash=True)
class CreateTTLRequest:
    path: Final[str]
    data: Final[bytes]
    acl: Final[tuple[ACL, ...]]
    flags: Final[int]
    ttl: Final[int]

    def encode(self, w: Writer) -> None:
        w.write_ustring(self.path)
        w.write_buffer(self.data)
        write_acls(w, self.acl)
        w.write_int(self.flags)
        w.write_long(self.ttl)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(r.read_ustring(), r.read_buffer(), read_acls(r), r.read_int(), r.read_long())


@dataclass(slots=True, unsafe_hash=True)
class CreateResponse:
    path: Final[str]

    def encode(self, w: Writer) -> None:
        w.write_ustring(self.path)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(r.read_ustring())


@dataclass(slots=True, unsafe_hash=True)
class Create2Response:
    path: Final[str]
    stat: Final[Stat]

    def encode(self, w: Writer) -> None:
        w.write_ustring(self.path)
        self.stat.encode(w)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(r.read_ustring(), Stat.decode(r))


@dataclass(slots=True, unsafe_hash=True)
class _PathVersion:
    """Shared shape of delete and check: a path and an expected version (-1 = any)."""

    path: Final[str]
    version: Final[int]

    def encode(self, w: Writer) -> None:
        w.write_ustring(self.path)
        w.write_int(self.version)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(r.read_ustring(), r.read_int())


@dataclass(slots=True, unsafe_hash=True)
class DeleteRequest(_PathVersion):
    pass


@dataclass(slots=True, unsafe_hash=True)
class CheckVersionRequest(_PathVersion):
    pass


@dataclass(slots=True, unsafe_hash=True)
class _PathWatch:
    """Shared shape of the reads that can leave a watch."""

    path: Final[str]
    watch: Final[bool]

    def encode(self, w: Writer) -> None:
        w.write_ustring(self.path)
        w.write_bool(self.watch)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(r.read_ustring(), r.read_bool())


@dataclass(slots=True, unsafe_hash=True)
class ExistsRequest(_PathWatch):
    pass


@dataclass(slots=True, unsafe_hash=True)
class GetDataRequest(_PathWatch):
    pass


@dataclass(slots=True, unsafe_hash=True)
class GetChildrenRequest(_PathWatch):
    pass


@dataclass(slots=True, unsafe_hash=True)
class GetChildren2Request(_PathWatch):
    pass


@dataclass(slots=True, unsafe_hash=True)
class _PathOnly:
    path: Final[str]

    def encode(self, w: Writer) -> None:
        w.write_ustring(self.path)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(r.read_ustring())


@dataclass(slots=True, unsafe_hash=True)
class GetACLRequest(_PathOnly):
    pass


@dataclass(slots=True, unsafe_hash=True)
class SyncRequest(_PathOnly):
    pass


@dataclass(slots=True, unsafe_hash=True)
class SyncResponse(_PathOnly):
    pass


@dataclass(slots=True, unsafe_hash=True)
class _StatOnly:
    stat: Final[Stat]

    def encode(self, w: Writer) -> None:
        self.stat.encode(w)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(Stat.decode(r))


@dataclass(slots=True, unsafe_hash=True)
class ExistsResponse(_StatOnly):
    pass


@dataclass(slots=True, unsafe_hash=True)
class SetDataResponse(_StatOnly):
    pass


@dataclass(slots=True, unsafe_hash=True)
class SetACLResponse(_StatOnly):
    pass


@dataclass(slots=True, unsafe_hash=True)
class GetDataResponse:
    """Reply to getData (4), and to reconfig (16) with the new configuration as data."""

    data: Final[bytes]
    stat: Final[Stat]

    def encode(self, w: Writer) -> None:
        w.write_buffer(self.data)
        self.stat.encode(w)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(r.read_buffer(), Stat.decode(r))


@dataclass(slots=True, unsafe_hash=True)
class SetDataRequest:
    path: Final[str]
    data: Final[bytes]
    version: Final[int]

    def encode(self, w: Writer) -> None:
        w.write_ustring(self.path)
        w.write_buffer(self.data)
        w.write_int(self.version)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(r.read_ustring(), r.read_buffer(), r.read_int())


@dataclass(slots=True, unsafe_hash=True)
class GetACLResponse:
    acl: Final[tuple[ACL, ...]]
    stat: Final[Stat]

    def encode(self, w: Writer) -> None:
        write_acls(w, self.acl)
        self.stat.encode(w)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(read_acls(r), Stat.decode(r))


@dataclass(slots=True, unsafe_hash=True)
class SetACLRequest:
    path: Final[str]
    acl: Final[tuple[ACL, ...]]
    version: Final[int]

    def encode(self, w: Writer) -> None:
        w.write_ustring(self.path)
        write_acls(w, self.acl)
        w.write_int(self.version)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(r.read_ustring(), read_acls(r), r.read_int())


@dataclass(slots=True, unsafe_hash=True)
class GetChildrenResponse:
    children: Final[tuple[str, ...]]

    def encode(self, w: Writer) -> None:
        w.write_ustring_vector(self.children)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(r.read_ustring_vector())


@dataclass(slots=True, unsafe_hash=True)
class GetChildren2Response:
    children: Final[tuple[str, ...]]
    stat: Final[Stat]

    def encode(self, w: Writer) -> None:
        w.write_ustring_vector(self.children)
        self.stat.encode(w)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(r.read_ustring_vector(), Stat.decode(r))
