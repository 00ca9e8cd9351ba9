"""ReadIndex bookkeeping on the leader (thesis §6.4).

A read request records the commit index at arrival, then the leader sends a heartbeat
round tagged with a sequence number. Once a quorum of voters (the leader included)
answered that round, no other leader can have existed when the request arrived, so every
request queued up to that sequence number may be served at its recorded index.

Sequence numbers (not the caller's context bytes) tag rounds, so two callers using the
same context cannot confuse each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from quorumd._types import LogIndex, NodeId


@dataclass(slots=True)
class PendingRead:
    seq: int
    index: LogIndex
    origin: NodeId  # the node that asked: the leader itself or a follower
    context: bytes
    acks: set[NodeId] = field(default_factory=set)


class ReadOnly:
    __slots__ = ("_last_seq", "_queue")

    def __init__(self) -> None:
        self._last_seq = 0
        self._queue: list[PendingRead] = []

    def add(self, index: LogIndex, origin: NodeId, context: bytes, leader: NodeId) -> int:
        self._last_seq += 1
        self._queue.append(PendingRead(self._last_seq, index, origin, context, {leader}))
        return self._last_seq

    def ack(self, seq: int, voter: NodeId, quorum: int) -> list[PendingRead]:
        """Record `voter`'s answer to round `seq`; return the requests now confirmed."""
        for n, pending in enumerate(self._queue):
            if pending.seq == seq:
                pending.acks.add(voter)
                if len(pending.acks) >= quorum:
                    done = self._queue[: n + 1]
                    del self._queue[: n + 1]
                    return done
                return []
        return []

    def latest_seq(self) -> int:
        return self._queue[-1].seq if self._queue else 0

    def pending(self) -> int:
        return len(self._queue)

    def reset(self) -> None:
        self._queue.clear()
