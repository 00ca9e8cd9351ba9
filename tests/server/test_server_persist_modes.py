"""Both ways a node persists a Ready — on the event loop (low load) and on the writer
thread — keep every acknowledged write, across a kill -9 of every node."""

from __future__ import annotations

from pathlib import Path

import pytest
from harness import Cluster
from kazoo.client import KazooClient

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("inline_max", [0, 1_000_000], ids=["writer-thread", "event-loop"])
def test_acknowledged_writes_survive_kill_of_every_node(tmp_path: Path, inline_max: int) -> None:
    config = tmp_path / "quorumd.toml"
    config.write_text(f"inline_persist_max = {inline_max}\n")
    cluster = Cluster(tmp_path / "cluster", extra_args=["--config", str(config)])
    try:
        cluster.start()
        zk = KazooClient(hosts=cluster.hosts, timeout=10)
        zk.start(timeout=15)
        try:
            zk.create("/persist", b"")
            pending = [zk.create_async(f"/persist/n{i:03d}", b"%d" % i) for i in range(200)]
            created = [p.get(timeout=15) for p in pending]
            for i in range(0, 200, 7):
                zk.set(f"/persist/n{i:03d}", b"set")
        finally:
            zk.stop()
            zk.close()
        assert created == [f"/persist/n{i:03d}" for i in range(200)]
        for n in cluster.nodes:
            cluster.kill(n.id)
        cluster.start()
        for n in cluster.nodes:
            one = KazooClient(hosts=f"127.0.0.1:{n.client_port}", timeout=10)
            one.start(timeout=15)
            try:
                one.sync("/persist")
                assert len(one.get_children("/persist")) == 200
                for i in range(200):
                    want = b"set" if i % 7 == 0 else b"%d" % i
                    assert one.get(f"/persist/n{i:03d}")[0] == want
            finally:
                one.stop()
                one.close()
    finally:
        cluster.stop()
