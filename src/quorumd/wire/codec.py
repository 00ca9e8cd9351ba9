"""Which record each opcode carries, in each direction.

`REQUEST_RECORDS[op]` is the record class after a RequestHeader of type `op`, and
`RESPONSE_RECORDS[op]` the record after a ReplyHeader answering it with err == 0; None
means the frame has no body. An opcode missing from `REQUEST_RECORDS` is unknown to
the codec (createSession -10 and deleteContainer 20 are server-internal and stay
unknown: a client never sends them). quorumd extension ops are added per connection
through `RecordTables.with_extensions`, only inside `EXTENSION_OPCODES`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from quorumd.errors import UsageError
from quorumd.wire.constants import EXTENSION_OPCODES, OpCode
from quorumd.wire.control import (
    AddWatchRequest,
    AuthPacket,
    CheckWatchesRequest,
    GetAllChildrenNumberRequest,
    GetAllChildrenNumberResponse,
    GetEphemeralsRequest,
    GetEphemeralsResponse,
    GetSASLRequest,
    ReconfigRequest,
    RemoveWatchesRequest,
    SetSASLResponse,
    SetWatches,
    SetWatches2,
    WhoAmIResponse,
)
from quorumd.wire.jute import Reader, Writer
from quorumd.wire.multi import MultiRequest, MultiResponse
from quorumd.wire.records import (
    CheckVersionRequest,
    Create2Response,
    CreateRequest,
    CreateResponse,
    CreateTTLRequest,
    DeleteRequest,
    ExistsRequest,
    ExistsResponse,
    GetACLRequest,
    GetACLResponse,
    GetChildren2Request,
    GetChildren2Response,
    GetChildrenRequest,
    GetChildrenResponse,
    GetDataRequest,
    GetDataResponse,
    SetACLRequest,
    SetACLResponse,
    SetDataRequest,
    SetDataResponse,
    SyncRequest,
    SyncResponse,
)

__all__ = ["REQUEST_RECORDS", "RESPONSE_RECORDS", "Record", "RecordTables", "RecordType"]


class Record(Protocol):
    """Anything that writes itself as a jute record."""

    def encode(self, w: Writer, /) -> None: ...


class RecordType(Protocol):
    """A record class: `decode` builds an instance from a reader."""

    def decode(self, r: Reader, /) -> Record: ...


REQUEST_RECORDS: Mapping[int, RecordType | None] = {
    OpCode.CREATE: CreateRequest,
    OpCode.DELETE: DeleteRequest,
    OpCode.EXISTS: ExistsRequest,
    OpCode.GET_DATA: GetDataRequest,
    OpCode.SET_DATA: SetDataRequest,
    OpCode.GET_ACL: GetACLRequest,
    OpCode.SET_ACL: SetACLRequest,
    OpCode.GET_CHILDREN: GetChildrenRequest,
    OpCode.SYNC: SyncRequest,
    OpCode.PING: None,
    OpCode.GET_CHILDREN2: GetChildren2Request,
    OpCode.CHECK: CheckVersionRequest,
    OpCode.MULTI: MultiRequest,
    OpCode.CREATE2: CreateRequest,
    OpCode.RECONFIG: ReconfigRequest,
    OpCode.CHECK_WATCHES: CheckWatchesRequest,
    OpCode.REMOVE_WATCHES: RemoveWatchesRequest,
    OpCode.CREATE_CONTAINER: CreateRequest,
    OpCode.CREATE_TTL: CreateTTLRequest,
    OpCode.MULTI_READ: MultiRequest,
    OpCode.AUTH: AuthPacket,
    OpCode.SET_WATCHES: SetWatches,
    OpCode.SASL: GetSASLRequest,
    OpCode.GET_EPHEMERALS: GetEphemeralsRequest,
    OpCode.GET_ALL_CHILDREN_NUMBER: GetAllChildrenNumberRequest,
    OpCode.SET_WATCHES2: SetWatches2,
    OpCode.ADD_WATCH: AddWatchRequest,
    OpCode.WHO_AM_I: None,
    OpCode.CLOSE_SESSION: None,
}

RESPONSE_RECORDS: Mapping[int, RecordType | None] = {
    OpCode.CREATE: CreateResponse,
    OpCode.DELETE: None,
    OpCode.EXISTS: ExistsResponse,
    OpCode.GET_DATA: GetDataResponse,
    OpCode.SET_DATA: SetDataResponse,
    OpCode.GET_ACL: GetACLResponse,
    OpCode.SET_ACL: SetACLResponse,
    OpCode.GET_CHILDREN: GetChildrenResponse,
    OpCode.SYNC: SyncResponse,
    OpCode.PING: None,
    OpCode.GET_CHILDREN2: GetChildren2Response,
    OpCode.CHECK: None,
    OpCode.MULTI: MultiResponse,
    OpCode.CREATE2: Create2Response,
    OpCode.RECONFIG: GetDataResponse,
    OpCode.CHECK_WATCHES: None,
    OpCode.REMOVE_WATCHES: None,
    OpCode.CREATE_CONTAINER: Create2Response,
    OpCode.CREATE_TTL: Create2Response,
    OpCode.MULTI_READ: MultiResponse,
    OpCode.AUTH: None,
    OpCode.SET_WATCHES: None,
    OpCode.SASL: SetSASLResponse,
    OpCode.GET_EPHEMERALS: GetEphemeralsResponse,
    OpCode.GET_ALL_CHILDREN_NUMBER: GetAllChildrenNumberResponse,
    OpCode.SET_WATCHES2: None,
    OpCode.ADD_WATCH: None,
    OpCode.WHO_AM_I: WhoAmIResponse,
    OpCode.CLOSE_SESSION: None,
}

_OPCODES: dict[int, OpCode] = {int(op): op for op in OpCode}


@dataclass(frozen=True, slots=True)
class RecordTables:
    """The opcode tables one connection uses: the ZooKeeper ones plus any extensions."""

    requests: Mapping[int, RecordType | None] = field(default_factory=lambda: REQUEST_RECORDS)
    responses: Mapping[int, RecordType | None] = field(default_factory=lambda: RESPONSE_RECORDS)

    def with_extensions(
        self, extensions: Mapping[int, tuple[RecordType | None, RecordType | None]]
    ) -> RecordTables:
        """Add quorumd ops: `{opcode: (request record, response record)}`, each opcode
        in `EXTENSION_OPCODES` (200-219), so a ZooKeeper opcode can never be shadowed."""
        requests = dict(self.requests)
        responses = dict(self.responses)
        for opcode, (request, response) in extensions.items():
            if opcode not in EXTENSION_OPCODES:
                raise UsageError(f"extension opcode {opcode} outside {EXTENSION_OPCODES}")
            requests[opcode] = request
            responses[opcode] = response
        return RecordTables(requests, responses)


def opcode_of(value: int) -> int:
    """The `OpCode` member for a ZooKeeper opcode, the plain int for an extension."""
    return _OPCODES.get(value, value)


def check_record(
    kind: str, opcode: int, record: object, table: Mapping[int, RecordType | None]
) -> None:
    """Refuse to send a record that the peer would decode as something else: a bug in
    the caller, caught here rather than as a confused peer."""
    try:
        expected = table[opcode]
    except KeyError:
        raise UsageError(f"no {kind} record is known for opcode {opcode}") from None
    if expected is None:
        if record is not None:
            raise UsageError(f"opcode {opcode} {kind} has no body, got {type(record).__name__}")
    elif type(record) is not expected:  # type: ignore[comparison-overlap]
        raise UsageError(
            f"opcode {opcode} {kind} needs {getattr(expected, '__name__', expected)}, "
            f"got {type(record).__name__}"
        )
