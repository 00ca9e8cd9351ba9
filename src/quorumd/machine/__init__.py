"""quorumd.machine: the replicated coordination state machine (ZooKeeper semantics).

Pure and deterministic: no I/O, no clock, no randomness. The server drives it like
this::

    machine = StateMachine(super_digest=config.super_digest)   # or StateMachine.restore(snap)
    watches = WatchRegistry()                                   # one per serving node

    # leader, on a client write: stamp the time, propose the encoded txn
    engine.propose(encode_txn(Txn(session_id, clock.wall_ms(), my_id, xid, Create(...))))

    # every node, for each committed entry (zxid = the entry's log index)
    txn = decode_txn(entry.data)
    applied = machine.apply(entry.index, txn)
    for watcher, event_type, path in watches.trigger(applied.events, allowed):
        notify(watcher, event_type, path)
    if txn.origin == my_id:
        answer(txn.request_id, applied.result)          # a value or a ZKError

    # reads are local: machine.get_data(path, session_id) raises NoNode, NoAuth, ...

The leader also proposes what only it may decide: `ExpireSessions` for sessions whose
timeout passed, `DeleteTTLExpired(machine.ttl_expired(now_ms))`, and `GrantDueLocks()`
when `machine.locks_due(now_ms)` (a lock-delay ended). Chubby locks are ops like any
other (`AcquireLock`, `ReleaseLock`); `applied.grants` lists the queued waiters that got
a lock in this entry, for the node holding each session's connection to notify::

    for grant in applied.grants:
        if grant.session_id in my_sessions:
            notify(grant.session_id, LOCK_GRANTED, grant.path)
"""

from quorumd.machine.acl import digest_id
from quorumd.machine.codec import decode_txn, encode_txn
from quorumd.machine.locks import DEFAULT_LOCK_DELAY_MS, LOCKS_ROOT, MAX_LOCK_DELAY_MS
from quorumd.machine.node import CONTAINER_EPHEMERAL_OWNER, MAX_TTL_MS
from quorumd.machine.ops import (
    ACL,
    CREATOR_ALL_ACL,
    OPEN_ACL_UNSAFE,
    READ_ACL_UNSAFE,
    AcquireLock,
    AddAuth,
    Check,
    CloseSession,
    Create,
    CreateMode,
    CreateSession,
    Delete,
    DeleteTTLExpired,
    ExpireSessions,
    GrantDueLocks,
    LockMode,
    Multi,
    MultiOp,
    Noop,
    Op,
    Perms,
    ReleaseLock,
    SetACL,
    SetData,
    Stat,
    Txn,
)
from quorumd.machine.results import (
    LOCK_FREE,
    Applied,
    Created,
    EventType,
    LockGrant,
    LockGranted,
    LockInfo,
    LockStatus,
    Result,
    RolledBack,
    Sequencer,
    SessionInfo,
    WatchTrigger,
)
from quorumd.machine.state import StateMachine
from quorumd.machine.watches import Fired, WatcherType, WatchKind, WatchRegistry

__all__ = [
    "ACL",
    "CONTAINER_EPHEMERAL_OWNER",
    "CREATOR_ALL_ACL",
    "DEFAULT_LOCK_DELAY_MS",
    "LOCKS_ROOT",
    "LOCK_FREE",
    "MAX_LOCK_DELAY_MS",
    "MAX_TTL_MS",
    "OPEN_ACL_UNSAFE",
    "READ_ACL_UNSAFE",
    "AcquireLock",
    "AddAuth",
    "Applied",
    "Check",
    "CloseSession",
    "Create",
    "CreateMode",
    "CreateSession",
    "Created",
    "Delete",
    "DeleteTTLExpired",
    "EventType",
    "ExpireSessions",
    "Fired",
    "GrantDueLocks",
    "LockGrant",
    "LockGranted",
    "LockInfo",
    "LockMode",
    "LockStatus",
    "Multi",
    "MultiOp",
    "Noop",
    "Op",
    "Perms",
    "ReleaseLock",
    "Result",
    "RolledBack",
    "Sequencer",
    "SessionInfo",
    "SetACL",
    "SetData",
    "Stat",
    "StateMachine",
    "Txn",
    "WatchKind",
    "WatchRegistry",
    "WatchTrigger",
    "WatcherType",
    "decode_txn",
    "digest_id",
    "encode_txn",
]
