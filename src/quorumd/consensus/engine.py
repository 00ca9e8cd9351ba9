"""The engine protocol: what `server/` and `sim/` drive, whichever algorithm runs.

Raft and Multi-Paxos both implement `Engine`. Neither the runtime nor the state
machine knows which one it has: they only see `Ready` batches and committed entries.

The runtime loop (the same in the asyncio server and in the simulator)::

    while running:
        for event in inputs:              # timer ticks, peer messages, client proposals
            engine.tick() | engine.step(msg) | engine.propose(data) | engine.read_index(ctx)
        if engine.has_ready():
            rd = engine.ready()
            send(rd.messages)             # safe now: nothing in them waits on this rd's disk writes
            storage.install(rd.snapshot)  # if any, then
            storage.append(rd.entries); storage.save(rd.hard_state); storage.sync()
            engine.advance(rd)            # releases acks/votes that waited on that sync
            apply(rd.committed_entries); answer(rd.read_states)

`advance()` is the durability contract: a vote or an append acknowledgement that
depends on state in a `Ready` is never in that `Ready`'s `messages`; it appears in a
later `Ready`, after `advance()` confirmed the persistence.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Final, Protocol

from quorumd._types import LogIndex, NodeId, Term


class EntryKind(enum.IntEnum):
    NORMAL = 0  # application command(s): opaque bytes to the engine
    NOOP = 1  # appended by a new leader (Raft §5.4.2) or filling a Paxos gap
    CONFIG = 2  # a membership change: data is an encoded ClusterConfig


# Entry, HardState, ReadState and Ready are made several times per write on every node:
# their fields are `Final` (read-only to mypy) instead of `frozen`, whose `__init__` costs
# several times more. `unsafe_hash` keeps them hashable. The rest are frozen.
@dataclass(slots=True, unsafe_hash=True)
class Entry:
    term: Final[Term]  # Raft term; for Paxos the ballot that chose it
    index: Final[LogIndex]
    kind: Final[EntryKind]
    data: Final[bytes]


@dataclass(slots=True, unsafe_hash=True)
class HardState:
    """What must be on disk before the node says anything that depends on it."""

    term: Final[Term]  # Raft current term; Paxos promised ballot
    vote: Final[NodeId | None]  # Raft voted-for in `term`; unused by Paxos
    commit: Final[LogIndex]


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    voters: tuple[NodeId, ...]
    learners: tuple[NodeId, ...] = ()


@dataclass(frozen=True, slots=True)
class SnapshotMeta:
    index: LogIndex
    term: Term
    config: ClusterConfig


@dataclass(frozen=True, slots=True)
class Snapshot:
    meta: SnapshotMeta
    data: bytes  # the state machine's serialized state at meta.index


@dataclass(slots=True, unsafe_hash=True)
class ReadState:
    """A linearizable read may be served once the applied index reaches `index`."""

    index: Final[LogIndex]
    context: Final[bytes]


class Role(enum.Enum):
    FOLLOWER = "follower"
    PRE_CANDIDATE = "pre-candidate"
    CANDIDATE = "candidate"
    LEADER = "leader"
    LEARNER = "learner"


@dataclass(frozen=True, slots=True)
class Status:
    id: NodeId
    role: Role
    term: Term
    leader: NodeId | None
    commit: LogIndex
    applied: LogIndex
    last_index: LogIndex
    config: ClusterConfig
    # per-peer match index, leader only (for `quorumd status` lag)
    progress: dict[NodeId, LogIndex] = field(default_factory=dict)


@dataclass(slots=True, unsafe_hash=True)
class Ready:
    """One batch of work for the runtime. Do it in this order:

    1. send `messages` (they never depend on this Ready's unpersisted state);
    2. persist: install `snapshot` (if any), append `entries` (an entry at an index
       that exists replaces it and everything after), save `hard_state` (if any),
       then one fsync;
    3. call `engine.advance(ready)`;
    4. apply `committed_entries` in order, then answer `read_states` whose index is
       applied.

    Committed entries are durable on a quorum that includes this node before they
    appear here, so a runtime may apply them as soon as it has the Ready, while step 2
    runs (when there is no snapshot to install first).
    """

    hard_state: Final[HardState | None] = None
    entries: Final[tuple[Entry, ...]] = ()
    snapshot: Final[Snapshot | None] = None
    messages: Final[tuple[object, ...]] = ()
    committed_entries: Final[tuple[Entry, ...]] = ()
    read_states: Final[tuple[ReadState, ...]] = ()

    def must_sync(self) -> bool:
        return self.hard_state is not None or bool(self.entries) or self.snapshot is not None


@dataclass(frozen=True, slots=True)
class Restored:
    """What a node found on disk at start-up, handed to the engine's constructor."""

    hard_state: HardState
    snapshot: SnapshotMeta | None
    entries: tuple[Entry, ...]  # the log after the snapshot, in index order
    snapshot_data: bytes | None = None


class Engine(Protocol):
    """The small interface every consensus engine offers (DESIGN.md rule 2)."""

    @property
    def id(self) -> NodeId: ...

    def tick(self) -> None:
        """One unit of logical time (the runtime calls it every tick_ms)."""
        ...

    def step(self, message: object) -> None:
        """Feed a message from a peer. Messages for other engines/clusters are errors."""
        ...

    def propose(self, data: bytes) -> LogIndex:
        """Append a command if leader; returns its index. Raises `NotLeader` otherwise."""
        ...

    def read_index(self, context: bytes) -> None:
        """Ask for a linearizable read point; it comes back as a `ReadState` carrying
        `context`. Silently dropped if leadership cannot be confirmed (caller retries)."""
        ...

    def transfer_leadership(self, to: NodeId) -> None: ...

    def compact(self, snapshot: Snapshot) -> None:
        """The state machine saved `snapshot`; the engine may drop entries up to it
        and will send it to followers too far behind."""
        ...

    def has_ready(self) -> bool: ...

    def ready(self) -> Ready: ...

    def advance(self, ready: Ready) -> None: ...

    def status(self) -> Status: ...

    def leadership(self) -> tuple[Role, Term, NodeId | None]:
        """`status()`'s role, term and leader, without building a Status: the runtime
        checks them after every Ready."""
        ...
