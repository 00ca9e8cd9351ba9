"""`LogStore`: the one storage facade the runtime and the simulator use.

A data directory holds two sub-directories::

    DIR/wal/<seq>-<first_index>.wal     the write-ahead log (see wal.py, records.py)
    DIR/snap/<index>-<term>.snap        the last N snapshots (see snapshot.py)

Per `Ready` (consensus/engine.py, step 2), `persist_ready` installs the snapshot if
any, appends the entries, sets the hard state and calls `sync()` once: one write and one
fdatasync for the whole batch. Only then may the runtime call `engine.advance()`.

The store is used from ONE thread (the server's disk writer, or the simulator); it holds
no locks and shares no mutable state.
"""

from __future__ import annotations

import logging
import posixpath
from collections.abc import Sequence

from quorumd._types import LogIndex
from quorumd.consensus.engine import Entry, HardState, Ready, Restored, Snapshot
from quorumd.env import Disk
from quorumd.errors import UsageError
from quorumd.storage.datadir import SNAP_DIR, WAL_DIR, inspect_data_dir
from quorumd.storage.recovery import SegmentName, WalScan
from quorumd.storage.snapshot import SnapshotStore
from quorumd.storage.wal import DEFAULT_SEGMENT_BYTES, Wal

__all__ = ["LogStore", "persist_ready"]

log = logging.getLogger("quorumd.storage")


def _cut_torn_tail(disk: Disk, scan: WalScan) -> None:
    torn = scan.torn
    if torn is None:
        return
    log.warning(
        "%s: torn write at offset %d (%s); cutting %d bytes that were never synced",
        torn.path,
        torn.offset,
        torn.reason,
        torn.size - torn.offset,
    )
    f = disk.open_append(torn.path)
    try:
        f.truncate(torn.offset)
        f.sync()
    finally:
        f.close()


