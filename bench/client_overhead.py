"""Client overhead: the quorumd asyncio client and kazoo, same cluster, same run.

    .venv/bin/python bench/client_overhead.py --hosts 127.0.0.1:2181[,...] [--n 5000]
    .venv/bin/python bench/client_overhead.py --start-cluster   # a local 3-node cluster

Prints, for each client:
- sequential getData latency (one request in flight): p50 / p99 in microseconds;
- pipelined getData throughput: `--window` requests in flight, gets per second.
Both clients read the same node of `--size` bytes from the same server. The figures
include the server's own cost, so compare the two columns, not absolute numbers.
Sequential rounds alternate between the clients to share any drift of the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from kazoo.client import KazooClient

from quorumd.client import Client

PATH = "/bench-client-overhead"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def quorumd_sequential(c: Client, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        await c.get(PATH)
        out.append(time.perf_counter() - t)
    return out


async def quorumd_pipelined(c: Client, n: int, window: int) -> float:
    sem = asyncio.Semaphore(window)

    async def one() -> None:
        async with sem:
            await c.get(PATH)

    t = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(n)))
    return n / (time.perf_counter() - t)


def kazoo_sequential(k: KazooClient, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        k.get(PATH)
        out.append(time.perf_counter() - t)
    return out


def kazoo_pipelined(k: KazooClient, n: int, window: int) -> float:
    slots = threading.Semaphore(window)
    done = threading.Event()
    remaining = [n]
    lock = threading.Lock()

    def finished(_result: object) -> None:
        slots.release()
        with lock:
            remaining[0] -= 1
            if remaining[0] == 0:
                done.set()

    t = time.perf_counter()
    for _ in range(n):
        slots.acquire()
        k.get_async(PATH).rawlink(finished)
    done.wait()
    return n / (time.perf_counter() - t)


def run(hosts: str, n: int, window: int, size: int, rounds: int) -> None:
    first_host = hosts.split(",", maxsplit=1)[0]  # both clients talk to the same server
    kazoo = KazooClient(hosts=first_host, timeout=10)
    kazoo.start(timeout=15)
    kazoo.ensure_path(PATH)
    kazoo.set(PATH, b"x" * size)

    async def main() -> dict[str, float]:
        async with Client(first_host) as c:
            await quorumd_sequential(c, 200)  # warm-up
            kazoo_sequential(kazoo, 200)
            q_lat: list[float] = []
            k_lat: list[float] = []
            for _ in range(rounds):
                q_lat += await quorumd_sequential(c, n // rounds)
                k_lat += kazoo_sequential(kazoo, n // rounds)
            q_tput = statistics.median(
                [await quorumd_pipelined(c, n, window) for _ in range(3)])
            k_tput = statistics.median([kazoo_pipelined(kazoo, n, window) for _ in range(3)])
        return {
            "q50": pct(q_lat, 0.5), "q99": pct(q_lat, 0.99), "qt": q_tput,
            "k50": pct(k_lat, 0.5), "k99": pct(k_lat, 0.99), "kt": k_tput,
        }  # fmt: skip

    try:
        r = asyncio.run(main())
    finally:
        with contextlib.suppress(Exception):
            kazoo.delete(PATH)
        kazoo.stop()
        kazoo.close()
    print(f"server {first_host}, node {size} bytes, {n} gets per run, window {window}")
    print(f"{'':28}{'quorumd':>12}{'kazoo':>12}")
    print(f"{'sequential p50 (us)':28}{r['q50'] * 1e6:12.0f}{r['k50'] * 1e6:12.0f}")
    print(f"{'sequential p99 (us)':28}{r['q99'] * 1e6:12.0f}{r['k99'] * 1e6:12.0f}")
    print(f"{'pipelined gets/s':28}{r['qt']:12.0f}{r['kt']:12.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hosts", default="127.0.0.1:2181")
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--window", type=int, default=256)
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--start-cluster", action="store_true",
                        help="start a throwaway 3-node cluster (tests/server/harness.py)")
    args = parser.parse_args()
    if not args.start_cluster:
        run(args.hosts, args.n, args.window, args.size, args.rounds)
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "server"))
    from harness import Cluster

    with tempfile.TemporaryDirectory() as d:
        cluster = Cluster(Path(d))
        try:
            cluster.start()
            run(cluster.hosts, args.n, args.window, args.size, args.rounds)
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
