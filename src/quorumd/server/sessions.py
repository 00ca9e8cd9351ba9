"""Session liveness as the leader sees it (Chubby §2.8, ZooKeeper's SessionTracker).

Sessions themselves are replicated (created, closed and expired by log entries); their
*liveness* is not: each node notes which of its clients spoke recently and forwards that to
the leader, which alone decides expiry and proposes it. Rules:

1. A session's deadline is `last heard + timeout`; any packet renews it.
2. A new leader gives every session a fresh full timeout (Chubby's grace period), so a
   failover never expires a client that was alive.
3. An expiry is proposed once; if the entry does not make it (leader change), the next
   leader starts over from rule 2.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class _Tracked:
    timeout_ms: int
    deadline_ms: int
    expiring: bool = False


class SessionTracker:
    def __init__(self) -> None:
        self._sessions: dict[int, _Tracked] = {}

    def reset(self, sessions: dict[int, int], now_ms: int) -> None:
        """Become leader: every known session (id -> timeout) gets a fresh deadline."""
        self._sessions = {
            sid: _Tracked(timeout, now_ms + timeout) for sid, timeout in sessions.items()
        }

    def clear(self) -> None:
        self._sessions.clear()

    def add(self, session_id: int, timeout_ms: int, now_ms: int) -> None:
        self._sessions[session_id] = _Tracked(timeout_ms, now_ms + timeout_ms)

    def remove(self, session_id: int) -> None:
        self._sessions.pop(session_id, None)

    def touch(self, session_id: int, now_ms: int) -> None:
        t = self._sessions.get(session_id)
        if t is not None and not t.expiring:
            t.deadline_ms = now_ms + t.timeout_ms

    def due(self, now_ms: int) -> list[int]:
        """Sessions past their deadline and not yet proposed for expiry (then marked)."""
        out = [
            sid
            for sid, t in sorted(self._sessions.items())
            if not t.expiring and t.deadline_ms <= now_ms
        ]
        for sid in out:
            self._sessions[sid].expiring = True
        return out

    def __len__(self) -> int:
        return len(self._sessions)
