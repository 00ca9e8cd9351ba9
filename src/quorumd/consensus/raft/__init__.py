"""Raft, as a pure engine (the Raft paper and Ongaro's thesis).

The runtime drives it like every engine (see `quorumd.consensus.engine`)::

    raft = Raft(RaftConfig(id=NodeId(1), cluster=ClusterConfig(voters=ids)), prng, restored)
    while running:
        raft.tick() | raft.step(decode_message(obj)) | raft.propose(data)
        if raft.has_ready():
            rd = raft.ready()
            for msg in rd.messages: send(msg.dst, encode_message(msg))
            persist(rd.snapshot, rd.entries, rd.hard_state); fsync()
            raft.advance(rd)                 # releases votes/acks that waited on the fsync
            apply(rd.committed_entries); serve(rd.read_states)

Modules: `node` (the Raft class, roles, Ready), `election`, `replication`, `progress`
(per-follower flow control), `log` (in-memory log over a snapshot), `readonly`
(ReadIndex), `messages`, `codec`. docs/design/raft.md has the overview.
"""

from quorumd.consensus.raft.codec import decode_message, encode_message
from quorumd.consensus.raft.messages import (
    AppendEntries,
    AppendEntriesResponse,
    Heartbeat,
    HeartbeatResponse,
    InstallSnapshot,
    InstallSnapshotResponse,
    Message,
    ReadIndexRequest,
    ReadIndexResponse,
    RequestVote,
    RequestVoteResponse,
    TimeoutNow,
)
from quorumd.consensus.raft.node import FAULTS, Raft, RaftConfig

__all__ = [
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
