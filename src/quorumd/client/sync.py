"""`SyncClient`: the asyncio `Client`, blocking, for code without an event loop.

The asyncio client runs on its own loop in one background thread; each method hands
a coroutine to that loop and waits for its result. Watch callbacks and state
listeners run on that thread: keep them short, and hand work back to your own
threads (a `queue.Queue`) rather than calling the SyncClient from inside them,
which would deadlock.

    with SyncClient("127.0.0.1:2181") as zk:
        zk.create("/app/cfg", b"v1", makepath=True)
        with zk.lock("/jobs/nightly") as seq:
            run_job(fencing_token=seq.token)
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import queue
import threading
from collections.abc import Callable, Coroutine, Iterator, Sequence
from typing import Any, TypeVar

from quorumd.client._client import Client
from quorumd.client._locks import Lock, Sequencer
from quorumd.client._states import SessionState, StateChange
from quorumd.client._transaction import Transaction, TransactionResult
from quorumd.client._watches import PersistentWatch, WatchedEvent
from quorumd.wire import ACL, Stat

__all__ = ["SyncClient", "SyncLock", "SyncTransaction", "SyncWatch"]

T = TypeVar("T")


class SyncClient:
    """The `Client` API, blocking. Same arguments as `Client`."""

    def __init__(self, hosts: str = "127.0.0.1:2181", session_timeout_ms: int = 10_000,
                 auth: Sequence[tuple[str, str | bytes]] = (), **kwargs: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="quorumd-client",
                                        daemon=True)
        self._thread.start()

        async def make() -> Client:
            return Client(hosts, session_timeout_ms, auth, **kwargs)

        self.client: Client = self._run(make())

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("SyncClient called from its own loop thread (a callback?)")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    # ------------------------------------------------------------------ lifecycle

    def start(self, timeout_s: float | None = 15.0) -> None:
        self._run(self.client.start(timeout_s))

    def close(self) -> None:
        if self._loop.is_closed():
            return
        try:
            self._run(self.client.close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop.close()

    def __enter__(self) -> SyncClient:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def state(self) -> SessionState:
        return self.client.state

    @property
    def session_id(self) -> int:
        return self.client.session_id

    def add_listener(self, listener: Callable[[StateChange], object]) -> None:
        """`listener` runs on the client's thread."""
        self._loop.call_soon_threadsafe(self.client.add_listener, listener)

    # ------------------------------------------------------------------ operations

    def create(self, path: str, value: bytes = b"", acl: Sequence[ACL] | None = None,
               **flags: Any) -> str:
        """Flags as `Client.create`: ephemeral, sequential, container, ttl_ms, makepath."""
        return self._run(self.client.create(path, value, acl, **flags))

    def ensure_path(self, path: str) -> None:
        self._run(self.client.ensure_path(path))

    def get(self, path: str, watch: Callable[[WatchedEvent], Any] | None = None
            ) -> tuple[bytes, Stat]:  # fmt: skip
        return self._run(self.client.get(path, watch))

    def set(self, path: str, value: bytes, version: int = -1) -> Stat:
        return self._run(self.client.set(path, value, version))

    def delete(self, path: str, version: int = -1, *, recursive: bool = False) -> None:
        self._run(self.client.delete(path, version, recursive=recursive))

    def exists(self, path: str, watch: Callable[[WatchedEvent], Any] | None = None
               ) -> Stat | None:  # fmt: skip
        return self._run(self.client.exists(path, watch))

    def get_children(self, path: str, watch: Callable[[WatchedEvent], Any] | None = None
                     ) -> list[str]:  # fmt: skip
        return self._run(self.client.get_children(path, watch))

    def get_children_with_stat(self, path: str) -> tuple[list[str], Stat]:
        return self._run(self.client.get_children(path, include_stat=True))

    def get_acl(self, path: str) -> tuple[list[ACL], Stat]:
        return self._run(self.client.get_acl(path))

    def set_acl(self, path: str, acl: Sequence[ACL], version: int = -1) -> Stat:
        return self._run(self.client.set_acl(path, acl, version))

    def get_ephemerals(self, prefix: str = "/") -> list[str]:
        return self._run(self.client.get_ephemerals(prefix))

    def get_all_children_number(self, path: str) -> int:
        return self._run(self.client.get_all_children_number(path))

    def sync(self, path: str = "/") -> str:
        return self._run(self.client.sync(path))

    def add_auth(self, scheme: str, credential: str | bytes) -> None:
        self._run(self.client.add_auth(scheme, credential))

    def transaction(self) -> SyncTransaction:
        return SyncTransaction(self, self.client.transaction())

    # ------------------------------------------------------------------ watches, locks

    def watch(self, path: str, *, recursive: bool = False) -> SyncWatch:
        return SyncWatch(self, self.client.watch(path, recursive=recursive))

    def lock(self, path: str, *, shared: bool = False, timeout: float | None = None,
             lock_delay_ms: int | None = None) -> SyncLock:
        return SyncLock(self, self.client.lock(path, shared=shared, timeout=timeout,
                                               lock_delay_ms=lock_delay_ms))

    def try_lock(self, path: str, *, shared: bool = False, lock_delay_ms: int | None = None
                 ) -> SyncLock | None:  # fmt: skip
        lock = self.lock(path, shared=shared, lock_delay_ms=lock_delay_ms)
        return lock if lock.try_acquire() is not None else None

    def check_sequencer(self, sequencer: Sequencer) -> bool:
        return self._run(self.client.check_sequencer(sequencer))

    def lock_info(self, path: str) -> tuple[int, int, list[int], list[int]]:
        """(mode, token, holder session ids, waiter session ids); mode -1 when free."""
        return self._run(self.client.lock_info(path))


