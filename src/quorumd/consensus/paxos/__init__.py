"""Multi-Paxos, as a pure engine (Lamport, "Paxos Made Simple" §3; "Paxos Made Live";
Chubby), behind the same `Engine` protocol and Ready/advance contract as Raft.

The runtime drives it like every engine (see `quorumd.consensus.engine`)::

    paxos = Paxos(PaxosConfig(id=NodeId(1), cluster=ClusterConfig(voters=ids)), prng, restored)
    while running:
        paxos.tick() | paxos.step(decode_message(obj)) | paxos.propose(data)
        if paxos.has_ready():
            rd = paxos.ready()
            for msg in rd.messages: send(msg.dst, encode_message(msg))
            persist(rd.snapshot, rd.entries, rd.hard_state); fsync()
            paxos.advance(rd)               # releases promises/acceptances that waited
            apply(rd.committed_entries); serve(rd.read_states)

HardState.term is the promised ballot, HardState.commit the chosen prefix; an accepted
value for slot i is `Entry(index=i, term=ballot, ...)`. Modules: `node` (the Paxos
class, roles, Ready), `phase1` (Prepare/Promise, takeover), `phase2` (Accept/Accepted,
learning, catch-up), `progress` (per-acceptor flow control, read rounds), `log` (the
slots over a snapshot), `ballot`, `messages`, `codec`. docs/design/paxos.md has the
overview.
"""

from quorumd.consensus.paxos.codec import decode_message, encode_message
from quorumd.consensus.paxos.messages import (
    Accept,
    Accepted,
    Heartbeat,
    HeartbeatAck,
    InstallSnapshot,
    Message,
    Prepare,
    Promise,
    ReadIndexRequest,
    ReadIndexResponse,
    SnapshotAck,
    TimeoutNow,
)
from quorumd.consensus.paxos.node import FAULTS, Paxos, PaxosConfig

__all__ = [
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
