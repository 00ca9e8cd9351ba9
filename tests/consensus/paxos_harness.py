"""An in-memory Multi-Paxos cluster for tests, and a small transcript language.

Each node has a `MemDisk` that persists its Readys in engine.py's order (send, persist,
advance, apply); a crash loses whatever a node had not advanced. After every input the
harness checks each node's `check_invariants()` and the cluster-wide properties:

* one leader per ballot;
* slot matching: two nodes holding a slot with the same ballot hold the same slots up to
  it (log.py rule 2);
* agreement: a slot is chosen with one value, and every later leader holds it
  (Paxos Made Simple §2: "only a single value is chosen");
* applied prefixes agree;
* durability: a Promise or a successful Accepted leaves only once what it reports is on
  disk (engine.py's contract).

Transcript commands: `add-nodes N [election=T] [faults=a,b] [max-entries=N]`,
`campaign ID`, `tick ID|all [N]`, `propose ID DATA`, `read-index ID CTX`,
`transfer-leadership FROM TO`, `compact ID INDEX`, `process-ready [ID...]`,
`deliver-msgs [ID...] [drop=ID,..] [type=Name]`, `stabilize`, `partition 1,2/3`,
`heal`, `crash ID`, `restart ID`, `status [ID...]`, `log ID`, `read-states ID`.
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
from quorumd.consensus.paxos import (
    Accept,
    Accepted,
    Heartbeat,
    HeartbeatAck,
    InstallSnapshot,
    Message,
    Paxos,
    PaxosConfig,
    Prepare,
    Promise,
    ReadIndexRequest,
    ReadIndexResponse,
    SnapshotAck,
    TimeoutNow,
    phase1,
)
from quorumd.consensus.paxos.ballot import fmt as fmt_ballot
from quorumd.consensus.paxos.messages import MESSAGE_TYPES
from quorumd.errors import QuorumdError


class SafetyViolation(AssertionError):
    """A Paxos safety property does not hold."""


# ---- formatting ----


def fmt_entry(e: Entry) -> str:
    value = "noop" if e.kind is EntryKind.NOOP else e.data.decode(errors="replace")
    return f"{fmt_ballot(e.term)}/{e.index}:{value}"


def fmt_entries(entries: Iterable[Entry]) -> str:
    return "[" + " ".join(fmt_entry(e) for e in entries) + "]"


def fmt_msg(m: Message) -> str:
    head = f"{m.src}->{m.dst} {type(m).__name__} b={fmt_ballot(m.ballot)}"
    if isinstance(m, Prepare):
        flags = ("probe " if m.probe else "") + ("transfer " if m.transfer else "")
        return f"{head} {flags}from={m.first_slot}"
    if isinstance(m, Promise):
        if not m.granted:
            return f"{head} {'probe ' if m.probe else ''}refused"
        if m.probe:
            return f"{head} probe granted"
        snap = f" snap={m.snapshot.meta.index}" if m.snapshot else ""
        last = f"last={fmt_ballot(m.last_ballot)}/{m.last_index}"
        return f"{head} granted commit={m.commit} {last}{snap} {fmt_entries(m.entries)}"
    if isinstance(m, Accept):
        prev = f"prev={fmt_ballot(m.prev_ballot)}/{m.prev_index}"
        return f"{head} {prev} commit={m.commit} {fmt_entries(m.entries)}"
    if isinstance(m, Accepted):
        if m.success:
            return f"{head} ok index={m.index}"
        return f"{head} refused index={m.index} hint={m.hint}"
    if isinstance(m, Heartbeat):
        return f"{head} commit={m.commit}" + (f" ctx={m.context}" if m.context else "")
    if isinstance(m, HeartbeatAck):
        return head + (f" ctx={m.context}" if m.context else "")
    if isinstance(m, InstallSnapshot):
        return f"{head} snap={m.snapshot.meta.index}"
    if isinstance(m, SnapshotAck):
        return f"{head} index={m.index}"
    if isinstance(m, TimeoutNow):
        return head
    if isinstance(m, ReadIndexRequest):
        return f"{head} ctx={m.context.decode()}"
    assert isinstance(m, ReadIndexResponse)
    return f"{head} index={m.index} ctx={m.context.decode()}"


def messages_of(rd: Ready) -> list[Message]:
    out: list[Message] = []
    for m in rd.messages:
        assert isinstance(m, MESSAGE_TYPES), m
        out.append(m)
    return out


# ---- storage ----


@dataclass
class MemDisk:
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
            base = self.snapshot.meta.index if self.snapshot else 0
            assert (self.entries[-1].index if self.entries else base) + 1 == first, "gap"
            self.entries.extend(rd.entries)
        if rd.hard_state is not None:
            self.hard_state = rd.hard_state

    def compact(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.entries = [e for e in self.entries if e.index > snapshot.meta.index]

    def entry(self, index: int) -> Entry | None:
        for e in self.entries:
            if e.index == index:
                return e
        return None

    def restored(self) -> Restored:
        meta = self.snapshot.meta if self.snapshot else None
        data = self.snapshot.data if self.snapshot else None
        return Restored(self.hard_state, meta, tuple(self.entries), data)


def check_durability(disk: MemDisk, rd: Ready) -> None:
    """engine.py's contract: a message in `rd` may report only what is already on disk."""
    last = disk.entries[-1].index if disk.entries else 0
    if disk.snapshot is not None:
        last = max(last, disk.snapshot.meta.index)
    for m in messages_of(rd):
        if isinstance(m, Promise) and m.granted and not m.probe:
            if disk.hard_state.term < m.ballot:
                raise SafetyViolation(f"promise released before it was persisted: {fmt_msg(m)}")
            if m.last_index > last:
                raise SafetyViolation(f"promise reports unpersisted slots: {fmt_msg(m)}")
        if isinstance(m, Accepted) and m.success and m.index > last:
            raise SafetyViolation(f"acceptance released before it was persisted: {fmt_msg(m)}")
        if isinstance(m, SnapshotAck) and m.index > last:
            raise SafetyViolation(f"snapshot ack released before it was persisted: {fmt_msg(m)}")


