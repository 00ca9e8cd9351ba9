"""`client.transaction()`: build a multi op by op, commit it atomically.

ZooKeeper applies all ops of a multi or none. A failed commit raises the typed error
of the op that failed (its message names the op and its index); the
ops before it report 0 and those after it RUNTIMEINCONSISTENCY, which tells nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from quorumd.errors import RuntimeInconsistency, ZKError, error_for_code
from quorumd.wire import (
    ACL,
    CheckResult,
    CheckVersionRequest,
    Create2Response,
    CreateRequest,
    CreateResponse,
    DeleteRequest,
    DeleteResult,
    ErrorResult,
    MultiOp,
    MultiResult,
    OpCode,
    SetDataRequest,
    SetDataResponse,
    Stat,
)

__all__ = ["Transaction", "TransactionResult", "multi_results"]

TransactionResult = str | Stat | bool


def create_flags(ephemeral: bool, sequential: bool) -> int:
    return (1 if ephemeral else 0) | (2 if sequential else 0)


def multi_results(
    ops: Sequence[MultiOp], results: Sequence[MultiResult]
) -> list[TransactionResult]:
    """Each op's outcome; the first real failure raised as its typed error."""
    out: list[TransactionResult] = []
    for index, result in enumerate(results):
        if isinstance(result, ErrorResult):
            if result.err in (0, RuntimeInconsistency.code):
                continue
            path = getattr(ops[index].request, "path", "") if index < len(ops) else ""
            error: ZKError = error_for_code(result.err, f"{path} (op {index} of the multi)")
            raise error
        if isinstance(result, CreateResponse | Create2Response):
            out.append(result.path)
        elif isinstance(result, SetDataResponse):
            out.append(result.stat)
        elif isinstance(result, DeleteResult | CheckResult):
            out.append(True)
    return out


class Transaction:
    """A multi under construction; `await txn.commit()` sends it."""

    def __init__(
        self,
        commit: Callable[[Sequence[MultiOp]], Awaitable[list[TransactionResult]]],
        default_acl: tuple[ACL, ...],
    ) -> None:
        self._commit = commit
        self._acl = default_acl
        self.ops: list[MultiOp] = []

    def create(
        self,
        path: str,
        value: bytes = b"",
        acl: Sequence[ACL] | None = None,
        *,
        ephemeral: bool = False,
        sequential: bool = False,
    ) -> Transaction:
        acls = tuple(acl) if acl is not None else self._acl
        flags = create_flags(ephemeral, sequential)
        self.ops.append(MultiOp(OpCode.CREATE, CreateRequest(path, value, acls, flags)))
        return self

    def delete(self, path: str, version: int = -1) -> Transaction:
        self.ops.append(MultiOp(OpCode.DELETE, DeleteRequest(path, version)))
        return self

    def set_data(self, path: str, value: bytes, version: int = -1) -> Transaction:
        self.ops.append(MultiOp(OpCode.SET_DATA, SetDataRequest(path, value, version)))
        return self

    def check(self, path: str, version: int) -> Transaction:
        self.ops.append(MultiOp(OpCode.CHECK, CheckVersionRequest(path, version)))
        return self

    async def commit(self) -> list[TransactionResult]:
        return await self._commit(list(self.ops))
