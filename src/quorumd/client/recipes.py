"""Coordination recipes over plain ZooKeeper operations: Election, Semaphore, Barrier.

Each survives a failover of the connected server because the session survives it:
the recipes' ephemeral nodes stay while the client reconnects elsewhere.

Rules shared by the recipes (ZooKeeper recipes; Curator's "protected" nodes):

1. Contenders create EPHEMERAL_SEQUENTIAL children named `<guid>-<prefix><seq>`; order
   is the 10-digit sequence suffix, so the queue is FIFO by creation.
2. A create whose reply is lost (ConnectionLoss) may have happened. The guid in the
   name lets the retry find the node it may already have made instead of queueing a
   second one that nobody would ever delete.
3. A waiter watches only what can make it progress (its predecessor for an election,
   the children for a semaphore), and re-reads after every event: an event says
   "look again", never "you won".
4. If the session is lost, the ephemeral node went with it: the recipe queues again
   (Election) or raises SessionExpired (what was held is gone).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

from quorumd.client._client import Client
from quorumd.client._watches import WatchedEvent
from quorumd.errors import ConnectionLoss, NodeExists, NoNode

__all__ = ["Barrier", "DoubleBarrier", "Election", "Semaphore"]

T = TypeVar("T")


def _seq(name: str) -> int:
    tail = name[-10:]
    return int(tail) if tail.isdigit() else -1


async def _retrying(client: Client, fn: Callable[..., Awaitable[T]], *args: object) -> T:
    """`fn(*args)` again after ConnectionLoss; only for reads and idempotent writes."""
    while True:
        try:
            return await fn(*args)
        except ConnectionLoss:
            await client.wait_connected(client.session_timeout_ms / 1000)


class _Contender:
    """One protected ephemeral-sequential node under `path` (rules 1, 2)."""

    def __init__(self, client: Client, path: str, prefix: str) -> None:
        self.client = client
        self.path = path.rstrip("/")
        self.prefix = prefix
        self.guid = uuid.uuid4().hex
        self.node: str | None = None  # child name, without the parent path

    async def ensure_node(self, value: bytes) -> str:
        """Our child's name, creating it unless it exists (rule 2)."""
        client = self.client
        while True:
            try:
                children = await _retrying(client, client.get_children, self.path)
            except NoNode:
                await client.ensure_path(self.path)
                continue
            mine = [c for c in children if c.startswith(self.guid)]
            if mine:
                self.node = mine[0]
                return self.node
            try:
                full = await client.create(
                    f"{self.path}/{self.guid}-{self.prefix}", value,
                    ephemeral=True, sequential=True, makepath=True,
                )  # fmt: skip
            except ConnectionLoss:
                await client.wait_connected(client.session_timeout_ms / 1000)
                continue
            except NoNode:
                await client.ensure_path(self.path)
                continue
            self.node = full.rsplit("/", 1)[1]
            return self.node

    async def queue(self) -> list[str]:
        try:
            children = await _retrying(self.client, self.client.get_children, self.path)
        except NoNode:
            return []
        return sorted((c for c in children if _seq(c) >= 0), key=_seq)

    async def remove(self) -> None:
        node, self.node = self.node, None
        if node is not None:
            with contextlib.suppress(NoNode):
                await _retrying(self.client, self.client.delete, f"{self.path}/{node}")


class Election:
    """Leader election: the oldest contender under `path` leads.

    `campaign()` returns once this client leads; `leader()` reads the leader's value;
    `observe()` yields the leader's value at every change; `resign()` steps down.
    Leadership ends silently if the session is lost: watch the client's state (as
    `quorumd run-elected` does) before acting as leader.
    """

    def __init__(self, client: Client, path: str) -> None:
        self.client = client
        self.path = path.rstrip("/")
        self._me = _Contender(client, path, "n_")

    @property
    def node(self) -> str | None:
        return self._me.node

    async def campaign(self, value: bytes = b"") -> None:
        while True:
            me = await self._me.ensure_node(value)
            queue = await self._me.queue()
            if me not in queue:
                self._me.node = None  # our session was lost with the node (rule 4)
                continue
            index = queue.index(me)
            if index == 0:
                return
            changed: asyncio.Future[WatchedEvent] = asyncio.get_running_loop().create_future()
            ahead = f"{self.path}/{queue[index - 1]}"
            stat = await _retrying(self.client, self.client.exists, ahead, changed)
            if stat is not None:
                await changed

    async def is_leader(self) -> bool:
        queue = await self._me.queue()
        return bool(queue) and queue[0] == self._me.node

    async def resign(self) -> None:
        await self._me.remove()

    async def leader(self) -> bytes | None:
        """The current leader's value, or None if nobody campaigns. Syncs first: reads
        are served by the connected node, which may lag behind the leader's commit."""
        with contextlib.suppress(NoNode):
            await _retrying(self.client, self.client.sync, self.path)
        while True:
            queue = await self._me.queue()
            if not queue:
                return None
            try:
                data, _ = await _retrying(self.client, self.client.get, f"{self.path}/{queue[0]}")
            except NoNode:
                continue  # the leader left between the two reads
            return data

    async def observe(self) -> AsyncIterator[bytes | None]:
        """The leader's value now and after every change (None: no leader)."""
        await self.client.ensure_path(self.path)
        last: bytes | object | None = object()
        while True:
            changed: asyncio.Future[WatchedEvent] = asyncio.get_running_loop().create_future()
            await _retrying(self.client, self.client.get_children, self.path, changed)
            current = await self.leader()
            if current != last:
                last = current
                yield current
            await changed


