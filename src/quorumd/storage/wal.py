"""The write-ahead log writer: segmented, append-only, group-committed.

Theory of operation:

1. `append`, `reset` and `set_hard_state` only encode into one in-memory buffer;
   `sync()` hands that buffer to ONE `write` and ONE `fdatasync`, however many entries it
   holds (group commit). The pending hard state is framed last, so a torn batch can never
   keep a commit index whose entries it lost.
2. Slot 0 of the buffer is reserved for a copy of the current hard state, written only
   as the first record of a new segment: every segment starts with the hard state, so
   dropping old segments never loses it.
3. A segment is sealed before the next one exists: a batch that would push the active
   segment past `segment_bytes` first rolls to a new file (created, then the directory
   fsynced). Only the last segment can ever hold a torn write.
4. Compaction removes whole segments, oldest first, once a snapshot covers every entry
   they hold: segment k may go when segment k+1 was created at `first_index <= snap + 1`.
5. Any I/O error poisons the writer: after a failed fsync the page cache state is
   unknown (the "fsyncgate" lesson), so the only safe continuation is a restart that
   recovers from what is really on disk.
"""

from __future__ import annotations

import itertools
import posixpath
from collections.abc import Sequence

from quorumd.consensus.engine import Entry, HardState
from quorumd.env import Disk, File
from quorumd.errors import StorageError, UsageError
from quorumd.storage.records import (
    HARD_STATE_SIZE,
    RESET_SIZE,
    encode_entries,
    encode_hard_state_into,
    encode_reset_into,
    encoded_entries_size,
)
from quorumd.storage.recovery import SegmentName

__all__ = ["DEFAULT_SEGMENT_BYTES", "Wal"]

DEFAULT_SEGMENT_BYTES = 64 << 20
_HEADER_SLOT = HARD_STATE_SIZE  # reserved at the front of the buffer (rule 2)


