"""Pins quorumd.consensus.raft's public names (the simulator and server import them)."""

import random

import quorumd.consensus.raft as raft
from quorumd._types import NodeId
from quorumd.consensus.engine import ClusterConfig, Engine


def test_raft_exports() -> None:
    assert sorted(raft.__all__) == sorted(
        [
            "FAULTS",
            "AppendEntries",
            "AppendEntriesResponse",
            "Heartbeat",
            "HeartbeatResponse",
            "InstallSnapshot",
            "InstallSnapshotResponse",
            "Message",
            "Raft",
            "RaftConfig",
            "ReadIndexRequest",
            "ReadIndexResponse",
            "RequestVote",
            "RequestVoteResponse",
            "TimeoutNow",
            "decode_message",
            "encode_message",
        ]
    )
    assert {
        "commit_old_term",
        "double_vote",
        "vote_before_persist",
        "skip_log_check",
        "read_index_no_quorum",
        "ack_before_persist",
    } == raft.FAULTS


def test_raft_satisfies_the_engine_protocol() -> None:
    engine: Engine = raft.Raft(
        raft.RaftConfig(NodeId(1), ClusterConfig((NodeId(1),))), random.Random(0)
    )
    assert engine.id == 1
