"""A driver for tests: numbers zxids, round-trips every txn through the codec and
checks the machine's invariants after every apply."""

from __future__ import annotations

from quorumd.machine import (
    OPEN_ACL_UNSAFE,
    Applied,
    Create,
    CreateSession,
    Op,
    StateMachine,
    Txn,
    decode_txn,
    encode_txn,
)

OPEN = OPEN_ACL_UNSAFE


class Driver:
    def __init__(self, machine: StateMachine | None = None, time_ms: int = 1_000) -> None:
        self.machine = machine if machine is not None else StateMachine()
        self.zxid = self.machine.last_zxid
        self.time_ms = time_ms

    def apply(self, op: Op, session_id: int = 1, time_ms: int | None = None) -> Applied:
        self.zxid += 1
        txn = Txn(session_id, self.time_ms if time_ms is None else time_ms, 7, self.zxid, op)
        assert decode_txn(encode_txn(txn)) == txn
        applied = self.machine.apply(self.zxid, txn)
        self.machine.check_invariants()
        return applied

    def ok(self, op: Op, session_id: int = 1, time_ms: int | None = None) -> object:
        """Apply and insist it succeeded; returns the result."""
        result = self.apply(op, session_id, time_ms).result
        assert not isinstance(result, Exception), result
        return result

    def session(self, session_id: int = 1, timeout_ms: int = 10_000) -> None:
        self.ok(CreateSession(session_id, bytes(16), timeout_ms), session_id=0)

    def create(self, path: str, data: bytes = b"", mode: int = 0, session_id: int = 1) -> str:
        result = self.ok(Create(path, data, OPEN, mode), session_id)
        return result.path  # type: ignore[attr-defined,no-any-return]
