"""The one seam between the real world and the simulated one.

Everything that touches time, randomness, disks or the network goes through one of
these small protocols. The server implements them with the OS and asyncio; the
simulator implements them deterministically from a seed, so a crash, a torn write or a
partition in simulation runs exactly the storage and consensus code that production
runs. (The idea is TigerBeetle's `time.zig` and FoundationDB's sim2.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from quorumd._types import NodeId, Prng

__all__ = ["Clock", "Disk", "File", "Network", "Prng"]


class Clock(Protocol):
    """Monotonic time in milliseconds. Wall-clock time never drives decisions."""

    def monotonic_ms(self) -> int: ...

    def wall_ms(self) -> int:
        """Wall-clock ms since the epoch: only for ctime/mtime, stamped by the leader."""
        ...


class File(Protocol):
    """An open file: appends and syncs. Nothing is durable until `sync()` returns."""

    def write(self, data: bytes) -> None: ...

    def sync(self) -> None:
        """fdatasync: make every byte written so far survive a crash."""
        ...

    def truncate(self, size: int) -> None: ...

    def size(self) -> int: ...

    def close(self) -> None: ...


class Disk(Protocol):
    """A directory tree of files. Names and directory entries are durable only after
    `sync_dir()` on the directory that holds them (as on Linux ext4/xfs)."""

    def open_append(self, path: str) -> File:
        """Open for appending, creating an empty file when missing."""
        ...

    def read(self, path: str) -> bytes: ...

    def exists(self, path: str) -> bool: ...

    def listdir(self, path: str) -> Sequence[str]:
        """Names in a directory, sorted (so iteration order never depends on the OS)."""
        ...

    def makedirs(self, path: str) -> None: ...

    def rename(self, src: str, dst: str) -> None:
        """Atomic replace of dst by src."""
        ...

    def remove(self, path: str) -> None: ...

    def sync_dir(self, path: str) -> None: ...


class Network(Protocol):
    """Unreliable datagram-ish delivery between nodes: messages may be lost, delayed,
    duplicated or reordered; the consensus engines retransmit."""

    def send(self, src: NodeId, dst: NodeId, message: object) -> None: ...
