"""Pins quorumd.machine's public surface: a name removed or renamed is an API change."""

import quorumd.machine


def test_machine_exports() -> None:
    assert sorted(quorumd.machine.__all__) == sorted(
        [
            "ACL",
            "CONTAINER_EPHEMERAL_OWNER",
            "CREATOR_ALL_ACL",
            "MAX_TTL_MS",
            "OPEN_ACL_UNSAFE",
            "READ_ACL_UNSAFE",
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
            "Multi",
            "MultiOp",
            "Noop",
            "Op",
            "Perms",
            "Result",
            "RolledBack",
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
    assert quorumd.machine.Stat.__slots__ == (
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
