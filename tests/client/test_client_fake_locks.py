"""Client-side lock logic against the fake server's lock table (docs/design/locks.md)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
from fake_locks import FakeLocks
from fake_zk import FakeNode, FakeState

from quorumd.client import Client, LockMode, Sequencer, SessionState


@asynccontextmanager
async def setup(n_clients: int, n_nodes: int = 1, timeout_ms: int = 6000
                ) -> AsyncIterator[tuple[list[Client], list[FakeNode], FakeLocks]]:
    state = FakeState()
    locks = FakeLocks(state)
    nodes = [await FakeNode(state).start() for _ in range(n_nodes)]
    hosts = ",".join(n.host for n in nodes)
    clients = [Client(hosts, session_timeout_ms=timeout_ms) for _ in range(n_clients)]
    try:
        for c in clients:
            await c.start(5)
        yield clients, nodes, locks
    finally:
        for c in clients:
            await c.close()
        for n in nodes:
            await n.stop()


def run(body: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(body(), 30))


async def until(pred: Callable[[], bool]) -> None:
    while not pred():
        await asyncio.sleep(0.005)


def test_mutual_exclusion_protects_a_counter() -> None:
    async def body() -> None:
        async with setup(6) as (clients, _, _):
            await clients[0].create("/counter", b"0")

            async def worker(c: Client) -> None:
                for _ in range(5):
                    async with c.lock("/locks/counter"):
                        value = int((await c.get("/counter"))[0])
                        await asyncio.sleep(0.001)
                        await c.set("/counter", str(value + 1).encode())

            await asyncio.gather(*(worker(c) for c in clients))
            assert (await clients[0].get("/counter"))[0] == b"30"

    run(body)


def test_waiters_are_served_fifo_with_growing_tokens() -> None:
    async def body() -> None:
        async with setup(4) as (clients, _, locks):
            first = clients[0].lock("/fifo")
            seq0 = await first.acquire()
            order: list[tuple[int, Sequencer]] = []

            async def wait_turn(i: int) -> None:
                async with clients[i].lock("/fifo") as seq:
                    order.append((i, seq))
                    await asyncio.sleep(0.01)

            tasks = []
            for i in (3, 1, 2):
                tasks.append(asyncio.create_task(wait_turn(i)))
                await until(lambda: len(locks.locks["/fifo"].waiters) == len(tasks))
            assert await clients[0].check_sequencer(seq0)
            await first.release()
            await asyncio.gather(*tasks)
            assert [i for i, _ in order] == [3, 1, 2]
            tokens = [seq0.token] + [s.token for _, s in order]
            assert tokens == sorted(set(tokens))
            assert not await clients[0].check_sequencer(seq0)

    run(body)


def test_shared_holders_coexist_and_exclusive_waits() -> None:
    async def body() -> None:
        async with setup(4) as (clients, _, locks):
            a_lock = clients[0].lock("/rw", shared=True)
            b_lock = clients[1].lock("/rw", shared=True)
            a, b = await a_lock.acquire(), await b_lock.acquire()
            assert a.mode is b.mode is LockMode.SHARED
            writer_lock = clients[2].lock("/rw")
            writer = asyncio.create_task(writer_lock.acquire())
            await until(lambda: len(locks.locks["/rw"].waiters) == 1)
            # a reader arriving after a waiting writer queues behind it (no starvation)
            late = asyncio.create_task(clients[3].lock("/rw", shared=True).acquire())
            await until(lambda: len(locks.locks["/rw"].waiters) == 2)
            await a_lock.release()
            await asyncio.sleep(0.02)
            assert not writer.done() and not late.done()
            await b_lock.release()
            w = await asyncio.wait_for(writer, 5)
            assert w.mode is LockMode.EXCLUSIVE and w.token > max(a.token, b.token)
            await asyncio.sleep(0.02)
            assert not late.done()
            await writer_lock.release()
            r = await asyncio.wait_for(late, 5)
            assert r.token > w.token

    run(body)


def test_try_lock_and_timeout_leave_no_waiter() -> None:
    async def body() -> None:
        async with setup(2) as (clients, _, locks):
            held = await clients[0].try_lock("/t")
            assert held is not None and held.held
            assert await clients[1].try_lock("/t") is None
            with pytest.raises(TimeoutError):
                await clients[1].lock("/t", timeout=0.1).acquire()
            await until(lambda: not locks.locks["/t"].waiters)
            await held.release()
            again = await clients[1].try_lock("/t")
            assert again is not None

    run(body)


def test_grant_missed_while_disconnected_is_found_after_reconnect() -> None:
    async def body() -> None:
        async with setup(2, n_nodes=2) as (clients, nodes, locks):
            holder = clients[0].lock("/miss")
            await holder.acquire()
            waiter = asyncio.create_task(clients[1].lock("/miss").acquire())
            await until(lambda: len(locks.locks["/miss"].waiters) == 1)
            sid = clients[1].session_id
            for n in nodes:  # cut the waiter off, then grant while it cannot hear
                for conn in n.conns():
                    if conn.session_id == sid:
                        conn.close()
            await holder.release()
            seq = await asyncio.wait_for(waiter, 5)
            assert locks.locks["/miss"].holders == [sid]
            assert seq.token == locks.locks["/miss"].token

    run(body)


def test_session_loss_drops_the_lock() -> None:
    async def body() -> None:
        async with setup(2) as (clients, nodes, locks):
            lock = clients[0].lock("/lost")
            await lock.acquire()
            nodes[0].state.expire(clients[0].session_id)
            await asyncio.wait_for(lock.wait_lost(), 5)
            assert not lock.held
            other = await clients[1].try_lock("/lost")
            assert other is not None
            await until(lambda: clients[0].state is SessionState.CONNECTED)
            await lock.release()  # a no-op: the lost session released it already
            assert locks.locks["/lost"].holders == [clients[1].session_id]

    run(body)


def test_acquire_right_after_a_timed_out_wait_is_not_dequeued_by_its_release() -> None:
    """The timed-out wait's release is sent in the background; an acquire of the same
    path started at once must not be overtaken by it (it would dequeue the new wait)."""

    async def body() -> None:
        async with setup(2) as (clients, _, locks):
            holder = await clients[0].try_lock("/again")
            assert holder is not None
            gave_up = asyncio.Event()

            async def give_up_then_wait_again() -> Sequencer:
                with pytest.raises(TimeoutError):
                    await clients[1].lock("/again", timeout=0.1).acquire()
                gave_up.set()
                return await clients[1].lock("/again").acquire()  # no yield in between

            retry = asyncio.create_task(give_up_then_wait_again())
            await asyncio.wait_for(gave_up.wait(), 5)
            await until(lambda: [s for s, _ in locks.locks["/again"].waiters]
                        == [clients[1].session_id])
            await asyncio.sleep(0.05)  # time for a stray release to land
            await holder.release()
            seq = await asyncio.wait_for(retry, 5)
            assert locks.locks["/again"].holders == [clients[1].session_id]
            assert seq.token == locks.locks["/again"].token

    run(body)