# ---- the cluster ----


@dataclass
class NodeState:
    paxos: Paxos
    disk: MemDisk
    applied: list[Entry]  # everything applied; a snapshot shows as one b"snap" entry
    read_states: list[ReadState] = field(default_factory=list)


class Cluster:
    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.nodes: dict[int, NodeState] = {}
        self.configs: dict[int, PaxosConfig] = {}
        self.down: set[int] = set()
        self.in_flight: list[Message] = []
        self.blocked: set[tuple[int, int]] = set()
        self.leaders: dict[int, int] = {}  # ballot -> leader
        self.chosen: dict[int, tuple[Entry, int]] = {}  # slot -> (value, ballot seen chosen)
        self.out: list[str] = []
        self.restarts = 0
        self.read_floor: dict[bytes, int] = {}
        self.reads_issued = 0
        self.network: Callable[[Message], Message | None] | None = None

    def add_nodes(self, n: int, **opts: object) -> None:
        voters = tuple(NodeId(i) for i in range(1, n + 1))
        for node_id in voters:
            cfg = PaxosConfig(id=node_id, cluster=ClusterConfig(voters), **opts)  # type: ignore[arg-type]
            self.configs[node_id] = cfg
            self.nodes[node_id] = NodeState(self._make(cfg, None), MemDisk(), [])

    def _make(self, cfg: PaxosConfig, restored: Restored | None) -> Paxos:
        prng = random.Random(self.seed * 1000 + cfg.id * 10 + self.restarts)
        return Paxos(cfg, prng, restored)

    def px(self, node_id: int) -> Paxos:
        return self.nodes[node_id].paxos

    def ids(self) -> list[int]:
        return sorted(self.nodes)

    def up(self) -> list[int]:
        return [i for i in self.ids() if i not in self.down]

    def leader(self) -> int | None:
        leaders = [i for i in self.up() if self.px(i).role is Role.LEADER]
        return max(leaders, key=lambda i: self.px(i).promised) if leaders else None

    # ---- inputs ----

    def tick(self, node_id: int, n: int = 1) -> None:
        for _ in range(n):
            if node_id not in self.down:
                self.px(node_id).tick()
                self.check()

    def lapse_leases(self) -> None:
        """An election timeout passes without news from a leader (timers do not fire)."""
        for node_id in self.up():
            p = self.px(node_id)
            if p.role is not Role.LEADER:
                p.election_elapsed = max(p.election_elapsed, p.cfg.election_timeout_ticks)

    def campaign(self, node_id: int, *, probe: bool = True) -> None:
        phase1.campaign(self.px(node_id), probe=probe)
        self.check()

    def propose(self, node_id: int, data: bytes) -> LogIndex:
        index = self.px(node_id).propose(data)
        self.check()
        return index

    def read_index(self, node_id: int, context: bytes) -> None:
        assert context not in self.read_floor, "read contexts must be unique"
        self.reads_issued += 1
        self.read_floor[context] = max(self.chosen, default=0)
        self.px(node_id).read_index(context)
        self.check()

    def crash(self, node_id: int) -> None:
        self.down.add(node_id)
        self.in_flight = [m for m in self.in_flight if m.dst != node_id]

    def restart(self, node_id: int) -> None:
        self.down.discard(node_id)
        self.restarts += 1
        st = self.nodes[node_id]
        restored = st.disk.restored()
        st.paxos = self._make(self.configs[node_id], restored)
        snap_index = restored.snapshot.index if restored.snapshot else 0
        st.applied = [e for e in st.applied if e.index <= snap_index]
        self.check()

    def partition(self, groups: list[list[int]]) -> None:
        self.blocked = {(a, b) for g in groups for h in groups if g is not h for a in g for b in h}

    def heal(self) -> None:
        self.blocked = set()

    def compact(self, node_id: int, index: int) -> None:
        st = self.nodes[node_id]
        ballot = st.paxos.log.ballot(index)
        assert ballot is not None
        meta = SnapshotMeta(LogIndex(index), ballot, st.paxos.status().config)
        data = b",".join(e.data for e in st.applied if e.index <= index)
        snap = Snapshot(meta, data)
        st.paxos.compact(snap)
        st.disk.compact(snap)
        self.check()

    # ---- the runtime loop ----

    def process_ready(self, node_id: int, *, verbose: bool = True) -> bool:
        st = self.nodes[node_id]
        if node_id in self.down or not st.paxos.has_ready():
            return False
        rd = st.paxos.ready()
        if verbose:
            self._print_ready(node_id, rd)
        check_durability(st.disk, rd)
        for m in messages_of(rd):
            if (m.src, m.dst) not in self.blocked:
                self.in_flight.append(m)
        st.disk.persist(rd)
        st.paxos.advance(rd)
        if rd.snapshot is not None:
            meta = rd.snapshot.meta
            st.applied = [Entry(meta.term, meta.index, EntryKind.NOOP, b"snap")]
        for e in rd.committed_entries:
            assert not st.applied or st.applied[-1].index + 1 == e.index, "apply gap"
            st.applied.append(e)
        for rs in rd.read_states:
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
            m = original if self.network is None else self.network(original)
            if m is None:
                continue
            if m.dst in dropped or m.dst in self.down or (m.src, m.dst) in self.blocked:
                if verbose:
                    self.out.append(f"  dropped: {fmt_msg(m)}")
                continue
            if verbose and to is not None:
                self.out.append(f"  {fmt_msg(m)}")
            self.px(m.dst).step(m)
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
            self.out.append(f"  hard-state: promised={fmt_ballot(hs.term)} commit={hs.commit}")
        if rd.snapshot is not None:
            self.out.append(f"  snapshot: {rd.snapshot.meta.index}")
        if rd.entries:
            self.out.append(f"  entries: {fmt_entries(rd.entries)}")
        if rd.committed_entries:
            self.out.append(f"  committed: {fmt_entries(rd.committed_entries)}")
        for rs in rd.read_states:
            self.out.append(f"  read-state: index={rs.index} ctx={rs.context.decode()}")
        for m in messages_of(rd):
            self.out.append(f"  {fmt_msg(m)}")

    # ---- safety ----

    def check(self) -> None:
        for node_id in self.up():
            p = self.px(node_id)
            p.check_invariants()
            if p.role is Role.LEADER:
                seen = self.leaders.setdefault(p.promised, node_id)
                if seen != node_id:
                    raise SafetyViolation(f"two leaders of ballot {p.promised}: {seen}, {node_id}")
        self._check_slot_matching()
        self._check_agreement()
        self._check_applied()

    def _slots(self, node_id: int) -> list[Entry]:
        log = self.px(node_id).log
        return log.slice(log.first_index, log.last_index + 1)

    def _check_agreement(self) -> None:
        """One value per slot is chosen, and every later leader holds it."""
        for node_id in self.up():
            p = self.px(node_id)
            for e in self._slots(node_id):
                if e.index > p.log.commit_index:
                    break
                known = self.chosen.setdefault(e.index, (e, p.promised))
                if known[0] != e:
                    raise SafetyViolation(f"slot {e.index} chosen as {known[0]} and as {e}")
                if p.promised < known[1]:
                    self.chosen[e.index] = (e, p.promised)
        for node_id in self.up():
            p = self.px(node_id)
            if p.role is not Role.LEADER:
                continue
            for index, (entry, ballot) in self.chosen.items():
                if index <= p.log.snapshot_index or p.promised <= ballot:
                    continue
                mine = p.log.slice(index, index + 1) if index <= p.log.last_index else []
                if mine != [entry]:
                    raise SafetyViolation(f"leader {node_id} lacks chosen {fmt_entry(entry)}")

    def _check_slot_matching(self) -> None:
        nodes = [self.px(i) for i in self.up()]
        for a_i, a in enumerate(nodes):
            for b in nodes[a_i + 1 :]:
                lo = max(a.log.first_index, b.log.first_index)
                hi = min(a.log.last_index, b.log.last_index)
                top = next(
                    (i for i in range(hi, lo - 1, -1) if a.log.ballot(i) == b.log.ballot(i)), None
                )
                if top is not None and a.log.slice(lo, top + 1) != b.log.slice(lo, top + 1):
                    raise SafetyViolation(f"slot matching broken between {a.id} and {b.id}")

    def _check_applied(self) -> None:
        by_index: dict[int, Entry] = {}
        for node_id in self.ids():
            for e in self.nodes[node_id].applied:
                if e.data == b"snap":
                    continue
                other = by_index.setdefault(e.index, e)
                if other != e:
                    raise SafetyViolation(f"slot {e.index} applied as {other} and as {e}")


