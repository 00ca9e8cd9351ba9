"""Chubby-style locks held by the servers, with sequencers for fencing.

    async with client.lock("/jobs/nightly", timeout=30) as seq:
        await storage.write(data, fencing_token=seq.token)

Theory of operation (docs/design/locks.md; Chubby §2.4):

1. The server queues waiters FIFO and grants in the apply of some log entry; the
   grant's fencing token is that entry's zxid, so tokens of a lock only grow.
2. An acquire that cannot be granted at once answers "queued" right away (so the
   session's other requests are not stuck behind it); the grant arrives later as a
   LockGranted notification on the path, and the token is read with lockInfo.
3. A notification sent while we were disconnected is lost, so after every reconnect a
   waiter asks lockInfo whether it holds the lock by now.
4. An acquire whose reply was lost (ConnectionLoss) is sent again: the server answers
   BADARGUMENTS if the first one had arrived, and lockInfo says where we stand.
5. Giving up (timeout, cancellation) sends lockRelease, which also dequeues a waiter;
   if the grant raced ahead of it, the release frees the lock again. A new acquire of
   the same path waits for that release to be answered: sent after the acquire, it
   would silently dequeue the new wait.
6. When the session is LOST every lock of it is gone: `Lock.held` turns False and
   `wait_lost()` returns. A holder must stop using the resource before that can
   happen; the fencing token makes late writes rejectable if it does not.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from quorumd.client._session import Session
from quorumd.client._states import SessionState, StateChange
from quorumd.errors import BadArguments, ConnectionLoss, NodeExists, NoNode, SessionExpired
from quorumd.wire import Notification, RecordType
from quorumd.wire import locks as wl
from quorumd.wire.locks import LockMode

__all__ = ["Lock", "LockMode", "Sequencer", "lock_extensions"]

log = logging.getLogger("quorumd.client")


def lock_extensions() -> Mapping[int, tuple[RecordType | None, RecordType | None]]:
    """The extension records the client's connection must know (opcodes 200-203)."""
    return wl.LOCK_EXTENSIONS


@dataclass(frozen=True, slots=True)
class Sequencer:
    """Proof of holding a lock (Chubby §2.4): pass it (or its token) to a resource
    server, which checks it with `check_sequencer` or keeps the highest token seen."""

    path: str
    mode: LockMode
    token: int


_GRANTED = "granted"
_RECHECK = "recheck"


class _LockTable:
    """Per-session: waiters by path, holders to notify when the session is lost, and
    the releases still in flight for abandoned waits (rule 5)."""

    def __init__(self, session: Session) -> None:
        self.waiters: dict[str, asyncio.Future[str]] = {}
        self.holders: weakref.WeakSet[Lock] = weakref.WeakSet()
        self.abandoning: dict[str, asyncio.Task[None]] = {}
        session.notification_hooks.append(self.on_notification)
        session.listeners.append(self.on_state)

    def on_notification(self, note: Notification) -> bool:
        if note.event_type != wl.LOCK_GRANTED:
            return False
        fut = self.waiters.get(note.path)
        if fut is not None and not fut.done():
            fut.set_result(_GRANTED)
        return True

    def on_state(self, change: StateChange) -> None:
        if change.new is SessionState.LOST:
            for fut in self.waiters.values():
                if not fut.done():
                    fut.set_exception(SessionExpired("session lost while waiting for a lock"))
            for lock in list(self.holders):
                lock.mark_lost()
        elif change.new is SessionState.CONNECTED and change.old is SessionState.SUSPENDED:
            for fut in self.waiters.values():  # rule 3
                if not fut.done():
                    fut.set_result(_RECHECK)

    def abandon(self, path: str, release: Coroutine[Any, Any, None]) -> None:
        """Run `release` in the background; a new acquire of `path` waits for it first,
        or the release could arrive after that acquire and dequeue it."""
        task = asyncio.ensure_future(release)
        self.abandoning[path] = task

        def done(t: asyncio.Task[None]) -> None:
            if self.abandoning.get(path) is t:
                del self.abandoning[path]

        task.add_done_callback(done)

    async def settled(self, path: str) -> None:
        task = self.abandoning.get(path)
        if task is not None:
            await asyncio.shield(task)


_TABLES: weakref.WeakKeyDictionary[Session, _LockTable] = weakref.WeakKeyDictionary()


def _table(session: Session) -> _LockTable:
    table = _TABLES.get(session)
    if table is None:
        table = _TABLES[session] = _LockTable(session)
    return table