class SyncTransaction:
    def __init__(self, owner: SyncClient, txn: Transaction) -> None:
        self._owner = owner
        self._txn = txn

    def create(self, path: str, value: bytes = b"", acl: Sequence[ACL] | None = None, *,
               ephemeral: bool = False, sequential: bool = False) -> SyncTransaction:
        self._txn.create(path, value, acl, ephemeral=ephemeral, sequential=sequential)
        return self

    def delete(self, path: str, version: int = -1) -> SyncTransaction:
        self._txn.delete(path, version)
        return self

    def set_data(self, path: str, value: bytes, version: int = -1) -> SyncTransaction:
        self._txn.set_data(path, value, version)
        return self

    def check(self, path: str, version: int) -> SyncTransaction:
        self._txn.check(path, version)
        return self

    def commit(self) -> list[TransactionResult]:
        return self._owner._run(self._txn.commit())


class SyncLock:
    """`with sync_client.lock(path) as seq:`"""

    def __init__(self, owner: SyncClient, lock: Lock) -> None:
        self._owner = owner
        self.lock = lock

    @property
    def held(self) -> bool:
        return self.lock.held

    @property
    def sequencer(self) -> Sequencer | None:
        return self.lock.sequencer

    def acquire(self, timeout: float | None = None) -> Sequencer:
        return self._owner._run(self.lock.acquire(timeout))

    def try_acquire(self) -> Sequencer | None:
        return self._owner._run(self.lock.try_acquire())

    def release(self) -> None:
        self._owner._run(self.lock.release())

    def __enter__(self) -> Sequencer:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


class SyncWatch:
    """A persistent watch as a blocking iterator; `close()` (or `with`) removes it."""

    def __init__(self, owner: SyncClient, stream: PersistentWatch) -> None:
        self._owner = owner
        self._stream = stream
        self._events: queue.Queue[WatchedEvent | BaseException] = queue.Queue()
        self._pump: concurrent.futures.Future[None] | None = None

    def start(self) -> SyncWatch:
        if self._pump is None:
            self._owner._run(self._stream.start())
            self._pump = asyncio.run_coroutine_threadsafe(self._drain(), self._owner._loop)
        return self

    async def _drain(self) -> None:
        try:
            while True:
                self._events.put(await self._stream.next_event())
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            self._events.put(exc)

    def get(self, timeout: float | None = None) -> WatchedEvent:
        """The next event; `queue.Empty` after `timeout` seconds."""
        self.start()
        item = self._events.get(timeout=timeout)
        if isinstance(item, BaseException):
            raise item
        return item

    def __iter__(self) -> Iterator[WatchedEvent]:
        while True:
            yield self.get()

    def close(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
        with contextlib.suppress(Exception):
            self._owner._run(self._stream.aclose())

    def __enter__(self) -> SyncWatch:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
