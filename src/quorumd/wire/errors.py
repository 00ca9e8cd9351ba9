"""Typed failures of the wire codec: each one means "close this connection".

All are `ProtocolError`s (the peer misbehaved), distinct so the server can log a
precise reason and, for `UnknownOpcode`, answer the xid with UNIMPLEMENTED first.
"""

from __future__ import annotations

from quorumd.errors import ProtocolError

__all__ = ["FrameTooLarge", "MalformedFrame", "UnknownOpcode", "XidOutOfOrder"]


class MalformedFrame(ProtocolError):
    """A frame's bytes do not decode as the record they must hold (truncated, bad
    length, invalid UTF-8, trailing bytes, bad multi header...)."""


class FrameTooLarge(ProtocolError):
    """A frame length prefix is negative or above the connection's limit. Raised before
    any buffer of that size is allocated."""

    def __init__(self, length: int, limit: int) -> None:
        super().__init__(f"frame length {length} outside [0, {limit}]")
        self.length = length
        self.limit = limit


class UnknownOpcode(ProtocolError):
    """A request carried an opcode this codec cannot decode. `xid` lets the server
    answer that request (ZooKeeper replies UNIMPLEMENTED) before closing."""

    def __init__(self, xid: int, opcode: int) -> None:
        super().__init__(f"unknown opcode {opcode} (xid {xid})")
        self.xid = xid
        self.opcode = opcode


class XidOutOfOrder(ProtocolError):
    """A reply's xid is not the oldest pending request's (ZooKeeper answers in order;
    the Java client raises "Xid out of order" here too)."""

    def __init__(self, expected: int | None, got: int) -> None:
        super().__init__(f"reply xid {got} out of order (expected {expected})")
        self.expected = expected
        self.got = got
