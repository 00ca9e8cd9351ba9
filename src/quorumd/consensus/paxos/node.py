"""The Multi-Paxos engine: state, roles, the Ready/advance cycle, and message dispatch.

Theory of operation:

1. Every node is an acceptor and a learner; a voter may also become the proposer
   ("distinguished proposer", Paxos Made Simple §2.4/§3). Roles map onto the shared
   enum: FOLLOWER (acceptor), CANDIDATE (proposer in phase 1), LEADER (phase 2 running).
2. HardState.term is the promised ballot, HardState.commit the chosen prefix; vote is
   unused. Accepted values are `Entry(index=slot, term=ballot, ...)` in the same WAL.
3. Durability (engine.py): a Promise or a successful Accepted - even the proposer's own
   promise - waits in `_msgs_after_persist` until `advance()` confirmed the promised
   ballot / accepted slots are on disk. The leader's own slots count toward a majority
   only after `advance()` too.
4. Ballot rules, in `step`: a message with a higher ballot than we promised is a Prepare
   (promise it, unless a live leader holds us), a leader's message (accepting ballot b
   promises b) or a refusal (we were pre-empted: back off); a lower ballot is refused
   with the ballot we promised, so its sender backs off too.
5. Liveness: a leader heartbeats every `heartbeat_ticks`; an acceptor that has not heard
   from it for a randomized election timeout in [T, 2T) starts phase 1. Pre-empted
   proposers fall back to that randomized timer, which separates duelling proposers.
   A leader that has not heard from a majority for T ticks steps down.
6. Peers are iterated in sorted order, randomness comes only from the Prng.
"""

from __future__ import annotations

from dataclasses import dataclass

