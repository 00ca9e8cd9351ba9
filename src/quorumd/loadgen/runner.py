"""The parent process of a run: setup, worker processes, progress, aggregation.

    result = run_bench(BenchConfig(hosts="127.0.0.1:2181", workload="set", conns=16,
                                   depth=16, procs=2, duration_s=10))
    print(result.ops_per_s, result.latency.percentile_ms(99), result.to_json())

The parent creates the shared nodes (one pipelined connection), probes the lock
extension for `lock-native`, starts `procs` worker processes (spawn, so no state of the
parent leaks into them), releases them at one instant and merges what they send back.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing as mp
import os
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from quorumd.errors import ConnectionLoss, QuorumdError
from quorumd.loadgen.conn import RawClient, parse_hosts
from quorumd.loadgen.lockwire import (
    LOCK_ACQUIRE,
    LOCK_EXTENSIONS,
    LOCK_RELEASE,
    acquire_request,
    release_request,
)
from quorumd.loadgen.stats import BenchResult, WorkerResult, aggregate
from quorumd.loadgen.worker import WorkerParams, run_worker
from quorumd.loadgen.workloads import Layout, Workload

__all__ = [
    "BenchConfig",
    "BenchError",
    "LockExtensionUnsupported",
    "Progress",
    "run_bench",
    "split_conns",
]

_NODEEXISTS = -110
_UNIMPLEMENTED = -6


class BenchError(QuorumdError):
    """The run could not be carried out (setup failed, a worker crashed)."""


class LockExtensionUnsupported(BenchError):
    """The server does not speak quorumd's lock opcodes (a plain ZooKeeper, say)."""


@dataclass(frozen=True, slots=True)
class BenchConfig:
    hosts: str
    workload: str = "set"
    conns: int = 16
    depth: int = 16
    procs: int = 1
    duration_s: float = 10.0
    warmup_s: float = 2.0
    timeout_s: float = 10.0
    seed: int = 1
    root: str = "/quorumd-bench"
    nodes: int = 1000
    data_size: int = 100


@dataclass(frozen=True, slots=True)
class Progress:
    """What the parent knows mid-run: completed flows and failures so far."""

    phase: str  # "warmup" | "measure" | "drain"
    elapsed_s: float
    completed: int
    failures: int


def split_conns(conns: int, procs: int) -> list[int]:
    """Connections per worker: as even as possible, every worker at least one."""
    if procs < 1 or conns < procs:
        raise ValueError(f"need conns >= procs >= 1 (got conns={conns}, procs={procs})")
    base, extra = divmod(conns, procs)
    return [base + (1 if i < extra else 0) for i in range(procs)]


async def _setup(cfg: BenchConfig, workload: Workload) -> None:
    host, port = parse_hosts(cfg.hosts)[0]
    client = await RawClient.open(host, port)
    try:
        replies = await client.pipeline(workload.setup_steps(), 128)
    finally:
        await client.close()
    bad = [r for r in replies if r.err not in (0, _NODEEXISTS)]
    if bad:
        raise BenchError(f"setup failed: {len(bad)} error replies (first: err {bad[0].err})")
    if workload.name == "lock-native":
        await _probe_lock_extension(host, port, f"{cfg.root}/nlocks/probe-{workload.layout.nonce}")


async def _probe_lock_extension(host: str, port: int, path: str) -> None:
    client = await RawClient.open(host, port, extensions=LOCK_EXTENSIONS)
    try:
        try:
            reply = await asyncio.wait_for(client.call(LOCK_ACQUIRE, acquire_request(path)), 5.0)
        except (ConnectionLoss, TimeoutError) as exc:
            raise LockExtensionUnsupported(
                f"{host}:{port} dropped the connection on lockAcquire (opcode 200): "
                "no quorumd lock extension"
            ) from exc
        if reply.err == _UNIMPLEMENTED:
            raise LockExtensionUnsupported(
                f"{host}:{port} answered UNIMPLEMENTED to lockAcquire (opcode 200)"
            )
        if reply.err != 0:
            raise BenchError(f"lock probe on {path} failed with err {reply.err}")
        await client.call(LOCK_RELEASE, release_request(path))
    finally:
        await client.close()


