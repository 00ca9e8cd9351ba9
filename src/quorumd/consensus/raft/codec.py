"""Raft messages to and from plain nested lists of ints, bytes and None.

The server msgpack-packs the lists (consensus may not import msgpack). A message is
`[tag, src, dst, term, *fields]`; booleans travel as 0/1, an entry as
`[term, index, kind, data]`, a snapshot as `[index, term, [voters], [learners], data]`.
Decoding trusts nothing: any malformed input raises `ProtocolError` (the connection to
that peer is closed; the node itself carries on, DESIGN.md rule 5).
"""

from __future__ import annotations

from collections.abc import Callable

from quorumd._types import LogIndex, NodeId, Term
from quorumd.consensus.plain import (
    MAX_INT,
    decode_entries,
    decode_snapshot,
    encode_entry,
    encode_snapshot,
    to_bytes,
    to_flag,
    to_int,
    to_list,
)
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


def _fields(m: Message) -> list[object]:
    if isinstance(m, RequestVote):
        return [m.last_index, m.last_term, int(m.pre_vote), int(m.transfer)]
    if isinstance(m, RequestVoteResponse):
        return [int(m.granted), int(m.pre_vote)]
    if isinstance(m, AppendEntries):
        entries = [encode_entry(e) for e in m.entries]
        return [m.prev_index, m.prev_term, entries, m.commit, int(m.ack)]
    if isinstance(m, AppendEntriesResponse):
        return [int(m.success), m.index, m.conflict_term, m.conflict_index]
    if isinstance(m, Heartbeat):
        return [m.commit, m.context]
    if isinstance(m, HeartbeatResponse):
        return [m.context]
    if isinstance(m, InstallSnapshot):
        return [encode_snapshot(m.snapshot)]
    if isinstance(m, InstallSnapshotResponse):
        return [m.index]
    if isinstance(m, TimeoutNow):
        return []
    if isinstance(m, ReadIndexRequest):
        return [m.context]
    return [m.index, m.context]


def encode_message(msg: object) -> list[object]:
    """A Raft message as a plain nested list (see the module docstring)."""
    kind = type(msg)
    if kind is AppendEntries:  # the two messages of every write, without the generic path
        ae: AppendEntries = msg  # type: ignore[assignment]
        entries = [[e.term, e.index, int(e.kind), e.data] for e in ae.entries]
        return [3, ae.src, ae.dst, ae.term, ae.prev_index, ae.prev_term, entries, ae.commit,
                1 if ae.ack else 0]
    if kind is AppendEntriesResponse:
        r: AppendEntriesResponse = msg  # type: ignore[assignment]
        return [4, r.src, r.dst, r.term, 1 if r.success else 0, r.index, r.conflict_term,
                r.conflict_index]
    tag = _TAGS.get(kind)  # type: ignore[arg-type]
    if tag is None:
        raise UsageError(f"not a raft message: {type(msg).__name__}")
    m: Message = msg  # type: ignore[assignment]
    return [tag, m.src, m.dst, m.term, *_fields(m)]


# ---- decoding ----


_Head = tuple[NodeId, NodeId, Term]
_Decoder = Callable[[_Head, list[object]], Message]

_DECODERS: dict[int, tuple[int, _Decoder]] = {
    1: (
        4,
        lambda h, f: RequestVote(
            *h, LogIndex(to_int(f[0])), Term(to_int(f[1])), to_flag(f[2]), to_flag(f[3])
        ),
    ),
    2: (2, lambda h, f: RequestVoteResponse(*h, to_flag(f[0]), to_flag(f[1]))),
    3: (
        5,
        lambda h, f: AppendEntries(
            *h,
            LogIndex(to_int(f[0])),
            Term(to_int(f[1])),
            decode_entries(f[2]),
            LogIndex(to_int(f[3])),
            to_flag(f[4]),
        ),
    ),
    4: (
        4,
        lambda h, f: AppendEntriesResponse(
            *h,
            to_flag(f[0]),
            LogIndex(to_int(f[1])),
            None if f[2] is None else Term(to_int(f[2])),
            LogIndex(to_int(f[3])),
        ),
    ),
    5: (2, lambda h, f: Heartbeat(*h, LogIndex(to_int(f[0])), to_int(f[1]))),
    6: (1, lambda h, f: HeartbeatResponse(*h, to_int(f[0]))),
    7: (1, lambda h, f: InstallSnapshot(*h, decode_snapshot(f[0]))),
    8: (1, lambda h, f: InstallSnapshotResponse(*h, LogIndex(to_int(f[0])))),
    9: (0, lambda h, f: TimeoutNow(*h)),
    10: (1, lambda h, f: ReadIndexRequest(*h, to_bytes(f[0]))),
    11: (2, lambda h, f: ReadIndexResponse(*h, LogIndex(to_int(f[0])), to_bytes(f[1]))),
}


def _uints(values: list[object]) -> bool:
    for v in values:  # noqa: SIM110 - a loop, not all(<generator>): this is the hot path
        if type(v) is not int or not 0 <= v <= MAX_INT:
            return False
    return True


def decode_message(obj: object) -> Message:
    """The message `encode_message` produced; `ProtocolError` on anything malformed."""
    # Fast path for the two messages of every write when well formed; anything else takes
    # the checking path below, which says what is wrong.
    if type(obj) is list and obj and type(obj[0]) is int:
        n = len(obj)
        if n == 9 and obj[0] == 3 and _uints(obj[1:6]) and _uints(obj[7:8]):
            ack = obj[8]
            if type(ack) is int and ack in (0, 1):
                return AppendEntries(
                    obj[1], obj[2], obj[3], obj[4], obj[5], decode_entries(obj[6]), obj[7],
                    ack == 1,
                )
        elif n == 8 and obj[0] == 4 and _uints(obj[1:4]) and _uints(obj[5:8:2]):
            success, conflict = obj[4], obj[6]
            if (
                type(success) is int
                and success in (0, 1)
                and (conflict is None or (type(conflict) is int and 0 <= conflict <= MAX_INT))
            ):
                return AppendEntriesResponse(
                    obj[1], obj[2], obj[3], success == 1, obj[5], conflict, obj[7]  # type: ignore[arg-type]
                )
    return _decode_checked(obj)


def _decode_checked(obj: object) -> Message:
    items = to_list(obj)
    if len(items) < 4:
        raise ProtocolError("raft message too short")
    tag = items[0]
    spec = _DECODERS.get(tag) if type(tag) is int else None
    if spec is None:
        raise ProtocolError(f"unknown raft message tag {tag!r:.20}")
    n_fields, decoder = spec
    fields = items[4:]
    if tag == 3 and len(fields) == 4:
        fields.append(1)  # an AppendEntries from a node that predates `ack`: wants one
    if len(fields) != n_fields:
        raise ProtocolError(f"raft message tag {tag}: expected {n_fields} fields")
    head = (NodeId(to_int(items[1])), NodeId(to_int(items[2])), Term(to_int(items[3])))
    return decoder(head, fields)