from quorumd._types import LogIndex, NodeId, Prng, Term
from quorumd.consensus.engine import (
    ClusterConfig,
    Entry,
    EntryKind,
    HardState,
    ReadState,
    Ready,
    Restored,
    Role,
    Snapshot,
    Status,
)
from quorumd.consensus.paxos import phase1, phase2
from quorumd.consensus.paxos.ballot import MAX_NODE_ID, ZERO, proposer_of
from quorumd.consensus.paxos.log import SlotLog
from quorumd.consensus.paxos.messages import (
    MESSAGE_TYPES,
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
from quorumd.consensus.paxos.progress import AcceptorProgress, Mode, ReadRounds
from quorumd.errors import NotLeader, UsageError

FAULTS = frozenset({"accept_lower_ballot", "no_reproposal", "reply_before_persist"})


@dataclass(frozen=True, slots=True)
class PaxosConfig:
    id: NodeId
    cluster: ClusterConfig
    election_timeout_ticks: int = 10  # randomized in [T, 2T) from the prng
    heartbeat_ticks: int = 1
    max_entries_per_accept: int = 4096
    max_bytes_per_accept: int = 1 << 20
    max_inflight_accepts: int = 256  # per acceptor, the pipelining window
    probe: bool = True  # probe before phase 1 (no ballot inflation from a lone node)
    check_quorum: bool = True  # leader steps down without a majority; stickiness
    faults: frozenset[str] = frozenset()  # deliberately wrong variants for the simulator

    def validate(self) -> None:
        unknown = sorted(self.faults - FAULTS)
        if unknown:
            raise UsageError(f"unknown paxos fault variants: {unknown}")
        members = (*self.cluster.voters, *self.cluster.learners)
        if self.id not in members:
            raise UsageError(f"node {self.id} is not in the cluster {self.cluster}")
        if set(self.cluster.voters) & set(self.cluster.learners):
            raise UsageError("a node cannot be both voter and learner")
        if any(not 0 < n <= MAX_NODE_ID for n in members):
            raise UsageError(f"paxos node ids must be in 1..{MAX_NODE_ID} (ballot encoding)")
        if self.election_timeout_ticks < 1 or self.heartbeat_ticks < 1:
            raise UsageError("election_timeout_ticks and heartbeat_ticks must be >= 1")
        if self.max_entries_per_accept < 1 or self.max_inflight_accepts < 1:
            raise UsageError("max_entries_per_accept and max_inflight_accepts must be >= 1")


class Paxos:
    """A pure Multi-Paxos engine implementing `quorumd.consensus.engine.Engine`.

    Attributes without an underscore are shared with `phase1` and `phase2`, which hold
    the per-message handlers; they are not a public API.
    """

    def __init__(self, config: PaxosConfig, prng: Prng, restored: Restored | None = None) -> None:
        config.validate()
        self.cfg = config
        self.faults = config.faults
        self._prng = prng
        self._id = config.id
        self.voters: tuple[NodeId, ...] = tuple(sorted(config.cluster.voters))
        self.learners: tuple[NodeId, ...] = tuple(sorted(config.cluster.learners))
        self.peers: tuple[NodeId, ...] = tuple(
            sorted(n for n in (*self.voters, *self.learners) if n != self._id)
        )
        self.promised = ZERO  # the highest ballot we promised (or accepted in)
        self.max_seen = 0  # the highest ballot seen anywhere: the next one goes above
        self.ballot = ZERO  # the ballot we propose with (CANDIDATE / LEADER)
        self.probing = False
        self.promises: dict[NodeId, Promise] = {}
        self.leader: NodeId | None = None
        self.role = Role.FOLLOWER
        self.log = SlotLog()
        self.snapshot: Snapshot | None = None  # the latest, to send to lagging acceptors
        self.pending_snapshot: Snapshot | None = None  # installed, not yet in a Ready
        self.progress: dict[NodeId, AcceptorProgress] = {}
        self.transferee: NodeId | None = None
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        self._randomized_timeout = config.election_timeout_ticks
        self._msgs: list[Message] = []
        self._msgs_after_persist: list[Message] = []
        self._read_states: list[ReadState] = []
        self._reads = ReadRounds()
        self._reads_waiting_commit: list[tuple[NodeId, bytes]] = []
        self._outstanding: tuple[Ready, list[Message]] | None = None
        self._commit_unsent = False
        self._accepts_unsent = False  # the leader appended slots since the last Ready
        if restored is not None:
            self._restore(restored)
        self._persisted = self._hard_state()
        self.become_follower(self.promised, None)

    def _restore(self, restored: Restored) -> None:
        hs = restored.hard_state
        snap_index, snap_ballot = LogIndex(0), ZERO
        if restored.snapshot is not None:
            snap_index, snap_ballot = restored.snapshot.index, restored.snapshot.term
            if restored.snapshot_data is not None:
                self.snapshot = Snapshot(restored.snapshot, restored.snapshot_data)
        for offset, entry in enumerate(restored.entries):
            if entry.index != snap_index + 1 + offset:
                raise UsageError("restored slots are not contiguous after the snapshot")
        self.log = SlotLog(snap_index, snap_ballot, restored.entries, hs.commit)
        if self.log.commit_index > self.log.last_index:
            raise UsageError("restored commit index is past the restored slots")
        self.promised = hs.term
        self.max_seen = hs.term

    # ---- helpers shared with phase1/phase2 ----

    @property
    def id(self) -> NodeId:
        return self._id

    def quorum(self) -> int:
        return len(self.voters) // 2 + 1

    def send(self, m: Message) -> None:
        self._msgs.append(m)

    def send_after_persist(self, m: Message) -> None:
        """Queue a message that may only leave once this node's current state is durable."""
        if (
            "reply_before_persist" in self.faults
            and m.dst != self._id
            and (
                (isinstance(m, Promise) and m.granted and not m.probe)
                or (isinstance(m, Accepted) and m.success)
            )
        ):
            self._msgs.append(m)  # FAULT: the promise/acceptance leaves before it is on disk
            return
        self._msgs_after_persist.append(m)

    def reset_election_timer(self) -> None:
        self.election_elapsed = 0
        timeout = self.cfg.election_timeout_ticks
        self._randomized_timeout = timeout + self._prng.randrange(timeout)

    def become_follower(self, promised: Term, leader: NodeId | None) -> None:
        assert promised >= self.promised, "a promise is never taken back"
        self.promised = promised
        self.max_seen = max(self.max_seen, promised)
        self.role = Role.LEARNER if self._id in self.learners else Role.FOLLOWER
        self.leader = leader
        self.ballot = ZERO
        self.probing = False
        self.promises = {}
        self.progress = {}
        self.transferee = None
        self.heartbeat_elapsed = 0
        self._reads.reset()
        self._reads_waiting_commit = []
        self.reset_election_timer()

    # ---- Engine API: time and proposals ----

    def tick(self) -> None:
        if self.role is Role.LEADER:
            self._tick_leader()
            return
        self.election_elapsed += 1
        if self.election_elapsed >= self._randomized_timeout:
            self.election_elapsed = 0
            if self._id in self.voters:
                phase1.campaign(self, probe=self.cfg.probe)

    def _tick_leader(self) -> None:
        self.heartbeat_elapsed += 1
        self.election_elapsed += 1
        if self.election_elapsed >= self.cfg.election_timeout_ticks:
            self.election_elapsed = 0
            self.transferee = None  # a transfer that did not finish in time is abandoned
            for peer in self.peers:
                if self.progress[peer].mode is Mode.SNAPSHOT:
                    self.progress[peer].probe_from(self.progress[peer].pending_snapshot + 1)
            if self.cfg.check_quorum and not self._quorum_active():
                self.become_follower(self.promised, None)
                return
        if self.heartbeat_elapsed >= self.cfg.heartbeat_ticks:
            self.heartbeat_elapsed = 0
            phase2.bcast_heartbeat(self, self._reads.latest_seq())

    def _quorum_active(self) -> bool:
        """Did a majority answer us during the last election timeout?"""
        active = 0
        for voter in self.voters:
            pr = self.progress[voter]
            if voter == self._id or pr.recent_active:
                active += 1
            pr.recent_active = False
        return active >= self.quorum()

    def propose(self, data: bytes) -> LogIndex:
        if self.role is not Role.LEADER:
            raise NotLeader(self.leader)
        if self.transferee is not None:
            raise NotLeader(None)  # hold proposals while handing leadership over
        index = LogIndex(self.log.last_index + 1)
        self.log.append([Entry(self.ballot, index, EntryKind.NORMAL, bytes(data))])
        # Sent from `ready()`: the proposals of one loop iteration go out together, one
        # Accept per acceptor, instead of one message per proposal.
        self._accepts_unsent = True
        return index

    # ---- Engine API: messages ----

    def step(self, message: object) -> None:
        if not isinstance(message, MESSAGE_TYPES):
            raise UsageError(f"not a paxos message: {type(message).__name__}")
        m: Message = message
        if m.dst != self._id:
            raise UsageError(f"message for node {m.dst} stepped into node {self._id}")
        if m.src not in self.voters and m.src not in self.learners:
            return  # not a member of this cluster
        self.max_seen = max(self.max_seen, m.ballot)
        if m.ballot > self.promised:
            self._step_higher(m)
        elif m.ballot < self.promised:
            self._refuse_stale(m)
        else:
            self._dispatch(m)

    def _step_higher(self, m: Message) -> None:
        """Rule 4 for a ballot above the one we promised."""
        if isinstance(m, Prepare):
            if m.probe:
                phase1.on_probe(self, m)
            elif not phase1.in_lease(self) or m.transfer:
                self.become_follower(m.ballot, None)
                phase1.on_prepare(self, m)
        elif isinstance(m, Accept | Heartbeat | InstallSnapshot):
            self.become_follower(m.ballot, m.src)
            self._from_leader(m)
        elif isinstance(m, Promise) and m.probe and m.granted:
            phase1.on_promise(self, m)  # a grant of our prospective ballot
        elif isinstance(m, Promise | Accepted | HeartbeatAck | SnapshotAck) and self.role in (
            Role.CANDIDATE,
            Role.LEADER,
        ):
            self.become_follower(self.promised, None)  # pre-empted: back off

    def _refuse_stale(self, m: Message) -> None:
        """Rule 4 for a ballot below the one we promised."""
        if isinstance(m, Accept) and "accept_lower_ballot" in self.faults:
            phase2.on_accept(self, m)  # FAULT: accepts a ballot it promised to ignore
        elif isinstance(m, Accept):
            self.send(Accepted(self._id, m.src, self.promised, False, m.prev_index))
        elif isinstance(m, Heartbeat):
            self.send(HeartbeatAck(self._id, m.src, self.promised))
        elif isinstance(m, InstallSnapshot):
            self.send(SnapshotAck(self._id, m.src, self.promised, LogIndex(0)))
        elif isinstance(m, Prepare):
            self.send(Promise(self._id, m.src, self.promised, granted=False, probe=m.probe))

    def _dispatch(self, m: Message) -> None:
        if isinstance(m, Accept | Heartbeat | InstallSnapshot):
            self._from_leader(m)
        elif isinstance(m, Prepare):
            if m.probe:
                phase1.on_probe(self, m)
            elif self.role is Role.FOLLOWER and m.src == proposer_of(m.ballot):
                phase1.on_prepare(self, m)  # a duplicate of the Prepare we promised
        elif isinstance(m, Promise):
            phase1.on_promise(self, m)
        elif isinstance(m, TimeoutNow):
            if self.role is not Role.LEADER and m.src == self.leader and self._id in self.voters:
                phase1.campaign(self, probe=False, transfer=True)
        elif isinstance(m, ReadIndexRequest):
            if self.role is Role.LEADER:
                self._leader_read(m.src, m.context)
        elif isinstance(m, ReadIndexResponse):
            if self.role is not Role.LEADER and m.src == self.leader:
                self._read_states.append(ReadState(m.index, m.context))
        elif self.role is Role.LEADER:
            if isinstance(m, Accepted):
                phase2.on_accepted(self, m)
            elif isinstance(m, HeartbeatAck):
                phase2.on_heartbeat_ack(self, m)
            else:
                phase2.on_snapshot_ack(self, m)

    def _from_leader(self, m: Accept | Heartbeat | InstallSnapshot) -> None:
        if self.role is Role.LEADER:
            return  # our own ballot from someone else: impossible (ballots are unique)
        if self.role is Role.CANDIDATE:
            self.become_follower(self.promised, m.src)
        self.leader = m.src
        self.election_elapsed = 0
        if isinstance(m, Accept):
            phase2.on_accept(self, m)
        elif isinstance(m, Heartbeat):
            phase2.on_heartbeat(self, m)
        else:
            phase2.on_install_snapshot(self, m)

    # ---- learning and linearizable reads ----

    def on_commit_advanced(self) -> None:
        """Leader only. Acceptors learn the chosen prefix from one Accept per Ready; the
        first slot of our own ballot chosen unblocks reads (everything re-proposed in
        phase 1 is chosen by then)."""
        self._commit_unsent = True
        if self._reads_waiting_commit and self.log.ballot(self.log.commit_index) == self.ballot:
            waiting, self._reads_waiting_commit = self._reads_waiting_commit, []
            for origin, context in waiting:
                self._leader_read(origin, context)

    def read_index(self, context: bytes) -> None:
        if self.role is Role.LEADER:
            self._leader_read(self._id, bytes(context))
        elif self.leader is not None:
            self.send(ReadIndexRequest(self._id, self.leader, self.promised, bytes(context)))

    def _leader_read(self, origin: NodeId, context: bytes) -> None:
        if self.log.ballot(self.log.commit_index) != self.ballot:
            self._reads_waiting_commit.append((origin, context))
            return
        if len(self.voters) == 1:
            self._answer_read(origin, self.log.commit_index, context)
            return
        seq = self._reads.add(self.log.commit_index, origin, context, self._id)
        phase2.bcast_heartbeat(self, seq)

    def on_read_ack(self, seq: int, voter: NodeId) -> None:
        if voter in self.voters:
            for pending in self._reads.ack(seq, voter, self.quorum()):
                self._answer_read(pending.origin, pending.index, pending.context)

    def _answer_read(self, origin: NodeId, index: LogIndex, context: bytes) -> None:
        if origin == self._id:
            self._read_states.append(ReadState(index, context))
        else:
            self.send(ReadIndexResponse(self._id, origin, self.ballot, index, context))

    # ---- leadership transfer and compaction ----

    def transfer_leadership(self, to: NodeId) -> None:
        if self.role is not Role.LEADER:
            raise NotLeader(self.leader)
        if to not in self.voters:
            raise UsageError(f"cannot transfer leadership to non-voter {to}")
        if to == self._id:
            return
        self.transferee = to
        self.election_elapsed = 0
        if self.progress[to].match == self.log.last_index:
            self.send(TimeoutNow(self._id, to, self.ballot))
        else:
            phase2.send_accept(self, to)

    def compact(self, snapshot: Snapshot) -> None:
        meta = snapshot.meta
        if meta.index > self.log.applied:
            raise UsageError(f"snapshot at {meta.index} is past applied {self.log.applied}")
        if meta.index <= self.log.snapshot_index:
            return
        if self.log.ballot(meta.index) != meta.term:
            raise UsageError(f"snapshot ballot {meta.term} does not match slot {meta.index}")
        self.log.compact(meta.index, meta.term)
        self.snapshot = snapshot

    # ---- Ready / advance ----

    def _hard_state(self) -> HardState:
        return HardState(self.promised, None, self.log.commit_index)

    def _committed_end(self) -> LogIndex:
        return LogIndex(min(self.log.commit_index, self.log.stable_index))

    def has_ready(self) -> bool:
        """True when `ready()` has work; False while a Ready awaits `advance()`."""
        if self._outstanding is not None:
            return False
        return bool(
            self._msgs
            or self._msgs_after_persist
            or self._read_states
            or self.pending_snapshot is not None
            or self._hard_state() != self._persisted
            or self.log.last_index > self.log.stable_index
            or self._committed_end() > self.log.applied
        )

    def ready(self) -> Ready:
        """The next batch of work; call `advance()` with it before the next `ready()`."""
        if self._outstanding is not None:
            raise UsageError("ready() called again before advance() of the previous Ready")
        if (self._commit_unsent or self._accepts_unsent) and self.role is Role.LEADER:
            phase2.bcast_accept(self)
        self._commit_unsent = self._accepts_unsent = False
        hs = self._hard_state()
        end = self._committed_end()
        log = self.log
        committed = log.slice(log.applied + 1, end + 1) if end > log.applied else []
        entries = tuple(log.unstable())
        held = self._msgs_after_persist
        if hs == self._persisted and not entries and self.pending_snapshot is None:
            # nothing left to persist: what the held messages promise is durable already
            self._msgs.extend(m for m in held if m.dst != self._id)
            held = [m for m in held if m.dst == self._id]
        rd = Ready(
            hard_state=hs if hs != self._persisted else None,
            entries=entries,
            snapshot=self.pending_snapshot,
            messages=tuple(self._msgs),
            committed_entries=tuple(committed),
            read_states=tuple(self._read_states),
        )
        self._outstanding = (rd, held)
        self._msgs, self._msgs_after_persist, self._read_states = [], [], []
        self.pending_snapshot = None
        return rd

    def advance(self, ready: Ready) -> None:
        """The runtime persisted `ready` (and sent its messages): release what waited."""
        if self._outstanding is None or self._outstanding[0] is not ready:
            raise UsageError("advance() with a Ready that is not the outstanding one")
        held = self._outstanding[1]
        self._outstanding = None
        if ready.hard_state is not None:
            self._persisted = ready.hard_state
        self.log.stable_to(ready.entries)
        if ready.committed_entries:
            self.log.applied = LogIndex(max(self.log.applied, ready.committed_entries[-1].index))
        for m in held:
            if m.dst != self._id:
                self._msgs.append(m)
            elif m.ballot == self.promised:
                self._dispatch(m)  # our own promise, now durable
        if self.role is Role.LEADER and self.progress[self._id].accepted(self.log.stable_index):
            phase2.maybe_commit(self)

    # ---- introspection ----

    def leadership(self) -> tuple[Role, Term, NodeId | None]:
        return self.role, self.promised, self.leader

    def status(self) -> Status:
        progress = {}
        if self.role is Role.LEADER:
            progress = {n: self.progress[n].match for n in sorted(self.progress)}
        return Status(
            id=self._id,
            role=self.role,
            term=self.promised,
            leader=self.leader,
            commit=self.log.commit_index,
            applied=self.log.applied,
            last_index=self.log.last_index,
            config=ClusterConfig(self.voters, self.learners),
            progress=progress,
        )

    def check_invariants(self) -> None:
        """Internal invariants; tests and the simulator call this after every input."""
        self.log.check()
        if "accept_lower_ballot" not in self.faults:
            assert self.log.last_ballot <= self.promised, "accepted a ballot never promised"
        assert self._persisted.term <= self.promised, "promised ballot went down"
        assert self.max_seen >= self.promised
        if self.role is Role.LEADER:
            assert self.leader == self._id and self.ballot == self.promised
            assert proposer_of(self.ballot) == self._id, "leading someone else's ballot"
            assert self.log.last_ballot == self.ballot, "the leader's log ends in its ballot"
            assert self.progress[self._id].match <= self.log.stable_index
            for n, pr in self.progress.items():
                assert n == self._id or pr.match < pr.next <= self.log.last_index + 1, (n, pr)
        else:
            assert not self.progress, "a non-leader keeps phase-2 progress"
        if self.role is Role.CANDIDATE:
            assert proposer_of(self.ballot) == self._id
            assert self.probing or self.ballot == self.promised
        if self.role is Role.LEARNER:
            assert self._id in self.learners
