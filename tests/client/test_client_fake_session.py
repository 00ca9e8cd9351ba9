"""Session behaviour against fake servers: watches, reconnect, jeopardy, expiry."""

from __future__ import annotations

import asyncio

import pytest
from fake_zk import FakeNode, FakeState

from quorumd.client import Client, SessionState, StateChange, WatchedEvent
from quorumd.errors import ConnectionLoss, SessionExpired
from quorumd.wire import EventType, KeeperState, OpCode


async def cluster(n: int = 2) -> list[FakeNode]:
    state = FakeState()
    return [await FakeNode(state).start() for _ in range(n)]


def hosts(nodes: list[FakeNode]) -> str:
    return ",".join(n.host for n in nodes)


def test_one_shot_watches_fire_once() -> None:
    async def main() -> None:
        (node,) = await cluster(1)
        async with Client(node.host) as c:
            await c.create("/w", b"0")
            seen: list[WatchedEvent] = []
            fut: asyncio.Future[WatchedEvent] = asyncio.get_running_loop().create_future()
            await c.get("/w", watch=seen.append)
            await c.get_children("/w", watch=fut)
            await c.set("/w", b"1")
            await c.set("/w", b"2")
            await c.create("/w/kid")
            event = await asyncio.wait_for(fut, 2)
            assert event == WatchedEvent(EventType.NODE_CHILDREN_CHANGED,
                                         KeeperState.SYNC_CONNECTED, "/w")
            await c.sync()
            assert [e.type for e in seen] == [EventType.NODE_DATA_CHANGED]
            created: asyncio.Future[WatchedEvent] = asyncio.get_running_loop().create_future()
            assert await c.exists("/later", watch=created) is None
            await c.create("/later")
            assert (await asyncio.wait_for(created, 2)).type is EventType.NODE_CREATED
        await node.stop()

    asyncio.run(main())


def test_persistent_recursive_watch_stream_and_removal() -> None:
    async def main() -> None:
        (node,) = await cluster(1)
        async with Client(node.host) as c:
            await c.create("/cfg")
            async with c.watch("/cfg", recursive=True) as events:
                await c.create("/cfg/a")
                await c.set("/cfg/a", b"x")
                await c.delete("/cfg/a")
                got = [await asyncio.wait_for(events.next_event(), 2) for _ in range(3)]
            assert [(e.type, e.path) for e in got] == [
                (EventType.NODE_CREATED, "/cfg/a"),
                (EventType.NODE_DATA_CHANGED, "/cfg/a"),
                (EventType.NODE_DELETED, "/cfg/a"),
            ]
            await c.sync()
            ops = [r.opcode for conn in node.conns() for r in conn.requests]
            assert OpCode.ADD_WATCH in ops and OpCode.REMOVE_WATCHES in ops

            async def first_change() -> WatchedEvent:
                async for event in c.watch("/cfg"):
                    return event
                raise AssertionError("stream ended")

            task = asyncio.create_task(first_change())
            await asyncio.sleep(0.1)
            await c.set("/cfg", b"new")
            assert (await asyncio.wait_for(task, 2)).type is EventType.NODE_DATA_CHANGED
        await node.stop()

    asyncio.run(main())


