"""Raft messages to and from plain nested lists of ints, bytes and None.

The server msgpack-packs the lists (consensus may not import msgpack). A message is
`[tag, src, dst, term, *fields]`; booleans travel as 0/1, an entry as
`[term, index, kind, data]`, a snapshot as `[index, term, [voters], [learners], data]`.
Decoding trusts nothing: any malformed input raises `ProtocolError` (the connection to
that peer is closed; the node itself carries on, DESIGN.md rule 5).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from quorumd._types import LogIndex, NodeId, Term
from quorumd.consensus.engine import ClusterConfig, Entry, EntryKind, Snapshot, SnapshotMeta
from quorumd.consensus.raft.messages import (
    AppendEntries,
    AppendEntriesResponse,
    Heartbeat,
    HeartbeatResponse,
    InstallSnapshot,
    InstallSnapshotResponse,
    Message,
    ReadIndexRequest,
    ReadIndexResponse,
    RequestVote,
    RequestVoteResponse,
    TimeoutNow,
)
from quorumd.errors import ProtocolError, UsageError

_MAX_INT = (1 << 64) - 1

_TAGS: dict[type[Message], int] = {
    RequestVote: 1,
    RequestVoteResponse: 2,
    AppendEntries: 3,
    AppendEntriesResponse: 4,
    Heartbeat: 5,
    HeartbeatResponse: 6,
    InstallSnapshot: 7,
    InstallSnapshotResponse: 8,
    TimeoutNow: 9,
    ReadIndexRequest: 10,
    ReadIndexResponse: 11,
}


def _entry(e: Entry) -> list[object]:
    return [e.term, e.index, int(e.kind), e.data]


def _snapshot(s: Snapshot) -> list[object]:
    meta = s.meta
    return [meta.index, meta.term, list(meta.config.voters), list(meta.config.learners), s.data]


def _fields(m: Message) -> list[object]:
    if isinstance(m, RequestVote):
        return [m.last_index, m.last_term, int(m.pre_vote), int(m.transfer)]
    if isinstance(m, RequestVoteResponse):
        return [int(m.granted), int(m.pre_vote)]
    if isinstance(m, AppendEntries):
        return [m.prev_index, m.prev_term, [_entry(e) for e in m.entries], m.commit]
    if isinstance(m, AppendEntriesResponse):
        return [int(m.success), m.index, m.conflict_term, m.conflict_index]
    if isinstance(m, Heartbeat):
        return [m.commit, m.context]
    if isinstance(m, HeartbeatResponse):
        return [m.context]
    if isinstance(m, InstallSnapshot):
        return [_snapshot(m.snapshot)]
    if isinstance(m, InstallSnapshotResponse):
        return [m.index]
    if isinstance(m, TimeoutNow):
        return []
    if isinstance(m, ReadIndexRequest):
        return [m.context]
    return [m.index, m.context]


def encode_message(msg: object) -> list[object]:
    """A Raft message as a plain nested list (see the module docstring)."""
    tag = _TAGS.get(type(msg))  # type: ignore[arg-type]
    if tag is None:
        raise UsageError(f"not a raft message: {type(msg).__name__}")
    m: Message = msg  # type: ignore[assignment]
    return [tag, m.src, m.dst, m.term, *_fields(m)]


# ---- decoding ----


def _int(obj: object) -> int:
    if type(obj) is not int or not 0 <= obj <= _MAX_INT:
        raise ProtocolError(f"expected a non-negative int, got {obj!r:.60}")
    return obj


def _flag(obj: object) -> bool:
    if obj not in (0, 1) or type(obj) is not int:
        raise ProtocolError(f"expected 0 or 1, got {obj!r:.60}")
    return obj == 1


def _bytes(obj: object) -> bytes:
    if not isinstance(obj, bytes):
        raise ProtocolError(f"expected bytes, got {type(obj).__name__}")
    return obj


def _list(obj: object, length: int | None = None) -> list[object]:
    if not isinstance(obj, list | tuple):
        raise ProtocolError(f"expected a list, got {type(obj).__name__}")
    if length is not None and len(obj) != length:
        raise ProtocolError(f"expected {length} items, got {len(obj)}")
    return list(obj)


def _decode_entry(obj: object) -> Entry:
    term, index, kind, data = _list(obj, 4)
    try:
        entry_kind = EntryKind(_int(kind))
    except ValueError:
        raise ProtocolError(f"unknown entry kind {kind!r}") from None
    return Entry(Term(_int(term)), LogIndex(_int(index)), entry_kind, _bytes(data))


def _decode_snapshot(obj: object) -> Snapshot:
    index, term, voters, learners, data = _list(obj, 5)
    config = ClusterConfig(
        tuple(NodeId(_int(v)) for v in _list(voters)),
        tuple(NodeId(_int(v)) for v in _list(learners)),
    )
    meta = SnapshotMeta(LogIndex(_int(index)), Term(_int(term)), config)
    return Snapshot(meta, _bytes(data))


def _decode_entries(obj: object) -> tuple[Entry, ...]:
    entries = tuple(_decode_entry(e) for e in _list(obj))
    for a, b in itertools.pairwise(entries):
        if b.index != a.index + 1 or b.term < a.term:
            raise ProtocolError("entries are not contiguous")
    return entries


_Head = tuple[NodeId, NodeId, Term]
_Decoder = Callable[[_Head, list[object]], Message]

_DECODERS: dict[int, tuple[int, _Decoder]] = {
    1: (
        4,
        lambda h, f: RequestVote(
            *h, LogIndex(_int(f[0])), Term(_int(f[1])), _flag(f[2]), _flag(f[3])
        ),
    ),
    2: (2, lambda h, f: RequestVoteResponse(*h, _flag(f[0]), _flag(f[1]))),
    3: (
        4,
        lambda h, f: AppendEntries(
            *h, LogIndex(_int(f[0])), Term(_int(f[1])), _decode_entries(f[2]), LogIndex(_int(f[3]))
        ),
    ),
    4: (
        4,
        lambda h, f: AppendEntriesResponse(
            *h,
            _flag(f[0]),
            LogIndex(_int(f[1])),
            None if f[2] is None else Term(_int(f[2])),
            LogIndex(_int(f[3])),
        ),
    ),
    5: (2, lambda h, f: Heartbeat(*h, LogIndex(_int(f[0])), _int(f[1]))),
    6: (1, lambda h, f: HeartbeatResponse(*h, _int(f[0]))),
    7: (1, lambda h, f: InstallSnapshot(*h, _decode_snapshot(f[0]))),
    8: (1, lambda h, f: InstallSnapshotResponse(*h, LogIndex(_int(f[0])))),
    9: (0, lambda h, f: TimeoutNow(*h)),
    10: (1, lambda h, f: ReadIndexRequest(*h, _bytes(f[0]))),
    11: (2, lambda h, f: ReadIndexResponse(*h, LogIndex(_int(f[0])), _bytes(f[1]))),
}


def decode_message(obj: object) -> Message:
    """The message `encode_message` produced; `ProtocolError` on anything malformed."""
    items = _list(obj)
    if len(items) < 4:
        raise ProtocolError("raft message too short")
    tag = items[0]
    spec = _DECODERS.get(tag) if type(tag) is int else None
    if spec is None:
        raise ProtocolError(f"unknown raft message tag {tag!r:.20}")
    n_fields, decoder = spec
    fields = items[4:]
    if len(fields) != n_fields:
        raise ProtocolError(f"raft message tag {tag}: expected {n_fields} fields")
    head = (NodeId(_int(items[1])), NodeId(_int(items[2])), Term(_int(items[3])))
    return decoder(head, fields)
