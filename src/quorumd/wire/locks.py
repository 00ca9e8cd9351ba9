"""quorumd's lock extension: jute records for opcodes 200-203 (docs/design/locks.md).

Plain ZooKeeper clients never send these opcodes; a connection understands them only
when built with `extensions=LOCK_EXTENSIONS` (both sides). Records follow the style of
`records`: frozen slotted dataclasses, fields in the order of the table in locks.md,
`encode(w)` / `decode(r)`.

    opcode 200 lockAcquire    LockAcquireRequest{ustring path; int mode; boolean wait;
                                                 int lockDelayMs}
                              LockAcquireResponse{int status; long token; int position}
    opcode 201 lockRelease    LockReleaseRequest{ustring path}        (empty response)
    opcode 202 checkSequencer CheckSequencerRequest{ustring path; int mode; long token}
                              CheckSequencerResponse{boolean valid; long currentToken}
    opcode 203 lockInfo       LockInfoRequest{ustring path}
                              LockInfoResponse{int mode; long token; vector<long> holders;
                                               vector<long> waiters}

A queued waiter learns of its grant from a notification (xid -1) carrying
`WatcherEvent{type=LOCK_GRANTED, state=3 (SyncConnected), path}`. Errors travel as
ZooKeeper codes: a busy try-lock is NODEEXISTS (-110), releasing a lock the session
neither holds nor waits on NONODE (-101), acquiring one twice BADARGUMENTS (-8).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Self

from quorumd.wire.codec import RecordType
from quorumd.wire.jute import Reader, Writer

__all__ = [
    "DEFAULT_LOCK_DELAY",
    "LOCK_EXTENSIONS",
    "LOCK_FREE",
    "LOCK_GRANTED",
    "CheckSequencerRequest",
    "CheckSequencerResponse",
    "LockAcquireRequest",
    "LockAcquireResponse",
    "LockInfoRequest",
    "LockInfoResponse",
    "LockMode",
    "LockOpCode",
    "LockReleaseRequest",
    "LockStatus",
]

#: WatcherEvent.type of a lock-granted notification (outside ZooKeeper's event types).
LOCK_GRANTED = 100
#: `lockDelayMs` meaning "the server's default lock-delay".
DEFAULT_LOCK_DELAY = -1
#: `LockInfoResponse.mode` of a lock nobody holds.
LOCK_FREE = -1


class LockOpCode(enum.IntEnum):
    LOCK_ACQUIRE = 200
    LOCK_RELEASE = 201
    CHECK_SEQUENCER = 202
    LOCK_INFO = 203


LOCK_ACQUIRE = LockOpCode.LOCK_ACQUIRE
LOCK_RELEASE = LockOpCode.LOCK_RELEASE
CHECK_SEQUENCER = LockOpCode.CHECK_SEQUENCER
LOCK_INFO = LockOpCode.LOCK_INFO


class LockMode(enum.IntEnum):
    EXCLUSIVE = 0
    SHARED = 1


class LockStatus(enum.IntEnum):
    """LockAcquireResponse.status."""

    GRANTED = 0
    QUEUED = 1


def _write_longs(w: Writer, values: tuple[int, ...]) -> None:
    w.write_int(len(values))
    for value in values:
        w.write_long(value)


def _read_longs(r: Reader) -> tuple[int, ...]:
    return r.read_vector(Reader.read_long, 8)


@dataclass(frozen=True, slots=True)
class LockAcquireRequest:
    """`wait=False` is a try-lock; `lock_delay_ms` -1 asks for the server default."""

    path: str
    mode: int
    wait: bool
    lock_delay_ms: int = DEFAULT_LOCK_DELAY

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
    """GRANTED: `token` is the fencing token. QUEUED: `token` 0 and `position` the
    1-based place in the queue; a LOCK_GRANTED notification follows the grant."""

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
    """Release a held lock, or stop waiting for it."""

    path: str

    def encode(self, w: Writer) -> None:
        w.write_ustring(self.path)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(r.read_ustring())


@dataclass(frozen=True, slots=True)
class CheckSequencerRequest:
    """A resource server asks whether a sequencer (path, mode, token) is still current."""

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
class LockInfoRequest:
    path: str

    def encode(self, w: Writer) -> None:
        w.write_ustring(self.path)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(r.read_ustring())


@dataclass(frozen=True, slots=True)
class LockInfoResponse:
    """`mode` is LOCK_FREE when nobody holds the lock. `holders` (grant order) and
    `waiters` (queue order) are session ids. `token` is the asking session's own token
    when it is a holder, else the newest holder's (0 when free)."""

    mode: int
    token: int
    holders: tuple[int, ...]
    waiters: tuple[int, ...]

    def encode(self, w: Writer) -> None:
        w.write_int(self.mode)
        w.write_long(self.token)
        _write_longs(w, self.holders)
        _write_longs(w, self.waiters)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(r.read_int(), r.read_long(), _read_longs(r), _read_longs(r))


#: For `ServerConnection(extensions=...)` and `ClientConnection(extensions=...)`.
LOCK_EXTENSIONS: Mapping[int, tuple[RecordType | None, RecordType | None]] = {
    LockOpCode.LOCK_ACQUIRE: (LockAcquireRequest, LockAcquireResponse),
    LockOpCode.LOCK_RELEASE: (LockReleaseRequest, None),
    LockOpCode.CHECK_SEQUENCER: (CheckSequencerRequest, CheckSequencerResponse),
    LockOpCode.LOCK_INFO: (LockInfoRequest, LockInfoResponse),
}