def test_reconnect_keeps_session_and_rearms_watches() -> None:
    async def main() -> None:
        nodes = await cluster(2)
        changes: list[StateChange] = []
        async with Client(hosts(nodes), session_timeout_ms=6000) as c:
            c.add_listener(changes.append)
            sid = c.session_id
            await c.create("/e", ephemeral=True)
            fired: asyncio.Future[WatchedEvent] = asyncio.get_running_loop().create_future()
            await c.get("/e", watch=fired)
            stream = c.watch("/e")
            await stream.start()
            states = c.states()
            first = next(n for n in nodes if n.conns())
            first.drop_connections()
            assert (await asyncio.wait_for(anext(states), 3)).new is SessionState.SUSPENDED
            await states.aclose()
            await c.wait_connected(5)
            assert c.session_id == sid and await c.exists("/e") is not None
            assert [ch.new for ch in changes] == [SessionState.SUSPENDED, SessionState.CONNECTED]
            rearm = [r for n in nodes for conn in n.conns() for r in conn.requests
                     if r.opcode == OpCode.SET_WATCHES2]
            assert rearm and rearm[0].record.data_watches == ("/e",)  # type: ignore[union-attr]
            assert rearm[0].record.persistent_watches == ("/e",)  # type: ignore[union-attr]
            last = next(n for n in nodes if n.conns()).connects[-1]
            assert last.session_id == sid and last.last_zxid_seen == c.last_zxid
            await c.set("/e", b"x")
            assert (await asyncio.wait_for(fired, 2)).type is EventType.NODE_DATA_CHANGED
            assert (await asyncio.wait_for(stream.next_event(), 2)).path == "/e"
            await stream.aclose()
        for n in nodes:
            await n.stop()

    asyncio.run(main())


def test_in_flight_requests_fail_with_connection_loss() -> None:
    async def main() -> None:
        nodes = await cluster(2)
        async with Client(hosts(nodes), session_timeout_ms=6000) as c:
            first = next(n for n in nodes if n.conns())
            first.stalled = True
            pending = asyncio.create_task(c.get("/"))
            await asyncio.sleep(0.05)
            first.drop_connections()
            with pytest.raises(ConnectionLoss):
                await pending
            # a request made while suspended waits for the next connection
            assert (await c.exists("/")) is not None
        for n in nodes:
            await n.stop()

    asyncio.run(main())


def test_silent_server_is_abandoned_after_read_timeout() -> None:
    async def main() -> None:
        nodes = await cluster(2)
        async with Client(hosts(nodes), session_timeout_ms=1500) as c:
            sid = c.session_id
            first = next(n for n in nodes if n.conns())
            first.stalled = True  # accepts bytes, answers nothing (SIGSTOP-like)
            states = c.states()
            change = await asyncio.wait_for(anext(states), 3)
            assert change.new is SessionState.SUSPENDED
            change = await asyncio.wait_for(anext(states), 3)
            assert change.new is SessionState.CONNECTED and c.session_id == sid
            assert c.connected_host is not None and c.connected_host[1] != first.port
            await states.aclose()
        for n in nodes:
            await n.stop()

    asyncio.run(main())


def test_expired_session_is_lost_then_replaced() -> None:
    async def main() -> None:
        nodes = await cluster(2)
        async with Client(hosts(nodes), session_timeout_ms=6000) as c:
            old = c.session_id
            await c.create("/mine", ephemeral=True)
            watch: asyncio.Future[WatchedEvent] = asyncio.get_running_loop().create_future()
            await c.get("/", watch=watch)
            stream = c.watch("/x")
            await stream.start()
            states = c.states()
            nodes[0].state.expire(old)
            seen = [(await asyncio.wait_for(anext(states), 3)).new for _ in range(3)]
            assert seen == [SessionState.SUSPENDED, SessionState.LOST, SessionState.CONNECTED]
            assert c.session_id != old
            assert (await watch).state is KeeperState.EXPIRED
            with pytest.raises(SessionExpired):
                await stream.next_event()
            assert await c.exists("/mine") is None
            await states.aclose()
        for n in nodes:
            await n.stop()

    asyncio.run(main())


def test_unreachable_for_a_session_timeout_is_lost_locally() -> None:
    async def main() -> None:
        (node,) = await cluster(1)
        c = Client(node.host, session_timeout_ms=1000)
        await c.start(3)
        states = c.states()
        port = node.port
        await node.stop()
        assert (await asyncio.wait_for(anext(states), 3)).new is SessionState.SUSPENDED
        assert (await asyncio.wait_for(anext(states), 5)).new is SessionState.LOST
        node2 = await FakeNode().start(port)
        assert (await asyncio.wait_for(anext(states), 5)).new is SessionState.CONNECTED
        await c.close()
        assert (await asyncio.wait_for(anext(states), 1)).new is SessionState.CLOSED
        await node2.stop()

    asyncio.run(main())
