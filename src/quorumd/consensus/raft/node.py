"""The Raft engine: state, roles, the Ready/advance cycle, and message dispatch.

Theory of operation:

1. Inputs are `tick()`, `step(msg)`, `propose(data)`, `read_index(ctx)`,
   `transfer_leadership(to)` and `compact(snapshot)`; outputs only ever leave through
   `ready()`. Nothing here knows about clocks, sockets or disks.
2. Durability (DESIGN.md, engine.py): a message that promises something about this node's
   disk - a vote grant, an append acknowledgement, even the candidate's vote for itself -
   is queued in `_msgs_after_persist`. `ready()` hands the runtime the state to persist
   and takes those messages aside; `advance()` releases them into the next Ready (or
   steps them locally when they are addressed to this node).
3. A leader's own entries count toward its match index only after `advance()` reported
   them durable; its AppendEntries may go out before (thesis §10.2.1).
4. Committed entries are handed out only up to the durable end of the log.
5. Peers are always iterated in sorted order, randomness comes only from the Prng: the
   same inputs give the same outputs.
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
from quorumd.consensus.raft import election, replication
from quorumd.consensus.raft.log import RaftLog
from quorumd.consensus.raft.messages import (
    MESSAGE_TYPES,
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
from quorumd.consensus.raft.progress import Progress, ProgressState
from quorumd.consensus.raft.readonly import ReadOnly
from quorumd.errors import NotLeader, UsageError

_MESSAGE_TYPES: frozenset[type] = frozenset(MESSAGE_TYPES)

FAULTS = frozenset(
    {
        "commit_old_term",
        "double_vote",
        "vote_before_persist",
        "skip_log_check",
        "read_index_no_quorum",
        "ack_before_persist",
    }
)


@dataclass(frozen=True, slots=True)
class RaftConfig:
    id: NodeId
    cluster: ClusterConfig
    election_timeout_ticks: int = 10  # randomized in [T, 2T) from the prng
    heartbeat_ticks: int = 1
    max_entries_per_append: int = 4096
    max_bytes_per_append: int = 1 << 20
    max_inflight_appends: int = 256  # per follower, the pipelining window
    pre_vote: bool = True
    check_quorum: bool = True
    faults: frozenset[str] = frozenset()  # deliberately wrong variants for the simulator

    def validate(self) -> None:
        unknown = sorted(self.faults - FAULTS)
        if unknown:
            raise UsageError(f"unknown raft fault variants: {unknown}")
        if self.id not in self.cluster.voters and self.id not in self.cluster.learners:
            raise UsageError(f"node {self.id} is not in the cluster {self.cluster}")
        if set(self.cluster.voters) & set(self.cluster.learners):
            raise UsageError("a node cannot be both voter and learner")
        if self.election_timeout_ticks < 1 or self.heartbeat_ticks < 1:
            raise UsageError("election_timeout_ticks and heartbeat_ticks must be >= 1")
        if self.max_entries_per_append < 1 or self.max_inflight_appends < 1:
            raise UsageError("max_entries_per_append and max_inflight_appends must be >= 1")


class Raft:
    """A pure Raft engine implementing `quorumd.consensus.engine.Engine`.

    Attributes without an underscore are shared with the `election` and `replication`
    modules, which hold the per-message handlers; they are not a public API.
    """

    def __init__(self, config: RaftConfig, prng: Prng, restored: Restored | None = None) -> None:
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
        self.term = Term(0)
        self.vote: NodeId | None = None
        self.leader: NodeId | None = None
        self.role = Role.FOLLOWER
        self.log = RaftLog()
        self.snapshot: Snapshot | None = None  # the latest one, to send to lagging peers
        self.pending_snapshot: Snapshot | None = None  # received, not yet in a Ready
        self.progress: dict[NodeId, Progress] = {}
        self.votes: dict[NodeId, bool] = {}
        self.transferee: NodeId | None = None
        self.election_elapsed = 0
        self._heartbeat_elapsed = 0
        self._randomized_timeout = config.election_timeout_ticks
        self._msgs: list[Message] = []
        self._msgs_after_persist: list[Message] = []
        self._read_states: list[ReadState] = []
        self._readonly = ReadOnly()
        self._reads_waiting_commit: list[tuple[NodeId, bytes]] = []
        self._outstanding: tuple[Ready, list[Message]] | None = None
        self._commit_unsent = False  # the leader's commit index advanced since the last Ready
        self._appends_unsent = False  # the leader appended entries since the last Ready
        if restored is not None:
            self._restore(restored)
        # Read back through a method: mypy keeps `self.vote` narrowed to None across the
        # `_restore()` call above, and a mypyc build (tools/build_compiled.py) checks that.
        self._persisted = self._current_hard_state()
        self.become_follower(self.term, None)

    def _restore(self, restored: Restored) -> None:
        hs = restored.hard_state
        snap_index, snap_term = LogIndex(0), Term(0)
        if restored.snapshot is not None:
            snap_index, snap_term = restored.snapshot.index, restored.snapshot.term
            if restored.snapshot_data is not None:
                self.snapshot = Snapshot(restored.snapshot, restored.snapshot_data)
        for offset, entry in enumerate(restored.entries):
            if entry.index != snap_index + 1 + offset:
                raise UsageError("restored entries are not contiguous after the snapshot")
        self.log = RaftLog(snap_index, snap_term, restored.entries, hs.commit)
        if self.log.commit_index > self.log.last_index:
            raise UsageError("restored commit index is past the restored log")
        self.term = hs.term
        self.vote = hs.vote

    # ---- small helpers shared with election/replication ----

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
            "vote_before_persist" in self.faults
            and isinstance(m, RequestVoteResponse)
            and m.granted
            and not m.pre_vote
            and m.dst != self._id
        ):
            self._msgs.append(m)  # FAULT: the grant leaves before the vote is on disk
            return
        if (
            "ack_before_persist" in self.faults
            and isinstance(m, AppendEntriesResponse)
            and m.success
        ):
            self._msgs.append(m)  # FAULT: the ack leaves before the entries are on disk
            return
        self._msgs_after_persist.append(m)

    def reset_election_timer(self) -> None:
        self.election_elapsed = 0
        timeout = self.cfg.election_timeout_ticks
        self._randomized_timeout = timeout + self._prng.randrange(timeout)

    # ---- role transitions ----

    def become_follower(self, term: Term, leader: NodeId | None) -> None:
        if term != self.term:
            self.term = term
            self.vote = None
        self.role = Role.LEARNER if self._id in self.learners else Role.FOLLOWER
        self.leader = leader
        self.progress = {}
        self.votes = {}
        self.transferee = None
        self._heartbeat_elapsed = 0
        self._readonly.reset()
        self._reads_waiting_commit = []
        self.reset_election_timer()

    def become_candidate(self) -> None:
        assert self.role is not Role.LEADER
        self.term = Term(self.term + 1)
        self.vote = self._id
        self.leader = None
        self.role = Role.CANDIDATE
        self.votes = {}

    def become_leader(self) -> None:
        """§5.2 won; §5.4.2/§8: append a no-op so earlier-term entries get committed."""
        assert self.role is Role.CANDIDATE
        self.role = Role.LEADER
        self.leader = self._id
        self.votes = {}
        self.transferee = None
        next_index = LogIndex(self.log.last_index + 1)
        limit = self.cfg.max_inflight_appends
        self.progress = {n: Progress(next_index, limit) for n in (*self.voters, *self.learners)}
        self.progress[self._id].become_replicate()
        self.progress[self._id].match = self.log.stable_index
        self.election_elapsed = 0
        self._heartbeat_elapsed = 0
        self.log.append([Entry(self.term, next_index, EntryKind.NOOP, b"")])
        replication.bcast_append(self)

    # ---- Engine API ----

    def tick(self) -> None:
        if self.role is Role.LEADER:
            self._tick_leader()
            return
        self.election_elapsed += 1
        if self.election_elapsed >= self._randomized_timeout:
            self.election_elapsed = 0
            election.start_election(self)

    def _tick_leader(self) -> None:
        self._heartbeat_elapsed += 1
        self.election_elapsed += 1
        if self.election_elapsed >= self.cfg.election_timeout_ticks:
            self.election_elapsed = 0
            self.transferee = None  # §3.10: abort a transfer that did not finish in time
            for peer in self.peers:
                pr = self.progress[peer]
                if pr.state is ProgressState.SNAPSHOT:
                    pr.become_probe()  # the snapshot may be lost: fall back and retry
            if self.cfg.check_quorum and not self._quorum_active():
                self.become_follower(self.term, None)
                return
        if self._heartbeat_elapsed >= self.cfg.heartbeat_ticks:
            self._heartbeat_elapsed = 0
            replication.bcast_heartbeat(self, self._readonly.latest_seq())

    def _quorum_active(self) -> bool:
        """Check-quorum (§6.2): did a majority answer during the last election timeout?"""
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
            raise NotLeader(None)  # §3.10: hold proposals while handing leadership over
        index = LogIndex(self.log.last_index + 1)
        self.log.append([Entry(self.term, index, EntryKind.NORMAL, bytes(data))])
        # Sent from `ready()`: proposals made in one loop iteration travel together, in
        # one AppendEntries per follower, instead of one message (and one window slot)
        # per proposal.
        self._appends_unsent = True
        return index

    def step(self, message: object) -> None:
        if type(message) not in _MESSAGE_TYPES:
            raise UsageError(f"not a raft message: {type(message).__name__}")
        m: Message = message  # type: ignore[assignment]
        if m.dst != self._id:
            raise UsageError(f"message for node {m.dst} stepped into node {self._id}")
        if m.src not in self.voters and m.src not in self.learners:
            return  # not a member of this cluster
        if m.term != self.term and not self._check_term(m):
            return
        self._dispatch(m)

    def _check_term(self, m: Message) -> bool:
        """§5.1 term rules, with the pre-vote and leader-lease exceptions; False = drop."""
        if m.term > self.term:
            if isinstance(m, RequestVote):
                if election.in_lease(self) and not m.transfer:
                    return False  # §4.2.3: a live leader exists, ignore the disruptor
                if m.pre_vote:
                    return True  # a pre-vote never changes our term
            if isinstance(m, RequestVoteResponse) and m.pre_vote and m.granted:
                return True  # our own prospective term, not a newer one
            leader_msg = isinstance(m, AppendEntries | Heartbeat | InstallSnapshot)
            self.become_follower(m.term, m.src if leader_msg else None)
            return True
        if m.term < self.term:
            if isinstance(m, AppendEntries | Heartbeat):
                # a deposed leader (e.g. healed partition) learns the new term and steps down
                self.send_after_persist(HeartbeatResponse(self._id, m.src, self.term))
            elif isinstance(m, RequestVote) and m.pre_vote:
                self.send_after_persist(
                    RequestVoteResponse(self._id, m.src, self.term, False, True)
                )
            return False
        return True

    def _dispatch(self, m: Message) -> None:
        # The two messages of every write first, by exact type (messages are never
        # subclassed): this runs several times per write on every node.
        kind = type(m)
        if kind is AppendEntries or kind is Heartbeat or kind is InstallSnapshot:
            self._from_leader(m)  # type: ignore[arg-type]
        elif kind is AppendEntriesResponse:
            if self.role is Role.LEADER:
                replication.on_append_response(self, m)  # type: ignore[arg-type]
        elif isinstance(m, RequestVote):
            election.on_request_vote(self, m)
        elif isinstance(m, RequestVoteResponse):
            election.on_vote_response(self, m)
        elif isinstance(m, TimeoutNow):
            election.on_timeout_now(self, m.src)
        elif isinstance(m, ReadIndexRequest):
            if self.role is Role.LEADER:
                self._leader_read(m.src, m.context)
        elif isinstance(m, ReadIndexResponse):
            if self.role is not Role.LEADER and m.src == self.leader:
                self._read_states.append(ReadState(m.index, m.context))
        elif self.role is Role.LEADER:
            if isinstance(m, HeartbeatResponse):
                replication.on_heartbeat_response(self, m)
            elif isinstance(m, InstallSnapshotResponse):
                replication.on_snapshot_response(self, m)

    def _from_leader(self, m: AppendEntries | Heartbeat | InstallSnapshot) -> None:
        if self.role is Role.LEADER:
            return  # another leader in our term: impossible unless safety is broken
        if self.role in (Role.CANDIDATE, Role.PRE_CANDIDATE):
            self.become_follower(self.term, m.src)
        self.leader = m.src
        self.election_elapsed = 0
        if isinstance(m, AppendEntries):
            replication.on_append_entries(self, m)
        elif isinstance(m, Heartbeat):
            replication.on_heartbeat(self, m)
        else:
            replication.on_install_snapshot(self, m)

    # ---- commit and ReadIndex (§6.4) ----

    def on_commit_advanced(self) -> None:
        """Leader only. Followers learn the new commit index from one AppendEntries per
        Ready (not one per acknowledgement); the first current-term commit unblocks
        ReadIndex requests."""
        self._commit_unsent = True
        if self._reads_waiting_commit and self.log.term(self.log.commit_index) == self.term:
            waiting, self._reads_waiting_commit = self._reads_waiting_commit, []
            for origin, context in waiting:
                self._leader_read(origin, context)

    def read_index(self, context: bytes) -> None:
        if self.role is Role.LEADER:
            self._leader_read(self._id, bytes(context))
        elif self.leader is not None:
            self.send(ReadIndexRequest(self._id, self.leader, self.term, bytes(context)))

    def _leader_read(self, origin: NodeId, context: bytes) -> None:
        if len(self.voters) == 1:
            self._answer_read(origin, self.log.commit_index, context)
            return
        if self.log.term(self.log.commit_index) != self.term:
            self._reads_waiting_commit.append((origin, context))
            return
        if "read_index_no_quorum" in self.faults:
            self._answer_read(origin, self.log.commit_index, context)  # FAULT: may be stale
            return
        seq = self._readonly.add(self.log.commit_index, origin, context, self._id)
        replication.bcast_heartbeat(self, seq)

    def on_read_ack(self, seq: int, voter: NodeId) -> None:
        if voter not in self.voters:
            return
        for pending in self._readonly.ack(seq, voter, self.quorum()):
            self._answer_read(pending.origin, pending.index, pending.context)

    def _answer_read(self, origin: NodeId, index: LogIndex, context: bytes) -> None:
        if origin == self._id:
            self._read_states.append(ReadState(index, context))
        else:
            self.send(ReadIndexResponse(self._id, origin, self.term, index, context))

    # ---- leadership transfer (§3.10) and compaction (§7) ----

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
            self.send(TimeoutNow(self._id, to, self.term))
        else:
            replication.send_append(self, to)

    def compact(self, snapshot: Snapshot) -> None:
        meta = snapshot.meta
        if meta.index > self.log.applied:
            raise UsageError(f"snapshot at {meta.index} is past applied {self.log.applied}")
        if meta.index <= self.log.snapshot_index:
            return
        if self.log.term(meta.index) != meta.term:
            raise UsageError(f"snapshot term {meta.term} does not match the log at {meta.index}")
        self.log.compact(meta.index, meta.term)
        self.snapshot = snapshot

    # ---- Ready / advance ----

    def _current_hard_state(self) -> HardState:
        return HardState(self.term, self.vote, self.log.commit_index)

    def _hard_state_changed(self) -> bool:
        p = self._persisted
        return p.term != self.term or p.vote != self.vote or p.commit != self.log.commit_index

    def _committed_end(self) -> LogIndex:
        log = self.log
        return log.commit_index if log.commit_index < log.stable_index else log.stable_index

    def has_ready(self) -> bool:
        """True when `ready()` has work; False while a Ready awaits `advance()`."""
        if self._outstanding is not None:
            return False
        log = self.log
        return bool(
            self._msgs
            or self._msgs_after_persist
            or self._read_states
            or self.pending_snapshot is not None
            or self._hard_state_changed()
            or log.last_index > log.stable_index
            or self._committed_end() > log.applied
        )

    def ready(self) -> Ready:
        """The next batch of work; call `advance()` with it before the next `ready()`."""
        if self._outstanding is not None:
            raise UsageError("ready() called again before advance() of the previous Ready")
        if (self._commit_unsent or self._appends_unsent) and self.role is Role.LEADER:
            replication.bcast_append(self)
        self._commit_unsent = self._appends_unsent = False
        log = self.log
        hs = None
        if self._hard_state_changed():
            hs = self._current_hard_state()
        end = self._committed_end()
        committed = log.slice(log.applied + 1, end + 1) if end > log.applied else ()
        entries = tuple(log.unstable()) if log.last_index > log.stable_index else ()
        held = self._msgs_after_persist
        if held and hs is None and not entries and self.pending_snapshot is None:
            # nothing left to persist: what the held messages promise is already durable
            self._msgs.extend(m for m in held if m.dst != self._id)
            held = [m for m in held if m.dst == self._id]
        rd = Ready(  # positional: hard_state, entries, snapshot, messages, committed, reads
            hs,
            entries,
            self.pending_snapshot,
            tuple(self._msgs),
            tuple(committed),
            tuple(self._read_states),
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
        if ready.entries:
            self.log.stable_to(ready.entries)
        if ready.committed_entries:
            self.log.applied = LogIndex(max(self.log.applied, ready.committed_entries[-1].index))
        for m in held:
            if m.dst != self._id:
                self._msgs.append(m)
            elif m.term == self.term:
                self._dispatch(m)  # our own vote, now durable
        if self.role is Role.LEADER:
            own = self.progress[self._id]
            if own.maybe_update(self.log.stable_index):
                replication.maybe_commit(self)

    # ---- introspection ----

    def leadership(self) -> tuple[Role, Term, NodeId | None]:
        return self.role, self.term, self.leader

    def status(self) -> Status:
        progress = {}
        if self.role is Role.LEADER:
            progress = {n: self.progress[n].match for n in sorted(self.progress)}
        return Status(
            id=self._id,
            role=self.role,
            term=self.term,
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
        assert self.log.last_term <= self.term, "log holds an entry from a future term"
        assert self._persisted.term <= self.term
        if self.role is Role.LEADER:
            assert self.leader == self._id
            assert self.progress[self._id].match <= self.log.stable_index
            for n, pr in self.progress.items():
                assert pr.match < pr.next <= self.log.last_index + 1 or n == self._id, (n, pr)
        else:
            assert not self.progress, "non-leader keeps progress"
        if self.role is Role.CANDIDATE:
            assert self.vote == self._id
        if self.role is Role.LEARNER:
            assert self._id in self.learners
