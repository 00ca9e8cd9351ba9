"""The leader's view of one follower: how far it matches and how to feed it.

States (the same three as etcd's `tracker.Progress`)::

         reject / restart            match reaches pending snapshot
   ┌───────────────────┐      ┌─────────────────────────────────────┐
   ▼                   │      │                                     │
 PROBE ──success──▶ REPLICATE │     PROBE ──entries compacted──▶ SNAPSHOT
   one AppendEntries        pipelined, up to max_inflight
   per heartbeat            AppendEntries in flight

* PROBE: we do not know where the follower's log matches ours. Send one AppendEntries
  and pause until it is answered (or a heartbeat response un-pauses it), so a rejected
  probe costs one round trip, not a flood.
* REPLICATE: the follower accepted; send optimistically (`next` advances on send) with
  at most `max_inflight` unacknowledged requests, the flow-control window.
* SNAPSHOT: its next entry was compacted; an InstallSnapshot is in flight. Nothing else
  is sent until it is acknowledged (or the leader falls back to PROBE on heartbeat).
"""

from __future__ import annotations

import enum
from collections import deque

from quorumd._types import LogIndex


class ProgressState(enum.Enum):
    PROBE = "probe"
    REPLICATE = "replicate"
    SNAPSHOT = "snapshot"


class Progress:
    __slots__ = (
        "inflight",
        "match",
        "max_inflight",
        "next",
        "paused",
        "pending_snapshot",
        "recent_active",
        "state",
    )

    def __init__(self, next_index: LogIndex, max_inflight: int) -> None:
        self.match = LogIndex(0)
        self.next = next_index
        self.state = ProgressState.PROBE
        self.paused = False
        self.pending_snapshot = LogIndex(0)
        self.recent_active = False
        self.max_inflight = max_inflight
        # last index of each unacknowledged AppendEntries in REPLICATE, oldest first
        self.inflight: deque[LogIndex] = deque()

    def __repr__(self) -> str:
        return f"{self.state.value} match={self.match} next={self.next}"

    def become_probe(self) -> None:
        # after a snapshot the follower holds at least pending_snapshot
        if self.state is ProgressState.SNAPSHOT:
            self.next = LogIndex(max(self.match + 1, self.pending_snapshot + 1))
        else:
            self.next = LogIndex(self.match + 1)
        self.state = ProgressState.PROBE
        self.paused = False
        self.pending_snapshot = LogIndex(0)
        self.inflight.clear()

    def become_replicate(self) -> None:
        self.state = ProgressState.REPLICATE
        self.next = LogIndex(self.match + 1)
        self.paused = False
        self.pending_snapshot = LogIndex(0)
        self.inflight.clear()

    def become_snapshot(self, index: LogIndex) -> None:
        self.state = ProgressState.SNAPSHOT
        self.pending_snapshot = index
        self.paused = False
        self.inflight.clear()

    def is_paused(self) -> bool:
        if self.state is ProgressState.PROBE:
            return self.paused
        if self.state is ProgressState.REPLICATE:
            return len(self.inflight) >= self.max_inflight
        return True

    def sent(self, last: LogIndex, n_entries: int) -> None:
        """An AppendEntries ending at `last` carrying n_entries went out."""
        if self.state is ProgressState.REPLICATE:
            if n_entries:
                self.next = LogIndex(last + 1)
                self.inflight.append(last)
        elif self.state is ProgressState.PROBE:
            self.paused = True

    def maybe_update(self, index: LogIndex) -> bool:
        """A success ack up to `index`; False if it told us nothing new."""
        updated = index > self.match
        if updated:
            self.match = index
        self.next = LogIndex(max(self.next, index + 1))
        self.paused = False
        while self.inflight and self.inflight[0] <= index:
            self.inflight.popleft()
        return updated

    def maybe_decrease(self, rejected: LogIndex, next_index: LogIndex) -> bool:
        """A rejection of prev_index `rejected`; move `next` back to next_index.

        Returns False for a stale rejection (a reordered reply to an older request).
        """
        if self.state is ProgressState.REPLICATE:
            if rejected <= self.match:
                return False
            self.next = LogIndex(max(self.match + 1, min(rejected, next_index)))
            self.become_probe_at(self.next)
            return True
        if rejected != self.next - 1:
            return False
        self.next = LogIndex(max(1, self.match + 1, min(rejected, next_index)))
        self.paused = False
        return True

    def become_probe_at(self, next_index: LogIndex) -> None:
        self.state = ProgressState.PROBE
        self.next = next_index
        self.paused = False
        self.inflight.clear()
