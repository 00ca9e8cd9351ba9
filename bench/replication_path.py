"""The per-write CPU cost of one write's consensus hops, without sockets or a disk wait.

    .venv/bin/python bench/replication_path.py [--n 20000] [--rounds 3] [--consensus raft]

Why: at low load (1 connection, depth 1) a write's latency is a chain of hops through
three processes that share two cores, and each hop is mostly Python: decode a peer
frame, step the engine, take a Ready, persist, advance, encode the answer. This runs
that chain in one process, with the real codec, engines and log stores (on /dev/shm
when present, so the fsync is nearly free and only the CPU is timed), and times each
hop on its own, so a change to any of them shows up undiluted by scheduling noise.

Hops timed (µs of process CPU time per write, best of `--rounds`):

  leader.propose   propose + Ready + encode the AppendEntries + persist + advance
  follower.append  decode the AppendEntries + step + Ready + persist + advance +
                   the next Ready + encode the ack (each follower)
  leader.commit    decode both acks + step + Ready (commit notices, committed entry)
  follower.commit  decode the commit notice + step + Ready + advance (each follower)

The server's glue (sockets, client codec, apply) is not in these figures:
`bench/apply_path.py` times the apply and client codec, `bench/latency_trace.py` the
whole chain in a live cluster. The last line is the figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from typing import Any

from quorumd._types import NodeId
from quorumd.consensus.engine import ClusterConfig, Engine, Ready
from quorumd.server.config import PeerAddress, ServerConfig
from quorumd.server.engines import make_engine, wire_codec
from quorumd.server.framing import FrameReader, pack_frame
from quorumd.storage import LogStore, persist_ready
from quorumd.storage.osdisk import OsDisk

HOPS = ("leader.propose", "follower.append", "leader.commit", "follower.commit")


class _Replica:
    def __init__(self, node_id: int, consensus: str, root: str) -> None:
        disk = OsDisk()
        data_dir = os.path.join(root, str(node_id))
        disk.makedirs(data_dir)
        self.store, restored = LogStore.open(disk, data_dir)
        self.codec = wire_codec(_cfg(consensus))
        cluster = ClusterConfig(voters=(NodeId(1), NodeId(2), NodeId(3)))
        self.engine: Engine = make_engine(
            _cfg(consensus, node_id), cluster, random.Random(node_id), restored
        )
        self.reader = FrameReader(1 << 24)
        self.durable: tuple[int, int | None] = (restored.hard_state.term, restored.hard_state.vote)

    def frames_out(self, rd: Ready) -> dict[int, bytes]:
        encode = self.codec.encode
        return {m.dst: pack_frame(["r", encode(m)]) for m in rd.messages}  # type: ignore[attr-defined]

    def receive(self, data: bytes) -> None:
        for frame in self.reader.feed(data):
            self.engine.step(self.codec.decode(frame[1]))

    def cycle(self) -> dict[int, bytes]:
        """One Ready: its messages as frames, persisted, advanced."""
        out: dict[int, bytes] = {}
        while self.engine.has_ready():
            rd = self.engine.ready()
            out.update(self.frames_out(rd))
            hs = rd.hard_state
            if rd.entries or rd.snapshot is not None or (
                hs is not None and (hs.term, hs.vote) != self.durable
            ):
                persist_ready(self.store, rd)
                if hs is not None:
                    self.durable = (hs.term, hs.vote)
            elif hs is not None:
                # as the server does: a hard state whose only change is the commit index
                # rides along with the next fsync
                self.store.set_hard_state(hs)
            self.engine.advance(rd)
        return out


def _cfg(consensus: str, node_id: int = 1) -> ServerConfig:
    peers = {i: PeerAddress("127.0.0.1", i) for i in (1, 2, 3)}
    return ServerConfig(id=node_id, peers=peers, consensus=consensus)


def _elect(replicas: dict[int, _Replica]) -> None:
    for _ in range(200):
        for r in replicas.values():
            r.engine.tick()
        _exchange(replicas)
        if any(r.engine.status().role.value == "leader" for r in replicas.values()):
            _exchange(replicas)
            return
    raise SystemExit("no leader elected")


def _exchange(replicas: dict[int, _Replica]) -> None:
    for _ in range(20):
        moved = False
        for r in replicas.values():
            for dst, frame in r.cycle().items():
                replicas[dst].receive(frame)
                moved = True
        if not moved:
            return


def run(n: int, consensus: str, root: str) -> dict[str, float]:
    replicas = {i: _Replica(i, consensus, root) for i in (1, 2, 3)}
    _elect(replicas)
    leader = next(r for r in replicas.values() if r.engine.status().role.value == "leader")
    followers = [r for r in replicas.values() if r is not leader]
    spent = dict.fromkeys(HOPS, 0.0)
    clock: Callable[[], float] = time.process_time
    data = os.urandom(150)
    for _ in range(n):
        t0 = clock()
        leader.engine.propose(data)
        to_followers = leader.cycle()
        t1 = clock()
        acks: list[bytes] = []
        for f in followers:
            f.receive(to_followers[f.engine.id])
            acks.extend(f.cycle().values())
        t2 = clock()
        for a in acks:
            leader.receive(a)
        notices = leader.cycle()
        t3 = clock()
        for f in followers:
            if f.engine.id in notices:
                f.receive(notices[f.engine.id])
            f.cycle()
        t4 = clock()
        spent["leader.propose"] += t1 - t0
        spent["follower.append"] += (t2 - t1) / len(followers)
        spent["leader.commit"] += t3 - t2
        spent["follower.commit"] += (t4 - t3) / len(followers)
    for r in replicas.values():
        r.store.close()
    return {hop: s / n * 1e6 for hop, s in spent.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--consensus", choices=("raft", "paxos"), default="raft")
    args = ap.parse_args()
    base = "/dev/shm" if os.path.isdir("/dev/shm") else None
    best: dict[str, float] = {}
    for k in range(args.rounds):
        root = tempfile.mkdtemp(prefix="qd-repl-", dir=base)
        try:
            got = run(args.n, args.consensus, root)
        finally:
            shutil.rmtree(root, ignore_errors=True)
        print(f"round {k + 1}: " + "  ".join(f"{h} {v:.1f}" for h, v in got.items()))
        best = {h: min(best.get(h, v), v) for h, v in got.items()}
    total = best["leader.propose"] + 2 * best["follower.append"] + best["leader.commit"]
    total += 2 * best["follower.commit"]
    print("best (us/write): " + "  ".join(f"{h} {v:.1f}" for h, v in best.items()))
    print(f"all hops, 3 nodes: {total:.1f} us of CPU per write")
    out: dict[str, Any] = {"consensus": args.consensus, "n": args.n, "us_per_write": best}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
