"""How much of the low-load latency is where the scheduler puts the four processes.

    .venv/bin/python bench/placement.py                  # quorumd, 2 rounds
    .venv/bin/python bench/placement.py --zookeeper      # then ZooKeeper the same way
    .venv/bin/python bench/placement.py --rounds 4 --seconds 5 --json

A 3-node cluster and the load generator are four busy processes; this machine has two
cores. For a `set` at 1 connection x depth 1 sent to a follower, the chain of work is
load generator -> follower -> leader -> both followers -> leader -> follower -> load
generator, and which of those share a core decides how often one waits for another.
Each round starts a fresh cluster, warms it up with one unmeasured run per target, then
runs the 1x1 `set` to a follower and to the leader with every process free to run
anywhere ("free"), and with each pinned by
`taskset` to core 0 or 1: the three ways to split {leader, target follower, other
follower, load generator} two and two, and all three servers on one core beside the
load generator on the other (which shows the servers' CPU per write most directly).
Prints the p50 of each, per round, and the median over rounds.

Only a diagnostic: the comparison with ZooKeeper (compare_zookeeper.sh) pins nothing.
Linux only (taskset, /proc); needs 2 or more cores.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _servers import HOST, Nodes, add_build_option, serve_env

# (leader, target follower, other follower, load generator) -> core
SPLITS = {
    "free": None,
    "L+F1 | F2+G": (0, 0, 1, 1),
    "L+F2 | F1+G": (0, 1, 0, 1),
    "L+G | F1+F2": (0, 1, 1, 0),
    "L+F1+F2 | G": (0, 0, 0, 1),
}


def _pin(pid: int, cpus: str) -> None:
    # -a: every thread (the writer thread, a JVM's threads)
    subprocess.run(["taskset", "-a", "-c", "-p", cpus, str(pid)], check=True,
                   capture_output=True)


def _bench(port: int, seconds: float, cpus: str) -> float:
    cmd = ["taskset", "-c", cpus, sys.executable, "-m", "quorumd", "bench", "--hosts",
           f"{HOST}:{port}", "--workload", "set", "--conns", "1", "--depth", "1",
           "--procs", "1", "--duration", str(seconds), "--warmup", "1", "--json"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    lines = out.stdout.strip().splitlines()
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"bench failed: {out.stderr.strip()[-300:]}")
    result = json.loads(lines[-1])
    if result["errors"] or result["timeouts"]:
        raise RuntimeError(f"bench saw errors: {result}")
    return float(result["p50_ms"])


def _round(
    kind: str, base: Path, seconds: float, env: dict[str, str]
) -> dict[str, dict[str, float]]:
    nodes = Nodes(kind, base, env=env)
    try:
        nodes.start_all()
        leader = nodes.wait_leader()
        f1, f2 = (n.id for n in nodes.nodes if n.id != leader)
        pids = [nodes.pid(leader), nodes.pid(f1), nodes.pid(f2)]
        ports = {"follower": nodes.node(f1).client_port, "leader": nodes.node(leader).client_port}
        for port in ports.values():  # unmeasured: warms ZooKeeper's JIT, both caches
            _bench(port, seconds, "0,1")
        rows: dict[str, dict[str, float]] = {}
        for name, split in SPLITS.items():
            cpus = ["0,1"] * 4 if split is None else [str(c) for c in split]
            for pid, c in zip(pids, cpus[:3], strict=True):
                _pin(pid, c)
            rows[name] = {t: _bench(port, seconds, cpus[3]) for t, port in ports.items()}
            print(f"  {kind:9s} {name:12s} follower {rows[name]['follower']:.3f} ms   "
                  f"leader {rows[name]['leader']:.3f} ms", flush=True)
        return rows
    finally:
        nodes.stop_all()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--zookeeper", action="store_true", help="also run ZooKeeper 3.8")
    ap.add_argument("--json", action="store_true", help="print a JSON line of the medians")
    add_build_option(ap)
    args = ap.parse_args()
    build, env = serve_env(args.build)
    print(f"quorumd build: {build}", flush=True)
    kinds = ["quorumd", "zookeeper"] if args.zookeeper else ["quorumd"]
    runs: dict[str, list[dict[str, dict[str, float]]]] = {k: [] for k in kinds}
    with tempfile.TemporaryDirectory(prefix="quorumd-placement-") as tmp:
        for r in range(args.rounds):
            for kind in kinds:
                print(f"round {r + 1}/{args.rounds}: {kind}", flush=True)
                runs[kind].append(_round(kind, Path(tmp) / f"{kind}-{r}", args.seconds, env))
    medians = {
        kind: {
            name: {t: statistics.median(run[name][t] for run in rs) for t in ("follower", "leader")}
            for name in SPLITS
        }
        for kind, rs in runs.items()
    }
    print(f"\nmedian p50 over {args.rounds} rounds (ms), set 1x1:")
    print(f"  {'':9s} {'split':12s} {'follower':>9s} {'leader':>9s}")
    for kind, rows in medians.items():
        for name, v in rows.items():
            print(f"  {kind:9s} {name:12s} {v['follower']:9.3f} {v['leader']:9.3f}")
    if args.json:
        print(json.dumps({"rounds": args.rounds, "p50_ms": medians}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
