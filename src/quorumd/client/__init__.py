"""quorumd.client: an asyncio client for quorumd (and any ZooKeeper 3.5+ server).

    from quorumd.client import Client

    async with Client("127.0.0.1:2181,127.0.0.1:2182,127.0.0.1:2183") as zk:
        await zk.create("/app/cfg", b"v1", makepath=True)
        async with zk.lock("/jobs/nightly") as seq:   # Chubby lock, seq.token fences
            ...

Pieces: `Client` (one session, pipelined requests, reconnect to any node with the same
session), the session states (CONNECTED, SUSPENDED = Chubby's jeopardy, LOST, CLOSED),
one-shot and persistent watches, `transaction()`, server-side locks with sequencers,
the recipes (`Election`, `Semaphore`, `Barrier`, `DoubleBarrier`) and `SyncClient`,
the same API blocking, for code without an event loop.
"""

from quorumd.client._client import CREATOR_ALL_ACL, OPEN_ACL_UNSAFE, READ_ACL_UNSAFE, Client
from quorumd.client._locks import Lock, LockMode, Sequencer
from quorumd.client._session import ClientClosed, parse_hosts
from quorumd.client._states import SessionState, StateChange
from quorumd.client._transaction import Transaction
from quorumd.client._watches import PersistentWatch, WatchedEvent
from quorumd.client.recipes import Barrier, DoubleBarrier, Election, Semaphore
from quorumd.client.sync import SyncClient, SyncLock, SyncTransaction, SyncWatch

__all__ = [
    "CREATOR_ALL_ACL",
    "OPEN_ACL_UNSAFE",
    "READ_ACL_UNSAFE",
    "Barrier",
    "Client",
    "ClientClosed",
    "DoubleBarrier",
    "Election",
    "Lock",
    "LockMode",
    "PersistentWatch",
    "Semaphore",
    "Sequencer",
    "SessionState",
    "StateChange",
    "SyncClient",
    "SyncLock",
    "SyncTransaction",
    "SyncWatch",
    "Transaction",
    "WatchedEvent",
    "parse_hosts",
]
