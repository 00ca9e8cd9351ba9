"""Pins the public surface: a name removed or renamed here is an API change."""

import quorumd
import quorumd.consensus


def test_consensus_exports() -> None:
    assert sorted(quorumd.consensus.__all__) == [
        "ClusterConfig",
        "Engine",
        "Entry",
        "EntryKind",
        "HardState",
        "ReadState",
        "Ready",
        "Restored",
        "Role",
        "Snapshot",
        "SnapshotMeta",
        "Status",
    ]


def test_version() -> None:
    assert quorumd.__version__
