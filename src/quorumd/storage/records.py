"""WAL record framing: one checksummed frame per entry, hard state or reset marker.

Every record is::

    0        4        8      9
    +--------+--------+------+---------------------------+
    | crc32c | length | type | payload (`length` bytes)  |
    +--------+--------+------+---------------------------+

`crc32c` covers `length`, `type` and the payload, so a damaged length field is caught
like damaged data. All integers are little-endian. Payloads:

    ENTRY       index u64 | term u64 | kind u8 | data
    HARD_STATE  term u64 | commit u64 | has_vote u8 | vote u64
    RESET       index u64 | term u64      (the log restarts after a snapshot at index)

Encoding is the hot path: an entry is packed with one `pack_into` into a preallocated
buffer, its data copied in with one slice assignment, and checksummed once.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Sequence
from dataclasses import dataclass

import crc32c as _crc32c

from quorumd._types import LogIndex, NodeId, Term
from quorumd.consensus.engine import Entry, EntryKind, HardState
from quorumd.errors import StorageError

__all__ = [
    "ENTRY_OVERHEAD",
    "HARD_STATE_SIZE",
    "HEADER_SIZE",
    "RESET_SIZE",
    "DecodedRecord",
    "RecordType",
    "crc32c",
    "decode_at",
    "decode_entry_run",
    "encode_entries",
    "encode_hard_state",
    "encode_hard_state_into",
    "encode_reset",
    "encode_reset_into",
    "encoded_entries_size",
    "find_valid_record",
    "frame_length",
]

crc32c = _crc32c.crc32c


class RecordType(enum.IntEnum):
    ENTRY = 1
    HARD_STATE = 2
    RESET = 3


_U32 = struct.Struct("<I")
_HEADER = struct.Struct("<IIB")  # crc, payload length, type
_ENTRY_HEAD = struct.Struct("<IIBQQB")  # header + index, term, kind
_HARD_STATE = struct.Struct("<IIBQQBQ")  # header + term, commit, has_vote, vote
_RESET = struct.Struct("<IIBQQ")  # header + index, term
_ENTRY_FIXED = struct.Struct("<QQB")
_HS_PAYLOAD = struct.Struct("<QQBQ")
_RESET_PAYLOAD = struct.Struct("<QQ")

HEADER_SIZE = _HEADER.size  # 9
ENTRY_OVERHEAD = _ENTRY_HEAD.size  # 26 bytes of framing per entry
_ENTRY_FIXED_LEN = _ENTRY_FIXED.size  # 17
# Exact payload lengths for the fixed-size records, minimum for entries: a frame whose
# length breaks these is rejected before its checksum is even computed.
_MIN_PAYLOAD = {
    RecordType.ENTRY: _ENTRY_FIXED.size,
    RecordType.HARD_STATE: _HS_PAYLOAD.size,
    RecordType.RESET: _RESET_PAYLOAD.size,
}
_EXACT_PAYLOAD = {RecordType.HARD_STATE: _HS_PAYLOAD.size, RecordType.RESET: _RESET_PAYLOAD.size}
_RECORD_TYPES = {int(t): t for t in RecordType}  # a dict lookup, not an Enum call
_ENTRY_KINDS = {int(k): k for k in EntryKind}


def encoded_entries_size(entries: Sequence[Entry]) -> int:
    return ENTRY_OVERHEAD * len(entries) + sum(len(e.data) for e in entries)


def encode_entries(buf: bytearray, offset: int, entries: Sequence[Entry]) -> int:
    """Frame `entries` into `buf` from `offset`; returns the new end. The caller has
    sized `buf` (see `encoded_entries_size`): no allocation happens per entry."""
    view = memoryview(buf)
    pack_head = _ENTRY_HEAD.pack_into
    pack_crc = _U32.pack_into
    crc = crc32c
    entry_type = RecordType.ENTRY
    try:
        for e in entries:
            data = e.data
            start_data = offset + ENTRY_OVERHEAD
            end = start_data + len(data)
            pack_head(
                buf, offset, 0, _ENTRY_FIXED_LEN + len(data), entry_type, e.index, e.term, e.kind
            )
            view[start_data:end] = data
            pack_crc(buf, offset, crc(view[offset + 4 : end]))
            offset = end
    finally:
        view.release()
    return offset


HARD_STATE_SIZE = _HARD_STATE.size  # 34
RESET_SIZE = _RESET.size  # 25


def _seal(buf: bytearray, offset: int, end: int) -> int:
    with memoryview(buf) as view:
        _U32.pack_into(buf, offset, crc32c(view[offset + 4 : end]))
    return end


def encode_hard_state_into(buf: bytearray, offset: int, hs: HardState) -> int:
    vote = hs.vote
    _HARD_STATE.pack_into(
        buf,
        offset,
        0,
        _HS_PAYLOAD.size,
        RecordType.HARD_STATE,
        hs.term,
        hs.commit,
        vote is not None,
        vote if vote is not None else 0,
    )
    return _seal(buf, offset, offset + HARD_STATE_SIZE)


def encode_reset_into(buf: bytearray, offset: int, index: int, term: int) -> int:
    _RESET.pack_into(buf, offset, 0, _RESET_PAYLOAD.size, RecordType.RESET, index, term)
    return _seal(buf, offset, offset + RESET_SIZE)


def encode_hard_state(hs: HardState) -> bytes:
    frame = bytearray(HARD_STATE_SIZE)
    encode_hard_state_into(frame, 0, hs)
    return bytes(frame)


def encode_reset(index: int, term: int) -> bytes:
    frame = bytearray(RESET_SIZE)
    encode_reset_into(frame, 0, index, term)
    return bytes(frame)


@dataclass(frozen=True, slots=True)
class DecodedRecord:
    """One valid record; `end` is the offset just past it."""

    type: RecordType
    end: int
    entry: Entry | None = None
    hard_state: HardState | None = None
    reset: tuple[LogIndex, Term] | None = None


def frame_length(data: bytes, offset: int) -> int:
    """The payload length a frame header claims (it may be damaged)."""
    return int(_U32.unpack_from(data, offset + 4)[0])


def _frame_ok(data: bytes, offset: int) -> tuple[int, RecordType] | None:
    """(end, type) if a well-formed frame with a good checksum starts at `offset`."""
    if offset + HEADER_SIZE > len(data):
        return None
    stored, length, rtype = _HEADER.unpack_from(data, offset)
    kind = _RECORD_TYPES.get(rtype)
    if kind is None:
        return None
    if length < _MIN_PAYLOAD[kind] or _EXACT_PAYLOAD.get(kind, length) != length:
        return None
    end = offset + HEADER_SIZE + length
    if end > len(data):
        return None
    if crc32c(memoryview(data)[offset + 4 : end]) != stored:
        return None
    return end, kind


def decode_at(data: bytes, offset: int) -> DecodedRecord | None:
    """The valid record at `offset`, or None when the bytes there are not one (a torn
    or corrupt frame, or the end of the data)."""
    framed = _frame_ok(data, offset)
    if framed is None:
        return None
    end, kind = framed
    body = offset + HEADER_SIZE
    if kind is RecordType.ENTRY:
        index, term, entry_kind = _ENTRY_FIXED.unpack_from(data, body)
        entry = Entry(
            Term(term),
            LogIndex(index),
            _entry_kind(entry_kind, offset),
            bytes(data[body + _ENTRY_FIXED_LEN : end]),
        )
        return DecodedRecord(kind, end, entry=entry)
    if kind is RecordType.HARD_STATE:
        term, commit, has_vote, vote = _HS_PAYLOAD.unpack_from(data, body)
        hs = HardState(Term(term), NodeId(vote) if has_vote else None, LogIndex(commit))
        return DecodedRecord(kind, end, hard_state=hs)
    index, term = _RESET_PAYLOAD.unpack_from(data, body)
    return DecodedRecord(kind, end, reset=(LogIndex(index), Term(term)))


def _entry_kind(value: int, offset: int) -> EntryKind:
    kind = _ENTRY_KINDS.get(value)
    if kind is None:  # checksummed, so written that way: not a tear
        raise StorageError(f"offset {offset}: unknown entry kind {value}")
    return kind


def decode_entry_run(data: bytes, offset: int, next_index: int, out: list[Entry]) -> int:
    """Appends to `out` the valid ENTRY records from `offset` on, as long as each holds
    `next_index`, then the index after it; returns the offset where the run stops.

    This is recovery's hot loop: a WAL is almost all entries that follow on one from
    the next, and decoding them here, with none of `decode_at`'s per-record objects,
    takes a fraction of the time. Whatever stops the run (a hard state or reset record,
    an entry out of sequence, a damaged frame, the end) is left to `decode_at`.
    """
    size = len(data)
    unpack = _ENTRY_HEAD.unpack_from
    kinds = _ENTRY_KINDS
    append = out.append
    entry_type = RecordType.ENTRY
    with memoryview(data) as view:
        while offset + ENTRY_OVERHEAD <= size:
            stored, length, rtype, index, term, kind = unpack(data, offset)
            end = offset + HEADER_SIZE + length
            if (
                rtype != entry_type
                or index != next_index
                or length < _ENTRY_FIXED_LEN
                or end > size
                or crc32c(view[offset + 4 : end]) != stored
            ):
                break
            entry_kind = kinds.get(kind)
            if entry_kind is None:
                entry_kind = _entry_kind(kind, offset)  # raises
            append(Entry(term, index, entry_kind, data[offset + ENTRY_OVERHEAD : end]))
            next_index += 1
            offset = end
    return offset


def find_valid_record(data: bytes, start: int) -> int | None:
    """The offset of the first well-formed, checksummed frame at or after `start`.

    This is how recovery tells a torn tail from corruption: a crash can only damage the
    bytes of the last, unsynced write, so nothing valid can follow the damage. Candidate
    offsets are found by the type byte with `bytes.find` (C speed), so scanning a region
    of zeros or garbage costs little.
    """
    best: int | None = None
    for rtype in RecordType:
        needle = bytes((rtype,))
        pos = start + HEADER_SIZE - 1
        while True:
            hit = data.find(needle, pos)
            if hit < 0 or (best is not None and hit - (HEADER_SIZE - 1) >= best):
                break
            candidate = hit - (HEADER_SIZE - 1)
            if _frame_ok(data, candidate) is not None:
                best = candidate
                break
            pos = hit + 1
    return best
