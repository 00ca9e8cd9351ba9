"""Memory and snapshot cost of the state machine with N znodes.

    .venv/bin/python bench/machine_memory.py                 # 1,000,000 nodes of 100 bytes
    .venv/bin/python bench/machine_memory.py -n 100000 --flat

Nodes are created through `apply` (as the log would), spread over `--parents` parent
nodes (or all under one with --flat). Prints RSS (VmRSS from /proc/self/status) before
and after, bytes per node, and snapshot size / snapshot time / restore time.
"""

from __future__ import annotations

import argparse
import gc
import time

from quorumd.machine import OPEN_ACL_UNSAFE, Create, CreateSession, StateMachine, Txn


def rss_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def build(n: int, parents: int, data_size: int) -> StateMachine:
    machine = StateMachine()
    zxid = 1
    now = 1_700_000_000_000
    machine.apply(zxid, Txn(0, now, 0, 0, CreateSession(1, bytes(16), 30_000)))
    zxid += 1
    machine.apply(zxid, Txn(1, now, 0, 0, Create("/bench", b"", OPEN_ACL_UNSAFE)))
    for p in range(parents):
        zxid += 1
        machine.apply(zxid, Txn(1, now, 0, 0, Create(f"/bench/p{p:05d}", b"", OPEN_ACL_UNSAFE)))
    payload = bytes(range(256)) * (data_size // 256 + 1)
    for i in range(n):
        zxid += 1
        data = payload[i % 100 : i % 100 + data_size]  # distinct objects, like real writes
        path = f"/bench/p{i % parents:05d}/n{i:010d}"
        machine.apply(zxid, Txn(1, now + i, 0, 0, Create(path, data, OPEN_ACL_UNSAFE)))
    return machine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", "--nodes", type=int, default=1_000_000)
    parser.add_argument("--data-size", type=int, default=100)
    parser.add_argument("--parents", type=int, default=1000)
    parser.add_argument("--flat", action="store_true", help="all nodes under one parent")
    args = parser.parse_args()
    parents = 1 if args.flat else args.parents

    gc.collect()
    base = rss_bytes()
    started = time.perf_counter()
    machine = build(args.nodes, parents, args.data_size)
    build_s = time.perf_counter() - started
    gc.collect()
    loaded = rss_bytes()
    print(f"nodes={machine.node_count:,} data_size={args.data_size} parents={parents}")
    print(f"build: {build_s:.1f} s ({args.nodes / build_s:,.0f} creates/s through apply)")
    print(f"rss: base {base / 2**20:.0f} MiB, with tree {loaded / 2**20:.0f} MiB")
    print(f"rss per node: {(loaded - base) / max(args.nodes, 1):.0f} bytes")

    started = time.perf_counter()
    snap = machine.snapshot()
    snap_s = time.perf_counter() - started
    print(f"snapshot: {len(snap) / 2**20:.1f} MiB in {snap_s:.2f} s")
    print(f"rss peak so far: {rss_bytes() / 2**20:.0f} MiB")
    del machine
    gc.collect()
    started = time.perf_counter()
    restored = StateMachine.restore(snap)
    restore_s = time.perf_counter() - started
    print(f"restore: {restore_s:.2f} s ({restored.node_count:,} nodes)")
    assert restored.snapshot() == snap


if __name__ == "__main__":
    main()
