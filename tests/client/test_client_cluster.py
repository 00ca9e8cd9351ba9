"""The client against a real 3-node quorumd cluster (tests/server/harness.py)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from client_harness import Cluster

from quorumd.cli.main import main as cli
from quorumd.client import (
    Barrier,
    Client,
    DoubleBarrier,
    Election,
    Semaphore,
    SessionState,
    SyncClient,
    WatchedEvent,
)
from quorumd.errors import BadVersion, NoNode
from quorumd.wire import EventType

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(Path(tmp_path_factory.mktemp("client-cluster")))
    try:
        c.start()
        yield c
    finally:
        c.stop()


def test_crud_watches_and_multi(cluster: Cluster) -> None:
    async def main() -> None:
        async with Client(cluster.hosts, session_timeout_ms=5000) as c:
            await c.create("/crud/a", b"1", makepath=True)
            changed: asyncio.Future[WatchedEvent] = asyncio.get_running_loop().create_future()
            data, stat = await c.get("/crud/a", watch=changed)
            assert data == b"1"
            async with c.watch("/crud", recursive=True) as events:
                await c.set("/crud/a", b"2", version=stat.version)
                assert (await asyncio.wait_for(changed, 5)).type is EventType.NODE_DATA_CHANGED
                event = await asyncio.wait_for(events.next_event(), 5)
                assert (event.type, event.path) == (EventType.NODE_DATA_CHANGED, "/crud/a")
            with pytest.raises(BadVersion):
                await c.set("/crud/a", b"3", version=0)
            results = await c.transaction().create("/crud/b", b"x").delete("/crud/a").commit()
            assert results == ["/crud/b", True]
            with pytest.raises(NoNode):
                await c.transaction().create("/crud/c").set_data("/crud/zz", b"").commit()
            assert sorted(await c.get_children("/crud")) == ["b"]
            seq = await c.create("/crud/s-", ephemeral=True, sequential=True)
            assert await c.get_ephemerals("/crud") == [seq]
            got = await asyncio.gather(*(c.get("/crud/b") for _ in range(500)))
            assert {d for d, _ in got} == {b"x"}

    asyncio.run(main())


def test_recipes(cluster: Cluster) -> None:
    async def main() -> None:
        clients = [Client(cluster.hosts, session_timeout_ms=5000) for _ in range(3)]
        for c in clients:
            await c.start()
        try:
            elections = [Election(c, "/recipes/election") for c in clients]
            await elections[0].campaign(b"first")
            second = asyncio.create_task(elections[1].campaign(b"second"))
            observed = elections[2].observe()
            assert await anext(observed) == b"first"
            await asyncio.sleep(0.2)
            assert not second.done()
            await elections[0].resign()
            await asyncio.wait_for(second, 5)
            assert await anext(observed) == b"second"
            assert await elections[2].leader() == b"second"

            sems = [Semaphore(c, "/recipes/sem", 2) for c in clients]
            await sems[0].acquire()
            await sems[1].acquire()
            with pytest.raises(TimeoutError):
                await sems[2].acquire(timeout=0.3)
            third = asyncio.create_task(sems[2].acquire())
            await sems[0].release()
            await asyncio.wait_for(third, 5)
            assert len(await sems[1].holders()) == 2

            barrier = Barrier(clients[0], "/recipes/barrier")
            await barrier.create()
            waiting = asyncio.create_task(Barrier(clients[1], "/recipes/barrier").wait())
            await asyncio.sleep(0.2)
            assert not waiting.done()
            assert await barrier.remove()
            await asyncio.wait_for(waiting, 5)

            doubles = [DoubleBarrier(c, "/recipes/double", 3) for c in clients]
            await asyncio.wait_for(asyncio.gather(*(d.enter() for d in doubles)), 5)
            await asyncio.wait_for(asyncio.gather(*(d.leave() for d in doubles)), 5)
        finally:
            for c in clients:
                await c.close()

    asyncio.run(main())


def test_sync_client(cluster: Cluster) -> None:
    with SyncClient(cluster.hosts, session_timeout_ms=5000) as zk:
        zk.create("/sync/x", b"v", makepath=True)
        assert zk.get("/sync/x")[0] == b"v"
        with zk.watch("/sync/x") as events:
            zk.set("/sync/x", b"w")
            assert events.get(timeout=5).type is EventType.NODE_DATA_CHANGED
        assert zk.transaction().check("/sync/x", 1).delete("/sync/x").commit() == [True, True]
        assert zk.exists("/sync/x") is None
        assert zk.state is SessionState.CONNECTED


def test_cli_commands(cluster: Cluster) -> None:
    runner = CliRunner()
    hosts = ["--hosts", cluster.hosts]
    r = runner.invoke(cli, ["create", "/cli/node", "hello", "-p", *hosts])
    assert r.exit_code == 0, r.output
    assert r.output.strip() == "/cli/node"
    r = runner.invoke(cli, ["get", "/cli/node", *hosts])
    assert (r.exit_code, r.output.strip()) == (0, "hello")
    r = runner.invoke(cli, ["set", "/cli/node", "bye", *hosts])
    assert r.exit_code == 0 and "version 1" in r.output
    r = runner.invoke(cli, ["ls", "/cli", *hosts])
    assert r.output.split() == ["node"]
    r = runner.invoke(cli, ["stat", "/cli/node", *hosts])
    assert r.exit_code == 0 and "version" in r.output
    r = runner.invoke(cli, ["delete", "/cli", *hosts])
    assert r.exit_code == 1 and "has children" in r.output
    r = runner.invoke(cli, ["delete", "/cli", "-r", *hosts])
    assert r.exit_code == 0
    r = runner.invoke(cli, ["get", "/cli/node", *hosts])
    assert r.exit_code == 1 and "no node /cli/node" in r.output


def test_session_survives_kill_9_of_connected_node(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path)
    try:
        cluster.start()

        async def main() -> None:
            async with Client(cluster.hosts, session_timeout_ms=4000) as c:
                sid = c.session_id
                await c.create("/eph", b"", ephemeral=True)
                gone: asyncio.Future[WatchedEvent] = asyncio.get_running_loop().create_future()
                await c.exists("/watched", watch=gone)
                assert c.connected_host is not None
                victim = next(n.id for n in cluster.nodes if n.client_port == c.connected_host[1])
                cluster.kill(victim, signal.SIGKILL)
                await asyncio.sleep(0.2)
                await c.wait_connected(10)
                assert c.session_id == sid
                assert await c.retry(lambda: c.exists("/eph")) is not None
                await c.retry(lambda: c.create("/watched"))
                assert (await asyncio.wait_for(gone, 10)).type is EventType.NODE_CREATED
                assert c.state is SessionState.CONNECTED

        asyncio.run(main())
    finally:
        cluster.stop()
