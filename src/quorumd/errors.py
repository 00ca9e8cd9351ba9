"""The error tree, with each ZooKeeper-visible error's code in one registry.

Rule (DESIGN.md #5): errors are typed at the core and translated once at each edge.
The state machine raises `NoNode`, `BadVersion`, ...; only the server maps an exception
to a wire code (`error.code`), only the client maps a code back (`error_for_code`).
"Peer misbehaved" (`ProtocolError`) and "we misused the API" (`UsageError`) are
different classes and never carry a ZooKeeper code.
"""

from __future__ import annotations

from typing import ClassVar


class QuorumdError(Exception):
    """Root of every error quorumd raises on purpose."""


class UsageError(QuorumdError):
    """The caller misused an API (a bug in the caller, not bad network input)."""


class ProtocolError(QuorumdError):
    """A peer or client sent bytes that break the protocol; that connection is closed."""


class StorageError(QuorumdError):
    """The data directory cannot be trusted: refuse to start rather than lose data."""


class NotLeader(QuorumdError):
    """A proposal reached a node that is not (or no longer) the leader."""

    def __init__(self, leader_hint: int | None = None) -> None:
        super().__init__(f"not the leader (leader hint: {leader_hint})")
        self.leader_hint = leader_hint


class ZKError(QuorumdError):
    """An error a ZooKeeper client sees as a `KeeperException.Code`."""

    code: ClassVar[int] = 0
    zk_name: ClassVar[str] = "OK"


_REGISTRY: dict[int, type[ZKError]] = {}


class SystemError_(ZKError):  # noqa: N801 - trailing underscore avoids shadowing the builtin
    """Unexpected server failure (SYSTEMERROR)."""

    code = -1
    zk_name = "SYSTEMERROR"


class RuntimeInconsistency(ZKError):
    code = -2
    zk_name = "RUNTIMEINCONSISTENCY"


class DataInconsistency(ZKError):
    code = -3
    zk_name = "DATAINCONSISTENCY"


class ConnectionLoss(ZKError):
    code = -4
    zk_name = "CONNECTIONLOSS"


class MarshallingError(ZKError):
    code = -5
    zk_name = "MARSHALLINGERROR"


class Unimplemented(ZKError):
    code = -6
    zk_name = "UNIMPLEMENTED"


class OperationTimeout(ZKError):
    code = -7
    zk_name = "OPERATIONTIMEOUT"


class BadArguments(ZKError):
    code = -8
    zk_name = "BADARGUMENTS"


class UnknownSession(ZKError):
    code = -12
    zk_name = "UNKNOWNSESSION"


class NewConfigNoQuorum(ZKError):
    code = -13
    zk_name = "NEWCONFIGNOQUORUM"


class ReconfigInProgress(ZKError):
    code = -14
    zk_name = "RECONFIGINPROGRESS"


class APIError(ZKError):
    code = -100
    zk_name = "APIERROR"


class NoNode(ZKError):
    code = -101
    zk_name = "NONODE"


class NoAuth(ZKError):
    code = -102
    zk_name = "NOAUTH"


class BadVersion(ZKError):
    code = -103
    zk_name = "BADVERSION"


class NoChildrenForEphemerals(ZKError):
    code = -108
    zk_name = "NOCHILDRENFOREPHEMERALS"


class NodeExists(ZKError):
    code = -110
    zk_name = "NODEEXISTS"


class NotEmpty(ZKError):
    code = -111
    zk_name = "NOTEMPTY"


class SessionExpired(ZKError):
    code = -112
    zk_name = "SESSIONEXPIRED"


class InvalidCallback(ZKError):
    code = -113
    zk_name = "INVALIDCALLBACK"


class InvalidACL(ZKError):
    code = -114
    zk_name = "INVALIDACL"


class AuthFailed(ZKError):
    code = -115
    zk_name = "AUTHFAILED"


class SessionMoved(ZKError):
    code = -118
    zk_name = "SESSIONMOVED"


class NotReadOnly(ZKError):
    code = -119
    zk_name = "NOTREADONLY"


class EphemeralOnLocalSession(ZKError):
    code = -120
    zk_name = "EPHEMERALONLOCALSESSION"


class NoWatcher(ZKError):
    code = -121
    zk_name = "NOWATCHER"


class RequestTimeout(ZKError):
    code = -122
    zk_name = "REQUESTTIMEOUT"


class ReconfigDisabled(ZKError):
    code = -123
    zk_name = "RECONFIGDISABLED"


class SessionClosedRequireSaslAuth(ZKError):
    code = -124
    zk_name = "SESSIONCLOSEDREQUIRESASLAUTH"


class QuotaExceeded(ZKError):
    code = -125
    zk_name = "QUOTAEXCEEDED"


class ThrottledOp(ZKError):
    code = -127
    zk_name = "THROTTLEDOP"


def _collect() -> None:
    stack: list[type[ZKError]] = list(ZKError.__subclasses__())
    while stack:
        cls = stack.pop()
        _REGISTRY[cls.code] = cls
        stack.extend(cls.__subclasses__())


_collect()


def error_for_code(code: int, message: str = "") -> ZKError:
    """The typed error for a wire code; an unknown code becomes a SystemError_ naming it."""
    cls = _REGISTRY.get(code)
    if cls is None:
        return SystemError_(f"unknown ZooKeeper error code {code}: {message}")
    return cls(message or cls.zk_name)


def registered_codes() -> dict[int, type[ZKError]]:
    """A copy of the code registry (for tests and the 4lw/diagnostic output)."""
    return dict(sorted(_REGISTRY.items()))
