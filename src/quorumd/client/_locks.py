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
   if the grant raced ahead of it, the release frees the lock again.
6. When the session is LOST every lock of it is gone: `Lock.held` turns False and
   `wait_lost()` returns. A holder must stop using the resource before that can
   happen; the fencing token makes late writes rejectable if it does not.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import importlib
import logging
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from quorumd.client._session import Session
from quorumd.client._states import SessionState, StateChange
from quorumd.errors import BadArguments, ConnectionLoss, NodeExists, NoNode, SessionExpired
from quorumd.wire import Notification, RecordType

__all__ = ["Lock", "LockMode", "Sequencer", "lock_extensions"]

log = logging.getLogger("quorumd.client")


#: Tests may point this at a module with the same names while quorumd.wire.locks is
#: absent (it is written concurrently with this client).
WIRE_LOCKS_OVERRIDE: Any = None


def _wire_locks() -> Any:
    """quorumd.wire.locks (LOCK_EXTENSIONS, LOCK_GRANTED, the opcodes and records)."""
    if WIRE_LOCKS_OVERRIDE is not None:
        return WIRE_LOCKS_OVERRIDE
    try:
        return importlib.import_module("quorumd.wire.locks")
    except ModuleNotFoundError:
        return None


def lock_extensions() -> Mapping[int, tuple[RecordType | None, RecordType | None]]:
    mod = _wire_locks()
    return {} if mod is None else dict(mod.LOCK_EXTENSIONS)


class LockMode(enum.IntEnum):
    EXCLUSIVE = 0
    SHARED = 1


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
    """Per-session: waiters by path, holders to notify when the session is lost."""

    def __init__(self, session: Session) -> None:
        self.waiters: dict[str, asyncio.Future[str]] = {}
        self.holders: weakref.WeakSet[Lock] = weakref.WeakSet()
        self.background: set[asyncio.Task[Any]] = set()
        self._was_suspended = False
        session.notification_hooks.append(self.on_notification)
        session.listeners.append(self.on_state)

    def on_notification(self, note: Notification) -> bool:
        mod = _wire_locks()
        if mod is None or note.event_type != mod.LOCK_GRANTED:
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

    def spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self.background.add(task)
        task.add_done_callback(self.background.discard)


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
        self.lock_delay_ms = -1 if lock_delay_ms is None else lock_delay_ms
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
                token = await self._acquire(table, wait=True)
        except BaseException:
            table.spawn(self._abandon())
            raise
        finally:
            table.waiters.pop(self.path, None)
        assert token is not None
        return self._granted(table, token)

    async def try_acquire(self) -> Sequencer | None:
        """The sequencer if the lock is free now; None (nothing queued) if busy."""
        table = _table(self._session)
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
        mod = _wire_locks()
        if mod is None:
            raise ConnectionLoss("this client build has no lock extension records")
        request = mod.LockAcquireRequest(self.path, int(self.mode), wait, self.lock_delay_ms)
        while True:
            try:
                reply: Any = await self._session.submit(mod.LOCK_ACQUIRE, request, self.path)
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
                if reply.status == 0:
                    return int(reply.token)
            if not wait:
                return None
            return await self._wait_grant(table)

    async def _wait_grant(self, table: _LockTable) -> int:
        while True:
            fut = table.waiters[self.path]
            outcome = await fut
            table.waiters[self.path] = asyncio.get_running_loop().create_future()
            token, waiting = await self._where_am_i()
            if token is not None:
                return token
            if not waiting and outcome == _RECHECK:
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
        mod = _wire_locks()
        for _ in range(3):
            if self._session.state in (SessionState.LOST, SessionState.CLOSED):
                return
            try:
                await self._session.submit(mod.LOCK_RELEASE, mod.LockReleaseRequest(self.path),
                                           self.path)
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
        mod = _wire_locks()
        request = mod.CheckSequencerRequest(sequencer.path, int(sequencer.mode), sequencer.token)
        reply: Any = await session.submit(mod.CHECK_SEQUENCER, request, sequencer.path)
        return bool(reply.valid)

    @staticmethod
    async def info(session: Session, path: str) -> tuple[int, int, list[int], list[int]]:
        mod = _wire_locks()
        try:
            reply: Any = await session.submit(mod.LOCK_INFO, mod.LockInfoRequest(path), path)
        except NoNode:
            return int(LockMode.EXCLUSIVE), 0, [], []
        return int(reply.mode), int(reply.token), list(reply.holders), list(reply.waiters)
