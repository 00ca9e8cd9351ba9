"""kazoo, unmodified, against a real 3-node quorumd cluster."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from harness import Cluster
from kazoo.client import KazooClient
from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError, NotEmptyError
from kazoo.recipe.barrier import Barrier
from kazoo.recipe.counter import Counter
from kazoo.recipe.election import Election
from kazoo.recipe.lock import Lock, Semaphore
from kazoo.recipe.party import Party
from kazoo.recipe.queue import Queue

pytestmark = pytest.mark.integration


@pytest.fixture
def zk(cluster: Cluster) -> Iterator[KazooClient]:
    client = KazooClient(hosts=cluster.hosts, timeout=10)
    client.start(timeout=15)
    try:
        yield client
    finally:
        client.stop()
        client.close()


def test_crud(zk: KazooClient) -> None:
    assert zk.create("/crud", b"v1") == "/crud"
    data, stat = zk.get("/crud")
    assert data == b"v1" and stat.version == 0 and stat.dataLength == 2
    stat2 = zk.set("/crud", b"v2", version=0)
    assert stat2.version == 1 and stat2.mzxid > stat.mzxid
    with pytest.raises(BadVersionError):
        zk.set("/crud", b"v3", version=0)
    with pytest.raises(NodeExistsError):
        zk.create("/crud", b"")
    zk.create("/crud/child", b"c")
    with pytest.raises(NotEmptyError):
        zk.delete("/crud")
    assert zk.get_children("/crud") == ["child"]
    zk.delete("/crud", recursive=True)
    assert zk.exists("/crud") is None
    with pytest.raises(NoNodeError):
        zk.get("/crud")


def test_every_node_sees_the_write_after_sync(cluster: Cluster, zk: KazooClient) -> None:
    zk.create("/seen", b"x")
    for n in cluster.nodes:
        other = KazooClient(hosts=f"127.0.0.1:{n.client_port}", timeout=10)
        other.start(timeout=15)
        try:
            other.sync("/seen")
            assert other.get("/seen")[0] == b"x"
        finally:
            other.stop()
            other.close()


def test_ephemeral_and_sequential(cluster: Cluster, zk: KazooClient) -> None:
    zk.ensure_path("/eph")
    p1 = zk.create("/eph/n-", b"", ephemeral=True, sequence=True)
    p2 = zk.create("/eph/n-", b"", ephemeral=True, sequence=True)
    assert p1 < p2 and p1.startswith("/eph/n-") and len(p1) == len("/eph/n-") + 10
    assert zk.exists(p1).ephemeralOwner == zk.client_id[0]
    other = KazooClient(hosts=cluster.hosts, timeout=10)
    other.start(timeout=15)
    other.create("/eph/other", b"", ephemeral=True)
    other.stop()
    other.close()
    zk.sync("/eph")
    assert sorted(zk.get_children("/eph")) == sorted([p1.split("/")[-1], p2.split("/")[-1]])


def test_watches_fire_once(zk: KazooClient) -> None:
    zk.create("/w", b"0")
    events: list[object] = []
    got = threading.Event()

    def watcher(event: object) -> None:
        events.append(event)
        got.set()

    zk.get("/w", watch=watcher)
    zk.set("/w", b"1")
    assert got.wait(10)
    zk.set("/w", b"2")
    zk.sync("/w")
    assert len(events) == 1
    assert events[0].type == "CHANGED" and events[0].path == "/w"  # type: ignore[attr-defined]
    child_events: list[object] = []
    child_got = threading.Event()
    zk.get_children("/w", watch=lambda e: (child_events.append(e), child_got.set()))
    zk.create("/w/c", b"")
    assert child_got.wait(10)
    assert child_events[0].type == "CHILD"  # type: ignore[attr-defined]


def test_transaction(zk: KazooClient) -> None:
    zk.create("/tx", b"")
    t = zk.transaction()
    t.create("/tx/a", b"a")
    t.set_data("/tx", b"top")
    t.check("/tx", 1)  # sees the set_data before it in the same multi
    results = t.commit()
    assert results[0] == "/tx/a"
    assert zk.get("/tx")[0] == b"top"
    bad = zk.transaction()
    bad.create("/tx/b", b"b")
    bad.delete("/tx/missing")
    results = bad.commit()
    assert isinstance(results[1], NoNodeError)
    assert zk.exists("/tx/b") is None  # all or nothing


def test_recipes(cluster: Cluster, zk: KazooClient) -> None:
    counter = Counter(zk, "/recipes/counter")
    counter += 5
    counter -= 2
    assert counter.value == 3

    lock = Lock(zk, "/recipes/lock")
    with lock:
        assert lock.is_acquired
    sem = Semaphore(zk, "/recipes/sem", max_leases=2)
    with sem:
        assert sem.lease_holders()

    q = Queue(zk, "/recipes/queue")
    q.put(b"one")
    q.put(b"two")
    assert q.get() == b"one" and q.get() == b"two"

    party = Party(zk, "/recipes/party", "me")
    party.join()
    assert list(party) == ["me"]
    party.leave()

    barrier = Barrier(zk, "/recipes/barrier")
    barrier.create()
    released = threading.Event()
    threading.Thread(target=lambda: (barrier.wait(10), released.set()), daemon=True).start()
    barrier.remove()
    assert released.wait(10)

    elected = threading.Event()
    election = Election(zk, "/recipes/election", "me")
    t = threading.Thread(target=election.run, args=(elected.set,), daemon=True)
    t.start()
    assert elected.wait(10)
    election.cancel()
