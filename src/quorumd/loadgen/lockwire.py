"""The records of quorumd's lock extension (opcodes 200/201, docs/design/locks.md).

`quorumd.wire.locks` is the home of these records; it is being written concurrently, so
when it is importable its classes are used and the fallback below (the same layout, from
the design document) is not. Either way `LOCK_EXTENSIONS` is what a ClientConnection
needs to encode the requests and decode the replies.
"""

from __future__ import annotations

import importlib
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Self

from quorumd.wire import Reader, RecordType, Writer

__all__ = [
    "LOCK_ACQUIRE",
    "LOCK_EXTENSIONS",
    "LOCK_RELEASE",
    "acquire_request",
    "release_request",
]

LOCK_ACQUIRE = 200
LOCK_RELEASE = 201
_ACQUIRE_RESPONSE = struct.Struct(">iqi")


@dataclass(frozen=True, slots=True)
class _AcquireRequest:
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
class _AcquireResponse:
    status: int  # 0 granted, 1 queued
    token: int
    position: int

    def encode(self, w: Writer) -> None:
        w.write_struct(_ACQUIRE_RESPONSE, self.status, self.token, self.position)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(*r.read_struct(_ACQUIRE_RESPONSE))


@dataclass(frozen=True, slots=True)
class _ReleaseRequest:
    path: str

    def encode(self, w: Writer) -> None:
        w.write_ustring(self.path)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(r.read_ustring())


def _wire_locks() -> ModuleType | None:
    try:
        return importlib.import_module("quorumd.wire.locks")
    except ModuleNotFoundError:
        return None


_MOD = _wire_locks()
if _MOD is not None and all(
    hasattr(_MOD, name) for name in ("LockAcquireRequest", "LockReleaseRequest", "LOCK_EXTENSIONS")
):
    _Acquire: Any = _MOD.LockAcquireRequest
    _Release: Any = _MOD.LockReleaseRequest
    LOCK_EXTENSIONS: Mapping[int, tuple[RecordType | None, RecordType | None]] = dict(
        _MOD.LOCK_EXTENSIONS
    )
else:  # all from the fallback, never a mix: the codec checks the record class per opcode
    _Acquire = _AcquireRequest
    _Release = _ReleaseRequest
    LOCK_EXTENSIONS = {
        LOCK_ACQUIRE: (_AcquireRequest, _AcquireResponse),
        LOCK_RELEASE: (_ReleaseRequest, None),
    }


def acquire_request(path: str, *, mode: int = 0, wait: bool = False) -> Any:
    """A try-acquire (wait=False) of an exclusive lock with the server's lock-delay."""
    return _Acquire(path, mode, wait, -1)


def release_request(path: str) -> Any:
    return _Release(path)
