"""How long a snapshot blocks the event loop: fork() vs serializing in place.

Builds a state machine of N small nodes (default 1,000,000 of 100 bytes) through the
same `apply` the server uses, then takes a snapshot the way the server does
(server/snapshotter.py: fork, the child serializes and writes the file) and reports how
long the parent was blocked (the fork) and how long the child took, beside the time an
in-place serialization would have blocked the loop.

    .venv/bin/python bench/snapshot_fork.py [--nodes 1000000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from quorumd import machine as m
from quorumd.server import snapshotter


def build(n: int) -> m.StateMachine:
    sm = m.StateMachine()
    sid = 1
    sm.apply(1, m.Txn(sid, 0, 0, 0, m.CreateSession(sid, bytes(16), 30000)))
    zxid = 2
    fanout = 1000
    for p in range(max(1, n // fanout)):
        sm.apply(zxid, m.Txn(sid, 0, 0, 0, m.Create(f"/p{p}", b"", m.OPEN_ACL_UNSAFE)))
        zxid += 1
    for i in range(n):
        op = m.Create(f"/p{i % max(1, n // fanout)}/n{i}", b"x" * 100, m.OPEN_ACL_UNSAFE)
        applied = sm.apply(zxid, m.Txn(sid, 0, 0, 0, op))
        assert not isinstance(applied.result, Exception), applied.result
        zxid += 1
    return sm


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=1_000_000)
    args = ap.parse_args()
    t = time.perf_counter()
    sm = build(args.nodes)
    took = time.perf_counter() - t
    print(f"built {sm.node_count:,} nodes in {took:.1f}s, RSS {rss_mib():.0f} MiB")
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "snap")
        started = time.perf_counter()
        pid, blocked_ms = snapshotter.fork_serialize(sm.snapshot, path)
        _, status = os.waitpid(pid, 0)
        child_s = time.perf_counter() - started
        size = os.path.getsize(path)
        print(f"fork: event loop blocked {blocked_ms:.1f} ms; the child serialized and wrote "
              f"{size / 2**20:.0f} MiB in {child_s:.1f}s (exit status {status})")
    t = time.perf_counter()
    data = sm.snapshot()
    print(f"in place: serialization alone would block the loop {time.perf_counter() - t:.1f}s "
          f"({len(data) / 2**20:.0f} MiB)")


if __name__ == "__main__":
    main()
