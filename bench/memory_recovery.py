"""Memory held for N nodes of 100 bytes, and the time to restart, quorumd vs ZooKeeper.

    .venv/bin/python bench/memory_recovery.py                   # 1,000,000 nodes, both
    .venv/bin/python bench/memory_recovery.py --nodes 200000    # smaller
    .venv/bin/python bench/memory_recovery.py --only quorumd --json

For each system: start 1 node, load N nodes of 100 bytes under /mem/pXXXX/ (1,000 per
parent) with pipelined creates over a few connections, wait for things to settle, read
VmRSS / VmHWM from /proc/PID/status; then kill -9 the server and start it again (same
data dir) and time from the process start until a getData of the last node succeeds
(a crash restart: what recovery from the log and snapshots costs). ZooKeeper runs with
-Xms = -Xmx = --zk-heap, so its RSS is the part of that heap it touched plus the JVM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import tempfile
import time
from pathlib import Path

from _servers import Nodes, add_build_option, open_client, rss_kib, serve_env
from quorumd.errors import ConnectionLoss
from quorumd.loadgen import RawClient, parse_hosts
from quorumd.loadgen.workloads import OPEN_ACL_UNSAFE
from quorumd.wire import CreateRequest, GetDataRequest, OpCode, Reply

PER_PARENT = 1000
CHUNK = 10_000


def leaf(i: int) -> str:
    return f"/mem/p{i // PER_PARENT:04d}/n{i % PER_PARENT:04d}"


def _create(path: str, data: bytes = b"") -> tuple[int, CreateRequest]:
    return OpCode.CREATE, CreateRequest(path, data, OPEN_ACL_UNSAFE, 0)


async def _load_range(
    host: str, port: int, lo: int, hi: int, depth: int, progress: list[int]
) -> int:
    """Create leaves [lo, hi); returns how many error replies came back."""
    client = await open_client(host, port)
    payload = b"v" * 100
    errors = 0
    try:
        for start in range(lo, hi, CHUNK):
            end = min(hi, start + CHUNK)
            replies = await client.pipeline(
                (_create(leaf(i), payload) for i in range(start, end)), depth
            )
            errors += sum(1 for r in replies if r.err != 0)
            progress[0] += end - start
    finally:
        await client.close()
    return errors


async def load(hosts: str, n: int, conns: int, depth: int, quiet: bool) -> dict[str, float]:
    host, port = parse_hosts(hosts)[0]
    setup = await open_client(host, port)
    parents = [_create("/mem")] + [
        _create(f"/mem/p{p:04d}") for p in range((n + PER_PARENT - 1) // PER_PARENT)
    ]
    bad = [r for r in await setup.pipeline(parents, 256) if r.err != 0]
    await setup.close()
    if bad:
        raise RuntimeError(f"creating parents failed: {len(bad)} errors (first {bad[0].err})")
    progress = [0]
    t0 = time.monotonic()
    bounds = [n * k // conns for k in range(conns + 1)]
    tasks = [
        asyncio.create_task(_load_range(host, port, bounds[k], bounds[k + 1], depth, progress))
        for k in range(conns)
    ]
    while not all(t.done() for t in tasks):
        await asyncio.wait(tasks, timeout=10.0)
        if not quiet:
            rate = progress[0] / (time.monotonic() - t0)
            print(f"  loaded {progress[0]:,}/{n:,} ({rate:,.0f}/s)", flush=True)
    errors = sum(t.result() for t in tasks)
    elapsed = time.monotonic() - t0
    return {"load_s": round(elapsed, 1), "load_rate": round(n / elapsed), "load_errors": errors}


async def _read_last(host: str, port: int, path: str) -> bool:
    try:
        client = await RawClient.open(host, port, timeout_s=1.0)
    except (OSError, ConnectionLoss, TimeoutError):
        return False
    try:
        reply: Reply = await asyncio.wait_for(
            client.call(OpCode.GET_DATA, GetDataRequest(path, False)), 5.0
        )
        return reply.err == 0
    except (ConnectionLoss, TimeoutError):
        return False
    finally:
        with contextlib.suppress(Exception):
            await client.close(timeout_s=0.5)


async def restart_time(nodes: Nodes, last: str, timeout_s: float = 600.0) -> float:
    nodes.kill(1)
    host, port = parse_hosts(nodes.hosts)[0]
    t0 = nodes.start(1)
    deadline = t0 + timeout_s
    while time.monotonic() < deadline:
        if await _read_last(host, port, last):
            return time.monotonic() - t0
        if not nodes.node(1).alive:
            raise RuntimeError(f"restarted server exited; see {nodes.base}")
        await asyncio.sleep(0.05)
    raise RuntimeError(f"no read of {last} within {timeout_s}s after restart")


async def measure(kind: str, args: argparse.Namespace, base: Path) -> dict[str, object]:
    nodes = Nodes(kind, base / kind, 1, zk_heap=args.zk_heap, env=args.serve_env)
    try:
        await asyncio.to_thread(nodes.start_all)
        rss0, _ = rss_kib(nodes.pid(1))
        if not args.json:
            print(f"{kind}: loading {args.nodes:,} nodes of 100 bytes", flush=True)
        row: dict[str, object] = {
            "system": kind,
            "build": args.build if kind == "quorumd" else None,
            "nodes": args.nodes,
            "rss_empty_mib": rss0 // 1024,
        }
        row.update(await load(nodes.hosts, args.nodes, args.conns, args.depth, args.json))
        await asyncio.sleep(3.0)
        rss, hwm = rss_kib(nodes.pid(1))
        row.update(
            rss_loaded_mib=rss // 1024,
            hwm_loaded_mib=hwm // 1024,
            bytes_per_node=round((rss - rss0) * 1024 / args.nodes),
        )
        last = leaf(args.nodes - 1)
        row["restart_to_read_s"] = round(await restart_time(nodes, last), 2)
        await asyncio.sleep(2.0)
        row["rss_after_restart_mib"] = rss_kib(nodes.pid(1))[0] // 1024
        return row
    finally:
        nodes.stop_all()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=1_000_000)
    parser.add_argument("--conns", type=int, default=4)
    parser.add_argument("--depth", type=int, default=256)
    parser.add_argument("--only", choices=["quorumd", "zookeeper"])
    parser.add_argument("--zk-heap", default="2g")
    parser.add_argument("--base", help="parent of the data dirs (default: a temp dir)")
    parser.add_argument("--json", action="store_true")
    add_build_option(parser)
    args = parser.parse_args()
    args.build, args.serve_env = serve_env(args.build)
    kinds = [args.only] if args.only else ["quorumd", "zookeeper"]
    with tempfile.TemporaryDirectory(prefix="quorumd-memory-", dir=args.base) as tmp:
        for kind in kinds:
            row = asyncio.run(measure(kind, args, Path(tmp)))
            print(
                json.dumps(row)
                if args.json
                else f"{kind}{' (' + args.build + ')' if kind == 'quorumd' else ''}: "
                f"{row['nodes']:,} nodes loaded in {row['load_s']} s "
                f"({row['load_rate']:,}/s, {row['load_errors']} errors); RSS empty "
                f"{row['rss_empty_mib']} MiB, loaded {row['rss_loaded_mib']} MiB (peak "
                f"{row['hwm_loaded_mib']} MiB, ~{row['bytes_per_node']} B/node); kill -9 + "
                f"restart until the last node reads back: {row['restart_to_read_s']} s; RSS "
                f"after restart {row['rss_after_restart_mib']} MiB",
                flush=True,
            )


if __name__ == "__main__":
    main()
