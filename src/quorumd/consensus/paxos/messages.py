"""Multi-Paxos messages: slotted records exchanged between peers, read-only by their
`Final` fields (mypy) rather than `frozen` (a frozen `__init__` costs several times more).

Every message carries `src`, `dst` and a `ballot` (Paxos Made Simple §2.2's proposal
number; see `ballot.py`). For requests it is the sender's ballot; for a refusal it is the
higher ballot the acceptor promised, which tells the sender it was pre-empted. Ballots are
`Term`-typed because they live in the shared `Term` slots of `HardState` and `Entry`.
`codec.py` turns messages into plain lists for the runtime.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from quorumd._types import LogIndex, NodeId, Term
from quorumd.consensus.engine import Entry, Snapshot

_NONE = LogIndex(0)
_ZERO = Term(0)


@dataclass(slots=True, unsafe_hash=True)
class Prepare:
    """Phase 1a for every slot from `first_slot` on (Paxos Made Simple §3).

    `probe` asks "would you promise `ballot`?" without changing the acceptor, so a
    proposer that cannot reach a majority never raises anyone's ballot (Raft thesis §9.6
    pre-vote, applied to phase 1). `transfer` marks a takeover ordered by the leader, which
    overrides the acceptors' leader stickiness.
    """

    src: Final[NodeId]
    dst: Final[NodeId]
    ballot: Final[Term]
    first_slot: Final[LogIndex]
    probe: Final[bool] = False
    transfer: Final[bool] = False


@dataclass(slots=True, unsafe_hash=True)
class Promise:
    """Phase 1b. Granted: the acceptor promised `ballot` and reports every slot it
    accepted from `first_slot` on (`entries`; `snapshot` too when it compacted past
    `first_slot`), with its last slot and that slot's ballot. Refused: `ballot` is
    the higher ballot it promised instead."""

    src: Final[NodeId]
    dst: Final[NodeId]
    ballot: Final[Term]
    granted: Final[bool]
    probe: Final[bool] = False
    commit: Final[LogIndex] = _NONE
    last_index: Final[LogIndex] = _NONE
    last_ballot: Final[Term] = _ZERO
    entries: Final[tuple[Entry, ...]] = ()
    snapshot: Final[Snapshot | None] = None


@dataclass(slots=True, unsafe_hash=True)
class Accept:
    """Phase 2a for a batch of consecutive slots after (prev_index, prev_ballot), plus the
    leader's chosen prefix so acceptors learn what is chosen."""

    src: Final[NodeId]
    dst: Final[NodeId]
    ballot: Final[Term]
    prev_index: Final[LogIndex]
    prev_ballot: Final[Term]
    entries: Final[tuple[Entry, ...]]
    commit: Final[LogIndex]


@dataclass(slots=True, unsafe_hash=True)
class Accepted:
    """Phase 2b. Success: the acceptor holds the leader's slots up to `index`, durably.
    Failure with the leader's ballot: slot `index` (the prev) did not match; resend from
    `hint`. Failure with a higher ballot: the leader was pre-empted."""

    src: Final[NodeId]
    dst: Final[NodeId]
    ballot: Final[Term]
    success: Final[bool]
    index: Final[LogIndex]
    hint: Final[LogIndex] = _NONE


@dataclass(slots=True, unsafe_hash=True)
class Heartbeat:
    """Leader liveness and the chosen prefix; a non-zero `context` tags a read round."""

    src: Final[NodeId]
    dst: Final[NodeId]
    ballot: Final[Term]
    commit: Final[LogIndex]
    context: Final[int] = 0


@dataclass(slots=True, unsafe_hash=True)
class HeartbeatAck:
    src: Final[NodeId]
    dst: Final[NodeId]
    ballot: Final[Term]
    context: Final[int] = 0


@dataclass(slots=True, unsafe_hash=True)
class InstallSnapshot:
    """Catch-up of an acceptor whose next slots were compacted on the leader."""

    src: Final[NodeId]
    dst: Final[NodeId]
    ballot: Final[Term]
    snapshot: Final[Snapshot]


@dataclass(slots=True, unsafe_hash=True)
class SnapshotAck:
    """`index`: the acceptor now holds the leader's slots up to here."""

    src: Final[NodeId]
    dst: Final[NodeId]
    ballot: Final[Term]
    index: Final[LogIndex]


@dataclass(slots=True, unsafe_hash=True)
class TimeoutNow:
    """Leadership transfer: start phase 1 now, skipping the probe and stickiness."""

    src: Final[NodeId]
    dst: Final[NodeId]
    ballot: Final[Term]


@dataclass(slots=True, unsafe_hash=True)
class ReadIndexRequest:
    """A follower asks the leader for a linearizable read point."""

    src: Final[NodeId]
    dst: Final[NodeId]
    ballot: Final[Term]
    context: Final[bytes]


@dataclass(slots=True, unsafe_hash=True)
class ReadIndexResponse:
    src: Final[NodeId]
    dst: Final[NodeId]
    ballot: Final[Term]
    index: Final[LogIndex]
    context: Final[bytes]


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
