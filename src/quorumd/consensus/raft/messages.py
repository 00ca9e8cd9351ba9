"""Raft's messages: slotted records exchanged between peers, read-only by their `Final`
fields (mypy) rather than `frozen` (a frozen `__init__` costs several times more, and
every write builds several of these on every node).

Every message carries `src`, `dst` and the sender's `term` (Raft §5.1: a node that sees a
higher term steps down; a message with a stale term is answered or dropped). The engine
never serializes them itself: `codec.py` turns them into plain lists for the runtime.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from quorumd._types import LogIndex, NodeId, Term
from quorumd.consensus.engine import Entry, Snapshot

_NO_INDEX = LogIndex(0)


@dataclass(slots=True, unsafe_hash=True)
class RequestVote:
    """A (pre-)vote request (§5.2; pre-vote: thesis §9.6).

    For a pre-vote `term` is the term the sender *would* campaign in; its real term is
    unchanged. `transfer` marks a campaign started by TimeoutNow (§3.10), which may
    override a follower's leader lease (§4.2.3).
    """

    src: Final[NodeId]
    dst: Final[NodeId]
    term: Final[Term]
    last_index: Final[LogIndex]
    last_term: Final[Term]
    pre_vote: Final[bool] = False
    transfer: Final[bool] = False


@dataclass(slots=True, unsafe_hash=True)
class RequestVoteResponse:
    src: Final[NodeId]
    dst: Final[NodeId]
    term: Final[Term]
    granted: Final[bool]
    pre_vote: Final[bool] = False


@dataclass(slots=True, unsafe_hash=True)
class AppendEntries:
    """Entries after (prev_index, prev_term), plus the leader's commit index (§5.3).

    `ack=False` marks a pure commit notice: no entries, sent to a follower known to hold
    everything up to prev_index. Its success reply would tell the leader nothing, so the
    follower sends none (a rejection is still sent) — one message less per write and
    follower at low load."""

    src: Final[NodeId]
    dst: Final[NodeId]
    term: Final[Term]
    prev_index: Final[LogIndex]
    prev_term: Final[Term]
    entries: Final[tuple[Entry, ...]]
    commit: Final[LogIndex]
    ack: Final[bool] = True


@dataclass(slots=True, unsafe_hash=True)
class AppendEntriesResponse:
    """Success: `index` is the follower's match index for that request.

    Rejection: `index` is the rejected `prev_index`, and (`conflict_term`,
    `conflict_index`) is the back-off hint of thesis §5.3: the follower's term at
    prev_index and the first index it holds of that term, or (None, last_index + 1) when
    its log is too short. The leader skips a whole term per round trip instead of one entry.
    """

    src: Final[NodeId]
    dst: Final[NodeId]
    term: Final[Term]
    success: Final[bool]
    index: Final[LogIndex]
    conflict_term: Final[Term | None] = None
    conflict_index: Final[LogIndex] = _NO_INDEX


@dataclass(slots=True, unsafe_hash=True)
class Heartbeat:
    """Leader liveness and commit propagation; `context` (non-zero) tags a ReadIndex round."""

    src: Final[NodeId]
    dst: Final[NodeId]
    term: Final[Term]
    commit: Final[LogIndex]
    context: Final[int] = 0


@dataclass(slots=True, unsafe_hash=True)
class HeartbeatResponse:
    src: Final[NodeId]
    dst: Final[NodeId]
    term: Final[Term]
    context: Final[int] = 0


@dataclass(slots=True, unsafe_hash=True)
class InstallSnapshot:
    """The leader's snapshot, for a follower whose next entries were compacted (§7)."""

    src: Final[NodeId]
    dst: Final[NodeId]
    term: Final[Term]
    snapshot: Final[Snapshot]


@dataclass(slots=True, unsafe_hash=True)
class InstallSnapshotResponse:
    """`index`: the follower's log now matches the leader's up to here."""

    src: Final[NodeId]
    dst: Final[NodeId]
    term: Final[Term]
    index: Final[LogIndex]


@dataclass(slots=True, unsafe_hash=True)
class TimeoutNow:
    """Leadership transfer (§3.10): campaign now, skipping pre-vote and leases."""

    src: Final[NodeId]
    dst: Final[NodeId]
    term: Final[Term]


@dataclass(slots=True, unsafe_hash=True)
class ReadIndexRequest:
    """A follower asks the leader for a linearizable read point (§6.4)."""

    src: Final[NodeId]
    dst: Final[NodeId]
    term: Final[Term]
    context: Final[bytes]


@dataclass(slots=True, unsafe_hash=True)
class ReadIndexResponse:
    src: Final[NodeId]
    dst: Final[NodeId]
    term: Final[Term]
    index: Final[LogIndex]
    context: Final[bytes]


Message = (
    RequestVote
    | RequestVoteResponse
    | AppendEntries
    | AppendEntriesResponse
    | Heartbeat
    | HeartbeatResponse
    | InstallSnapshot
    | InstallSnapshotResponse
    | TimeoutNow
    | ReadIndexRequest
    | ReadIndexResponse
)

MESSAGE_TYPES: tuple[type[Message], ...] = (
    RequestVote,
    RequestVoteResponse,
    AppendEntries,
    AppendEntriesResponse,
    Heartbeat,
    HeartbeatResponse,
    InstallSnapshot,
    InstallSnapshotResponse,
    TimeoutNow,
    ReadIndexRequest,
    ReadIndexResponse,
)
