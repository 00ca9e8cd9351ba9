"""Lock semantics of docs/design/locks.md for the fake server: FIFO, shared/exclusive,
tokens = the zxid of the granting step, LockGranted notifications, lock-delay ignored.
It speaks the real extension records of quorumd.wire.locks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fake_zk import FakeConn, FakeState

from quorumd.errors import BadArguments, NodeExists, NoNode, ZKError
from quorumd.wire import Request
from quorumd.wire import locks as w


@dataclass
class LockState:
    mode: int = 0
    token: int = 0
    holders: list[int] = field(default_factory=list)
    waiters: list[tuple[int, int]] = field(default_factory=list)


class FakeLocks:
    def __init__(self, state: FakeState) -> None:
        self.state = state
        self.locks: dict[str, LockState] = {}
        state.extensions = dict(w.LOCK_EXTENSIONS)
        state.ext_handler = self

    def _grant(self, path: str) -> list[int]:
        lock = self.locks[path]
        granted: list[int] = []
        while lock.waiters:
            sid, mode = lock.waiters[0]
            if lock.holders and (mode == 0 or lock.mode == 0):
                break
            lock.waiters.pop(0)
            if not lock.holders:
                lock.token = self.state.zxid
            lock.holders.append(sid)
            lock.mode = mode
            granted.append(sid)
        return granted

    def _notify(self, path: str, sids: list[int], skip: int = 0) -> None:
        for conn in self.state.conns:
            if conn.session_id in sids and conn.session_id != skip:
                conn.send(conn.conn.notification(w.LOCK_GRANTED, path=path))

    def execute(self, conn: FakeConn, req: Request) -> tuple[int, Any]:
        r: Any = req.record
        sid = conn.session_id
        self.state.zxid += 1
        try:
            if req.opcode == w.LOCK_ACQUIRE:
                lock = self.locks.setdefault(r.path, LockState())
                if sid in lock.holders or any(s == sid for s, _ in lock.waiters):
                    raise BadArguments(r.path)
                lock.waiters.append((sid, r.mode))
                granted = self._grant(r.path)
                self._notify(r.path, granted, skip=sid)
                if sid in granted:
                    return 0, w.LockAcquireResponse(0, lock.token, 0)
                if not r.wait:
                    lock.waiters.remove((sid, r.mode))
                    raise NodeExists(r.path)
                return 0, w.LockAcquireResponse(1, 0, len(lock.waiters))
            if req.opcode == w.LOCK_RELEASE:
                self.release(r.path, sid)
                return 0, None
            if req.opcode == w.CHECK_SEQUENCER:
                lock = self.locks.get(r.path, LockState())
                valid = bool(lock.holders) and lock.mode == r.mode and lock.token == r.token
                return 0, w.CheckSequencerResponse(valid, lock.token)
            if req.opcode == w.LOCK_INFO:
                lock = self.locks.get(r.path, LockState())
                mode = lock.mode if lock.holders else w.LOCK_FREE
                return 0, w.LockInfoResponse(mode, lock.token, tuple(lock.holders),
                                             tuple(s for s, _ in lock.waiters))
        except ZKError as exc:
            return exc.code, None
        raise AssertionError(f"unhandled lock opcode {req.opcode}")

    def release(self, path: str, sid: int) -> None:
        lock = self.locks.get(path)
        if lock is None:
            raise NoNode(path)
        if sid in lock.holders:
            lock.holders.remove(sid)
        elif any(s == sid for s, _ in lock.waiters):
            lock.waiters = [(s, m) for s, m in lock.waiters if s != sid]
        else:
            raise NoNode(path)
        self._notify(path, self._grant(path))

    def session_gone(self, sid: int) -> None:
        for path, lock in self.locks.items():
            if sid in lock.holders or any(s == sid for s, _ in lock.waiters):
                self.release(path, sid)
