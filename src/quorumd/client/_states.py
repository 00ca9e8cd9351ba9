"""The session state machine as a table (STYLE #8), and the events a client observes.

States follow Chubby §2.8 ("jeopardy", "session lost") in ZooKeeper's words:

    CONNECTING ──connected──► CONNECTED ──disconnected──► SUSPENDED ──connected──► CONNECTED
                                  │                           │
                                  └─────────expired──────────►LOST──connected──► CONNECTED
                                                                   (a new session)
    any state ──closed──► CLOSED (terminal)

SUSPENDED means "the connection dropped, the session may still be alive on the
servers": ephemeral nodes and locks are still held, but nobody can tell for how long.
LOST means the session is gone (the server said so at reconnect, or the client went
a whole session timeout without hearing from any server): every ephemeral node, watch
and lock of it is gone too.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from quorumd.errors import UsageError

__all__ = ["SessionEvent", "SessionState", "StateChange", "next_state"]


class SessionState(enum.Enum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    SUSPENDED = "suspended"
    LOST = "lost"
    CLOSED = "closed"


class SessionEvent(enum.Enum):
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    EXPIRED = "expired"
    CLOSED = "closed"


_S = SessionState
_E = SessionEvent

_TRANSITIONS: dict[tuple[SessionState, SessionEvent], SessionState] = {
    (_S.CONNECTING, _E.CONNECTED): _S.CONNECTED,
    (_S.CONNECTING, _E.DISCONNECTED): _S.CONNECTING,
    (_S.CONNECTING, _E.CLOSED): _S.CLOSED,
    (_S.CONNECTED, _E.DISCONNECTED): _S.SUSPENDED,
    (_S.CONNECTED, _E.EXPIRED): _S.LOST,
    (_S.CONNECTED, _E.CLOSED): _S.CLOSED,
    (_S.SUSPENDED, _E.CONNECTED): _S.CONNECTED,
    (_S.SUSPENDED, _E.DISCONNECTED): _S.SUSPENDED,
    (_S.SUSPENDED, _E.EXPIRED): _S.LOST,
    (_S.SUSPENDED, _E.CLOSED): _S.CLOSED,
    (_S.LOST, _E.CONNECTED): _S.CONNECTED,
    (_S.LOST, _E.DISCONNECTED): _S.LOST,
    (_S.LOST, _E.EXPIRED): _S.LOST,
    (_S.LOST, _E.CLOSED): _S.CLOSED,
    (_S.CLOSED, _E.CLOSED): _S.CLOSED,
}


def next_state(state: SessionState, event: SessionEvent) -> SessionState:
    """The state after `event`; an impossible pair is a bug in the client, not input."""
    try:
        return _TRANSITIONS[(state, event)]
    except KeyError:
        raise UsageError(f"session event {event.value} in state {state.value}") from None


@dataclass(frozen=True, slots=True)
class StateChange:
    """One transition, as delivered to listeners and `Client.states()`.

    `session_id` is the session the new state refers to (0 before the first
    handshake); after LOST -> CONNECTED it is a new id.
    """

    old: SessionState
    new: SessionState
    session_id: int
