"""`SimDisk`: an in-memory `env.Disk` that loses on `crash()` what a power cut can lose.

Theory of operation (the Linux ext4/xfs rules, as `OsDisk` relies on them):

1. File contents: bytes written since the file's last `sync()` are lost on a crash,
   except a random prefix of them may survive (a torn write). A `truncate` not yet
   synced may or may not survive; bytes below both the old and new sizes are kept.
2. Names: creating, renaming or removing a file changes the *durable* directory only
   when `sync_dir()` is called on its directory. An un-synced create vanishes on a crash
   (even if the file's data was synced), an un-synced rename reverts, an un-synced
   remove comes back.
3. Directories themselves are durable as soon as `makedirs` returns (a simplification:
   storage fsyncs the parent anyway).
4. Everything random comes from the `prng` passed in, and files are visited in sorted
   order, so one seed replays the same crash byte for byte. A handle opened before a
   crash raises `OSError` if used after it, like a file descriptor of a dead process.

Reads see the current (page cache) contents, as they do on a live system.
"""

from __future__ import annotations

import errno
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass, field

from quorumd._types import Prng

__all__ = ["SimDisk", "SimDiskStats", "SimFile"]


@dataclass(slots=True)
class _Inode:
    ino: int
    data: bytearray = field(default_factory=bytearray)
    durable: bytes = b""  # what survives a crash (as of the last sync)
    floor: int = 0  # lowest size since the last sync: data[:floor] == durable[:floor]

    def sync(self) -> None:
        self.durable = bytes(self.data)
        self.floor = len(self.data)

    def crash(self, prng: Prng) -> None:
        data = self.data
        truncated = self.floor < len(self.durable)
        if truncated and prng.randrange(2) == 0:
            kept = self.durable  # the truncate never reached the disk
        else:
            unsynced = len(data) - self.floor
            choice = prng.randrange(3)
            if choice == 0 or unsynced == 0:
                extra = 0  # none of the unsynced bytes
            elif choice == 1:
                extra = unsynced  # all of them (the OS flushed just in time)
            else:
                extra = prng.randrange(unsynced + 1)  # a torn prefix
            kept = bytes(data[: self.floor + extra])
        self.data = bytearray(kept)
        self.sync()


@dataclass(slots=True)
class SimDiskStats:
    writes: int = 0
    syncs: int = 0
    dir_syncs: int = 0
    crashes: int = 0


class SimFile:
    """A handle on one file; writes always append (O_APPEND)."""

    __slots__ = ("_disk", "_generation", "_inode", "path")

    def __init__(self, disk: SimDisk, inode: _Inode, path: str) -> None:
        self._disk = disk
        self._inode = inode
        self._generation = disk.generation
        self.path = path

    def _live(self) -> _Inode:
        if self._generation != self._disk.generation:
            raise OSError(errno.EBADF, f"{self.path}: handle from before a crash")
        return self._inode

    def write(self, data: bytes) -> None:
        self._live().data += data
        self._disk.stats.writes += 1

    def sync(self) -> None:
        inode = self._live()
        fault, self._disk.sync_fault = self._disk.sync_fault, None
        if fault is not None:
            raise fault
        inode.sync()
        self._disk.stats.syncs += 1

    def truncate(self, size: int) -> None:
        inode = self._live()
        if size < len(inode.data):
            del inode.data[size:]
        else:
            inode.data.extend(bytes(size - len(inode.data)))
        inode.floor = min(inode.floor, size)

    def size(self) -> int:
        return len(self._live().data)

    def close(self) -> None:
        """Closing neither syncs nor invalidates (a later crash still applies)."""