class Wal:
    """Owns the active segment. Built by `LogStore.open` after recovery."""

    def __init__(
        self,
        disk: Disk,
        wal_dir: str,
        segments: Sequence[SegmentName],
        *,
        active_size: int,
        last_index: int,
        hard_state: HardState,
        segment_bytes: int = DEFAULT_SEGMENT_BYTES,
    ) -> None:
        if not segments:
            raise UsageError("a WAL needs at least one segment")
        if segment_bytes < 1024:
            raise UsageError("segment_bytes must be at least 1024")
        self._disk = disk
        self.directory = wal_dir
        self.segment_bytes = segment_bytes
        self._segments = list(segments)
        self._active: File = disk.open_append(self._path(self._segments[-1]))
        self._active_size = active_size
        self._needs_header = active_size == 0
        self._buf = bytearray(1 << 16)
        self._end = _HEADER_SLOT  # pending records live in buf[_HEADER_SLOT:_end]
        self._pending_hs: HardState | None = None
        self._last = last_index  # including pending entries
        self._written_last = last_index  # as of the last write
        self._hard_state = hard_state  # the last one written
        self._failed: BaseException | None = None

    @staticmethod
    def create_segment(disk: Disk, wal_dir: str, segment: SegmentName) -> None:
        disk.open_append(posixpath.join(wal_dir, segment.name)).close()
        disk.sync_dir(wal_dir)

    # ------------------------------------------------------------------ buffering

    @property
    def last_index(self) -> int:
        return self._last

    @property
    def segments(self) -> tuple[SegmentName, ...]:
        return tuple(self._segments)

    @property
    def has_pending(self) -> bool:
        return self._end > _HEADER_SLOT or self._pending_hs is not None

    def append(self, entries: Sequence[Entry]) -> None:
        """Buffers `entries`; the first may rewind the log (conflicting suffix)."""
        self._check_usable()
        if not entries:
            return
        first = entries[0].index
        if first > self._last + 1:
            raise UsageError(f"append at index {first} leaves a gap after {self._last}")
        if len(entries) > 1:
            for prev, cur in itertools.pairwise(entries):
                if cur.index != prev.index + 1:
                    raise UsageError(f"entries not contiguous: {prev.index} then {cur.index}")
        self._reserve(encoded_entries_size(entries))
        self._end = encode_entries(self._buf, self._end, entries)
        self._last = entries[-1].index

    def reset(self, index: int, term: int) -> None:
        """Buffers a RESET: the log restarts empty after a snapshot at `index`."""
        self._check_usable()
        self._reserve(RESET_SIZE)
        self._end = encode_reset_into(self._buf, self._end, index, term)
        self._last = index

    def set_hard_state(self, hs: HardState) -> None:
        self._check_usable()
        self._pending_hs = hs

    def _reserve(self, extra: int) -> None:
        need = self._end + extra + HARD_STATE_SIZE  # room for the trailing hard state
        if need > len(self._buf):
            self._buf.extend(bytes(max(need, 2 * len(self._buf)) - len(self._buf)))

    # ------------------------------------------------------------------ durability

    def sync(self) -> None:
        """One write and one fdatasync for everything buffered since the last sync."""
        self._check_usable()
        if not self.has_pending:
            return
        try:
            self._write_batch()
        except BaseException as exc:
            self._failed = exc
            raise

    def _write_batch(self) -> None:
        end = self._end
        hs = self._pending_hs
        if hs is not None:
            self._reserve(0)
            end = encode_hard_state_into(self._buf, end, hs)
        body = end - _HEADER_SLOT
        if self._active_size > 0 and self._active_size + body > self.segment_bytes:
            self._roll()
        start = _HEADER_SLOT
        if self._needs_header:
            start = 0
            encode_hard_state_into(self._buf, 0, self._hard_state)
        with memoryview(self._buf) as view:
            batch = bytes(view[start:end])
        self._active.write(batch)
        self._active.sync()
        self._active_size += len(batch)
        self._needs_header = False
        self._written_last = self._last
        if hs is not None:
            self._hard_state = hs
        self._pending_hs = None
        self._end = _HEADER_SLOT

    def write_header(self) -> None:
        """Gives an empty active segment its hard state record now (rule 2), so that
        compaction never has to wait for the next batch to keep the hard state alive."""
        self._check_usable()
        if not self._needs_header:
            return
        try:
            end = encode_hard_state_into(self._buf, 0, self._hard_state)
            with memoryview(self._buf) as view:
                header = bytes(view[:end])
            self._active.write(header)
            self._active.sync()
        except BaseException as exc:
            self._failed = exc
            raise
        self._active_size += len(header)
        self._needs_header = False

    def _roll(self) -> None:
        """Seal the active segment (already synced) and start the next one (rule 3)."""
        self._active.close()
        segment = SegmentName(self._segments[-1].seq + 1, self._written_last + 1)
        self._active = self._disk.open_append(self._path(segment))
        self._disk.sync_dir(self.directory)
        self._segments.append(segment)
        self._active_size = 0
        self._needs_header = True

    def compact(self, snapshot_index: int) -> int:
        """Removes the segments a snapshot at `snapshot_index` covers (rule 4)."""
        self._check_usable()
        removed = 0
        # The newest hard state is in the last segment holding any record: never drop
        # that one (only an active segment still waiting for its header is empty).
        keep = 2 if self._needs_header else 1
        try:
            while (
                len(self._segments) > keep and self._segments[1].first_index <= snapshot_index + 1
            ):
                self._disk.remove(self._path(self._segments[0]))
                del self._segments[0]
                removed += 1
            if removed:
                self._disk.sync_dir(self.directory)
        except BaseException as exc:
            self._failed = exc
            raise
        return removed

    def close(self) -> None:
        self._active.close()

    def _path(self, segment: SegmentName) -> str:
        return posixpath.join(self.directory, segment.name)

    def _check_usable(self) -> None:
        if self._failed is not None:
            raise StorageError(
                f"{self.directory}: the WAL failed earlier ({self._failed!r}); restart to "
                "recover from what is on disk"
            )
