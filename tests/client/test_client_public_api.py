"""Pins the public surface of quorumd.client: a name removed or renamed is an API change."""

import inspect

import quorumd.client
from quorumd.client import Client, SyncClient


def test_client_exports() -> None:
    assert sorted(quorumd.client.__all__) == [
        "Barrier",
        "CREATOR_ALL_ACL",
        "Client",
        "ClientClosed",
        "DoubleBarrier",
        "Election",
        "Lock",
        "LockMode",
        "OPEN_ACL_UNSAFE",
        "PersistentWatch",
        "READ_ACL_UNSAFE",
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
    for name in quorumd.client.__all__:
        assert getattr(quorumd.client, name) is not None


OPERATIONS = [
    "add_auth", "check_sequencer", "create", "delete", "ensure_path", "exists", "get",
    "get_acl", "get_all_children_number", "get_children", "get_ephemerals", "lock",
    "set", "set_acl", "sync", "transaction", "try_lock", "watch",
]


def test_sync_facade_mirrors_the_async_operations() -> None:
    for name in OPERATIONS:
        assert inspect.iscoroutinefunction(getattr(Client, name)) or name in (
            "lock", "transaction", "watch"), name
        assert callable(getattr(SyncClient, name)), name


def test_client_constructor_signature() -> None:
    params = list(inspect.signature(Client).parameters)
    assert params[:3] == ["hosts", "session_timeout_ms", "auth"]
