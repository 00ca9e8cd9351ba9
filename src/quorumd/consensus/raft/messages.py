"""Raft's messages: frozen, slotted records exchanged between peers.

Every message carries `src`, `dst` and the sender's `term` (Raft §5.1: a node that sees a
higher term steps down; a message with a stale term is answered or dropped). The engine
never serializes them itself: `codec.py` turns them into plain lists for the runtime.
"""

from __future__ import annotations

from dataclasses import dataclass

from quorumd._types import LogIndex, NodeId, Term
from quorumd.consensus.engine import Entry, Snapshot

_NO_INDEX = LogIndex(0)


@dataclass(frozen=True, slots=True)
class RequestVote:
    """A (pre-)vote request (§5.2; pre-vote: thesis §9.6).

    For a pre-vote `term` is the term the sender *would* campaign in; its real term is
    unchanged. `transfer` marks a campaign started by TimeoutNow (§3.10), which may
    override a follower's leader lease (§4.2.3).
    """

    src: NodeId
    dst: NodeId
    term: Term
    last_index: LogIndex
    last_term: Term
    pre_vote: bool = False
    transfer: bool = False


@dataclass(frozen=True, slots=True)
class RequestVoteResponse:
    src: NodeId
    dst: NodeId
    term: Term
    granted: bool
    pre_vote: bool = False


@dataclass(frozen=True, slots=True)
class AppendEntries:
    """Entries after (prev_index, prev_term), plus the leader's commit index (§5.3).

    `ack=False` marks a pure commit notice: no entries, sent to a follower known to hold
    everything up to prev_index. Its success reply would tell the leader nothing, so the
    follower sends none (a rejection is still sent) — one message less per write and
    follower at low load."""

    src: NodeId
    dst: NodeId
    term: Term
    prev_index: LogIndex
    prev_term: Term
    entries: tuple[Entry, ...]
    commit: LogIndex
    ack: bool = True


@dataclass(frozen=True, slots=True)
class AppendEntriesResponse:
    """Success: `index` is the follower's match index for that request.

    Rejection: `index` is the rejected `prev_index`, and (`conflict_term`,
    `conflict_index`) is the back-off hint of thesis §5.3: the follower's term at
    prev_index and the first index it holds of that term, or (None, last_index + 1) when
    its log is too short. The leader skips a whole term per round trip instead of one entry.
    """

    src: NodeId
    dst: NodeId
    term: Term
    success: bool
    index: LogIndex
    conflict_term: Term | None = None
    conflict_index: LogIndex = _NO_INDEX


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """Leader liveness and commit propagation; `context` (non-zero) tags a ReadIndex round."""

    src: NodeId
    dst: NodeId
    term: Term
    commit: LogIndex
    context: int = 0


@dataclass(frozen=True, slots=True)
class HeartbeatResponse:
    src: NodeId
    dst: NodeId
    term: Term
    context: int = 0


@dataclass(frozen=True, slots=True)
class InstallSnapshot:
    """The leader's snapshot, for a follower whose next entries were compacted (§7)."""

    src: NodeId
    dst: NodeId
    term: Term
    snapshot: Snapshot


@dataclass(frozen=True, slots=True)
class InstallSnapshotResponse:
    """`index`: the follower's log now matches the leader's up to here."""

    src: NodeId
    dst: NodeId
    term: Term
    index: LogIndex


@dataclass(frozen=True, slots=True)
class TimeoutNow:
    """Leadership transfer (§3.10): campaign now, skipping pre-vote and leases."""

    src: NodeId
    dst: NodeId
    term: Term


@dataclass(frozen=True, slots=True)
class ReadIndexRequest:
    """A follower asks the leader for a linearizable read point (§6.4)."""

    src: NodeId
    dst: NodeId
    term: Term
    context: bytes


@dataclass(frozen=True, slots=True)
class ReadIndexResponse:
    src: NodeId
    dst: NodeId
    term: Term
    index: LogIndex
    context: bytes


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
