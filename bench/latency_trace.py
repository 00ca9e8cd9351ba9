"""Where one write's time goes at low load: a timestamped trace of the server handlers.

    .venv/bin/python bench/latency_trace.py              # 3 nodes, set 1x1 to the leader, 3 s
    .venv/bin/python bench/latency_trace.py --seconds 5 --examples 2
    .venv/bin/python bench/latency_trace.py --target follower   # the forwarded path

Starts a 3-node quorumd on loopback in which every node runs with timing wrappers around
its handlers (client data in/out, peer data in/out, the Ready pump, the persist, the
apply, Raft ready/advance), drives `quorumd bench --workload set --conns 1 --depth 1`
against the leader, stops the nodes (each dumps its events at exit), then prints the
median duration of each handler per node role and a few whole writes as a timeline
across the three processes (perf_counter_ns is CLOCK_MONOTONIC: one clock for all).
The wrappers add ~1-2 us per handler.
"""

from __future__ import annotations

import argparse
import atexit
import functools
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

Event = tuple[str, int, int]  # (handler, start ns, end ns)


def _install_wrappers(out: str) -> None:
    """In a node process: wrap the handlers, dump the events at exit."""
    from quorumd.consensus.raft import node as raft_node
    from quorumd.server import connection, node, peers

    events: list[Event] = []
    clock = time.perf_counter_ns

    def wrap(owner: Any, name: str, label: str) -> None:
        original = getattr(owner, name)

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = clock()
            try:
                return original(*args, **kwargs)
            finally:
                events.append((label, t0, clock()))

        setattr(owner, name, timed)

    wrap(connection.ClientConn, "data_received", "client_in")
    wrap(connection.ClientConn, "flush", "client_out")
    wrap(peers._PeerLink, "data_received", "peer_in")
    wrap(peers._PeerLink, "flush", "peer_out")
    wrap(node.Node, "_pump", "pump")
    wrap(node.Node, "_apply", "apply")
    wrap(node.Node, "_finish", "finish")
    wrap(node, "_persist", "persist")
    wrap(raft_node.Raft, "ready", "ready")
    wrap(raft_node.Raft, "advance", "advance")

    def dump() -> None:
        with open(out, "w") as fh:
            fh.writelines(f"{label} {a} {b}\n" for label, a, b in events)

    atexit.register(dump)


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _mode(port: int) -> str:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"srvr")
            data = b""
            while chunk := s.recv(4096):
                data += chunk
    except OSError:
        return ""
    for line in data.decode(errors="replace").splitlines():
        if line.startswith("Mode:"):
            return line.split(":", 1)[1].strip()
    return ""


def _load(base: Path) -> dict[int, list[Event]]:
    out: dict[int, list[Event]] = {}
    for i in (1, 2, 3):
        path = base / f"node{i}.events"
        out[i] = [] if not path.exists() else [
            (k, int(a), int(b)) for k, a, b in (line.split() for line in path.open())
        ]
    return out


def _report(events: dict[int, list[Event]], leader: int, origin: int, examples: int) -> None:
    """`origin`: the node the client is connected to (where a write starts and ends)."""
    role = {i: "leader" if i == leader else f"follower {i}" for i in events}
    print("median handler duration (us), per node:")
    for i, evs in sorted(events.items()):
        by: dict[str, list[int]] = defaultdict(list)
        for k, a, b in evs:
            by[k].append(b - a)
        cells = ", ".join(
            f"{k} {statistics.median(v) / 1000:.1f} (x{len(v)})" for k, v in sorted(by.items())
        )
        print(f"  {role[i]}: {cells}")
    merged = sorted((a, b, i, k) for i, evs in events.items() for k, a, b in evs)
    writes: list[list[tuple[int, int, int, str]]] = []
    current: list[tuple[int, int, int, str]] | None = None
    for a, b, i, k in merged:
        if i == origin and k == "client_in":
            current = [(a, b, i, k)]
        elif current is not None:
            current.append((a, b, i, k))
            if i == origin and k == "client_out" and b - a > 2000:  # a real write
                writes.append(current)
                current = None
    if not writes:
        print("no complete writes traced")
        return
    spans = sorted(w[-1][1] - w[0][0] for w in writes)
    print(f"{len(writes)} writes; server-side time from the request's arrival to the reply "
          f"written: p50 {spans[len(spans) // 2] / 1000:.0f} us")
    middle = sorted(writes, key=lambda w: w[-1][1] - w[0][0])
    mid = len(middle) // 2
    for w in middle[mid:mid + examples]:
        t0 = w[0][0]
        print("--- one write (start offset us, +duration us, node, handler)")
        for a, b, i, k in w:
            if k in ("peer_out", "client_out") and b - a < 3000:
                continue  # flushes with nothing to write
            print(f"  {(a - t0) / 1000:8.1f} +{(b - a) / 1000:6.1f}  {role[i]:<11} {k}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--examples", type=int, default=3)
    ap.add_argument("--target", choices=("leader", "follower"), default="leader",
                    help="the node the client connects to (a follower forwards the write)")
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="quorumd-trace-"))
    ports = _free_ports(6)
    peers = ",".join(f"{i}=127.0.0.1:{ports[2 + i]}" for i in (1, 2, 3))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for i in (1, 2, 3):
            env = dict(os.environ, QUORUMD_TRACE_OUT=str(base / f"node{i}.events"))
            cmd = [sys.executable, __file__, "--as-node", "serve", "--id", str(i), "--peers",
                   peers, "--client-port", str(ports[i - 1]), "--data-dir",
                   str(base / f"node{i}"), "--log-level", "warning"]
            procs.append(subprocess.Popen(cmd, env=env, start_new_session=True))
        leader = 0
        deadline = time.monotonic() + 20
        while not leader and time.monotonic() < deadline:
            time.sleep(0.2)
            leader = next((i for i in (1, 2, 3) if _mode(ports[i - 1]) == "leader"), 0)
        if not leader:
            print("no leader elected", file=sys.stderr)
            return 1
        origin = leader if args.target == "leader" else next(i for i in (1, 2, 3) if i != leader)
        bench = [sys.executable, "-m", "quorumd", "bench", "--hosts",
                 f"127.0.0.1:{ports[origin - 1]}", "--workload", "set", "--conns", "1",
                 "--depth", "1", "--procs", "1", "--duration", str(args.seconds),
                 "--warmup", "0.5", "--json"]
        line = subprocess.run(bench, capture_output=True, text=True, check=False).stdout
        print("bench:", (line.strip().splitlines() or ["(no output)"])[-1][:200])
    finally:
        for p in procs:
            with_group = os.getpgid(p.pid) if p.poll() is None else None
            if with_group is not None:
                os.killpg(with_group, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
    _report(_load(base), leader, origin, args.examples)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--as-node":
        _install_wrappers(os.environ["QUORUMD_TRACE_OUT"])
        from quorumd.cli.main import main as cli

        sys.argv = ["quorumd", *sys.argv[2:]]
        cli()
    else:
        sys.exit(main())
