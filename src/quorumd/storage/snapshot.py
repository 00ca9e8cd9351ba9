"""Snapshot files: one state-machine image per file, written atomically, kept N deep.

A snapshot is written to `<name>.tmp`, fsynced, renamed over `<name>` and the directory
fsynced: after a crash either the whole new file or none of it is visible. The file::

    0      4     6     8        16       24          28           32
    +------+-----+-----+--------+--------+-----------+------------+
    | QDSN | ver | 0   | index  | term   | n_voters  | n_learners |
    +------+-----+-----+--------+--------+-----------+------------+
    | voter ids (i64 each) | learner ids (i64 each) | data_len u64 | data | crc32c |
    +---------------------------------------------------------------------------+

`crc32c` covers every byte before it. The name repeats index and term
(`<index>-<term>.snap`, 16 hex digits each) so listing needs no reads, and a file whose
header disagrees with its name is corrupt.
"""

from __future__ import annotations

import logging
import posixpath
import re
import struct
from dataclasses import dataclass

from quorumd._types import LogIndex, NodeId, Term
from quorumd.consensus.engine import ClusterConfig, Snapshot, SnapshotMeta
from quorumd.env import Disk
from quorumd.errors import StorageError
from quorumd.storage.records import crc32c

__all__ = ["SnapshotFile", "SnapshotStore", "decode_snapshot", "encode_snapshot"]

log = logging.getLogger("quorumd.storage")

_MAGIC = b"QDSN"
_VERSION = 1
_HEAD = struct.Struct("<4sHHQQII")
_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")
_NAME_RE = re.compile(r"^([0-9a-f]{16})-([0-9a-f]{16})\.snap$")
_TMP_SUFFIX = ".tmp"


@dataclass(frozen=True, slots=True, order=True)
class SnapshotFile:
    index: int
    term: int
    path: str


def encode_snapshot(snapshot: Snapshot) -> bytes:
    meta = snapshot.meta
    voters, learners = meta.config.voters, meta.config.learners
    parts = [
        _HEAD.pack(_MAGIC, _VERSION, 0, meta.index, meta.term, len(voters), len(learners)),
        struct.pack(f"<{len(voters) + len(learners)}q", *voters, *learners),
        _U64.pack(len(snapshot.data)),
    ]
    crc = 0
    for part in parts:
        crc = crc32c(part, crc)
    crc = crc32c(snapshot.data, crc)
    return b"".join((*parts, snapshot.data, _U32.pack(crc)))


def decode_snapshot(raw: bytes, path: str) -> Snapshot:
    """The snapshot in `raw`; `StorageError` naming `path` and the offset if damaged."""
    if len(raw) < _HEAD.size + _U64.size + _U32.size:
        raise StorageError(f"{path}: offset 0: snapshot truncated ({len(raw)} bytes)")
    (stored_crc,) = _U32.unpack_from(raw, len(raw) - _U32.size)
    if crc32c(memoryview(raw)[: -_U32.size]) != stored_crc:
        raise StorageError(f"{path}: offset {len(raw) - _U32.size}: snapshot checksum mismatch")
    magic, version, _, index, term, n_voters, n_learners = _HEAD.unpack_from(raw, 0)
    if magic != _MAGIC or version != _VERSION:
        raise StorageError(f"{path}: offset 0: not a version-{_VERSION} snapshot")
    ids_end = _HEAD.size + 8 * (n_voters + n_learners)
    if ids_end + _U64.size > len(raw):
        raise StorageError(f"{path}: offset {_HEAD.size}: member list runs past the end")
    ids = struct.unpack_from(f"<{n_voters + n_learners}q", raw, _HEAD.size)
    (data_len,) = _U64.unpack_from(raw, ids_end)
    data_start = ids_end + _U64.size
    if data_start + data_len + _U32.size != len(raw):
        raise StorageError(f"{path}: offset {ids_end}: data length {data_len} disagrees with size")
    config = ClusterConfig(
        tuple(NodeId(i) for i in ids[:n_voters]), tuple(NodeId(i) for i in ids[n_voters:])
    )
    meta = SnapshotMeta(LogIndex(index), Term(term), config)
    return Snapshot(meta, bytes(raw[data_start : data_start + data_len]))


class SnapshotStore:
    """The `snap/` directory: save atomically, list, load with verification, prune."""

    def __init__(self, disk: Disk, directory: str, keep: int = 3) -> None:
        if keep < 1:
            raise ValueError("keep_snapshots must be at least 1")
        self._disk = disk
        self.directory = directory
        self.keep = keep

    def exists(self) -> bool:
        return self._disk.exists(self.directory)

    def list(self) -> list[SnapshotFile]:
        """Complete snapshot files, oldest first (temp files are not snapshots)."""
        found = []
        for name in self._disk.listdir(self.directory):
            m = _NAME_RE.match(name)
            if m is not None:
                path = posixpath.join(self.directory, name)
                found.append(SnapshotFile(int(m.group(1), 16), int(m.group(2), 16), path))
        return sorted(found)

    def remove_temps(self) -> None:
        """Drops half-written snapshots left by a crash before their rename."""
        stale = [n for n in self._disk.listdir(self.directory) if n.endswith(_TMP_SUFFIX)]
        for name in stale:
            log.info("removing unfinished snapshot %s", name)
            self._disk.remove(posixpath.join(self.directory, name))
        if stale:
            self._disk.sync_dir(self.directory)

    def save(self, snapshot: Snapshot) -> SnapshotFile:
        """Write, fsync, rename, fsync the directory; then prune to `keep` files."""
        meta = snapshot.meta
        name = f"{meta.index:016x}-{meta.term:016x}.snap"
        path = posixpath.join(self.directory, name)
        tmp = path + _TMP_SUFFIX
        if self._disk.exists(tmp):
            self._disk.remove(tmp)
        f = self._disk.open_append(tmp)
        try:
            f.write(encode_snapshot(snapshot))
            f.sync()
        finally:
            f.close()
        self._disk.rename(tmp, path)
        self._disk.sync_dir(self.directory)
        self.prune()
        return SnapshotFile(meta.index, meta.term, path)

    def load(self, file: SnapshotFile) -> Snapshot:
        snapshot = decode_snapshot(self._disk.read(file.path), file.path)
        if (snapshot.meta.index, snapshot.meta.term) != (file.index, file.term):
            raise StorageError(
                f"{file.path}: offset 0: header says index {snapshot.meta.index} term "
                f"{snapshot.meta.term}, the name says otherwise"
            )
        return snapshot

    def prune(self) -> None:
        files = self.list()
        for old in files[: max(0, len(files) - self.keep)]:
            self._disk.remove(old.path)
        if len(files) > self.keep:
            self._disk.sync_dir(self.directory)
