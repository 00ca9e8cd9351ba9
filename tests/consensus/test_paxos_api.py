"""Pins quorumd.consensus.paxos's public names (the simulator and server import them)."""

import random

import quorumd.consensus.paxos as paxos
from quorumd._types import NodeId
from quorumd.consensus.engine import ClusterConfig, Engine


def test_paxos_exports() -> None:
    assert sorted(paxos.__all__) == sorted(
        [
            "FAULTS",
            "Accept",
            "Accepted",
            "Heartbeat",
            "HeartbeatAck",
            "InstallSnapshot",
            "Message",
            "Paxos",
            "PaxosConfig",
            "Prepare",
            "Promise",
            "ReadIndexRequest",
            "ReadIndexResponse",
            "SnapshotAck",
            "TimeoutNow",
            "decode_message",
            "encode_message",
        ]
    )
    assert {"accept_lower_ballot", "no_reproposal", "reply_before_persist"} == paxos.FAULTS


def test_paxos_satisfies_the_engine_protocol() -> None:
    engine: Engine = paxos.Paxos(
        paxos.PaxosConfig(NodeId(1), ClusterConfig((NodeId(1),))), random.Random(0)
    )
    assert engine.id == 1


def test_a_single_node_chooses_alone() -> None:
    p = paxos.Paxos(paxos.PaxosConfig(NodeId(1), ClusterConfig((NodeId(1),))), random.Random(0))
    applied = []
    for _ in range(40):
        p.tick()
        while p.has_ready():
            rd = p.ready()
            p.advance(rd)
            applied.extend(rd.committed_entries)
        if p.status().role.value == "leader":
            break
    p.propose(b"solo")
    p.read_index(b"r")
    read_states = []
    while p.has_ready():
        rd = p.ready()
        p.advance(rd)
        applied.extend(rd.committed_entries)
        read_states.extend(rd.read_states)
    assert [e.data for e in applied][-1] == b"solo"
    assert [rs.context for rs in read_states] == [b"r"]
