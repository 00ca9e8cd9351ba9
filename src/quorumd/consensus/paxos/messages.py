"""Multi-Paxos messages: frozen, slotted records exchanged between peers.

Every message carries `src`, `dst` and a `ballot` (Paxos Made Simple §2.2's proposal
number; see `ballot.py`). For requests it is the sender's ballot; for a refusal it is the
higher ballot the acceptor promised, which tells the sender it was pre-empted. Ballots are
`Term`-typed because they live in the shared `Term` slots of `HardState` and `Entry`.
`codec.py` turns messages into plain lists for the runtime.
"""

from __future__ import annotations

from dataclasses import dataclass

from quorumd._types import LogIndex, NodeId, Term
from quorumd.consensus.engine import Entry, Snapshot

_NONE = LogIndex(0)
_ZERO = Term(0)


@dataclass(frozen=True, slots=True)
class Prepare:
    """Phase 1a for every slot from `first_slot` on (Paxos Made Simple §3).

    `probe` asks "would you promise `ballot`?" without changing the acceptor, so a
    proposer that cannot reach a majority never raises anyone's ballot (Raft thesis §9.6
    pre-vote, applied to phase 1). `transfer` marks a takeover ordered by the leader, which
    overrides the acceptors' leader stickiness.
    """

    src: NodeId
    dst: NodeId
    ballot: Term
    first_slot: LogIndex
    probe: bool = False
    transfer: bool = False


@dataclass(frozen=True, slots=True)
class Promise:
    """Phase 1b. Granted: the acceptor promised `ballot` and reports every slot it
    accepted from `first_slot` on (`entries`; `snapshot` too when it compacted past
    `first_slot`), with its last slot and that slot's ballot. Refused: `ballot` is
    the higher ballot it promised instead."""

    src: NodeId
    dst: NodeId
    ballot: Term
    granted: bool
    probe: bool = False
    commit: LogIndex = _NONE
    last_index: LogIndex = _NONE
    last_ballot: Term = _ZERO
    entries: tuple[Entry, ...] = ()
    snapshot: Snapshot | None = None


@dataclass(frozen=True, slots=True)
class Accept:
    """Phase 2a for a batch of consecutive slots after (prev_index, prev_ballot), plus the
    leader's chosen prefix so acceptors learn what is chosen."""

    src: NodeId
    dst: NodeId
    ballot: Term
    prev_index: LogIndex
    prev_ballot: Term
    entries: tuple[Entry, ...]
    commit: LogIndex


@dataclass(frozen=True, slots=True)
class Accepted:
    """Phase 2b. Success: the acceptor holds the leader's slots up to `index`, durably.
    Failure with the leader's ballot: slot `index` (the prev) did not match; resend from
    `hint`. Failure with a higher ballot: the leader was pre-empted."""

    src: NodeId
    dst: NodeId
    ballot: Term
    success: bool
    index: LogIndex
    hint: LogIndex = _NONE


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """Leader liveness and the chosen prefix; a non-zero `context` tags a read round."""

    src: NodeId
    dst: NodeId
    ballot: Term
    commit: LogIndex
    context: int = 0


@dataclass(frozen=True, slots=True)
class HeartbeatAck:
    src: NodeId
    dst: NodeId
    ballot: Term
    context: int = 0


@dataclass(frozen=True, slots=True)
class InstallSnapshot:
    """Catch-up of an acceptor whose next slots were compacted on the leader."""

    src: NodeId
    dst: NodeId
    ballot: Term
    snapshot: Snapshot


@dataclass(frozen=True, slots=True)
class SnapshotAck:
    """`index`: the acceptor now holds the leader's slots up to here."""

    src: NodeId
    dst: NodeId
    ballot: Term
    index: LogIndex


@dataclass(frozen=True, slots=True)
class TimeoutNow:
    """Leadership transfer: start phase 1 now, skipping the probe and stickiness."""

    src: NodeId
    dst: NodeId
    ballot: Term


@dataclass(frozen=True, slots=True)
class ReadIndexRequest:
    """A follower asks the leader for a linearizable read point."""

    src: NodeId
    dst: NodeId
    ballot: Term
    context: bytes


@dataclass(frozen=True, slots=True)
class ReadIndexResponse:
    src: NodeId
    dst: NodeId
    ballot: Term
    index: LogIndex
    context: bytes


Message = (
    Prepare
    | Promise
    | Accept
    | Accepted
    | Heartbeat
    | HeartbeatAck
    | InstallSnapshot
    | SnapshotAck
    | TimeoutNow
    | ReadIndexRequest
    | ReadIndexResponse
)

MESSAGE_TYPES: tuple[type[Message], ...] = (
    Prepare,
    Promise,
    Accept,
    Accepted,
    Heartbeat,
    HeartbeatAck,
    InstallSnapshot,
    SnapshotAck,
    TimeoutNow,
    ReadIndexRequest,
    ReadIndexResponse,
)