class LogStore:
    """Durable Raft/Paxos log: entries, hard state and snapshots (one writer thread)."""

    def __init__(
        self, wal: Wal, snapshots: SnapshotStore, hard_state: HardState, snapshot: Snapshot | None
    ) -> None:
        self._wal = wal
        self._snapshots = snapshots
        self._hard_state = hard_state
        self._snapshot_index = snapshot.meta.index if snapshot is not None else 0
        self._closed = False

    @classmethod
    def open(
        cls,
        disk: Disk,
        directory: str,
        *,
        segment_bytes: int = DEFAULT_SEGMENT_BYTES,
        keep_snapshots: int = 3,
    ) -> tuple[LogStore, Restored]:
        """Recovers `directory` (creating it when new) and returns what it holds.

        Raises `StorageError` if the data cannot be trusted; nothing is modified before
        every check has passed (then a torn tail is cut and stale temp files removed).
        """
        wal_dir = posixpath.join(directory, WAL_DIR)
        disk.makedirs(wal_dir)
        disk.makedirs(posixpath.join(directory, SNAP_DIR))
        disk.sync_dir(directory)
        found = inspect_data_dir(disk, directory, keep_snapshots=keep_snapshots)
        scan, snapshot, snapshots = found.scan, found.snapshot, found.snapshots
        hard_state, entries = found.hard_state, found.entries
        # Every check passed: only now modify the directory.
        _cut_torn_tail(disk, scan)
        snapshots.remove_temps()
        if not scan.segments:
            first = SegmentName(seq=0, first_index=1)
            Wal.create_segment(disk, wal_dir, first)
            segments, active_size = [first], 0
        else:
            segments = [info.segment for info in scan.segments]
            active_size = scan.torn.offset if scan.torn else scan.segments[-1].size
        wal = Wal(
            disk,
            wal_dir,
            segments,
            active_size=active_size,
            last_index=scan.last_index,
            hard_state=hard_state,
            segment_bytes=segment_bytes,
        )
        wal.write_header()
        if found.needs_reset:
            # The WAL ends before the snapshot or diverges from it: restart it there, so
            # the next append (snapshot index + 1) follows on without a gap.
            assert snapshot is not None
            wal.reset(snapshot.meta.index, snapshot.meta.term)
            wal.sync()
        store = cls(wal, snapshots, hard_state, snapshot)
        restored = Restored(
            hard_state=hard_state,
            snapshot=snapshot.meta if snapshot is not None else None,
            entries=entries,
            snapshot_data=snapshot.data if snapshot is not None else None,
        )
        return store, restored

    # ------------------------------------------------------------------ the write path

    @property
    def last_index(self) -> LogIndex:
        """The last index appended (synced or not), or the snapshot's if the log is empty."""
        return LogIndex(max(self._wal.last_index, self._snapshot_index))

    @property
    def first_index(self) -> LogIndex:
        """The first index the log holds (Raft convention: snapshot index + 1)."""
        return LogIndex(self._snapshot_index + 1)

    @property
    def snapshot_index(self) -> LogIndex:
        return LogIndex(self._snapshot_index)

    @property
    def segments(self) -> tuple[SegmentName, ...]:
        """The WAL segments on disk, oldest first (for status output and tests)."""
        return self._wal.segments

    @property
    def hard_state(self) -> HardState:
        return self._hard_state

    def append(self, entries: Sequence[Entry]) -> None:
        """Buffers entries until `sync()`. An entry at an existing index replaces it and
        everything after it. Entries at or below the snapshot are committed and refused;
        `sync()` refuses a commit index beyond the last index (a truncated commit)."""
        if entries and entries[0].index <= self._snapshot_index:
            raise UsageError(
                f"append at index {entries[0].index} rewrites snapshot {self._snapshot_index}"
            )
        self._wal.append(entries)

    def set_hard_state(self, hs: HardState) -> None:
        """Buffers the hard state until `sync()`; the last one set wins."""
        self._hard_state = hs
        self._wal.set_hard_state(hs)

    def sync(self) -> None:
        """Makes everything buffered durable with one write and one fdatasync."""
        commit = self._hard_state.commit
        if commit > self._wal.last_index and commit > self._snapshot_index:
            raise UsageError(f"commit index {commit} beyond last index {self.last_index}")
        self._wal.sync()

    def save_snapshot(self, snapshot: Snapshot) -> None:
        """Persists a snapshot the state machine took, then drops the WAL segments it
        makes unnecessary. Segments are kept back to the previous snapshot, so a damaged
        newest snapshot can still be recovered from the older one plus the WAL."""
        index = snapshot.meta.index
        if index <= self._snapshot_index:
            log.debug("snapshot at %d not newer than %d: skipped", index, self._snapshot_index)
            return
        if index > self.last_index:
            raise UsageError(f"snapshot at {index} is past the last index {self.last_index}")
        self._snapshots.save(snapshot)
        self._snapshot_index = index
        self._compact()

    def install_snapshot(self, snapshot: Snapshot) -> None:
        """A snapshot from the leader replaces the whole log. The snapshot file is durable
        on return; the WAL's restart marker is written by the next `sync()`."""
        index = snapshot.meta.index
        if index <= self._snapshot_index:
            log.debug(
                "installed snapshot %d not newer than %d: skipped", index, self._snapshot_index
            )
            return
        self._snapshots.save(snapshot)
        self._wal.reset(index, snapshot.meta.term)
        self._snapshot_index = index
        self._compact()

    def _compact(self) -> None:
        files = self._snapshots.list()
        if not files:
            return
        keep_from = files[-2].index if len(files) >= 2 else files[-1].index
        self._wal.compact(keep_from)

    def close(self) -> None:
        """Closes the active segment. Anything not synced is discarded, as in a crash."""
        if not self._closed:
            self._closed = True
            self._wal.close()


def persist_ready(store: LogStore, ready: Ready) -> None:
    """Ready step 2: snapshot, entries, hard state, then ONE sync."""
    if ready.snapshot is not None:
        store.install_snapshot(ready.snapshot)
    if ready.entries:
        store.append(ready.entries)
    if ready.hard_state is not None:
        store.set_hard_state(ready.hard_state)
    if ready.must_sync():
        store.sync()