class SimDisk:
    """A deterministic, crash-modelling directory tree (see the module docstring)."""

    def __init__(self, prng: Prng) -> None:
        self._prng = prng
        self._names: dict[str, _Inode] = {}
        self._durable_names: dict[str, _Inode] = {}
        self._dirs: set[str] = {"/", "."}
        self._next_ino = 1
        self.generation = 0
        self.stats = SimDiskStats()
        self.sync_fault: OSError | None = None  # raised by the next File.sync, once

    # ------------------------------------------------------------------ env.Disk

    def open_append(self, path: str) -> SimFile:
        path = _norm(path)
        inode = self._names.get(path)
        if inode is None:
            self._require_dir(posixpath.dirname(path) or ".", path)
            if path in self._dirs:
                raise IsADirectoryError(errno.EISDIR, "is a directory", path)
            inode = _Inode(self._next_ino)
            self._next_ino += 1
            self._names[path] = inode
        return SimFile(self, inode, path)

    def read(self, path: str) -> bytes:
        return bytes(self._inode(path).data)

    def exists(self, path: str) -> bool:
        path = _norm(path)
        return path in self._names or path in self._dirs

    def listdir(self, path: str) -> Sequence[str]:
        path = _norm(path)
        self._require_dir(path, path)
        children = {posixpath.basename(p) for p in self._names if _parent(p) == path}
        children |= {posixpath.basename(d) for d in self._dirs if d != path and _parent(d) == path}
        return sorted(children)

    def makedirs(self, path: str) -> None:
        path = _norm(path)
        while path not in self._dirs:
            if path in self._names:
                raise FileExistsError(errno.EEXIST, "a file is in the way", path)
            self._dirs.add(path)
            path = _parent(path)

    def rename(self, src: str, dst: str) -> None:
        src, dst = _norm(src), _norm(dst)
        inode = self._inode(src)
        self._require_dir(_parent(dst), dst)
        del self._names[src]
        self._names[dst] = inode

    def remove(self, path: str) -> None:
        path = _norm(path)
        self._inode(path)
        del self._names[path]

    def sync_dir(self, path: str) -> None:
        path = _norm(path)
        self._require_dir(path, path)
        for name in [p for p in self._durable_names if _parent(p) == path]:
            del self._durable_names[name]
        for name, inode in self._names.items():
            if _parent(name) == path:
                self._durable_names[name] = inode
        self.stats.dir_syncs += 1

    # ------------------------------------------------------------------ faults

    def crash(self) -> None:
        """Power loss: keep only what was durable (plus torn prefixes), per the rules."""
        self.generation += 1
        self.stats.crashes += 1
        self._names = dict(sorted(self._durable_names.items()))
        seen: set[int] = set()
        for inode in self._names.values():
            if inode.ino not in seen:
                seen.add(inode.ino)
                inode.crash(self._prng)
        # Inodes no longer named are gone; their handles die with the generation.

    def fail_next_sync(self, error: OSError | None = None) -> None:
        """The next `File.sync` raises instead of syncing: with `crash()` right after,
        this is a power cut in the middle of an fsync, the moment torn writes happen."""
        self.sync_fault = error or OSError(errno.EIO, "simulated fsync failure")

    def corrupt(self, path: str, offset: int, xor: int = 0xFF) -> None:
        """Bit rot: flips bits of a byte, in the page cache and on the platter alike."""
        inode = self._inode(path)
        inode.data[offset] ^= xor
        if offset < len(inode.durable):
            durable = bytearray(inode.durable)
            durable[offset] ^= xor
            inode.durable = bytes(durable)

    def files(self) -> dict[str, int]:
        """Current files and their sizes, sorted by path (for tests and reports)."""
        return {p: len(i.data) for p, i in sorted(self._names.items())}

    # ------------------------------------------------------------------ helpers

    def _inode(self, path: str) -> _Inode:
        path = _norm(path)
        inode = self._names.get(path)
        if inode is None:
            raise FileNotFoundError(errno.ENOENT, "no such file", path)
        return inode

    def _require_dir(self, path: str, for_path: str) -> None:
        if path not in self._dirs:
            raise FileNotFoundError(errno.ENOENT, "no such directory", for_path)


def _norm(path: str) -> str:
    return posixpath.normpath(path)


def _parent(path: str) -> str:
    return posixpath.dirname(path) or "."
