"""Failover with real processes: kill -9, SIGSTOP/SIGCONT, SIGTERM, full restart,
and a follower that must catch up from a snapshot."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import pytest
from harness import Cluster
from kazoo.client import KazooClient
from kazoo.exceptions import ConnectionLoss, SessionExpiredError
from kazoo.retry import KazooRetry

pytestmark = pytest.mark.integration


def _client(hosts: str, timeout: float = 10.0) -> KazooClient:
    zk = KazooClient(hosts=hosts, timeout=timeout,
                     connection_retry=KazooRetry(max_tries=-1, delay=0.05, max_delay=0.5))
    zk.start(timeout=15)
    return zk


class _Writer(threading.Thread):
    """Writes /load/<n> in a loop; records which writes were acknowledged and when."""

    def __init__(self, zk: KazooClient) -> None:
        super().__init__(daemon=True)
        self.zk = zk
        self.acked: list[tuple[int, float]] = []
        self.stop_flag = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.stop_flag.is_set():
            try:
                self.zk.create(f"/load/{n:06d}", b"x" * 10)
                self.acked.append((n, time.monotonic()))
                n += 1
            except (ConnectionLoss, SessionExpiredError):
                time.sleep(0.01)
            except Exception:
                n += 1  # an unknown outcome (e.g. NodeExists after a retry): move on
                time.sleep(0.01)


def test_leader_kill_under_load(fresh_cluster: Cluster) -> None:
    c = fresh_cluster
    leader = c.wait_leader()
    zk = _client(c.hosts)
    zk.ensure_path("/load")
    writer = _Writer(zk)
    writer.start()
    time.sleep(1.0)
    # a client attached to the leader, with an ephemeral node
    victim = _client(f"127.0.0.1:{c.node(leader).client_port},"
                     + ",".join(f"127.0.0.1:{n.client_port}" for n in c.nodes if n.id != leader))
    victim.create("/victim-eph", b"", ephemeral=True)
    sid = victim.client_id[0]
    killed_at = time.monotonic()
    c.kill(leader)
    new_leader = c.wait_leader(timeout=10, exclude=leader)
    assert new_leader != leader
    # the followers took the reset connection as the sign, not the election timeout
    hinted = [n.id for n in c.nodes if n.id != leader
              and "election timer fast-forwarded" in c.log_tail(n.id, lines=400)]
    assert hinted, "no follower noticed the leader's connection close"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any(t > killed_at for _, t in writer.acked):
        time.sleep(0.01)
    resumed = [t for _, t in writer.acked if t > killed_at]
    assert resumed, "writes did not resume after the leader was killed"
    gap = resumed[0] - killed_at
    print(f"first write acknowledged {gap:.3f}s after kill -9 of the leader")
    writer.stop_flag.set()
    writer.join(10)
    # the victim's session survived the failover, and so did its ephemeral node
    victim.sync("/")
    assert victim.client_id[0] == sid
    assert victim.exists("/victim-eph") is not None
    assert victim.exists("/victim-eph").ephemeralOwner == sid
    acked = [n for n, _ in writer.acked]
    zk.sync("/load")
    present = set(zk.get_children("/load"))
    missing = [n for n in acked if f"{n:06d}" not in present]
    assert not missing, f"acknowledged writes lost: {missing[:10]}"
    for z in (zk, victim):
        z.stop()
        z.close()


def test_sigstop_leader_then_resume(fresh_cluster: Cluster) -> None:
    c = fresh_cluster
    leader = c.wait_leader()
    zk = _client(",".join(f"127.0.0.1:{n.client_port}" for n in c.nodes if n.id != leader))
    zk.create("/before", b"1")
    c.kill(leader, signal.SIGSTOP)
    try:
        new_leader = c.wait_leader(timeout=10, exclude=leader)
        zk.create("/during", b"2")
    finally:
        c.kill(leader, signal.SIGCONT)
    # the old leader rejoins as a follower and does not disrupt the new one
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if c.state(leader).get("zk_server_state") == "follower":
            break
        time.sleep(0.05)
    assert c.state(leader).get("zk_server_state") == "follower"
    term = int(c.state(new_leader)["quorumd_term"])
    time.sleep(1.5)
    assert c.leader() == new_leader
    assert int(c.state(new_leader)["quorumd_term"]) == term, "the rejoining node disrupted"
    old = _client(f"127.0.0.1:{c.node(leader).client_port}")
    old.sync("/during")
    assert old.get("/during")[0] == b"2"
    for z in (zk, old):
        z.stop()
        z.close()


def test_sigterm_transfers_leadership(fresh_cluster: Cluster) -> None:
    c = fresh_cluster
    leader = c.wait_leader()
    term = int(c.state(leader)["quorumd_term"])
    c.kill(leader, signal.SIGTERM)
    log = c.node(leader).log_path.read_text()
    assert "handed leadership over" in log
    new_leader = c.wait_leader(timeout=5, exclude=leader)
    if c.consensus == "raft":
        # a transfer is one election (term + 1), not a timeout-driven one after pre-votes
        assert int(c.state(new_leader)["quorumd_term"]) == term + 1
    else:
        assert int(c.state(new_leader)["quorumd_term"]) > term  # a higher ballot


def test_whole_cluster_restart_keeps_acknowledged_writes(fresh_cluster: Cluster) -> None:
    c = fresh_cluster
    zk = _client(c.hosts)
    acked = []
    for i in range(200):
        zk.create(f"/durable-{i:04d}", str(i).encode())
        acked.append(i)
    zk.stop()
    zk.close()
    for n in c.nodes:
        c.kill(n.id)
    for n in c.nodes:
        c.start_node(n.id)
    c.wait_leader(timeout=20)
    zk = _client(c.hosts)
    zk.sync("/")
    for i in acked:
        assert zk.get(f"/durable-{i:04d}")[0] == str(i).encode()
    zk.stop()
    zk.close()


def test_follower_catches_up_by_snapshot(tmp_path: Path) -> None:
    c = Cluster(tmp_path, extra_args=["--snapshot-every", "50"])
    try:
        c.start()
        leader = c.wait_leader()
        follower = next(n.id for n in c.nodes if n.id != leader)
        c.kill(follower)
        zk = _client(",".join(f"127.0.0.1:{n.client_port}" for n in c.nodes
                              if n.id != follower))
        for i in range(300):
            zk.create(f"/snap-{i:04d}", b"v")
        zk.stop()
        zk.close()
        c.start_node(follower)
        c.wait_ready(follower)
        zk = _client(f"127.0.0.1:{c.node(follower).client_port}")
        zk.sync("/")
        assert len([x for x in zk.get_children("/") if x.startswith("snap-")]) == 300
        zk.stop()
        zk.close()
        log = c.node(follower).log_path.read_text()
        assert "installed snapshot" in log
    finally:
        c.stop()
