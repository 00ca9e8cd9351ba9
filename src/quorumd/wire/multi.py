"""multi (14) and multiRead (22): ZooKeeper's hand-rolled list encoding.

A request is a sequence of `MultiHeader{type, done=false, err=-1}` + op record,
terminated by `MultiHeader{-1, true, -1}`. A response is the same shape with one result
per op: `MultiHeader{type, false, 0}` + result record, or for a failed (or rolled back)
op `MultiHeader{-1, false, err}` + `ErrorResponse{err}`; same terminator. (ZooKeeper's
MultiOperationRecord / MultiResponse.) delete and check results have no record.

Requests accept any op of multi or multiRead: refusing a mix is the state machine's
job, as in ZooKeeper where it is a semantic error, not a framing one.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Self

from quorumd.wire.constants import OpCode
from quorumd.wire.errors import MalformedFrame
from quorumd.wire.jute import Reader, Writer
from quorumd.wire.records import (
    CheckVersionRequest,
    Create2Response,
    CreateRequest,
    CreateResponse,
    CreateTTLRequest,
    DeleteRequest,
    GetChildrenRequest,
    GetChildrenResponse,
    GetDataRequest,
    GetDataResponse,
    SetDataRequest,
    SetDataResponse,
)

__all__ = [
    "CheckResult",
    "DeleteResult",
    "ErrorResult",
    "MultiHeader",
    "MultiOp",
    "MultiOpRequest",
    "MultiRequest",
    "MultiResponse",
    "MultiResult",
]

_MULTI_HEADER = struct.Struct(">iBi")
_TERMINATOR = _MULTI_HEADER.pack(-1, 1, -1)


@dataclass(frozen=True, slots=True)
class MultiHeader:
    type: int
    done: bool
    err: int

    def encode(self, w: Writer) -> None:
        w.buf += _MULTI_HEADER.pack(self.type, 1 if self.done else 0, self.err)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        op, done, err = r.read_struct(_MULTI_HEADER)
        return cls(op, done != 0, err)


MultiOpRequest = (
    CreateRequest
    | CreateTTLRequest
    | DeleteRequest
    | SetDataRequest
    | CheckVersionRequest
    | GetChildrenRequest
    | GetDataRequest
)

_OP_RECORDS: dict[int, type[MultiOpRequest]] = {
    OpCode.CREATE: CreateRequest,
    OpCode.CREATE2: CreateRequest,
    OpCode.CREATE_CONTAINER: CreateRequest,
    OpCode.CREATE_TTL: CreateTTLRequest,
    OpCode.DELETE: DeleteRequest,
    OpCode.SET_DATA: SetDataRequest,
    OpCode.CHECK: CheckVersionRequest,
    OpCode.GET_CHILDREN: GetChildrenRequest,
    OpCode.GET_DATA: GetDataRequest,
}


@dataclass(frozen=True, slots=True)
class MultiOp:
    """One op of a multi: the opcode is explicit because create, create2 and
    createContainer share CreateRequest."""

    opcode: OpCode
    request: MultiOpRequest


@dataclass(frozen=True, slots=True)
class MultiRequest:
    ops: tuple[MultiOp, ...]

    def encode(self, w: Writer) -> None:
        buf = w.buf
        for op in self.ops:
            buf += _MULTI_HEADER.pack(op.opcode, 0, -1)
            op.request.encode(w)
        buf += _TERMINATOR

    @classmethod
    def decode(cls, r: Reader) -> Self:
        ops: list[MultiOp] = []
        while True:
            op, done, _err = r.read_struct(_MULTI_HEADER)
            if done:
                return cls(tuple(ops))
            record = _OP_RECORDS.get(op)
            if record is None:
                raise MalformedFrame(f"opcode {op} is not allowed inside multi")
            ops.append(MultiOp(OpCode(op), record.decode(r)))


@dataclass(frozen=True, slots=True)
class DeleteResult:
    """A delete inside a multi succeeded (no record on the wire)."""


@dataclass(frozen=True, slots=True)
class CheckResult:
    """A check inside a multi succeeded (no record on the wire)."""


@dataclass(frozen=True, slots=True)
class ErrorResult:
    """An op of a failed multi: its own error code, 0 for ops before the failure and
    RUNTIMEINCONSISTENCY after it (ZooKeeper's convention, decided by the machine)."""

    err: int


MultiResult = (
    CreateResponse
    | Create2Response
    | DeleteResult
    | SetDataResponse
    | CheckResult
    | GetChildrenResponse
    | GetDataResponse
    | ErrorResult
)

_RESULT_OPCODES: dict[type[MultiResult], int] = {
    CreateResponse: OpCode.CREATE,
    Create2Response: OpCode.CREATE2,
    DeleteResult: OpCode.DELETE,
    SetDataResponse: OpCode.SET_DATA,
    CheckResult: OpCode.CHECK,
    GetChildrenResponse: OpCode.GET_CHILDREN,
    GetDataResponse: OpCode.GET_DATA,
    ErrorResult: OpCode.ERROR,
}


@dataclass(frozen=True, slots=True)
class MultiResponse:
    results: tuple[MultiResult, ...]

    def encode(self, w: Writer) -> None:
        buf = w.buf
        for result in self.results:
            op = _RESULT_OPCODES[type(result)]
            if isinstance(result, ErrorResult):
                buf += _MULTI_HEADER.pack(op, 0, result.err)
                w.write_int(result.err)
            elif isinstance(result, DeleteResult | CheckResult):
                buf += _MULTI_HEADER.pack(op, 0, 0)
            else:
                buf += _MULTI_HEADER.pack(op, 0, 0)
                result.encode(w)
        buf += _TERMINATOR

    @classmethod
    def decode(cls, r: Reader) -> Self:
        results: list[MultiResult] = []
        append = results.append
        while True:
            op, done, _err = r.read_struct(_MULTI_HEADER)
            if done:
                return cls(tuple(results))
            if op == OpCode.ERROR:
                append(ErrorResult(r.read_int()))
            elif op == OpCode.DELETE:
                append(DeleteResult())
            elif op == OpCode.CHECK:
                append(CheckResult())
            elif op == OpCode.CREATE:
                append(CreateResponse.decode(r))
            elif op == OpCode.CREATE2:
                append(Create2Response.decode(r))
            elif op == OpCode.SET_DATA:
                append(SetDataResponse.decode(r))
            elif op == OpCode.GET_CHILDREN:
                append(GetChildrenResponse.decode(r))
            elif op == OpCode.GET_DATA:
                append(GetDataResponse.decode(r))
            else:
                raise MalformedFrame(f"opcode {op} is not a valid multi result")
