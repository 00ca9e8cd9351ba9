"""Chubby-style lock operations on the client port (docs/design/locks.md).

Acquire and release are replicated writes; `checkSequencer` and `lockInfo` are reads made
linearizable with a ReadIndex round first — a resource server asking "is this fencing
token still current?" must never get a stale yes. A waiter queued by one entry learns of
its grant from a LockGranted notification (xid -1, type 100), sent by the node holding
its connection when the granting entry is applied there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from quorumd import machine as m
from quorumd.errors import ZKError
from quorumd.wire import locks as wl

if TYPE_CHECKING:
    from quorumd.server.clients import ClientServer
    from quorumd.server.connection import ClientConn, _Slot


def _acquire(conn: ClientConn, slot: _Slot) -> None:
    rec = slot.rec
    assert isinstance(rec, wl.LockAcquireRequest)
    op = m.AcquireLock(rec.path, rec.mode, rec.wait, rec.lock_delay_ms)

    def done(applied: m.Applied) -> None:
        r = applied.result
        if isinstance(r, ZKError):
            conn.fill(slot, r.code, None)
        else:
            assert isinstance(r, m.LockGrant)
            conn.fill(slot, 0, wl.LockAcquireResponse(int(r.status), r.token, r.position))

    conn.node.write(conn.session_id, op, done)


def _release(conn: ClientConn, slot: _Slot) -> None:
    rec = slot.rec
    assert isinstance(rec, wl.LockReleaseRequest)

    def done(applied: m.Applied) -> None:
        r = applied.result
        conn.fill(slot, r.code if isinstance(r, ZKError) else 0, None)

    conn.node.write(conn.session_id, m.ReleaseLock(rec.path), done)


def _check_sequencer(conn: ClientConn, slot: _Slot) -> None:
    rec = slot.rec
    assert isinstance(rec, wl.CheckSequencerRequest)

    def read() -> None:
        try:
            valid, current = conn.machine.check_sequencer(rec.path, rec.mode, rec.token)
        except ZKError as exc:
            conn.fill(slot, exc.code, None)
            return
        conn.fill(slot, 0, wl.CheckSequencerResponse(valid, current))

    conn.node.linearizable_read(read)


def _lock_info(conn: ClientConn, slot: _Slot) -> None:
    rec = slot.rec
    assert isinstance(rec, wl.LockInfoRequest)

    def read() -> None:
        try:
            info = conn.machine.lock_info(rec.path, conn.session_id)
        except ZKError as exc:
            conn.fill(slot, exc.code, None)
            return
        conn.fill(slot, 0, wl.LockInfoResponse(info.mode, info.token, info.holders,
                                               info.waiters))

    conn.node.linearizable_read(read)


def install(server: ClientServer) -> None:
    """Teach the client port the lock opcodes (200-203)."""
    server.extensions.update(wl.LOCK_EXTENSIONS)
    server.extension_handlers.update({
        wl.LockOpCode.LOCK_ACQUIRE: _acquire,
        wl.LockOpCode.LOCK_RELEASE: _release,
        wl.LockOpCode.CHECK_SEQUENCER: _check_sequencer,
        wl.LockOpCode.LOCK_INFO: _lock_info,
    })


def notify_grants(server: ClientServer, grants: tuple[m.LockGranted, ...]) -> None:
    for g in grants:
        conn = server.by_session.get(g.session_id)
        if conn is not None:
            conn.notify(wl.LOCK_GRANTED, g.path)
