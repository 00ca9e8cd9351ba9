"""The plain-list form shared by every engine's message codec.

Consensus may not import msgpack, so engines turn messages into nested lists of ints,
bytes and None, and the runtime packs those. Entries and snapshots look the same in
every engine — an entry is `[term, index, kind, data]` (term: Raft term or Paxos ballot),
a snapshot `[index, term, [voters], [learners], data]` — and so do the checks on the way
back in: decoding trusts nothing, and anything malformed raises `ProtocolError`.
"""

from __future__ import annotations

import itertools

from quorumd._types import LogIndex, NodeId, Term
from quorumd.consensus.engine import ClusterConfig, Entry, EntryKind, Snapshot, SnapshotMeta
from quorumd.errors import ProtocolError

MAX_INT = (1 << 64) - 1


def encode_entry(e: Entry) -> list[object]:
    return [e.term, e.index, int(e.kind), e.data]


def encode_snapshot(s: Snapshot) -> list[object]:
    meta = s.meta
    return [meta.index, meta.term, list(meta.config.voters), list(meta.config.learners), s.data]


def to_int(obj: object) -> int:
    if type(obj) is not int or not 0 <= obj <= MAX_INT:
        raise ProtocolError(f"expected a non-negative int, got {obj!r:.60}")
    return obj


def to_flag(obj: object) -> bool:
    if type(obj) is not int or obj not in (0, 1):
        raise ProtocolError(f"expected 0 or 1, got {obj!r:.60}")
    return obj == 1


def to_bytes(obj: object) -> bytes:
    if not isinstance(obj, bytes):
        raise ProtocolError(f"expected bytes, got {type(obj).__name__}")
    return obj


def to_list(obj: object, length: int | None = None) -> list[object]:
    if not isinstance(obj, list | tuple):
        raise ProtocolError(f"expected a list, got {type(obj).__name__}")
    if length is not None and len(obj) != length:
        raise ProtocolError(f"expected {length} items, got {len(obj)}")
    return list(obj)


_KINDS = {int(k): k for k in EntryKind}


def decode_entry(obj: object) -> Entry:
    # Fast path for the well-formed case (every entry on every follower goes through
    # here); anything else takes the checking path below, which says what is wrong.
    if type(obj) is list and len(obj) == 4:
        term, index, kind, data = obj
        if (
            type(term) is int
            and type(index) is int
            and type(data) is bytes
            and 0 <= term <= MAX_INT
            and 0 <= index <= MAX_INT
            and type(kind) is int
            and kind in _KINDS
        ):
            return Entry(term, index, _KINDS[kind], data)  # type: ignore[arg-type]
    return _decode_entry_checked(obj)


def _decode_entry_checked(obj: object) -> Entry:
    term, index, kind, data = to_list(obj, 4)
    try:
        entry_kind = EntryKind(to_int(kind))
    except ValueError:
        raise ProtocolError(f"unknown entry kind {kind!r}") from None
    return Entry(Term(to_int(term)), LogIndex(to_int(index)), entry_kind, to_bytes(data))


def decode_entries(obj: object) -> tuple[Entry, ...]:
    """A run of entries: consecutive indexes, terms (ballots) never decreasing."""
    if type(obj) is list and len(obj) == 1:  # what a write at low load carries
        return (decode_entry(obj[0]),)
    entries = tuple(decode_entry(e) for e in to_list(obj))
    for a, b in itertools.pairwise(entries):
        if b.index != a.index + 1 or b.term < a.term:
            raise ProtocolError("entries are not contiguous")
    return entries


def decode_snapshot(obj: object) -> Snapshot:
    index, term, voters, learners, data = to_list(obj, 5)
    config = ClusterConfig(
        tuple(NodeId(to_int(v)) for v in to_list(voters)),
        tuple(NodeId(to_int(v)) for v in to_list(learners)),
    )
    meta = SnapshotMeta(LogIndex(to_int(index)), Term(to_int(term)), config)
    return Snapshot(meta, to_bytes(data))
