"""Jute records for watches, auth, SASL, reconfig and the small 3.6+ session queries.

Same conventions as `records`: one frozen slotted dataclass per zookeeper.jute class,
fields in wire order, `encode(w)` / `decode(r)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from quorumd.wire.jute import Reader, Writer
from quorumd.wire.records import CLIENT_INFO_MIN_SIZE, ClientInfo

__all__ = [
    "AddWatchRequest",
    "AuthPacket",
    "CheckWatchesRequest",
    "GetAllChildrenNumberRequest",
    "GetAllChildrenNumberResponse",
    "GetEphemeralsRequest",
    "GetEphemeralsResponse",
    "GetSASLRequest",
    "ReconfigRequest",
    "RemoveWatchesRequest",
    "SetSASLResponse",
    "SetWatches",
    "SetWatches2",
    "WhoAmIResponse",
]


@dataclass(frozen=True, slots=True)
class _PathType:
    """Shared shape of checkWatches/removeWatches: a path and a `WatcherType`."""

    path: str
    type: int

    def encode(self, w: Writer) -> None:
        w.write_ustring(self.path)
        w.write_int(self.type)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(r.read_ustring(), r.read_int())


@dataclass(frozen=True, slots=True)
class CheckWatchesRequest(_PathType):
    pass


@dataclass(frozen=True, slots=True)
class RemoveWatchesRequest(_PathType):
    pass


@dataclass(frozen=True, slots=True)
class AddWatchRequest:
    """addWatch (106): `mode` is an `AddWatchMode` (0 persistent, 1 recursive)."""

    path: str
    mode: int

    def encode(self, w: Writer) -> None:
        w.write_ustring(self.path)
        w.write_int(self.mode)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(r.read_ustring(), r.read_int())


@dataclass(frozen=True, slots=True)
class AuthPacket:
    """auth (100), sent with xid -4. `type` is always 0 in practice."""

    type: int
    scheme: str
    auth: bytes

    def encode(self, w: Writer) -> None:
        w.write_int(self.type)
        w.write_ustring(self.scheme)
        w.write_buffer(self.auth)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(r.read_int(), r.read_ustring(), r.read_buffer())


@dataclass(frozen=True, slots=True)
class SetWatches:
    """setWatches (101): re-arms a reconnecting client's one-shot watches; the server
    fires at once those whose node changed after `relative_zxid`."""

    relative_zxid: int
    data_watches: tuple[str, ...]
    exist_watches: tuple[str, ...]
    child_watches: tuple[str, ...]

    def encode(self, w: Writer) -> None:
        w.write_long(self.relative_zxid)
        w.write_ustring_vector(self.data_watches)
        w.write_ustring_vector(self.exist_watches)
        w.write_ustring_vector(self.child_watches)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(
            r.read_long(), r.read_ustring_vector(), r.read_ustring_vector(), r.read_ustring_vector()
        )


@dataclass(frozen=True, slots=True)
class SetWatches2:
    """setWatches2 (105): setWatches plus persistent and persistent-recursive watches."""

    relative_zxid: int
    data_watches: tuple[str, ...]
    exist_watches: tuple[str, ...]
    child_watches: tuple[str, ...]
    persistent_watches: tuple[str, ...]
    persistent_recursive_watches: tuple[str, ...]

    def encode(self, w: Writer) -> None:
        w.write_long(self.relative_zxid)
        w.write_ustring_vector(self.data_watches)
        w.write_ustring_vector(self.exist_watches)
        w.write_ustring_vector(self.child_watches)
        w.write_ustring_vector(self.persistent_watches)
        w.write_ustring_vector(self.persistent_recursive_watches)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        zxid = r.read_long()
        read = r.read_ustring_vector
        return cls(zxid, read(), read(), read(), read(), read())


@dataclass(frozen=True, slots=True)
class _Token:
    token: bytes

    def encode(self, w: Writer) -> None:
        w.write_buffer(self.token)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(r.read_buffer())


@dataclass(frozen=True, slots=True)
class GetSASLRequest(_Token):
    """sasl (102) request: the client's SASL token."""


@dataclass(frozen=True, slots=True)
class SetSASLResponse(_Token):
    """sasl (102) reply: the server's SASL challenge."""


@dataclass(frozen=True, slots=True)
class ReconfigRequest:
    joining_servers: str
    leaving_servers: str
    new_members: str
    cur_config_id: int

    def encode(self, w: Writer) -> None:
        w.write_ustring(self.joining_servers)
        w.write_ustring(self.leaving_servers)
        w.write_ustring(self.new_members)
        w.write_long(self.cur_config_id)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(r.read_ustring(), r.read_ustring(), r.read_ustring(), r.read_long())


@dataclass(frozen=True, slots=True)
class GetEphemeralsRequest:
    prefix_path: str

    def encode(self, w: Writer) -> None:
        w.write_ustring(self.prefix_path)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(r.read_ustring())


@dataclass(frozen=True, slots=True)
class GetEphemeralsResponse:
    ephemerals: tuple[str, ...]

    def encode(self, w: Writer) -> None:
        w.write_ustring_vector(self.ephemerals)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(r.read_ustring_vector())


@dataclass(frozen=True, slots=True)
class GetAllChildrenNumberRequest:
    path: str

    def encode(self, w: Writer) -> None:
        w.write_ustring(self.path)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(r.read_ustring())


@dataclass(frozen=True, slots=True)
class GetAllChildrenNumberResponse:
    total_number: int

    def encode(self, w: Writer) -> None:
        w.write_int(self.total_number)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(r.read_int())


@dataclass(frozen=True, slots=True)
class WhoAmIResponse:
    client_info: tuple[ClientInfo, ...]

    def encode(self, w: Writer) -> None:
        w.write_int(len(self.client_info))
        for info in self.client_info:
            info.encode(w)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(r.read_vector(ClientInfo.decode, CLIENT_INFO_MIN_SIZE))
