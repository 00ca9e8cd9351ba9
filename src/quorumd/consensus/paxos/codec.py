"""Multi-Paxos messages to and from plain nested lists of ints, bytes and None.

The server msgpack-packs the lists (consensus may not import msgpack). A message is
`[tag, src, dst, ballot, *fields]`; booleans travel as 0/1, an entry as
`[ballot, index, kind, data]`, a snapshot as `[index, ballot, [voters], [learners], data]`.
Tags start at 101 so a Raft message fed to the Paxos decoder (or the reverse) is refused
instead of misread. Decoding trusts nothing: malformed input raises `ProtocolError`.
"""

from __future__ import annotations

from collections.abc import Callable

from quorumd._types import LogIndex, NodeId, Term
from quorumd.consensus.engine import Snapshot
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
from quorumd.consensus.plain import (
    decode_entries,
    decode_snapshot,
    encode_entry,
    encode_snapshot,
    to_bytes,
    to_flag,
    to_int,
    to_list,
)
from quorumd.errors import ProtocolError, UsageError

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




def _snapshot(s: Snapshot | None) -> list[object] | None:
    return None if s is None else encode_snapshot(s)


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
            [encode_entry(e) for e in m.entries],
            _snapshot(m.snapshot),
        ]
    if isinstance(m, Accept):
        return [m.prev_index, m.prev_ballot, [encode_entry(e) for e in m.entries], m.commit]
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























def _decode_promise(h: _Head, f: list[object]) -> Promise:
    return Promise(
        *h,
        granted=to_flag(f[0]),
        probe=to_flag(f[1]),
        commit=LogIndex(to_int(f[2])),
        last_index=LogIndex(to_int(f[3])),
        last_ballot=Term(to_int(f[4])),
        entries=decode_entries(f[5]),
        snapshot=None if f[6] is None else decode_snapshot(f[6]),
    )


_Head = tuple[NodeId, NodeId, Term]
_Decoder = Callable[[_Head, list[object]], Message]

_DECODERS: dict[int, tuple[int, _Decoder]] = {
    101: (
        3,
        lambda h, f: Prepare(*h, LogIndex(to_int(f[0])), to_flag(f[1]), to_flag(f[2])),
    ),
    102: (7, _decode_promise),
    103: (
        4,
        lambda h, f: Accept(
            *h,
            LogIndex(to_int(f[0])),
            Term(to_int(f[1])),
            decode_entries(f[2]),
            LogIndex(to_int(f[3])),
        ),
    ),
    104: (
        3,
        lambda h, f: Accepted(*h, to_flag(f[0]), LogIndex(to_int(f[1])), LogIndex(to_int(f[2]))),
    ),
    105: (2, lambda h, f: Heartbeat(*h, LogIndex(to_int(f[0])), to_int(f[1]))),
    106: (1, lambda h, f: HeartbeatAck(*h, to_int(f[0]))),
    107: (1, lambda h, f: InstallSnapshot(*h, decode_snapshot(f[0]))),
    108: (1, lambda h, f: SnapshotAck(*h, LogIndex(to_int(f[0])))),
    109: (0, lambda h, f: TimeoutNow(*h)),
    110: (1, lambda h, f: ReadIndexRequest(*h, to_bytes(f[0]))),
    111: (2, lambda h, f: ReadIndexResponse(*h, LogIndex(to_int(f[0])), to_bytes(f[1]))),
}


def decode_message(obj: object) -> Message:
    """The message `encode_message` produced; `ProtocolError` on anything malformed."""
    items = to_list(obj)
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
    head = (NodeId(to_int(items[1])), NodeId(to_int(items[2])), Term(to_int(items[3])))
    return decoder(head, fields)