class Lock:
    """One lock of one client; `async with` acquires (waiting) and releases."""

    def __init__(
        self,
        session: Session,
        path: str,
        mode: LockMode,
        timeout: float | None = None,
        lock_delay_ms: int | None = None,
    ) -> None:
        self._session = session
        self.path = path
        self.mode = mode
        self.timeout = timeout
        self.lock_delay_ms = wl.DEFAULT_LOCK_DELAY if lock_delay_ms is None else lock_delay_ms
        self.sequencer: Sequencer | None = None
        self._session_id = 0
        self._lost = asyncio.Event()

    @property
    def held(self) -> bool:
        """True while acquired and the session that holds it is not known lost."""
        return self.sequencer is not None and not self._lost.is_set()

    def mark_lost(self) -> None:
        self._lost.set()

    async def wait_lost(self) -> None:
        await self._lost.wait()

    # --------------------------------------------------------------- acquire/release

    async def acquire(self, timeout: float | None = None) -> Sequencer:
        """Wait (FIFO) for the lock; TimeoutError after `timeout` seconds, with the
        wait cancelled on the server."""
        if self.sequencer is not None:
            raise RuntimeError(f"lock {self.path} already held by this Lock object")
        limit = self.timeout if timeout is None else timeout
        table = _table(self._session)
        if self.path in table.waiters:
            raise RuntimeError(f"this client already waits for {self.path}")
        table.waiters[self.path] = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(limit):
                await table.settled(self.path)
                token = await self._acquire(table, wait=True)
        except BaseException:
            table.abandon(self.path, self._abandon())
            raise
        finally:
            table.waiters.pop(self.path, None)
        assert token is not None
        return self._granted(table, token)

    async def try_acquire(self) -> Sequencer | None:
        """The sequencer if the lock is free now; None (nothing queued) if busy."""
        table = _table(self._session)
        await table.settled(self.path)
        try:
            token = await self._acquire(table, wait=False)
        except NodeExists:  # LockBusy travels as NODEEXISTS
            return None
        if token is None:  # this session already waits for the lock
            return None
        return self._granted(table, token)

    def _granted(self, table: _LockTable, token: int) -> Sequencer:
        self.sequencer = Sequencer(self.path, self.mode, token)
        self._session_id = self._session.session_id
        self._lost.clear()
        table.holders.add(self)
        return self.sequencer

    async def _acquire(self, table: _LockTable, wait: bool) -> int | None:
        request = wl.LockAcquireRequest(self.path, int(self.mode), wait, self.lock_delay_ms)
        while True:
            try:
                reply = await self._session.submit(wl.LOCK_ACQUIRE, request, self.path)
            except ConnectionLoss:
                await self._session.wait_connected(self._session.negotiated_timeout_ms / 1000)
                continue  # rule 4
            except BadArguments:
                token, waiting = await self._where_am_i()
                if token is not None:
                    return token
                if not waiting:
                    raise
            else:
                assert isinstance(reply, wl.LockAcquireResponse), reply
                if reply.status == wl.LockStatus.GRANTED:
                    return reply.token
            if not wait:
                return None
            return await self._wait_grant(table)

    async def _wait_grant(self, table: _LockTable) -> int:
        while True:
            await table.waiters[self.path]
            table.waiters[self.path] = asyncio.get_running_loop().create_future()
            token, waiting = await self._where_am_i()
            if token is not None:
                return token
            if not waiting:
                # Neither holder nor waiter after we were queued, yet the session
                # lives (a lost session raises above): never wait on a wait that is
                # gone; queue again.
                log.warning("lock %s: our wait vanished; queueing again", self.path)
                return await self._acquire(table, wait=True) or 0

    async def _where_am_i(self) -> tuple[int | None, bool]:
        """(token if we hold the lock, whether we are queued), from lockInfo."""
        _mode, token, holders, waiters = await self.info(self._session, self.path)
        sid = self._session.session_id
        return (token if sid in holders else None), sid in waiters

    async def _abandon(self) -> None:
        with contextlib.suppress(Exception):
            await self._send_release()

    async def release(self) -> None:
        """Release (best effort across a reconnect; a lost session released it already)."""
        held, self.sequencer = self.sequencer, None
        _table(self._session).holders.discard(self)
        if held is None or self._lost.is_set() or self._session_id != self._session.session_id:
            return
        with contextlib.suppress(ConnectionLoss, SessionExpired):
            await self._send_release()

    async def _send_release(self) -> None:
        for _ in range(3):
            if self._session.state in (SessionState.LOST, SessionState.CLOSED):
                return
            try:
                await self._session.submit(wl.LOCK_RELEASE, wl.LockReleaseRequest(self.path),
                                           self.path)  # fmt: skip
                return
            except NoNode:
                return
            except ConnectionLoss:
                await self._session.wait_connected(self._session.negotiated_timeout_ms / 1000)

    async def __aenter__(self) -> Sequencer:
        return await self.acquire()

    async def __aexit__(self, *exc: object) -> None:
        await self.release()

    # --------------------------------------------------------------- queries

    @staticmethod
    async def check(session: Session, sequencer: Sequencer) -> bool:
        """Linearizable on the server: a yes means the sequencer was current at some
        instant between the request and this reply."""
        request = wl.CheckSequencerRequest(sequencer.path, int(sequencer.mode), sequencer.token)
        reply = await session.submit(wl.CHECK_SEQUENCER, request, sequencer.path)
        assert isinstance(reply, wl.CheckSequencerResponse), reply
        return reply.valid

    @staticmethod
    async def info(session: Session, path: str) -> tuple[int, int, list[int], list[int]]:
        """(mode, token, holders, waiters); mode is -1 (LOCK_FREE) when nobody holds it."""
        reply = await session.submit(wl.LOCK_INFO, wl.LockInfoRequest(path), path)
        assert isinstance(reply, wl.LockInfoResponse), reply
        return reply.mode, reply.token, list(reply.holders), list(reply.waiters)
