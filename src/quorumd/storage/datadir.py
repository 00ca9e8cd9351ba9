"""Read-only inspection of a data directory: every check recovery makes, no writes.

`LogStore.open` runs this first and modifies nothing unless it passes; `quorumd
check-data` runs it to report. The rules (after the WAL replay of recovery.py):

1. Start from the newest snapshot that verifies. A damaged newer one is passed over
   (and reported) only if the WAL still holds every entry from the older snapshot up to
   the damaged one's index; otherwise refuse.
2. The WAL must continue from the snapshot without a gap: its first index is at most
   snapshot index + 1 (1 without a snapshot).
3. If the WAL's entry at the snapshot's index has another term, the WAL diverged from
   the snapshot (a leader's snapshot whose restart marker was not yet synced): the log
   after it is dropped, since that history cannot hold a committed entry.
4. The hard state's commit index must not pass the end of the log: a commit index is
   only ever written after the entries it covers, so a shorter log lost committed data.
"""

from __future__ import annotations

import logging
import posixpath
from dataclasses import dataclass

from quorumd._types import LogIndex, Term
from quorumd.consensus.engine import Entry, HardState, Snapshot
from quorumd.env import Disk
from quorumd.errors import StorageError
from quorumd.storage.recovery import WalScan, entries_after, scan_wal
from quorumd.storage.snapshot import SnapshotFile, SnapshotStore

__all__ = ["DataDirState", "SnapshotChoice", "choose_snapshot", "inspect_data_dir"]

log = logging.getLogger("quorumd.storage")

WAL_DIR = "wal"
SNAP_DIR = "snap"
EMPTY_HARD_STATE = HardState(term=Term(0), vote=None, commit=LogIndex(0))


@dataclass(frozen=True, slots=True)
class SnapshotChoice:
    """The snapshot recovery starts from, and the newer ones it had to pass over."""

    snapshot: Snapshot | None
    damaged: tuple[tuple[SnapshotFile, str], ...] = ()


@dataclass(frozen=True, slots=True)
class DataDirState:
    """Everything recovery would restore from a data directory."""

    scan: WalScan
    snapshots: SnapshotStore
    choice: SnapshotChoice
    hard_state: HardState
    entries: tuple[Entry, ...]  # the log after the snapshot
    diverged: bool  # rule 3 dropped the WAL's tail

    @property
    def snapshot(self) -> Snapshot | None:
        return self.choice.snapshot

    @property
    def needs_reset(self) -> bool:
        """The WAL must restart at the snapshot: it diverged or ends before it."""
        snap = self.choice.snapshot
        return snap is not None and (self.diverged or self.scan.last_index < snap.meta.index)


def choose_snapshot(scan: WalScan, store: SnapshotStore) -> SnapshotChoice:
    """Rules 1 and 2."""
    files = store.list() if store.exists() else []
    damaged: list[tuple[SnapshotFile, str]] = []
    chosen: Snapshot | None = None
    for file in reversed(files):
        try:
            chosen = store.load(file)
        except StorageError as exc:
            log.error("snapshot unusable: %s", exc)
            damaged.append((file, str(exc)))
            continue
        break
    covered = chosen.meta.index if chosen is not None else 0
    if scan.base > covered + 1:
        why = f"; newer snapshot damaged: {damaged[0][1]}" if damaged else ""
        where = scan.segments[0].path if scan.segments else store.directory
        raise StorageError(
            f"{where}: offset 0: the WAL starts at index {scan.base} but snapshots cover "
            f"only up to {covered}: entries {covered + 1}..{scan.base - 1} are missing{why}"
        )
    if damaged and scan.last_index < damaged[0][0].index:
        file, why = damaged[0]
        raise StorageError(
            f"{why}; the WAL ends at index {scan.last_index}, so entries "
            f"{scan.last_index + 1}..{file.index} exist only in that snapshot"
        )
    return SnapshotChoice(chosen, tuple(damaged))


def _log_after(scan: WalScan, snapshot: Snapshot | None) -> tuple[tuple[Entry, ...], bool]:
    """The entries after the snapshot, and whether the WAL diverged from it (rule 3)."""
    if snapshot is None:
        return tuple(scan.entries), False
    meta = snapshot.meta
    pos = meta.index - scan.base
    if 0 <= pos < len(scan.entries) and scan.entries[pos].term != meta.term:
        log.warning(
            "WAL entry %d has term %d, snapshot says %d: dropping the log after it",
            meta.index,
            scan.entries[pos].term,
            meta.term,
        )
        return (), True
    return entries_after(scan.entries, scan.base, meta.index), False


def inspect_data_dir(disk: Disk, directory: str, *, keep_snapshots: int = 3) -> DataDirState:
    """What recovery would restore from `directory`; `StorageError` if it would refuse.
    Reads only: a torn tail is reported in `scan.torn`, not cut."""
    wal_dir = posixpath.join(directory, WAL_DIR)
    snapshots = SnapshotStore(disk, posixpath.join(directory, SNAP_DIR), keep_snapshots)
    scan = scan_wal(disk, wal_dir) if disk.exists(wal_dir) else WalScan()
    if not scan.segments and snapshots.exists() and snapshots.list():
        raise StorageError(f"{wal_dir}: no WAL segment, but snapshots exist: the WAL is lost")
    choice = choose_snapshot(scan, snapshots)
    snapshot = choice.snapshot
    hard_state = scan.hard_state or EMPTY_HARD_STATE
    entries, diverged = _log_after(scan, snapshot)
    last = max(
        entries[-1].index if entries else 0, snapshot.meta.index if snapshot is not None else 0
    )
    if hard_state.commit > last:
        raise StorageError(
            f"{wal_dir}: hard state commit index {hard_state.commit} but the log ends at "
            f"{last}: committed entries are missing"
        )
    return DataDirState(scan, snapshots, choice, hard_state, entries, diverged)