def _spawn(
    cfg: BenchConfig,
    layout: Layout,
    ctx: Any,
    messages: Any,
    start: Any,
    start_at: Any,
    counters: Any,
) -> list[Any]:
    hosts = tuple(parse_hosts(cfg.hosts))
    procs = []
    first = 0
    for w, n in enumerate(split_conns(cfg.conns, cfg.procs)):
        params = WorkerParams(
            worker=w,
            hosts=hosts,
            conns=n,
            first_conn=first,
            depth=cfg.depth,
            workload=cfg.workload,
            layout=layout,
            warmup_s=cfg.warmup_s,
            duration_s=cfg.duration_s,
            timeout_s=cfg.timeout_s,
            seed=cfg.seed * 1000 + w,
        )
        first += n
        proc = ctx.Process(
            target=run_worker,
            args=(params, messages, start, start_at, counters),
            name=f"quorumd-bench-{w}",
            daemon=True,
        )
        proc.start()
        procs.append(proc)
    return procs


def _receive(messages: Any, deadline: float, tick: Callable[[], None]) -> tuple[Any, ...]:
    while True:
        tick()
        if time.monotonic() > deadline:
            raise BenchError("workers did not report in time")
        with contextlib.suppress(queue.Empty):
            msg: tuple[Any, ...] = messages.get(timeout=0.2)
            if msg[0] == "error":
                raise BenchError(f"worker {msg[1]} failed:\n{msg[2]}")
            return msg


def run_bench(
    cfg: BenchConfig, on_progress: Callable[[Progress], None] | None = None
) -> BenchResult:
    """Run one benchmark and return the merged result (see the module docstring)."""
    split_conns(cfg.conns, cfg.procs)
    layout = Layout(cfg.root, f"{os.getpid()}t{time.time_ns() % 10**9}", cfg.nodes, cfg.data_size)
    workload = Workload(cfg.workload, layout)
    asyncio.run(_setup(cfg, workload))
    ctx = mp.get_context("spawn")
    messages = ctx.Queue()
    start = ctx.Event()
    start_at = ctx.Value("q", 0, lock=False)
    counters = ctx.Array("q", 2 * cfg.procs, lock=False)
    procs = _spawn(cfg, layout, ctx, messages, start, start_at, counters)
    t0 = 0.0

    def tick() -> None:
        if on_progress is None or not start.is_set():
            return
        elapsed = time.monotonic() - t0
        phase = (
            "warmup"
            if elapsed < cfg.warmup_s
            else "measure"
            if elapsed < cfg.warmup_s + cfg.duration_s
            else "drain"
        )
        done = sum(counters[0::2])
        on_progress(Progress(phase, elapsed, done, sum(counters[1::2])))

    try:
        deadline = time.monotonic() + 60.0 + 0.1 * cfg.conns * cfg.depth / max(cfg.procs, 1)
        ready = 0
        while ready < cfg.procs:
            _receive(messages, deadline, tick)
            ready += 1
        t0 = time.monotonic() + 0.2
        start_at.value = int(t0 * 1e9)
        start.set()
        deadline = t0 + cfg.warmup_s + cfg.duration_s + cfg.timeout_s + 30.0
        results: list[WorkerResult] = []
        while len(results) < cfg.procs:
            results.append(_receive(messages, deadline, tick)[1])
        for proc in procs:
            proc.join(timeout=5.0)
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5.0)
    return aggregate(
        results,
        workload=cfg.workload,
        hosts=cfg.hosts,
        conns=cfg.conns,
        depth=cfg.depth,
        duration_s=cfg.duration_s,
    )
