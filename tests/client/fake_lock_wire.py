"""Stand-in for quorumd.wire.locks while it is being written: the records of
docs/design/locks.md, laid out as that document specifies. Used only by the unit
tests (through `quorumd.client._locks.WIRE_LOCKS_OVERRIDE`) when the real module is
absent, and by the fake server's lock table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from quorumd.wire import Reader, Writer

LOCK_ACQUIRE = 200
LOCK_RELEASE = 201
CHECK_SEQUENCER = 202
LOCK_INFO = 203
LOCK_GRANTED = 100


@dataclass(frozen=True, slots=True)
class LockAcquireRequest:
    path: str
    mode: int
    wait: bool
    lock_delay_ms: int

    def encode(self, w: Writer) -> None:
        w.write_ustring(self.path)
        w.write_int(self.mode)
        w.write_bool(self.wait)
        w.write_int(self.lock_delay_ms)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(r.read_ustring(), r.read_int(), r.read_bool(), r.read_int())


@dataclass(frozen=True, slots=True)
class LockAcquireResponse:
    status: int
    token: int
    position: int

    def encode(self, w: Writer) -> None:
        w.write_int(self.status)
        w.write_long(self.token)
        w.write_int(self.position)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(r.read_int(), r.read_long(), r.read_int())


@dataclass(frozen=True, slots=True)
class LockReleaseRequest:
    path: str

    def encode(self, w: Writer) -> None:
        w.write_ustring(self.path)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(r.read_ustring())


@dataclass(frozen=True, slots=True)
class LockInfoRequest(LockReleaseRequest):
    pass


@dataclass(frozen=True, slots=True)
class CheckSequencerRequest:
    path: str
    mode: int
    token: int

    def encode(self, w: Writer) -> None:
        w.write_ustring(self.path)
        w.write_int(self.mode)
        w.write_long(self.token)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(r.read_ustring(), r.read_int(), r.read_long())


@dataclass(frozen=True, slots=True)
class CheckSequencerResponse:
    valid: bool
    current_token: int

    def encode(self, w: Writer) -> None:
        w.write_bool(self.valid)
        w.write_long(self.current_token)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(r.read_bool(), r.read_long())


@dataclass(frozen=True, slots=True)
class LockInfoResponse:
    mode: int
    token: int
    holders: tuple[int, ...]
    waiters: tuple[int, ...]

    def encode(self, w: Writer) -> None:
        w.write_int(self.mode)
        w.write_long(self.token)
        for ids in (self.holders, self.waiters):
            w.write_int(len(ids))
            for i in ids:
                w.write_long(i)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        mode, token = r.read_int(), r.read_long()
        holders = tuple(r.read_long() for _ in range(r.read_int()))
        waiters = tuple(r.read_long() for _ in range(r.read_int()))
        return cls(mode, token, holders, waiters)


LOCK_EXTENSIONS = {
    LOCK_ACQUIRE: (LockAcquireRequest, LockAcquireResponse),
    LOCK_RELEASE: (LockReleaseRequest, None),
    CHECK_SEQUENCER: (CheckSequencerRequest, CheckSequencerResponse),
    LOCK_INFO: (LockInfoRequest, LockInfoResponse),
}
