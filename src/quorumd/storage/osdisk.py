"""`OsDisk`: the real `env.Disk`, on POSIX files.

Durability rules it follows (the Linux ones the simulator's `SimDisk` models):
- file data survives a crash only after `fdatasync` (`File.sync`);
- a created, renamed or removed name survives only after the *directory* is fsynced
  (`sync_dir`: open the directory read-only and fsync that descriptor);
- `rename` is `os.replace`: atomic replacement of the destination.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

__all__ = ["OsDisk", "OsFile"]

_fdatasync = getattr(os, "fdatasync", os.fsync)  # macOS has no fdatasync


class OsFile:
    """A file opened with O_APPEND: every write lands at the end, whatever the offset."""

    __slots__ = ("_fd", "path")

    def __init__(self, path: str) -> None:
        self.path = path
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
        self._fd = os.open(path, flags, 0o644)

    def write(self, data: bytes) -> None:
        fd = self._fd
        written = os.write(fd, data)
        if written == len(data):  # the usual case: one system call
            return
        with memoryview(data) as view:
            while written < len(view):
                written += os.write(fd, view[written:])

    def sync(self) -> None:
        _fdatasync(self._fd)

    def truncate(self, size: int) -> None:
        os.ftruncate(self._fd, size)

    def size(self) -> int:
        return os.fstat(self._fd).st_size

    def close(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)


class OsDisk:
    """The directory tree of the real file system."""

    def open_append(self, path: str) -> OsFile:
        return OsFile(path)

    def read(self, path: str) -> bytes:
        with open(path, "rb") as f:
            return f.read()

    def exists(self, path: str) -> bool:
        return os.path.exists(path)

    def listdir(self, path: str) -> Sequence[str]:
        return sorted(os.listdir(path))

    def makedirs(self, path: str) -> None:
        os.makedirs(path, exist_ok=True)

    def rename(self, src: str, dst: str) -> None:
        os.replace(src, dst)

    def remove(self, path: str) -> None:
        os.remove(path)

    def sync_dir(self, path: str) -> None:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
