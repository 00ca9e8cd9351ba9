"""A replicated session: what every replica must agree on about a client session.

Liveness (the expiry clock, keepalives) is NOT here: the leader tracks it and proposes
`ExpireSessions`; on a new leader every session gets a fresh timeout (Chubby §2.8's
grace period), so a failover never expires a live client. Authentication ids ARE
here: every replica checks ACLs for reads it serves, so every replica needs them.
"""

from __future__ import annotations

from quorumd.machine.results import SessionInfo

__all__ = ["Session"]


class Session:
    __slots__ = ("auth", "passwd", "session_id", "timeout_ms")

    def __init__(self, session_id: int, passwd: bytes, timeout_ms: int) -> None:
        self.session_id = session_id
        self.passwd = passwd
        self.timeout_ms = timeout_ms
        self.auth: list[tuple[str, str]] = []  # (scheme, id) in the order added

    def info(self) -> SessionInfo:
        return SessionInfo(self.session_id, self.passwd, self.timeout_ms, tuple(self.auth))
