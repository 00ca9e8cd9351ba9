"""The lock-extension requests the `lock-native` workload sends (docs/design/locks.md).

The records themselves live in `quorumd.wire.locks`; this module only picks the two
operations the workload needs and the extension table a ClientConnection decodes with.
"""

from __future__ import annotations

from collections.abc import Mapping

from quorumd.wire import RecordType
from quorumd.wire import locks as wl

__all__ = [
    "LOCK_ACQUIRE",
    "LOCK_EXTENSIONS",
    "LOCK_RELEASE",
    "acquire_request",
    "release_request",
]

LOCK_ACQUIRE = int(wl.LockOpCode.LOCK_ACQUIRE)
LOCK_RELEASE = int(wl.LockOpCode.LOCK_RELEASE)
LOCK_EXTENSIONS: Mapping[int, tuple[RecordType | None, RecordType | None]] = dict(
    wl.LOCK_EXTENSIONS
)


def acquire_request(path: str, *, mode: int = 0, wait: bool = False) -> wl.LockAcquireRequest:
    """A try-acquire (wait=False) of an exclusive lock with the server's lock-delay."""
    return wl.LockAcquireRequest(path, mode, wait, wl.DEFAULT_LOCK_DELAY)


def release_request(path: str) -> wl.LockReleaseRequest:
    return wl.LockReleaseRequest(path)
