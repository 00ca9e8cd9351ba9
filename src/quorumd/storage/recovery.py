"""Crash recovery: read every WAL segment back and decide what the data directory holds.

Theory of operation:

1. Segments are named `<seq>-<first_index>.wal` (16 hex digits each). Sequence numbers
   must be contiguous: a hole means a segment was lost, and we refuse to start.
2. Records are replayed in order. An entry at `index <= last` replaces that index and
   everything after it (Raft's conflicting-suffix rule, §5.3); an entry past `last + 1`
   is a gap and refuses start-up. A RESET record (a snapshot installed from the leader)
   empties the log. The last valid HARD_STATE record wins.
3. A record that does not decode is either a torn tail or corruption. A crash only ever
   damages the bytes of the last, unsynced write, so the damage is a *torn tail* only when
   it is in the last segment and no valid record follows it; it is then cut off (the file
   is truncated by `LogStore.open`, with a warning). Anything else refuses start-up with a
   `StorageError` naming the file and the offset. The decision is the table `_VERDICTS`.
4. Committed data is never dropped silently: every refusal names what is missing.

Nothing here writes: `scan_wal` is shared by `LogStore.open` and `quorumd check-data`.
"""

from __future__ import annotations

import enum
import itertools
import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from quorumd._types import LogIndex
from quorumd.consensus.engine import Entry, HardState
from quorumd.env import Disk
from quorumd.errors import StorageError
from quorumd.storage.records import (
    HEADER_SIZE,
    DecodedRecord,
    RecordType,
    decode_at,
    decode_entry_run,
    find_valid_record,
    frame_length,
)

__all__ = ["SegmentInfo", "SegmentName", "TornTail", "WalScan", "scan_wal"]

_SEGMENT_RE = re.compile(r"^([0-9a-f]{16})-([0-9a-f]{16})\.wal$")


@dataclass(frozen=True, slots=True, order=True)
class SegmentName:
    """A segment's identity: its sequence number and the index of the first entry it
    was created to hold (the log's last index + 1 at the time)."""

    seq: int
    first_index: int

    @property
    def name(self) -> str:
        return f"{self.seq:016x}-{self.first_index:016x}.wal"

    @staticmethod
    def parse(name: str) -> SegmentName | None:
        m = _SEGMENT_RE.match(name)
        if m is None:
            return None
        return SegmentName(int(m.group(1), 16), int(m.group(2), 16))


def list_segments(disk: Disk, wal_dir: str) -> list[SegmentName]:
    """Segments in sequence order; refuses a hole in the sequence (a lost segment)."""
    found = sorted(s for s in (SegmentName.parse(n) for n in disk.listdir(wal_dir)) if s)
    for prev, cur in itertools.pairwise(found):
        if cur.seq != prev.seq + 1:
            raise StorageError(f"{wal_dir}: segment(s) missing between {prev.name} and {cur.name}")
    return found


@dataclass(frozen=True, slots=True)
class TornTail:
    """Damage at the end of the last segment that a crash can explain."""

    path: str
    offset: int  # where the valid data ends: the file is cut here
    size: int  # the file's size as found
    reason: str


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    segment: SegmentName
    path: str
    size: int
    valid_size: int
    records: int
    entry_range: tuple[int, int] | None  # first and last entry index written in it


@dataclass(slots=True)
class WalScan:
    """What the WAL holds after replay. `entries[0].index == base` when not empty;
    `base` is the next index when it is."""

    segments: list[SegmentInfo] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    base: int = 1
    hard_state: HardState | None = None
    torn: TornTail | None = None

    @property
    def next_index(self) -> int:
        return self.base + len(self.entries)

    @property
    def last_index(self) -> LogIndex:
        return LogIndex(self.next_index - 1)


class _Role(enum.Enum):
    MIDDLE = "middle"  # sealed: fully synced before the next segment was created
    LAST = "last"  # the only segment a crash can leave with a torn write


class _Finding(enum.Enum):
    CLEAN = "every record valid to the end"
    DAMAGE_AT_END = "damaged bytes, nothing valid after them"
    DAMAGE_BEFORE_VALID = "damaged bytes followed by valid records"


class _Verdict(enum.Enum):
    ACCEPT = "accept"
    CUT_TORN_TAIL = "cut torn tail"
    REFUSE = "refuse"


_VERDICTS: dict[tuple[_Role, _Finding], _Verdict] = {
    (_Role.MIDDLE, _Finding.CLEAN): _Verdict.ACCEPT,
    (_Role.MIDDLE, _Finding.DAMAGE_AT_END): _Verdict.REFUSE,
    (_Role.MIDDLE, _Finding.DAMAGE_BEFORE_VALID): _Verdict.REFUSE,
    (_Role.LAST, _Finding.CLEAN): _Verdict.ACCEPT,
    (_Role.LAST, _Finding.DAMAGE_AT_END): _Verdict.CUT_TORN_TAIL,
    (_Role.LAST, _Finding.DAMAGE_BEFORE_VALID): _Verdict.REFUSE,
}


