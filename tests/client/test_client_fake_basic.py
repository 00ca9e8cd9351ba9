"""The asyncio client against the in-test fake server: operations, errors, pipelining."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from fake_zk import FakeNode

from quorumd.client import Client, SessionState
from quorumd.errors import BadVersion, NodeExists, NoNode, NotEmpty
from quorumd.wire import OpCode


def run(test: Callable[[Client, FakeNode], Awaitable[None]], timeout_ms: int = 6000) -> None:
    async def main() -> None:
        node = await FakeNode().start()
        client = Client(node.host, session_timeout_ms=timeout_ms)
        try:
            await client.start(5)
            await test(client, node)
        finally:
            await client.close()
            await node.stop()

    asyncio.run(main())


def test_crud_round_trip() -> None:
    async def t(c: Client, node: FakeNode) -> None:
        assert await c.create("/a", b"one") == "/a"
        data, stat = await c.get("/a")
        assert (data, stat.version) == (b"one", 0)
        stat = await c.set("/a", b"two", version=0)
        assert stat.version == 1
        with pytest.raises(BadVersion):
            await c.set("/a", b"x", version=0)
        with pytest.raises(NodeExists):
            await c.create("/a")
        with pytest.raises(NoNode):
            await c.get("/missing")
        assert await c.exists("/missing") is None
        assert (await c.exists("/a")) is not None
        await c.create("/a/b")
        with pytest.raises(NotEmpty):
            await c.delete("/a")
        assert await c.get_children("/a") == ["b"]
        kids, stat = await c.get_children("/a", include_stat=True)
        assert kids == ["b"] and stat.num_children == 1
        await c.delete("/a", recursive=True)
        assert await c.exists("/a") is None

    run(t)


def test_create_modes_and_makepath() -> None:
    async def t(c: Client, node: FakeNode) -> None:
        p1 = await c.create("/q/job-", b"", sequential=True, makepath=True)
        p2 = await c.create("/q/job-", b"", sequential=True)
        assert p1 == "/q/job-0000000000" and p2 == "/q/job-0000000001"
        e = await c.create("/q/eph", ephemeral=True)
        stat = await c.exists(e)
        assert stat is not None and stat.ephemeral_owner == c.session_id
        assert await c.get_ephemerals("/q") == ["/q/eph"]
        assert await c.get_all_children_number("/q") == 3
        await c.create("/ttl", ttl_ms=1000)
        await c.create("/box", container=True)
        ops = [r.opcode for conn in node.conns() for r in conn.requests]
        assert OpCode.CREATE_TTL in ops and OpCode.CREATE_CONTAINER in ops
        assert await c.sync("/q") == "/q"
        acl, _ = await c.get_acl("/q")
        assert acl[0].id.scheme == "world"

    run(t)


def test_pipelined_requests_are_matched_in_order() -> None:
    async def t(c: Client, node: FakeNode) -> None:
        await asyncio.gather(*(c.create(f"/n{i}", str(i).encode()) for i in range(200)))
        results = await asyncio.gather(*(c.get(f"/n{i}") for i in range(200)))
        assert [d for d, _ in results] == [str(i).encode() for i in range(200)]

    run(t)


def test_transaction_is_all_or_nothing() -> None:
    async def t(c: Client, node: FakeNode) -> None:
        await c.create("/t", b"0")
        txn = c.transaction().check("/t", 0).create("/t/x", b"1").set_data("/t", b"2")
        res = await txn.commit()
        assert res[0] is True and res[1] == "/t/x" and res[2].version == 1  # type: ignore[union-attr]
        with pytest.raises(NoNode):
            await c.transaction().create("/t/y").delete("/nope").commit()
        assert await c.exists("/t/y") is None

    run(t)


def test_auth_is_sent_and_resent() -> None:
    async def t(c: Client, node: FakeNode) -> None:
        await c.add_auth("digest", "user:pw")
        node.drop_connections()
        await asyncio.sleep(0.05)
        await c.wait_connected(5)
        auths = [r for conn in node.conns() for r in conn.requests if r.opcode == OpCode.AUTH]
        assert len(auths) == 1 and auths[0].record.auth == b"user:pw"  # type: ignore[union-attr]

    run(t)


def test_state_after_close_and_start_failure() -> None:
    async def main() -> None:
        node = await FakeNode().start()
        port = node.port
        await node.stop()
        c = Client(f"127.0.0.1:{port}")
        with pytest.raises(Exception, match="not connected"):
            await c.start(0.5)
        assert c.state is SessionState.CLOSED

    asyncio.run(main())
