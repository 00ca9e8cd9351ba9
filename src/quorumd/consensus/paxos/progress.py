"""The leader's view of each acceptor in phase 2, and its read-confirmation rounds.

Per acceptor (the same flow control as etcd's tracker, which Multi-Paxos needs just as
much: "Paxos Made Live" §4 pipelines phase 2 for throughput)::

    probing ──accepted──▶ pipelining ──refused──▶ probing
       │  (next slot compacted)                      ▲
       ▼                                             │ snapshot acked / election timeout
    snapshot ────────────────────────────────────────┘

* probing: where the acceptor's slots match ours is unknown; one Accept at a time.
* pipelining: `next` advances on send; at most `max_inflight` unanswered Accepts.
* snapshot: an InstallSnapshot is in flight; nothing else is sent.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass, field

from quorumd._types import LogIndex, NodeId


class Mode(enum.Enum):
    PROBING = "probing"
    PIPELINING = "pipelining"
    SNAPSHOT = "snapshot"


class AcceptorProgress:
    __slots__ = (
        "inflight",
        "match",
        "max_inflight",
        "mode",
        "next",
        "paused",
        "pending_snapshot",
        "recent_active",
    )

    def __init__(self, next_index: LogIndex, max_inflight: int) -> None:
        self.match = LogIndex(0)
        self.next = next_index
        self.mode = Mode.PROBING
        self.paused = False
        self.pending_snapshot = LogIndex(0)
        self.recent_active = False
        self.max_inflight = max_inflight
        self.inflight: deque[LogIndex] = deque()  # last slot of each unanswered Accept

    def __repr__(self) -> str:
        return f"{self.mode.value} match={self.match} next={self.next}"

    def probe_from(self, next_index: int) -> None:
        self.mode = Mode.PROBING
        self.next = LogIndex(max(next_index, self.match + 1))
        self.paused = False
        self.pending_snapshot = LogIndex(0)
        self.inflight.clear()

    def pipeline(self) -> None:
        self.mode = Mode.PIPELINING
        self.next = LogIndex(max(self.next, self.match + 1))
        self.paused = False
        self.inflight.clear()

    def snapshot_sent(self, index: LogIndex) -> None:
        self.mode = Mode.SNAPSHOT
        self.pending_snapshot = index
        self.inflight.clear()

    def is_paused(self) -> bool:
        if self.mode is Mode.PROBING:
            return self.paused
        if self.mode is Mode.PIPELINING:
            return len(self.inflight) >= self.max_inflight
        return True

    def sent(self, last: LogIndex, n_entries: int) -> None:
        if self.mode is Mode.PIPELINING:
            if n_entries:
                self.next = LogIndex(last + 1)
                self.inflight.append(last)
        else:
            self.paused = True

    def accepted(self, index: LogIndex) -> bool:
        """A success up to `index`; False if it told us nothing new."""
        updated = index > self.match
        self.match = LogIndex(max(self.match, index))
        self.next = LogIndex(max(self.next, index + 1))
        self.paused = False
        while self.inflight and self.inflight[0] <= index:
            self.inflight.popleft()
        return updated

    def refused(self, rejected: LogIndex, hint: LogIndex) -> bool:
        """Slot `rejected` did not match; False for a stale refusal (reordered reply)."""
        if rejected <= self.match or (self.mode is Mode.PROBING and rejected != self.next - 1):
            return False
        self.probe_from(min(rejected, max(hint, 1)))
        return True


@dataclass(slots=True)
class PendingRead:
    seq: int
    index: LogIndex  # the chosen prefix when the read arrived
    origin: NodeId
    context: bytes
    acks: set[NodeId] = field(default_factory=set)


class ReadRounds:
    """Read confirmation: a heartbeat round tagged `seq`, acknowledged by a majority,
    proves no higher ballot had been promised by a majority when the read arrived, so the
    recorded chosen prefix is the latest. One round confirms every earlier read too."""

    __slots__ = ("_last_seq", "_queue")

    def __init__(self) -> None:
        self._last_seq = 0
        self._queue: list[PendingRead] = []

    def add(self, index: LogIndex, origin: NodeId, context: bytes, leader: NodeId) -> int:
        self._last_seq += 1
        self._queue.append(PendingRead(self._last_seq, index, origin, context, {leader}))
        return self._last_seq

    def ack(self, seq: int, voter: NodeId, quorum: int) -> list[PendingRead]:
        for n, pending in enumerate(self._queue):
            if pending.seq == seq:
                pending.acks.add(voter)
                if len(pending.acks) < quorum:
                    return []
                done = self._queue[: n + 1]
                del self._queue[: n + 1]
                return done
        return []

    def latest_seq(self) -> int:
        return self._queue[-1].seq if self._queue else 0

    def reset(self) -> None:
        self._queue.clear()
