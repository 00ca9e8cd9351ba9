"""One simulated node: an engine, its storage, the KV state machine, client requests.

`process()` is the runtime loop of `consensus/engine.py`, done exactly in the Ready
order (send, persist, fsync, advance, apply, answer reads) with the invariant checker
told about each persist and apply. A crash *armed* by the nemesis strikes inside that
loop, after the messages went out and before the fsync: the node then loses what it
had handed to storage but not synced, and its messages are still on the wire.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from quorumd._types import LogIndex, NodeId, Term
from quorumd.check.invariants import InvariantChecker, InvariantViolation
from quorumd.consensus.engine import (
    ClusterConfig,
    Engine,
    HardState,
    ReadState,
    Ready,
    Role,
    Snapshot,
    SnapshotMeta,
    Status,
)
from quorumd.errors import NotLeader
from quorumd.sim.kv import Command, KvMachine, encode
from quorumd.sim.storage import NodeStorage
from quorumd.sim.workload import ClientReply, ClientRequest

MAX_READY_ROUNDS = 10_000
MAX_HOPS = 2


class NodeCrashed(Exception):
    """Raised inside `process` when an armed crash strikes; the runner takes the node down."""


@dataclass(slots=True)
class SimNode:
    id: NodeId
    voters: tuple[NodeId, ...]
    engine: Engine
    storage: NodeStorage
    kv: KvMachine
    send: Callable[[int, int, object], None]
    destination: Callable[[object], NodeId]
    checker: InvariantChecker
    durable: HardState  # the hard state as of the last sync
    compact_every: int
    incarnation: int = 0
    applied: int = 0
    applied_term: int = 0
    snapshot_index: int = 0
    armed_crash: str | None = None  # a CRASH_MODES value other than "now"
    armed_crash_downtime: int = 0
    status: Status | None = None
    pending_writes: set[tuple[int, int]] = field(default_factory=set)
    pending_reads: dict[bytes, tuple[int, int, str]] = field(default_factory=dict)
    ready_reads: list[ReadState] = field(default_factory=list)
    read_counter: int = 0

    # -- inputs -------------------------------------------------------------------------

    def on_client_request(self, req: ClientRequest) -> None:
        if req.input.op == "get":
            self.read_counter += 1
            ctx = f"{self.id}:{self.incarnation}:{self.read_counter}".encode()
            self.pending_reads[ctx] = (req.client, req.seq, req.input.key)
            self.engine.read_index(ctx)
            return
        try:
            self.engine.propose(encode(Command(req.client, req.seq, req.input)))
        except NotLeader as e:
            if e.leader_hint is not None and e.leader_hint != self.id and req.hops < MAX_HOPS:
                fwd = ClientRequest(req.client, req.seq, req.input, req.hops + 1)
                self.send(self.id, e.leader_hint, fwd)
            return
        self.pending_writes.add((req.client, req.seq))

    # -- the Ready loop -----------------------------------------------------------------

    def process(self) -> None:
        engine = self.engine
        rounds = 0
        while engine.has_ready():
            rounds += 1
            assert rounds < MAX_READY_ROUNDS, "the Ready loop does not settle"
            rd = engine.ready()
            for m in rd.messages:
                self.send(self.id, self.destination(m), m)
            self._persist(rd)
            engine.advance(rd)
            self._check_engine()
            if rd.snapshot is not None:
                self._install(rd.snapshot)
            for entry in rd.committed_entries:
                self.checker.on_apply(self.id, entry)
                self.applied, self.applied_term = entry.index, entry.term
                result = self.kv.apply(entry)
                if result is not None and (result.client, result.seq) in self.pending_writes:
                    self.pending_writes.discard((result.client, result.seq))
                    self.send(
                        self.id,
                        result.client,
                        ClientReply(result.client, result.seq, result.output),
                    )
            self.ready_reads.extend(rd.read_states)
            self._serve_reads()

    def _persist(self, rd: Ready) -> None:
        st, checker = self.storage, self.checker
        if rd.snapshot is not None:
            st.install_snapshot(rd.snapshot)
            checker.on_snapshot(self.id, rd.snapshot.meta)
        if rd.entries:
            st.append(rd.entries)
            checker.on_persist(self.id, rd.entries)
        if rd.hard_state is not None:
            st.set_hard_state(rd.hard_state)
            checker.on_hard_state(self.id, rd.hard_state)
        if not rd.must_sync():
            return
        if self.armed_crash is not None and self._crash_matches(rd):
            raise NodeCrashed
        st.sync()
        checker.on_sync(self.id)
        if rd.hard_state is not None:
            self.durable = rd.hard_state

    def _crash_matches(self, rd: Ready) -> bool:
        mode = self.armed_crash
        if mode == "sync":
            return True
        if mode == "append":
            return bool(rd.entries)
        hs = rd.hard_state
        return hs is not None and hs.vote is not None and hs.vote != self.durable.vote

    def _install(self, snapshot: Snapshot) -> None:
        self.kv = KvMachine.restore(snapshot.data)
        self.checker.on_install(self.id, snapshot.meta)
        self.applied = self.snapshot_index = snapshot.meta.index
        self.applied_term = snapshot.meta.term

    def _serve_reads(self) -> None:
        if not self.ready_reads:
            return
        waiting: list[ReadState] = []
        for rs in self.ready_reads:
            if rs.index > self.applied:
                waiting.append(rs)
                continue
            pending = self.pending_reads.pop(rs.context, None)
            if pending is not None:
                client, seq, key = pending
                self.send(self.id, client, ClientReply(client, seq, self.kv.read(key)))
        self.ready_reads = waiting

    def _check_engine(self) -> None:
        check = getattr(self.engine, "check_invariants", None)
        if check is None:
            return
        try:
            check()
        except AssertionError as e:
            raise InvariantViolation("engine.check_invariants", f"node {self.id}: {e!r}") from e

    # -- after each input ---------------------------------------------------------------

    def observe(self) -> Status:
        st = self.engine.status()
        self.checker.on_status(self.id, st)
        self.status = st
        return st

    def maybe_compact(self) -> None:
        """Snapshot the state machine every `compact_every` applied entries (§7)."""
        if not self.compact_every or self.applied - self.snapshot_index < self.compact_every:
            return
        meta = SnapshotMeta(
            LogIndex(self.applied), Term(self.applied_term), ClusterConfig(self.voters)
        )
        snapshot = Snapshot(meta, self.kv.snapshot())
        self.storage.save_snapshot(snapshot)
        self.storage.sync()
        self.checker.on_snapshot(self.id, meta)
        self.checker.on_sync(self.id)
        self.engine.compact(snapshot)
        self.snapshot_index = self.applied

    @property
    def is_leader(self) -> bool:
        return self.status is not None and self.status.role is Role.LEADER
