"""Pure consensus engines: Raft (default) and Multi-Paxos behind one protocol.

Nothing in this package does I/O, reads a clock or draws a global random number:
time is `tick()`, randomness a seeded `Prng` passed in, and everything the engine wants
done comes back as a `Ready` (see `engine.py` for the runtime loop).
"""

from quorumd.consensus.engine import (
    ClusterConfig,
    Engine,
    Entry,
    EntryKind,
    HardState,
    ReadState,
    Ready,
    Restored,
    Role,
    Snapshot,
    SnapshotMeta,
    Status,
)

__all__ = [
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
