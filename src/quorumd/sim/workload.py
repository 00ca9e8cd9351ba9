"""Clients: put/get/cas against random nodes, with timeouts, retries and a history.

Each client has one operation outstanding. It sends the request to a random node; if
no reply comes within `timeout_ticks` it resends the *same* (client, seq) to another
random node (the state machine's session table makes that safe). In the fault phase it
gives up after `max_attempts`: a write then has an unknown outcome and is recorded as
such (it may still take effect later); a read given up on constrains nothing and is
left out of the history. In the healed phase clients never give up: every operation
must complete, which is the liveness half of the run.

Times in the history are the run's global event counter, not ticks, so every call and
return has its own instant and real-time order is exact.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from quorumd._types import NodeId
from quorumd.check.history import Operation, unknown_outcome
from quorumd.check.models import KvInput, cas, get, put

CLIENT_BASE = 1000  # client network addresses: CLIENT_BASE + i


@dataclass(frozen=True, slots=True)
class ClientRequest:
    client: int
    seq: int
    input: KvInput
    hops: int = 0  # times forwarded between nodes


@dataclass(frozen=True, slots=True)
class ClientReply:
    client: int
    seq: int
    output: object


@dataclass(frozen=True, slots=True)
class WorkloadParams:
    clients: int = 4
    keys: tuple[str, ...] = ("a", "b")
    think_ticks: int = 6  # idle time between operations: uniform in [0, think_ticks)
    timeout_ticks: int = 25
    max_attempts: int = 3
    healed_ops: int = 2  # operations each client completes after the heal


@dataclass(slots=True)
class _Pending:
    seq: int
    input: KvInput
    call: int  # event counter
    call_tick: int
    deadline: int
    attempts: int
    healed: bool


@dataclass(slots=True)
class _Client:
    id: int
    next_seq: int = 1
    next_issue: int = 0
    pending: _Pending | None = None
    healed_done: int = 0
    seen: dict[str, str | None] = field(default_factory=dict)


Send = Callable[[int, int, object], None]  # (src, dst, message)


class Workload:
    def __init__(
        self,
        rng: random.Random,
        params: WorkloadParams,
        nodes: tuple[NodeId, ...],
        send: Send,
        events: Callable[[], int],
    ) -> None:
        self._rng = rng
        self.params = params
        self._nodes = nodes
        self._send = send
        self._events = events
        self._clients = [_Client(CLIENT_BASE + i) for i in range(params.clients)]
        self.history: list[Operation] = []
        self.latencies: list[int] = []  # ticks from call to return, completed ops
        self.issued = 0
        self.unknown = 0
        self.dropped_reads = 0

    def tick(self, now: int, healed: bool) -> None:
        for c in self._clients:
            p = c.pending
            if p is not None and now >= p.deadline:
                self._on_timeout(c, p, now, healed)
            if c.pending is None and now >= c.next_issue:
                if healed and c.healed_done >= self.params.healed_ops:
                    continue
                self._issue(c, now, healed)

    def _issue(self, c: _Client, now: int, healed: bool) -> None:
        rng = self._rng
        key = self.params.keys[rng.randrange(len(self.params.keys))]
        r = rng.random()
        if r < 0.35:
            inp = put(key, f"{c.id - CLIENT_BASE}.{c.next_seq}")
        elif r < 0.8:
            inp = get(key)
        else:
            inp = cas(key, c.seen.get(key), f"{c.id - CLIENT_BASE}.{c.next_seq}")
        p = _Pending(
            c.next_seq, inp, self._events(), now, now + self.params.timeout_ticks, 1, healed
        )
        c.next_seq += 1
        c.pending = p
        self.issued += 1
        self._send_to_random_node(c, p)

    def _send_to_random_node(self, c: _Client, p: _Pending) -> None:
        node = self._nodes[self._rng.randrange(len(self._nodes))]
        self._send(c.id, node, ClientRequest(c.id, p.seq, p.input))

    def _on_timeout(self, c: _Client, p: _Pending, now: int, healed: bool) -> None:
        if healed or p.attempts < self.params.max_attempts:
            p.attempts += 1
            p.deadline = now + self.params.timeout_ticks
            p.healed = p.healed or healed
            self._send_to_random_node(c, p)
            return
        c.pending = None
        c.next_issue = now + self._rng.randrange(self.params.think_ticks)
        if p.input.op == "get":
            self.dropped_reads += 1
        else:
            self.unknown += 1
            self.history.append(unknown_outcome(c.id, p.input, p.call))

    def deliver(self, reply: ClientReply, now: int) -> None:
        c = self._clients[reply.client - CLIENT_BASE]
        p = c.pending
        if p is None or p.seq != reply.seq:
            return  # a duplicate or late reply to an operation already finished
        c.pending = None
        c.next_issue = now + self._rng.randrange(self.params.think_ticks)
        if p.healed:
            c.healed_done += 1
        self.history.append(Operation(c.id, p.input, p.call, reply.output, self._events()))
        self.latencies.append(now - p.call_tick)
        if p.input.op == "get":
            assert reply.output is None or isinstance(reply.output, str)
            c.seen[p.input.key] = reply.output
        elif p.input.op == "put" or reply.output is True:
            c.seen[p.input.key] = p.input.value

    def finish(self) -> None:
        """End of run: writes still outstanding have unknown outcomes."""
        for c in self._clients:
            p = c.pending
            if p is not None and p.input.op != "get":
                self.unknown += 1
                self.history.append(unknown_outcome(c.id, p.input, p.call))
            c.pending = None

    def done(self) -> bool:
        """Healed phase: every client finished its quota and has nothing outstanding."""
        return all(
            c.pending is None and c.healed_done >= self.params.healed_ops for c in self._clients
        )

    def outstanding(self) -> int:
        return sum(c.pending is not None for c in self._clients)
