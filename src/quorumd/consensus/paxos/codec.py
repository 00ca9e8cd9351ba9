"""Multi-Paxos messages to and from plain nested lists of ints, bytes and None.

The server msgpack-packs the lists (consensus may not import msgpack). A message is
`[tag, src, dst, ballot, *fields]`; booleans travel as 0/1, an entry as
`[ballot, index, kind, data]`, a snapshot as `[index, ballot, [voters], [learners], data]`.
Tags start at 101 so a Raft message fed to the Paxos decoder (or the reverse) is refused
instead of misread. Decoding trusts nothing: malformed input raises `ProtocolError`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from quorumd._types import LogIndex, NodeId, Term
from quorumd.consensus.engine import ClusterConfig, Entry, EntryKind, Snapshot, SnapshotMeta
from quorumd.consensus.paxos.messages import (
    Accept,
    Accepted,
    Heartbeat,
    HeartbeatAck,
    InstallSnapshot,
    Message,
    Prepare,
    Promise,
    ReadIndexRequest,
    ReadIndexResponse,
    SnapshotAck,
    TimeoutNow,
)
from quorumd.errors import ProtocolError, UsageError

_MAX_INT = (1 << 64) - 1

_TAGS: dict[type[Message], int] = {
    Prepare: 101,
    Promise: 102,
    Accept: 103,
    Accepted: 104,
    Heartbeat: 105,
    HeartbeatAck: 106,
    InstallSnapshot: 107,
    SnapshotAck: 108,
    TimeoutNow: 109,
    ReadIndexRequest: 110,
    ReadIndexResponse: 111,
}


def _entry(e: Entry) -> list[object]:
    return [e.term, e.index, int(e.kind), e.data]


def _snapshot(s: Snapshot | None) -> list[object] | None:
    if s is None:
        return None
    meta = s.meta
    return [meta.index, meta.term, list(meta.config.voters), list(meta.config.learners), s.data]


def _fields(m: Message) -> list[object]:
    if isinstance(m, Prepare):
        return [m.first_slot, int(m.probe), int(m.transfer)]
    if isinstance(m, Promise):
        return [
            int(m.granted),
            int(m.probe),
            m.commit,
            m.last_index,
            m.last_ballot,
            [_entry(e) for e in m.entries],
            _snapshot(m.snapshot),
        ]
    if isinstance(m, Accept):
        return [m.prev_index, m.prev_ballot, [_entry(e) for e in m.entries], m.commit]
    if isinstance(m, Accepted):
        return [int(m.success), m.index, m.hint]
    if isinstance(m, Heartbeat):
        return [m.commit, m.context]
    if isinstance(m, HeartbeatAck):
        return [m.context]
    if isinstance(m, InstallSnapshot):
        return [_snapshot(m.snapshot)]
    if isinstance(m, SnapshotAck):
        return [m.index]
    if isinstance(m, TimeoutNow):
        return []
    if isinstance(m, ReadIndexRequest):
        return [m.context]
    return [m.index, m.context]


def encode_message(msg: object) -> list[object]:
    """A Paxos message as a plain nested list (see the module docstring)."""
    tag = _TAGS.get(type(msg))  # type: ignore[arg-type]
    if tag is None:
        raise UsageError(f"not a paxos message: {type(msg).__name__}")
    m: Message = msg  # type: ignore[assignment]
    return [tag, m.src, m.dst, m.ballot, *_fields(m)]


# ---- decoding ----


def _int(obj: object) -> int:
    if type(obj) is not int or not 0 <= obj <= _MAX_INT:
        raise ProtocolError(f"expected a non-negative int, got {obj!r:.60}")
    return obj


def _flag(obj: object) -> bool:
    if type(obj) is not int or obj not in (0, 1):
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
    ballot, index, kind, data = _list(obj, 4)
    try:
        entry_kind = EntryKind(_int(kind))
    except ValueError:
        raise ProtocolError(f"unknown entry kind {kind!r}") from None
    return Entry(Term(_int(ballot)), LogIndex(_int(index)), entry_kind, _bytes(data))


def _decode_entries(obj: object) -> tuple[Entry, ...]:
    entries = tuple(_decode_entry(e) for e in _list(obj))
    for a, b in itertools.pairwise(entries):
        if b.index != a.index + 1 or b.term < a.term:
            raise ProtocolError("slots are not contiguous with non-decreasing ballots")
    return entries


def _decode_snapshot(obj: object) -> Snapshot:
    index, ballot, voters, learners, data = _list(obj, 5)
    config = ClusterConfig(
        tuple(NodeId(_int(v)) for v in _list(voters)),
        tuple(NodeId(_int(v)) for v in _list(learners)),
    )
    return Snapshot(SnapshotMeta(LogIndex(_int(index)), Term(_int(ballot)), config), _bytes(data))


def _decode_promise(h: _Head, f: list[object]) -> Promise:
    return Promise(
        *h,
        granted=_flag(f[0]),
        probe=_flag(f[1]),
        commit=LogIndex(_int(f[2])),
        last_index=LogIndex(_int(f[3])),
        last_ballot=Term(_int(f[4])),
        entries=_decode_entries(f[5]),
        snapshot=None if f[6] is None else _decode_snapshot(f[6]),
    )


_Head = tuple[NodeId, NodeId, Term]
_Decoder = Callable[[_Head, list[object]], Message]

_DECODERS: dict[int, tuple[int, _Decoder]] = {
    101: (
        3,
        lambda h, f: Prepare(*h, LogIndex(_int(f[0])), _flag(f[1]), _flag(f[2])),
    ),
    102: (7, _decode_promise),
    103: (
        4,
        lambda h, f: Accept(
            *h, LogIndex(_int(f[0])), Term(_int(f[1])), _decode_entries(f[2]), LogIndex(_int(f[3]))
        ),
    ),
    104: (3, lambda h, f: Accepted(*h, _flag(f[0]), LogIndex(_int(f[1])), LogIndex(_int(f[2])))),
    105: (2, lambda h, f: Heartbeat(*h, LogIndex(_int(f[0])), _int(f[1]))),
    106: (1, lambda h, f: HeartbeatAck(*h, _int(f[0]))),
    107: (1, lambda h, f: InstallSnapshot(*h, _decode_snapshot(f[0]))),
    108: (1, lambda h, f: SnapshotAck(*h, LogIndex(_int(f[0])))),
    109: (0, lambda h, f: TimeoutNow(*h)),
    110: (1, lambda h, f: ReadIndexRequest(*h, _bytes(f[0]))),
    111: (2, lambda h, f: ReadIndexResponse(*h, LogIndex(_int(f[0])), _bytes(f[1]))),
}


def decode_message(obj: object) -> Message:
    """The message `encode_message` produced; `ProtocolError` on anything malformed."""
    items = _list(obj)
    if len(items) < 4:
        raise ProtocolError("paxos message too short")
    tag = items[0]
    spec = _DECODERS.get(tag) if type(tag) is int else None
    if spec is None:
        raise ProtocolError(f"unknown paxos message tag {tag!r:.20}")
    n_fields, decoder = spec
    fields = items[4:]
    if len(fields) != n_fields:
        raise ProtocolError(f"paxos message tag {tag}: expected {n_fields} fields")
    head = (NodeId(_int(items[1])), NodeId(_int(items[2])), Term(_int(items[3])))
    return decoder(head, fields)