def _verdict(role: _Role, finding: _Finding) -> _Verdict:
    try:
        return _VERDICTS[(role, finding)]
    except KeyError:  # pragma: no cover - the table is total; a new enum member breaks it
        raise AssertionError(f"no recovery verdict for {role}, {finding}") from None


def describe_damage(data: bytes, offset: int) -> str:
    if offset + HEADER_SIZE > len(data):
        return f"partial record header ({len(data) - offset} bytes)"
    length = frame_length(data, offset)
    if offset + HEADER_SIZE + length > len(data):
        return f"partial record (needs {HEADER_SIZE + length} bytes, {len(data) - offset} left)"
    return "checksum mismatch or malformed record"


class _Replay:
    """Applies records in order (theory of operation, rule 2)."""

    def __init__(self, scan: WalScan) -> None:
        self.scan = scan

    def apply(self, rec: DecodedRecord, path: str, offset: int) -> None:
        scan = self.scan
        if rec.type is RecordType.ENTRY:
            entry = rec.entry
            assert entry is not None
            index = entry.index
            nxt = scan.next_index
            if index == nxt:
                scan.entries.append(entry)
            elif index > nxt:
                raise StorageError(
                    f"{path}: offset {offset}: entry {index} follows entry {nxt - 1}: "
                    f"entries {nxt}..{index - 1} are missing"
                )
            elif index >= scan.base:
                del scan.entries[index - scan.base :]
                scan.entries.append(entry)
            else:  # rewrites below a compacted segment: the older entries are gone anyway
                scan.entries = [entry]
                scan.base = index
        elif rec.type is RecordType.HARD_STATE:
            scan.hard_state = rec.hard_state
        else:
            assert rec.reset is not None
            scan.entries = []
            scan.base = rec.reset[0] + 1

    def segment(self, path: str, data: bytes) -> tuple[int, int, tuple[int, int] | None]:
        """Replays `data` up to its first bad record: (valid end, records, entry range)."""
        offset = 0
        records = 0
        first = last = -1
        size = len(data)
        scan = self.scan
        while offset < size:
            try:
                # The common case first: entries that each follow on (rule 2's append).
                nxt = scan.next_index
                run_end = decode_entry_run(data, offset, nxt, scan.entries)
                if run_end != offset:
                    records += scan.next_index - nxt
                    first = nxt if first < 0 else first
                    last = scan.next_index - 1
                    offset = run_end
                    continue
                rec = decode_at(data, offset)
            except StorageError as exc:
                raise StorageError(f"{path}: {exc}") from None
            if rec is None:
                break
            self.apply(rec, path, offset)
            if rec.entry is not None:
                last = rec.entry.index
                if first < 0:
                    first = last
            records += 1
            offset = rec.end
        return offset, records, ((first, last) if first >= 0 else None)


def scan_wal(disk: Disk, wal_dir: str) -> WalScan:
    """Replays every segment of `wal_dir`; raises `StorageError` on anything a crash
    cannot explain. A torn tail is reported in `WalScan.torn`, not repaired."""
    segments = list_segments(disk, wal_dir)
    scan = WalScan(base=segments[0].first_index if segments else 1)
    replay = _Replay(scan)
    prev_path = ""
    for i, seg in enumerate(segments):
        path = posixpath.join(wal_dir, seg.name)
        if i > 0 and seg.first_index != scan.next_index:
            raise StorageError(
                f"{path}: offset 0: segment starts at index {seg.first_index} but "
                f"{prev_path} ends at index {scan.next_index - 1}"
            )
        data = disk.read(path)
        valid_end, records, entry_range = replay.segment(path, data)
        role = _Role.LAST if i == len(segments) - 1 else _Role.MIDDLE
        _judge(scan, role, path, data, valid_end)
        scan.segments.append(SegmentInfo(seg, path, len(data), valid_end, records, entry_range))
        prev_path = path
    return scan


def _judge(scan: WalScan, role: _Role, path: str, data: bytes, valid_end: int) -> None:
    if valid_end >= len(data):
        finding = _Finding.CLEAN
    elif find_valid_record(data, valid_end + 1) is None:
        finding = _Finding.DAMAGE_AT_END
    else:
        finding = _Finding.DAMAGE_BEFORE_VALID
    verdict = _verdict(role, finding)
    if verdict is _Verdict.REFUSE:
        raise StorageError(
            f"{path}: offset {valid_end}: corrupt record ({describe_damage(data, valid_end)}; "
            f"{finding.value}, in a {role.value} segment)"
        )
    if verdict is _Verdict.CUT_TORN_TAIL:
        scan.torn = TornTail(path, valid_end, len(data), describe_damage(data, valid_end))


def entries_after(entries: Sequence[Entry], base: int, index: int) -> tuple[Entry, ...]:
    """The entries with an index above `index` (the log after a snapshot)."""
    return tuple(entries[max(0, index + 1 - base) :])
