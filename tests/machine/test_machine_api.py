"""Pins quorumd.machine's public surface: a name removed or renamed is an API change."""

import dataclasses

import quorumd.machine


def test_machine_exports() -> None:
    assert sorted(quorumd.machine.__all__) == sorted(
        [
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
    )
    for name in quorumd.machine.__all__:
        assert hasattr(quorumd.machine, name), name


def test_stat_fields_in_zookeeper_order() -> None:
    assert tuple(f.name for f in dataclasses.fields(quorumd.machine.Stat)) == (
        "czxid",
        "mzxid",
        "ctime",
        "mtime",
        "version",
        "cversion",
        "aversion",
        "ephemeral_owner",
        "data_length",
        "num_children",
        "pzxid",
    )