# ---- the transcript command language ----


def _ids(arg: str) -> list[int]:
    return [int(x) for x in arg.split(",") if x]


def _all_ids(pos: list[str]) -> list[int]:
    return [i for p in pos for i in _ids(p)]


_CONFIG_KEYS: dict[str, tuple[str, Callable[[str], object]]] = {
    "election": ("election_timeout_ticks", int),
    "inflight": ("max_inflight_accepts", int),
    "max-entries": ("max_entries_per_accept", int),
    "probe": ("probe", lambda v: v == "1"),
    "faults": ("faults", lambda v: frozenset(v.split(","))),
}


def run_command(c: Cluster, line: str) -> str:
    c.out = []
    cmd, *args = line.split()
    pos = [a for a in args if "=" not in a]
    kv = dict(a.split("=", 1) for a in args if "=" in a)
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
        for node_id in c.ids() if pos[0] == "all" else _ids(pos[0]):
            c.tick(node_id, int(pos[1]) if len(pos) > 1 else 1)
    elif cmd == "propose":
        c.out.append(f"index {c.propose(int(pos[0]), pos[1].encode())}")
    elif cmd == "read-index":
        c.read_index(int(pos[0]), pos[1].encode())
    elif cmd == "transfer-leadership":
        c.px(int(pos[0])).transfer_leadership(NodeId(int(pos[1])))
    elif cmd == "compact":
        c.compact(int(pos[0]), int(pos[1]))
    elif cmd == "process-ready":
        for node_id in _all_ids(pos) or c.ids():
            c.process_ready(node_id)
    elif cmd == "deliver-msgs":
        c.deliver(_all_ids(pos) or c.ids(), _ids(kv.get("drop", "")), kv.get("type"))
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
        for node_id in _all_ids(pos) or c.ids():
            c.out.append(_status_line(c, node_id))
    elif cmd == "log":
        log = c.px(int(pos[0])).log
        c.out.append(f"snap={log.snapshot_index} {fmt_entries(c._slots(int(pos[0])))}")
    elif cmd == "read-states":
        node = c.nodes[int(pos[0])]
        c.out.extend(f"index={rs.index} ctx={rs.context.decode()}" for rs in node.read_states)
        node.read_states.clear()
    else:
        raise AssertionError(f"unknown command {cmd!r}")


def _status_line(c: Cluster, node_id: int) -> str:
    if node_id in c.down:
        return f"{node_id}: down"
    s = c.px(node_id).status()
    return (
        f"{node_id}: {s.role.value} promised={fmt_ballot(s.term)} leader={s.leader} "
        f"commit={s.commit} applied={s.applied} last={s.last_index}"
    )
