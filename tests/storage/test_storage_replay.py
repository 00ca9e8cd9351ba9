"""WAL replay's fast path (`decode_entry_run`) against the record-by-record replay it
short-cuts: the same entries, hard state, segment facts, torn tail and refusals."""

from __future__ import annotations

import random
import struct

import crc32c
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quorumd._types import LogIndex, NodeId, Term
from quorumd.consensus.engine import Entry, EntryKind, HardState
from quorumd.errors import StorageError
from quorumd.sim.disk import SimDisk
from quorumd.storage import recovery
from quorumd.storage.records import (
    ENTRY_OVERHEAD,
    decode_at,
    decode_entry_run,
    encode_entries,
    encode_hard_state,
    encode_reset,
    encoded_entries_size,
)
from quorumd.storage.recovery import SegmentName, WalScan, scan_wal

WAL = "/n/wal"


def _entries(entries: list[Entry]) -> bytes:
    buf = bytearray(encoded_entries_size(entries))
    encode_entries(buf, 0, entries)
    return bytes(buf)


def _with_kind(entries: list[Entry], kind: int) -> bytes:
    """`entries` as framed by a writer that knows an entry kind this one does not: each
    record's kind byte replaced and its checksum made good again. (An Entry cannot
    carry such a kind itself: compiled, its field only takes an EntryKind.)"""
    buf = bytearray(_entries(entries))
    offset = 0
    for e in entries:
        end = offset + ENTRY_OVERHEAD + len(e.data)
        buf[offset + ENTRY_OVERHEAD - 1] = kind  # the last byte before the data
        struct.pack_into("<I", buf, offset, crc32c.crc32c(bytes(buf[offset + 4 : end])))
        offset = end
    return bytes(buf)


def _record_by_record(
    self: recovery._Replay, path: str, data: bytes
) -> tuple[int, int, tuple[int, int] | None]:
    """`_Replay.segment` as it was before the fast path: decode_at on every record."""
    offset = records = 0
    first = last = -1
    while offset < len(data):
        try:
            rec = decode_at(data, offset)
        except StorageError as exc:
            raise StorageError(f"{path}: {exc}") from None
        if rec is None:
            break
        self.apply(rec, path, offset)
        if rec.entry is not None:
            last = rec.entry.index
            first = last if first < 0 else first
        records += 1
        offset = rec.end
    return offset, records, ((first, last) if first >= 0 else None)


@st.composite
def segments(draw: st.DrawFn) -> tuple[int, list[bytes]]:
    """(first index, segments) of entry runs, rewrites, hard states, resets and a damaged
    tail in any mix; now and then a gap or an unknown entry kind."""
    segs: list[bytes] = []
    first = draw(st.integers(1, 5))
    nxt = first
    for _ in range(draw(st.integers(1, 3))):
        parts: list[bytes] = []
        for _ in range(draw(st.integers(0, 6))):
            what = draw(st.sampled_from(("run", "run", "run", "rewrite", "hs", "reset")))
            if draw(st.integers(0, 19)) == 0:  # now and then, what must refuse start-up
                what = draw(st.sampled_from(("gap", "kind")))
            if what in ("run", "rewrite", "gap", "kind"):
                start = {
                    "run": nxt,
                    "kind": nxt,
                    "rewrite": draw(st.integers(max(1, nxt - 4), nxt)),
                    "gap": nxt + 2,
                }[what]
                n = draw(st.integers(1, 4))
                term = Term(draw(st.integers(1, 3)))
                run = [
                    Entry(term, LogIndex(i), EntryKind.NORMAL, b"d%d" % i)
                    for i in range(start, start + n)
                ]
                parts.append(_with_kind(run, 7) if what == "kind" else _entries(run))
                nxt = start + n
            elif what == "hs":
                parts.append(encode_hard_state(HardState(Term(1), NodeId(1), LogIndex(0))))
            else:
                nxt = draw(st.integers(1, nxt)) + 1
                parts.append(encode_reset(nxt - 1, 1))
        segs.append(b"".join(parts))
    if draw(st.booleans()):
        segs[-1] += draw(st.binary(min_size=1, max_size=30))
    return first, segs


def _disk(first: int, segs: list[bytes]) -> SimDisk:
    disk = SimDisk(random.Random(0))
    disk.makedirs(WAL)
    for seq, data in enumerate(segs):
        f = disk.open_append(f"{WAL}/{SegmentName(seq, first).name}")
        f.write(data)
        f.sync()
        f.close()
        scan = _scan(disk)
        first = scan.next_index if isinstance(scan, WalScan) else first
    return disk


def _scan(disk: SimDisk) -> WalScan | str:
    try:
        return scan_wal(disk, WAL)
    except StorageError as exc:
        return f"refused: {exc}"


@settings(max_examples=200, deadline=None)
@given(segments())
def test_fast_replay_is_the_record_by_record_replay(wal: tuple[int, list[bytes]]) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(recovery._Replay, "segment", _record_by_record)
        disk = _disk(*wal)
        expected = _scan(disk)
    actual = _scan(disk)
    assert repr(actual) == repr(expected)


def test_entry_run_stops_where_the_sequence_breaks() -> None:
    data = _entries([Entry(Term(1), LogIndex(i), EntryKind.NORMAL, b"x") for i in (3, 4, 9)])
    out: list[Entry] = []
    end = decode_entry_run(data, 0, 3, out)
    assert [e.index for e in out] == [3, 4]
    assert decode_at(data, end) is not None  # left, intact, to decode_at
    assert decode_entry_run(data, 0, 4, []) == 0  # does not start with the next index


def test_an_unknown_entry_kind_refuses_naming_the_file_and_offset() -> None:
    good = _entries([Entry(Term(1), LogIndex(i), EntryKind.NORMAL, b"x") for i in (1, 2)])
    bad = _with_kind([Entry(Term(1), LogIndex(3), EntryKind.NORMAL, b"x")], 7)
    disk = _disk(1, [good + bad])
    with pytest.raises(StorageError, match=rf"\.wal: offset {len(good)}: unknown entry kind 7"):
        scan_wal(disk, WAL)
