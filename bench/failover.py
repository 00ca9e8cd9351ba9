"""Leader failover under a write load: time from kill -9 of the leader to the first
successful write sent after the kill.

    .venv/bin/python bench/failover.py                 # quorumd, 10 rounds
    .venv/bin/python bench/failover.py --zookeeper     # then the same against ZooKeeper 3.8
    .venv/bin/python bench/failover.py --rounds 3 --json

A 3-node cluster takes a steady write load: `--conns` connections (spread over the
nodes) each send a setData every `--interval-ms`, pipelined (a stuck request does not
stop the next one being sent), so the first write sent after the kill that succeeds
is seen within one interval. A connection that dies is reopened to the next node (a
new session: it is what a client does that lost its server). Each round: kill -9 the
leader, measure (a) the first successful write *sent* after the kill and (b) when a
new leader shows in mntr/srvr, restart the killed node, wait until it serves and the
load is steady again. Prints each round and the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from _servers import Nodes, add_build_option, open_client, serve_env
from quorumd.errors import ConnectionLoss
from quorumd.loadgen import RawClient, parse_hosts
from quorumd.loadgen.workloads import OPEN_ACL_UNSAFE
from quorumd.wire import CreateRequest, OpCode, Reply, SetDataRequest

PATH = "/failover"


@dataclass
class WriteLog:
    """Completed writes: (sent, answered) monotonic times of successes; failures."""

    ok: list[tuple[float, float]] = field(default_factory=list)
    failed: int = 0

    def first_ok_sent_after(self, t: float) -> tuple[float, float] | None:
        # replies of one connection come in order, but connections interleave: scan all
        candidates = [w for w in self.ok if w[0] >= t]
        return min(candidates, key=lambda w: w[1]) if candidates else None


async def _writer(
    hosts: list[tuple[str, int]], first: int, interval_s: float, log: WriteLog, stop: asyncio.Event
) -> None:
    index = first
    request = SetDataRequest(PATH, b"x" * 100, -1)
    while not stop.is_set():
        host, port = hosts[index % len(hosts)]
        index += 1
        try:
            client = await RawClient.open(host, port, session_timeout_ms=10_000, timeout_s=2.0)
        except (OSError, ConnectionLoss, TimeoutError):
            await asyncio.sleep(0.02)
            continue
        try:
            while not stop.is_set() and not client.proto.closed:
                sent = time.monotonic()
                future = client.call_nowait(OpCode.SET_DATA, request)
                future.add_done_callback(lambda f, sent=sent: _record(f, sent, log))
                await asyncio.sleep(interval_s)
        finally:
            with contextlib.suppress(Exception):
                await client.close(timeout_s=0.5)


def _record(future: asyncio.Future[Reply], sent: float, log: WriteLog) -> None:
    if future.cancelled() or future.exception() is not None or future.result().err != 0:
        log.failed += 1
    else:
        log.ok.append((sent, time.monotonic()))


async def _wait_first_write(log: WriteLog, t_kill: float, timeout_s: float) -> float | None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        first = log.first_ok_sent_after(t_kill)
        if first is not None:
            return first[1] - t_kill
        await asyncio.sleep(0.005)
    return None


async def _round(nodes: Nodes, log: WriteLog, n: int) -> dict[str, object]:
    leader = await asyncio.to_thread(nodes.wait_leader, 30.0)
    failed_before = log.failed
    t_kill = time.monotonic()
    nodes.kill(leader)
    election = asyncio.create_task(asyncio.to_thread(nodes.wait_leader, 60.0, leader))
    write_s = await _wait_first_write(log, t_kill, 60.0)
    new_leader = await election
    leader_s = time.monotonic() - t_kill  # upper bound: polled until seen
    row = {
        "round": n,
        "killed": leader,
        "new_leader": new_leader,
        "first_write_ms": None if write_s is None else round(write_s * 1000, 1),
        "leader_seen_ms": round(leader_s * 1000, 1),
        "failed_writes": log.failed - failed_before,
    }
    nodes.start(leader)
    await asyncio.to_thread(nodes.wait_serving, leader, 60.0)
    await asyncio.sleep(1.5)  # the restarted node catches up; the load is steady again
    return row


async def _run(kind: str, args: argparse.Namespace, base: Path) -> list[dict[str, object]]:
    nodes = Nodes(kind, base / kind, 3, env=args.serve_env)
    try:
        await asyncio.to_thread(nodes.start_all)
        hosts = parse_hosts(nodes.hosts)
        setup = await open_client(*hosts[0])
        await setup.call(OpCode.CREATE, CreateRequest(PATH, b"", OPEN_ACL_UNSAFE, 0))
        await setup.close()
        log = WriteLog()
        stop = asyncio.Event()
        writers = [
            asyncio.create_task(_writer(hosts, i, args.interval_ms / 1000, log, stop))
            for i in range(args.conns)
        ]
        await asyncio.sleep(2.0)
        rows = []
        for n in range(1, args.rounds + 1):
            row = await _round(nodes, log, n)
            row["system"] = kind
            rows.append(row)
            if not args.json:
                print(
                    f"{kind} round {n:2d}: killed leader {row['killed']}, first write after "
                    f"{row['first_write_ms']} ms, new leader {row['new_leader']} seen after "
                    f"{row['leader_seen_ms']} ms, {row['failed_writes']} writes failed",
                    flush=True,
                )
        stop.set()
        await asyncio.gather(*writers, return_exceptions=True)
        return rows
    finally:
        nodes.stop_all()


def _summary(kind: str, rows: list[dict[str, object]]) -> dict[str, object]:
    writes = [float(r["first_write_ms"]) for r in rows if r["first_write_ms"] is not None]
    leaders = [float(r["leader_seen_ms"]) for r in rows]  # type: ignore[arg-type]
    return {
        "system": kind,
        "rounds": len(rows),
        "no_write_within_60s": len(rows) - len(writes),
        "first_write_ms_median": round(statistics.median(writes), 1) if writes else None,
        "first_write_ms_max": max(writes) if writes else None,
        "leader_seen_ms_median": round(statistics.median(leaders), 1) if leaders else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--conns", type=int, default=6)
    parser.add_argument("--interval-ms", type=float, default=10.0)
    parser.add_argument("--zookeeper", action="store_true", help="also run against ZooKeeper")
    parser.add_argument("--json", action="store_true", help="one JSON line per system")
    add_build_option(parser)
    args = parser.parse_args()
    args.build, args.serve_env = serve_env(args.build)
    kinds = ["quorumd", "zookeeper"] if args.zookeeper else ["quorumd"]
    with tempfile.TemporaryDirectory(prefix="quorumd-failover-") as tmp:
        for kind in kinds:
            rows = asyncio.run(_run(kind, args, Path(tmp)))
            summary = _summary(kind, rows)
            if kind == "quorumd":
                summary["build"] = args.build
            if args.json:
                print(json.dumps({**summary, "rows": rows}))
            else:
                print(
                    f"{kind}{' (' + args.build + ')' if kind == 'quorumd' else ''}: "
                    f"median time to first write after kill -9 of the leader: "
                    f"{summary['first_write_ms_median']} ms (max "
                    f"{summary['first_write_ms_max']} ms); median new leader seen after "
                    f"{summary['leader_seen_ms_median']} ms; rounds without a write in 60 s: "
                    f"{summary['no_write_within_60s']}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
