"""A simulated network: per-message delay, loss, duplication, reordering, partitions.

Theory of operation:

1. `send` decides a message's fate once, from the network's own PRNG stream: dropped
   (loss, or its link is cut), or delivered at `now + delay`, possibly twice (dup).
   Delays vary per message, so later messages can overtake earlier ones (reorder).
2. `due(now)` pops, in (delivery time, send order), every message whose time has come.
   A link cut after a message was sent drops it on delivery too: a partition takes
   effect at once, as when a switch fails with packets in its buffers.
3. Links are directed: a symmetric partition cuts both directions, a one-way partition
   one. Only node-to-node links are cut; clients sit outside the partition.
4. A paused node's messages wait (as in a kernel socket buffer) and are delivered in
   order when it resumes; a crashed node's are dropped by the caller.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class NetworkParams:
    loss: float = 0.0
    dup: float = 0.005
    reorder: float = 0.02  # probability of one extra tick of delay (overtaking)
    delay: float = 0.01  # probability of a long delay
    long_delay_ticks: int = 8
    base_delay_ticks: int = 1


@dataclass(frozen=True, slots=True)
class Envelope:
    deliver_at: int
    seq: int
    src: int
    dst: int
    message: object


class SimNetwork:
    def __init__(self, rng: random.Random, params: NetworkParams) -> None:
        self._rng = rng
        self.params = params
        self.extra_loss = 0.0  # raised by the nemesis during a loss window
        self._queue: list[tuple[int, int, Envelope]] = []
        self._seq = 0
        self._cut: set[tuple[int, int]] = set()
        self._paused: set[int] = set()
        self._held: dict[int, list[Envelope]] = {}
        self.stats = {"sent": 0, "dropped": 0, "duplicated": 0, "delivered": 0}

    # -- faults -----------------------------------------------------------------------

    def partition(self, groups: Iterable[Iterable[int]]) -> None:
        """Cut every link between different groups, both ways."""
        sets = [sorted(g) for g in groups]
        for i, a in enumerate(sets):
            for j, b in enumerate(sets):
                if i != j:
                    self._cut.update((x, y) for x in a for y in b)

    def cut_one_way(self, srcs: Iterable[int], dsts: Iterable[int]) -> None:
        """Messages from `srcs` to `dsts` are lost; the other direction still works."""
        dst_list = sorted(dsts)
        self._cut.update((s, d) for s in sorted(srcs) for d in dst_list if s != d)

    def heal(self) -> None:
        self._cut.clear()

    def is_cut(self, src: int, dst: int) -> bool:
        return (src, dst) in self._cut

    @property
    def cut_links(self) -> list[tuple[int, int]]:
        return sorted(self._cut)

    def pause(self, node: int) -> None:
        self._paused.add(node)

    def resume(self, node: int, now: int) -> None:
        self._paused.discard(node)
        for env in self._held.pop(node, []):
            self._push(now, env.src, env.dst, env.message)

    def drop_to(self, node: int) -> None:
        """Forget everything in flight to `node` (it crashed: its sockets are gone)."""
        self._held.pop(node, None)

    # -- traffic ----------------------------------------------------------------------

    def send(self, src: int, dst: int, message: object, now: int) -> None:
        p = self.params
        self.stats["sent"] += 1
        rng = self._rng
        if (src, dst) in self._cut or rng.random() < p.loss + self.extra_loss:
            self.stats["dropped"] += 1
            return
        delay = p.base_delay_ticks
        r = rng.random()
        if r < p.delay:
            delay += rng.randrange(2, p.long_delay_ticks + 1)
        elif r < p.delay + p.reorder:
            delay += 1
        self._push(now + delay, src, dst, message)
        if rng.random() < p.dup:
            self.stats["duplicated"] += 1
            self._push(now + delay + rng.randrange(0, 3), src, dst, message)

    def _push(self, at: int, src: int, dst: int, message: object) -> None:
        self._seq += 1
        env = Envelope(at, self._seq, src, dst, message)
        heapq.heappush(self._queue, (at, self._seq, env))

    def due(self, now: int) -> list[Envelope]:
        """Messages to deliver now, in order; held back for paused nodes."""
        out: list[Envelope] = []
        queue = self._queue
        while queue and queue[0][0] <= now:
            env = heapq.heappop(queue)[2]
            if (env.src, env.dst) in self._cut:
                self.stats["dropped"] += 1
            elif env.dst in self._paused:
                self._held.setdefault(env.dst, []).append(env)
            else:
                self.stats["delivered"] += 1
                out.append(env)
        return out

    def in_flight(self) -> int:
        return len(self._queue) + sum(len(v) for v in self._held.values())