class Semaphore:
    """At most `max_leases` holders at once, granted FIFO.

    Why it is safe: holders are the first `max_leases` children by sequence number;
    new children sort after every existing one, so a child among the first N stays
    there until it leaves. Every contender must use the same `max_leases`.
    """

    def __init__(self, client: Client, path: str, max_leases: int) -> None:
        if max_leases < 1:
            raise ValueError("max_leases must be at least 1")
        self.client = client
        self.path = path.rstrip("/")
        self.max_leases = max_leases
        self._me = _Contender(client, path, "lease-")
        self.held = False

    async def acquire(self, timeout: float | None = None, value: bytes = b"") -> None:
        """Wait for a lease; TimeoutError (and the place in the queue given up) after
        `timeout` seconds."""
        try:
            async with asyncio.timeout(timeout):
                await self._acquire(value)
        except BaseException:
            await asyncio.shield(self._me.remove())
            raise
        self.held = True

    async def _acquire(self, value: bytes) -> None:
        while True:
            me = await self._me.ensure_node(value)
            changed: asyncio.Future[WatchedEvent] = asyncio.get_running_loop().create_future()
            children = await _retrying(self.client, self.client.get_children, self.path, changed)
            queue = sorted((c for c in children if _seq(c) >= 0), key=_seq)
            if me not in queue:
                self._me.node = None
                continue
            if queue.index(me) < self.max_leases:
                return
            await changed

    async def release(self) -> None:
        self.held = False
        await self._me.remove()

    async def holders(self) -> list[bytes]:
        """Values of the current lease holders (synced first, see `Election.leader`)."""
        with contextlib.suppress(NoNode):
            await _retrying(self.client, self.client.sync, self.path)
        out: list[bytes] = []
        for name in (await self._me.queue())[: self.max_leases]:
            with contextlib.suppress(NoNode):
                out.append((await self.client.get(f"{self.path}/{name}"))[0])
        return out

    async def __aenter__(self) -> Semaphore:
        await self.acquire()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.release()


class Barrier:
    """Kazoo's Barrier: while the node exists, `wait()` blocks."""

    def __init__(self, client: Client, path: str) -> None:
        self.client = client
        self.path = path

    async def create(self) -> None:
        with contextlib.suppress(NodeExists):
            await self.client.create(self.path, makepath=True)

    async def remove(self) -> bool:
        try:
            await self.client.delete(self.path)
        except NoNode:
            return False
        return True

    async def wait(self, timeout: float | None = None) -> None:
        """Until the barrier node is gone (synced first, so a barrier created before this
        call, as seen by anyone, is seen here too)."""
        async with asyncio.timeout(timeout):
            await _retrying(self.client, self.client.sync, self.path)
            while True:
                gone: asyncio.Future[WatchedEvent] = asyncio.get_running_loop().create_future()
                stat = await _retrying(self.client, self.client.exists, self.path, gone)
                if stat is None:
                    return
                await gone


class DoubleBarrier:
    """`num_clients` processes enter together and leave together.

    `enter()` adds an ephemeral child and waits until `num_clients` children exist
    (the last to arrive creates `ready`); `leave()` removes ours and waits until all
    participants have left (the last one removes `ready`).
    """

    def __init__(self, client: Client, path: str, num_clients: int) -> None:
        self.client = client
        self.path = path.rstrip("/")
        self.num_clients = num_clients
        self._me = _Contender(client, path, "p-")

    async def enter(self, timeout: float | None = None) -> None:
        ready = f"{self.path}/ready"
        async with asyncio.timeout(timeout):
            await self._me.ensure_node(b"")
            arrived: asyncio.Future[WatchedEvent] = asyncio.get_running_loop().create_future()
            if await _retrying(self.client, self.client.exists, ready, arrived):
                return
            if len(await self._me.queue()) >= self.num_clients:
                with contextlib.suppress(NodeExists):
                    await self.client.create(ready)
                return
            await arrived

    async def leave(self, timeout: float | None = None) -> None:
        async with asyncio.timeout(timeout):
            await self._me.remove()
            while True:
                changed: asyncio.Future[WatchedEvent] = asyncio.get_running_loop().create_future()
                children = await _retrying(
                    self.client, self.client.get_children, self.path, changed
                )
                if not [c for c in children if _seq(c) >= 0]:
                    with contextlib.suppress(NoNode):
                        await self.client.delete(f"{self.path}/ready")
                    return
                await changed
