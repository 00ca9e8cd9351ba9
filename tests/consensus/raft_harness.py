"""An in-memory Raft cluster for tests, and the transcript command language that drives it.

Every node has a `MemStorage` that persists its Readys exactly as engine.py orders it
(send, persist, advance, apply), a crash loses whatever a node had not advanced, and
after every command the harness checks each node's `check_invariants()` plus the
cluster-wide properties of Raft's Figure 3: election safety (one leader per term),
log matching, and state machine safety (applied prefixes agree).

Transcript commands (etcd-io/raft's datadriven tests are the model)::

    add-nodes N [prevote=0|1] [checkquorum=0|1] [election=T] [inflight=N]
                [max-entries=N] [learners=4,5] [faults=a,b]
    campaign ID                 election timer fires on ID now
    tick ID|all [N]             N logical ticks
    tick-election ID            ticks until ID's election timer fires
    propose ID DATA             leader appends DATA (prints the error if it cannot)
    read-index ID CTX           ask for a linearizable read point
    transfer-leadership FROM TO
    compact ID INDEX            ID's state machine snapshots at INDEX (<= applied)
    process-ready [ID...]       one Ready per listed node (default: all), printed
    deliver-msgs [ID...] [drop=ID,...] [type=Name]   deliver queued messages once
    stabilize [ID...]           Ready + deliver until nothing moves
    partition 1,2/3             messages between the groups are dropped
    heal
    crash ID / restart ID       restart reloads the node from its MemStorage
    status ID / log ID / raft-state
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from quorumd._types import LogIndex, NodeId, Term
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
    SnapshotMeta,
)
from quorumd.consensus.raft import (
    AppendEntries,
    AppendEntriesResponse,
    Heartbeat,
    HeartbeatResponse,
    InstallSnapshot,
    InstallSnapshotResponse,
    Message,
    Raft,
    RaftConfig,
    ReadIndexRequest,
    ReadIndexResponse,
    RequestVote,
    RequestVoteResponse,
    TimeoutNow,
    election,
)
from quorumd.consensus.raft.messages import MESSAGE_TYPES
from quorumd.errors import QuorumdError

# ---- formatting ----


def fmt_entry(e: Entry) -> str:
    if e.kind is EntryKind.NOOP:
        return f"{e.term}/{e.index}:noop"
    return f"{e.term}/{e.index}:{e.data.decode(errors='replace')}"


def fmt_entries(entries: Iterable[Entry]) -> str:
    return "[" + " ".join(fmt_entry(e) for e in entries) + "]"


def fmt_msg(m: Message) -> str:
    head = f"{m.src}->{m.dst} {type(m).__name__} t={m.term}"
    if isinstance(m, RequestVote):
        flags = ("pre " if m.pre_vote else "") + ("transfer " if m.transfer else "")
        return f"{head} {flags}last={m.last_term}/{m.last_index}"
    if isinstance(m, RequestVoteResponse):
        return f"{head} {'pre ' if m.pre_vote else ''}{'granted' if m.granted else 'rejected'}"
    if isinstance(m, AppendEntries):
        ents = fmt_entries(m.entries)
        noack = "" if m.ack else " noack"
        return f"{head} prev={m.prev_term}/{m.prev_index} commit={m.commit}{noack} {ents}"
    if isinstance(m, AppendEntriesResponse):
        if m.success:
            return f"{head} ok index={m.index}"
        hint = f"hint={m.conflict_term}/{m.conflict_index}"
        return f"{head} reject index={m.index} {hint}"
    if isinstance(m, Heartbeat):
        return f"{head} commit={m.commit}" + (f" ctx={m.context}" if m.context else "")
    if isinstance(m, HeartbeatResponse):
        return head + (f" ctx={m.context}" if m.context else "")
    if isinstance(m, InstallSnapshot):
        return f"{head} snap={m.snapshot.meta.term}/{m.snapshot.meta.index}"
    if isinstance(m, InstallSnapshotResponse):
        return f"{head} index={m.index}"
    if isinstance(m, TimeoutNow):
        return head
    if isinstance(m, ReadIndexRequest):
        return f"{head} ctx={m.context.decode()}"
    assert isinstance(m, ReadIndexResponse)
    return f"{head} index={m.index} ctx={m.context.decode()}"


def messages_of(rd: Ready) -> list[Message]:
    """Ready.messages is typed `object` (engine-neutral); Raft only puts its own there."""
    out: list[Message] = []
    for m in rd.messages:
        assert isinstance(m, MESSAGE_TYPES), m
        out.append(m)
    return out


# ---- storage ----


@dataclass
class MemStorage:
    """What a node's disk holds: only what a Ready handed out and advance() confirmed."""

    hard_state: HardState = field(default_factory=lambda: HardState(Term(0), None, LogIndex(0)))
    snapshot: Snapshot | None = None
    entries: list[Entry] = field(default_factory=list)

    def persist(self, rd: Ready) -> None:
        if rd.snapshot is not None:
            self.snapshot = rd.snapshot
            self.entries = []
        if rd.entries:
            first = rd.entries[0].index
            self.entries = [e for e in self.entries if e.index < first]
            if self.entries:
                assert self.entries[-1].index + 1 == first, "gap in persisted log"
            self.entries.extend(rd.entries)
        if rd.hard_state is not None:
            self.hard_state = rd.hard_state

    def compact(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.entries = [e for e in self.entries if e.index > snapshot.meta.index]

    def restored(self) -> Restored:
        meta = self.snapshot.meta if self.snapshot else None
        data = self.snapshot.data if self.snapshot else None
        return Restored(self.hard_state, meta, tuple(self.entries), data)


def check_durability(disk: MemStorage, rd: Ready) -> None:
    """engine.py's contract: a message in `rd` may promise only what is already on disk."""
    persisted = disk.entries[-1].index if disk.entries else 0
    if disk.snapshot is not None:
        persisted = max(persisted, disk.snapshot.meta.index)
    for m in messages_of(rd):
        if isinstance(m, RequestVoteResponse) and m.granted and not m.pre_vote:
            hs = disk.hard_state
            # a durable later term also keeps the promise: we never return to m.term
            if hs.term < m.term or (hs.term == m.term and hs.vote != m.dst):
                raise SafetyViolation(f"vote released before it was persisted: {fmt_msg(m)}")
        if isinstance(m, AppendEntriesResponse) and m.success and m.index > persisted:
            raise SafetyViolation(f"ack released before the entries were persisted: {fmt_msg(m)}")
        if isinstance(m, InstallSnapshotResponse) and m.index > persisted:
            raise SafetyViolation(f"snapshot ack released before it was persisted: {fmt_msg(m)}")


# ---- the cluster ----


class SafetyViolation(AssertionError):
    """A Raft safety property (Figure 3) does not hold."""


@dataclass
class NodeState:
    raft: Raft
    storage: MemStorage
    applied: list[Entry]  # everything applied, snapshot contents first
    read_states: list[ReadState] = field(default_factory=list)


class Cluster:
    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.nodes: dict[int, NodeState] = {}
        self.configs: dict[int, RaftConfig] = {}
        self.down: set[int] = set()
        self.in_flight: list[Message] = []
        self.blocked: set[tuple[int, int]] = set()
        self.leaders: dict[int, int] = {}  # term -> leader id ever seen
        # index -> (entry, a term by which it was committed), as seen anywhere, ever
        self.committed: dict[int, tuple[Entry, int]] = {}
        self.out: list[str] = []
        self.restarts = 0
        self.read_floor: dict[bytes, int] = {}  # read context -> commit index when asked
        self.reads_issued = 0
        # a lossy or meddling network, for tests: None drops the message
        self.network: Callable[[Message], Message | None] | None = None

    # ---- setup ----

    def add_nodes(self, n: int, **opts: object) -> None:
        learners = tuple(NodeId(int(x)) for x in opts.pop("learners", ()))  # type: ignore[attr-defined]
        voters = tuple(NodeId(i) for i in range(1, n + 1))
        cluster = ClusterConfig(voters, learners)
        for node_id in (*voters, *learners):
            cfg = RaftConfig(id=node_id, cluster=cluster, **opts)  # type: ignore[arg-type]
            self.configs[node_id] = cfg
            storage = MemStorage()
            self.nodes[node_id] = NodeState(self._make(cfg, None), storage, [])

    def _make(self, cfg: RaftConfig, restored: Restored | None) -> Raft:
        prng = random.Random(self.seed * 1000 + cfg.id * 10 + self.restarts)
        return Raft(cfg, prng, restored)

    def raft(self, node_id: int) -> Raft:
        return self.nodes[node_id].raft

    def ids(self) -> list[int]:
        return sorted(self.nodes)

    def up(self) -> list[int]:
        return [i for i in self.ids() if i not in self.down]

    def leader(self) -> int | None:
        leaders = [i for i in self.up() if self.raft(i).role is Role.LEADER]
        if not leaders:
            return None
        return max(leaders, key=lambda i: self.raft(i).term)

    # ---- inputs ----

    def tick(self, node_id: int, n: int = 1) -> None:
        for _ in range(n):
            if node_id not in self.down:
                self.raft(node_id).tick()
                self.check()

    def campaign(self, node_id: int) -> None:
        election.start_election(self.raft(node_id))
        self.check()

    def propose(self, node_id: int, data: bytes) -> LogIndex:
        index = self.raft(node_id).propose(data)
        self.check()
        return index

    def read_index(self, node_id: int, context: bytes) -> None:
        """Ask `node_id` for a read point; remember what was committed when it was asked."""
        assert context not in self.read_floor, "read contexts must be unique"
        self.reads_issued += 1
        self.read_floor[context] = max(self.committed, default=0)
        self.raft(node_id).read_index(context)
        self.check()

    def crash(self, node_id: int) -> None:
        """Lose everything not persisted; messages to the node are dropped while down."""
        self.down.add(node_id)
        self.in_flight = [m for m in self.in_flight if m.dst != node_id]

    def restart(self, node_id: int) -> None:
        self.down.discard(node_id)
        self.restarts += 1
        st = self.nodes[node_id]
        restored = st.storage.restored()
        st.raft = self._make(self.configs[node_id], restored)
        # the state machine restarts from its snapshot and re-applies committed entries
        snap_index = restored.snapshot.index if restored.snapshot else 0
        st.applied = [e for e in st.applied if e.index <= snap_index]
        self.check()

    def partition(self, groups: list[list[int]]) -> None:
        self.blocked = {(a, b) for g in groups for h in groups if g is not h for a in g for b in h}

    def heal(self) -> None:
        self.blocked = set()

    def compact(self, node_id: int, index: int) -> None:
        st = self.nodes[node_id]
        term = st.raft.log.term(index)
        assert term is not None
        meta = SnapshotMeta(LogIndex(index), term, st.raft.status().config)
        data = b",".join(e.data for e in st.applied if e.index <= index)
        snap = Snapshot(meta, data)
        st.raft.compact(snap)
        st.storage.compact(snap)
        self.check()

    # ---- the runtime loop ----

    def process_ready(self, node_id: int, *, verbose: bool = True) -> bool:
        st = self.nodes[node_id]
        if node_id in self.down or not st.raft.has_ready():
            return False
        rd = st.raft.ready()
        if verbose:
            self._print_ready(node_id, rd)
        check_durability(st.storage, rd)
        for m in messages_of(rd):  # 1. send
            if (m.src, m.dst) not in self.blocked:
                self.in_flight.append(m)
        st.storage.persist(rd)  # 2. persist + fsync
        st.raft.advance(rd)  # 3. advance
        if rd.snapshot is not None:
            st.applied = [e for e in st.applied if e.index <= 0]
            st.applied.append(
                Entry(rd.snapshot.meta.term, rd.snapshot.meta.index, EntryKind.NOOP, b"snap")
            )
        for e in rd.committed_entries:  # 4. apply
            assert not st.applied or st.applied[-1].index + 1 == e.index, "apply gap"
            st.applied.append(e)
        for rs in rd.read_states:
            # linearizability (§6.4): a read must see every write committed before it began
            floor = self.read_floor.pop(rs.context, 0)
            if rs.index < floor:
                raise SafetyViolation(f"stale read {rs.context!r}: index {rs.index} < {floor}")
        st.read_states.extend(rd.read_states)
        self.check()
        return True

    def deliver(
        self,
        to: Iterable[int] | None = None,
        drop: Iterable[int] = (),
        only: str | None = None,
        *,
        verbose: bool = True,
    ) -> int:
        targets = set(self.ids() if to is None else to)
        dropped = set(drop)
        keep: list[Message] = []
        batch: list[Message] = []
        for queued in self.in_flight:
            wanted = queued.dst in targets and (only is None or type(queued).__name__ == only)
            (batch if wanted else keep).append(queued)
        self.in_flight = keep
        for original in batch:
            m: Message | None = original if self.network is None else self.network(original)
            if m is None:
                continue
            if m.dst in dropped or m.dst in self.down or (m.src, m.dst) in self.blocked:
                if verbose:
                    self.out.append(f"  dropped: {fmt_msg(m)}")
                continue
            if verbose and to is not None:
                self.out.append(f"  {fmt_msg(m)}")
            self.raft(m.dst).step(m)
            self.check()
        return len(batch)

    def stabilize(self, ids: Iterable[int] | None = None, *, verbose: bool = True) -> None:
        nodes = sorted(ids) if ids is not None else None
        for _ in range(10_000):
            moved = False
            for node_id in nodes or self.ids():
                moved |= self.process_ready(node_id, verbose=verbose)
            moved |= self.deliver(nodes, verbose=False) > 0
            if not moved:
                return
        raise AssertionError("stabilize did not converge")

    def _print_ready(self, node_id: int, rd: Ready) -> None:
        self.out.append(f"> {node_id} ready")
        if rd.hard_state is not None:
            hs = rd.hard_state
            self.out.append(f"  hard-state: term={hs.term} vote={hs.vote} commit={hs.commit}")
        if rd.snapshot is not None:
            self.out.append(f"  snapshot: {rd.snapshot.meta.term}/{rd.snapshot.meta.index}")
        if rd.entries:
            self.out.append(f"  entries: {fmt_entries(rd.entries)}")
        if rd.committed_entries:
            self.out.append(f"  committed: {fmt_entries(rd.committed_entries)}")
        for rs in rd.read_states:
            self.out.append(f"  read-state: index={rs.index} ctx={rs.context.decode()}")
        for m in messages_of(rd):
            self.out.append(f"  {fmt_msg(m)}")

    # ---- safety (Raft Figure 3) ----

    def check(self) -> None:
        for node_id in self.up():
            r = self.raft(node_id)
            r.check_invariants()
            if r.role is Role.LEADER:
                seen = self.leaders.setdefault(r.term, node_id)
                if seen != node_id:
                    raise SafetyViolation(f"two leaders in term {r.term}: {seen} and {node_id}")
        self._check_log_matching()
        self._check_leader_completeness()
        self._check_applied()

    def _check_leader_completeness(self) -> None:
        """§5.4 Leader Completeness: a leader's log holds every entry committed anywhere."""
        for node_id in self.up():
            r = self.raft(node_id)
            for i in range(r.log.first_index, r.log.commit_index + 1):
                entry = r.log.slice(i, i + 1)[0]
                # committed in r.term at the latest: every later-term leader must hold it
                known = self.committed.setdefault(i, (entry, r.term))
                if known[0] != entry:
                    raise SafetyViolation(f"index {i} committed as {known[0]} and {entry}")
                if r.term < known[1]:
                    self.committed[i] = (entry, r.term)
        for node_id in self.up():
            r = self.raft(node_id)
            if r.role is not Role.LEADER:
                continue
            for i, (entry, term) in self.committed.items():
                if i <= r.log.snapshot_index or r.term <= term:
                    continue
                if i > r.log.last_index or r.log.slice(i, i + 1)[0] != entry:
                    raise SafetyViolation(
                        f"leader {node_id} (term {r.term}) lacks committed {entry}"
                    )

    def _check_log_matching(self) -> None:
        """§5.3 Log Matching: same index and term => identical logs up to there."""
        rafts = [self.raft(i) for i in self.up()]
        for a_i, a in enumerate(rafts):
            for b in rafts[a_i + 1 :]:
                lo = max(a.log.first_index, b.log.first_index)
                hi = min(a.log.last_index, b.log.last_index)
                top = next(
                    (i for i in range(hi, lo - 1, -1) if a.log.term(i) == b.log.term(i)), None
                )
                if top is None:
                    continue
                if a.log.slice(lo, top + 1) != b.log.slice(lo, top + 1):
                    raise SafetyViolation(f"log matching broken between {a.id} and {b.id}")

    def _check_applied(self) -> None:
        """State machine safety (§5.4.3): no two nodes apply different entries at an index."""
        by_index: dict[int, Entry] = {}
        for node_id in self.ids():
            for e in self.nodes[node_id].applied:
                if e.data == b"snap":
                    continue
                other = by_index.setdefault(e.index, e)
                if other != e:
                    raise SafetyViolation(f"index {e.index} applied as {other} and as {e}")


# ---- the transcript command language ----


def _ids(arg: str) -> list[int]:
    return [int(x) for x in arg.split(",") if x]


def _all_ids(pos: list[str]) -> list[int]:
    return [i for p in pos for i in _ids(p)]


def _opts(args: list[str]) -> tuple[list[str], dict[str, str]]:
    pos = [a for a in args if "=" not in a]
    kv = dict(a.split("=", 1) for a in args if "=" in a)
    return pos, kv


_CONFIG_KEYS: dict[str, tuple[str, Callable[[str], object]]] = {
    "prevote": ("pre_vote", lambda v: v == "1"),
    "checkquorum": ("check_quorum", lambda v: v == "1"),
    "election": ("election_timeout_ticks", int),
    "heartbeat": ("heartbeat_ticks", int),
    "inflight": ("max_inflight_appends", int),
    "max-entries": ("max_entries_per_append", int),
    "max-bytes": ("max_bytes_per_append", int),
    "faults": ("faults", lambda v: frozenset(v.split(","))),
    "learners": ("learners", _ids),
}


def run_command(c: Cluster, line: str) -> str:
    c.out = []
    cmd, *args = line.split()
    pos, kv = _opts(args)
    try:
        _run(c, cmd, pos, kv)
    except QuorumdError as e:
        c.out.append(f"error: {type(e).__name__}: {e}")
    return "\n".join(c.out) if c.out else "ok"


def _run(c: Cluster, cmd: str, pos: list[str], kv: dict[str, str]) -> None:
    if cmd == "add-nodes":
        opts = {_CONFIG_KEYS[k][0]: _CONFIG_KEYS[k][1](v) for k, v in kv.items()}
        c.add_nodes(int(pos[0]), **opts)
    elif cmd == "campaign":
        c.campaign(int(pos[0]))
    elif cmd == "tick":
        targets = c.ids() if pos[0] == "all" else _ids(pos[0])  # tick ID [N]
        for node_id in targets:
            c.tick(node_id, int(pos[1]) if len(pos) > 1 else 1)
    elif cmd == "tick-election":
        r = c.raft(int(pos[0]))
        c.tick(r.id, max(1, r._randomized_timeout - r.election_elapsed))
    elif cmd == "propose":
        c.out.append(f"index {c.propose(int(pos[0]), pos[1].encode())}")
    elif cmd == "read-index":
        c.read_index(int(pos[0]), pos[1].encode())
    elif cmd == "transfer-leadership":
        c.raft(int(pos[0])).transfer_leadership(NodeId(int(pos[1])))
    elif cmd == "compact":
        c.compact(int(pos[0]), int(pos[1]))
    elif cmd == "process-ready":
        for node_id in _all_ids(pos) or c.ids():
            c.process_ready(node_id)
    elif cmd == "deliver-msgs":
        to = _all_ids(pos) or c.ids()
        c.deliver(to, _ids(kv.get("drop", "")), kv.get("type"))
    elif cmd == "stabilize":
        c.stabilize(_all_ids(pos) or None)
    elif cmd == "partition":
        c.partition([_ids(g) for g in pos[0].split("/")])
    elif cmd == "heal":
        c.heal()
    elif cmd == "crash":
        c.crash(int(pos[0]))
    elif cmd == "restart":
        c.restart(int(pos[0]))
    elif cmd == "status":
        _print_status(c, _all_ids(pos) or c.ids())
    elif cmd == "log":
        r = c.raft(int(pos[0]))
        snap = f"snap={r.log.snapshot_term}/{r.log.snapshot_index} "
        ents = fmt_entries(r.log.slice(r.log.first_index, r.log.last_index + 1))
        c.out.append(f"{snap}{ents}")
    elif cmd == "read-states":
        node = c.nodes[int(pos[0])]
        c.out.extend(f"index={rs.index} ctx={rs.context.decode()}" for rs in node.read_states)
        node.read_states.clear()
    else:
        raise AssertionError(f"unknown command {cmd!r}")


def _print_status(c: Cluster, ids: list[int]) -> None:
    for node_id in ids:
        if node_id in c.down:
            c.out.append(f"{node_id}: down")
            continue
        s = c.raft(node_id).status()
        line = (
            f"{node_id}: {s.role.value} term={s.term} leader={s.leader} "
            f"commit={s.commit} applied={s.applied} last={s.last_index}"
        )
        if s.progress:
            prs = c.raft(node_id).progress
            line += " progress=" + " ".join(f"{n}:{prs[n]!r}" for n in sorted(prs))
        c.out.append(line)
