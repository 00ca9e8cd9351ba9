"""One load-generator process: its connections, its flows, its counters.

Theory of operation:

1. Before the start barrier a worker creates what its own flow slots need (lock dirs)
   and opens all its connections, then reports "ready". The parent sets one shared
   `start_at` (CLOCK_MONOTONIC is system-wide on Linux, so every process agrees on it).
2. From `start_at` each connection keeps `depth` flows in flight; when a flow ends the
   slot starts the next one at once. Only flows that *finish* inside the window
   [start_at + warmup, + duration) count as ops and feed the latency histogram.
3. Every reply with err != 0 is counted by (op, code) and ends its flow; a connection
   that dies counts each request it had pending as a connection loss, one whose oldest
   request waited longer than `timeout_s` is dropped and its pending requests count as
   timeouts. Either way the connection is reopened to the next host and its slots go on.
4. At the window's end no new flow starts; those under way may finish (a lock flow
   releases what it took) for up to `timeout_s`, then whatever is left counts as
   timeouts. Sessions are closed so their ephemeral nodes go at once.
5. CPU time (getrusage of this process) is sampled at the window's edges, so the
   report can say how busy the generator itself was.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import resource
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from quorumd.errors import ConnectionLoss
from quorumd.loadgen.conn import RawClient, WireProtocol, connect
from quorumd.loadgen.lockwire import LOCK_EXTENSIONS
from quorumd.loadgen.stats import ErrorKey, LatencyHistogram, WorkerResult
from quorumd.loadgen.workloads import Flow, FlowFactory, Layout, Workload, op_name
from quorumd.wire import OpCode, Reply

__all__ = ["WorkerParams", "run_worker"]

_NODEEXISTS = -110
_monotonic_ns = time.monotonic_ns


@dataclass(frozen=True, slots=True)
class WorkerParams:
    worker: int
    hosts: tuple[tuple[str, int], ...]
    conns: int
    first_conn: int  # global index of this worker's first connection (spreads hosts)
    depth: int
    workload: str
    layout: Layout
    warmup_s: float
    duration_s: float
    timeout_s: float
    seed: int
    session_timeout_ms: int = 30_000


class _Conn:
    __slots__ = ("host_index", "index", "proto", "slots", "timed_out")

    def __init__(self, index: int, host_index: int) -> None:
        self.index = index
        self.host_index = host_index
        self.proto: WireProtocol | None = None
        self.timed_out = False
        self.slots: list[_Slot] = []


class _Slot:
    __slots__ = ("conn", "factory", "flow", "started_ns")

    def __init__(self, conn: _Conn, factory: FlowFactory) -> None:
        self.conn = conn
        self.factory = factory
        self.flow: Flow | None = None
        self.started_ns = 0


def _cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


class _Worker:
    def __init__(self, p: WorkerParams, progress: Callable[[int, int], None]) -> None:
        self.p = p
        self.progress = progress
        self.workload = Workload(p.workload, p.layout)
        self.extensions = LOCK_EXTENSIONS if p.workload == "lock-native" else None
        rng = random.Random(p.seed)
        self.conns = [_Conn(i, (p.first_conn + i) % len(p.hosts)) for i in range(p.conns)]
        for c in self.conns:
            c.slots = [
                _Slot(c, self.workload.flow_factory(p.worker, c.index, s, rng))
                for s in range(p.depth)
            ]
        self.running = False
        self.active = 0
        self.completed = 0
        self.ops = 0
        self.latency = LatencyHistogram()
        self.errors: dict[ErrorKey, int] = {}
        self.anomalies: dict[str, int] = {}
        self.timeouts = 0
        self.losses = 0
        self.window_start_ns = 0
        self.window_end_ns = 0
        self.cpu_marks: list[float] = []

    # ------------------------------------------------------------------ hot path

    def on_reply(self, token: Any, reply: Reply | None, sent_ns: int) -> None:
        if token is None:  # closeSession
            return
        slot: _Slot = token
        if reply is None:
            if slot.conn.timed_out:
                self.timeouts += 1
            else:
                self.losses += 1
            slot.flow = None
            self.active -= 1
            return
        if reply.err:
            key = (op_name(reply.opcode), reply.err)
            self.errors[key] = self.errors.get(key, 0) + 1
            self._next_flow(slot)
            return
        flow = slot.flow
        assert flow is not None
        step = flow.advance(reply)
        if step is not None:
            assert slot.conn.proto is not None
            slot.conn.proto.send(step[0], step[1], slot)
            return
        now = _monotonic_ns()
        self.completed += 1
        if flow.anomaly is not None:
            self.anomalies[flow.anomaly] = self.anomalies.get(flow.anomaly, 0) + 1
        elif self.window_start_ns <= now < self.window_end_ns:
            self.ops += 1
            self.latency.record_us((now - slot.started_ns) // 1000)
        self._next_flow(slot)

    def _next_flow(self, slot: _Slot) -> None:
        proto = slot.conn.proto
        if not self.running or proto is None or proto.closed:
            slot.flow = None
            self.active -= 1
            return
        flow = slot.flow = slot.factory()
        slot.started_ns = _monotonic_ns()
        opcode, record = flow.first()
        proto.send(opcode, record, slot)

    def _start_slots(self, c: _Conn) -> None:
        for slot in c.slots:
            if slot.flow is None:
                self.active += 1
                self._next_flow(slot)

    # ------------------------------------------------------------- connections

    async def _open(self, c: _Conn) -> WireProtocol:
        host, port = self.p.hosts[c.host_index]
        proto = await connect(
            host,
            port,
            self.on_reply,
            session_timeout_ms=self.p.session_timeout_ms,
            extensions=self.extensions,
        )
        c.proto = proto
        c.timed_out = False
        return proto

    async def _supervise(self, c: _Conn) -> None:
        """Reopen a dead connection (next host) and restart its slots (rule 3)."""
        while self.running:
            proto = c.proto
            if proto is not None and not proto.lost.done():
                await asyncio.wait([proto.lost], timeout=0.5)
                continue
            c.host_index = (c.host_index + 1) % len(self.p.hosts)
            try:
                await self._open(c)
            except (OSError, ConnectionLoss, TimeoutError):
                await asyncio.sleep(0.1)
                continue
            if self.running:
                self._start_slots(c)

    async def _housekeeping(self) -> None:
        """Pings, timeouts (rule 3) and progress, a few times a second."""
        timeout_ns = int(self.p.timeout_s * 1e9)
        last_ping = _monotonic_ns()
        while True:
            await asyncio.sleep(0.2)
            now = _monotonic_ns()
            ping = now - last_ping > 3_000_000_000
            if ping:
                last_ping = now
            for c in self.conns:
                proto = c.proto
                if proto is None or proto.closed:
                    continue
                oldest = proto.oldest_sent_ns()
                if oldest is not None and now - oldest > timeout_ns:
                    c.timed_out = True
                    proto.abort(TimeoutError("request unanswered past the timeout"))
                elif ping:
                    proto.ping()
            self.progress(self.completed, sum(self.errors.values()) + self.timeouts + self.losses)

    # -------------------------------------------------------------------- phases

    async def setup(self) -> None:
        steps = [
            step
            for c in self.conns
            for step in self.workload.slot_setup_steps(self.p.worker, c.index, self.p.depth)
        ]
        if steps:
            host, port = self.p.hosts[self.p.worker % len(self.p.hosts)]
            client = await RawClient.open(host, port)
            try:
                replies = await client.pipeline(steps, 64)
            finally:
                await client.close()
            bad = [r for r in replies if r.err not in (0, _NODEEXISTS)]
            if bad:
                raise RuntimeError(f"slot setup failed: {len(bad)} errors, first err {bad[0].err}")
        for c in self.conns:
            await self._open(c)

    async def run(self, start_at_ns: int) -> WorkerResult:
        p = self.p
        self.window_start_ns = start_at_ns + int(p.warmup_s * 1e9)
        self.window_end_ns = self.window_start_ns + int(p.duration_s * 1e9)
        loop = asyncio.get_running_loop()
        await asyncio.sleep(max(0.0, (start_at_ns - _monotonic_ns()) / 1e9))
        for edge in (self.window_start_ns, self.window_end_ns):
            loop.call_later(max(0.0, (edge - _monotonic_ns()) / 1e9), self._mark_cpu)
        self.running = True
        for c in self.conns:
            self._start_slots(c)
        tasks = [loop.create_task(self._supervise(c)) for c in self.conns]
        tasks.append(loop.create_task(self._housekeeping()))
        try:
            await asyncio.sleep(max(0.0, (self.window_end_ns - _monotonic_ns()) / 1e9))
            self.running = False
            await self._drain()
        finally:
            self.running = False
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        await self._close_sessions()
        self.progress(self.completed, sum(self.errors.values()) + self.timeouts + self.losses)
        return self._result()

    def _mark_cpu(self) -> None:
        self.cpu_marks.append(_cpu_s())

    async def _drain(self) -> None:
        """Let flows under way finish; what is left after the timeout is a timeout."""
        deadline = _monotonic_ns() + int(self.p.timeout_s * 1e9)
        while self.active > 0 and _monotonic_ns() < deadline:
            await asyncio.sleep(0.01)
        for c in self.conns:
            proto = c.proto
            if proto is not None and proto.pending:
                c.timed_out = True
                proto.abort(TimeoutError("unanswered at the end of the run"))
                await asyncio.wait([proto.lost], timeout=1.0)

    async def _close_sessions(self) -> None:
        waits = []
        for c in self.conns:
            proto = c.proto
            if proto is not None and not proto.closed:
                proto.send(OpCode.CLOSE_SESSION, None, None)
                waits.append(proto.lost)
        if waits:
            await asyncio.wait(waits, timeout=2.0)
        for c in self.conns:
            if c.proto is not None and c.proto.transport is not None:
                c.proto.transport.close()

    def _result(self) -> WorkerResult:
        marks = self.cpu_marks
        cpu = marks[1] - marks[0] if len(marks) >= 2 else 0.0
        return WorkerResult(
            worker=self.p.worker,
            ops=self.ops,
            latency=self.latency,
            errors=dict(self.errors),
            timeouts=self.timeouts,
            connection_losses=self.losses,
            anomalies=dict(self.anomalies),
            cpu_s=cpu,
            window_s=self.p.duration_s,
        )


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency off Windows
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


async def _main(p: WorkerParams, messages: Any, start: Any, start_at: Any, counters: Any) -> None:
    def progress(done: int, bad: int) -> None:
        counters[2 * p.worker] = done
        counters[2 * p.worker + 1] = bad

    worker = _Worker(p, progress)
    await worker.setup()
    messages.put(("ready", p.worker))
    loop = asyncio.get_running_loop()
    if not await loop.run_in_executor(None, start.wait, 120.0):
        raise RuntimeError("no start signal from the parent within 120 s")
    result = await worker.run(int(start_at.value))
    messages.put(("result", result))


def run_worker(p: WorkerParams, messages: Any, start: Any, start_at: Any, counters: Any) -> None:
    """Process entry point (multiprocessing target): every outcome goes to `messages`."""
    try:
        with asyncio.Runner(loop_factory=_new_loop) as runner:
            runner.run(_main(p, messages, start, start_at, counters))
    except BaseException:
        messages.put(("error", p.worker, traceback.format_exc()))
    with contextlib.suppress(Exception):
        messages.close()
        messages.join_thread()
