"""One test per rule of the Raft paper / thesis, citing its section.

The harness (`raft_harness.Cluster`) checks after every input: each node's
`check_invariants()`, election safety, log matching, leader completeness, state machine
safety and the durability contract. Each deliberately wrong variant
(`RaftConfig.faults`) is shown here to break one of those checks in a scenario built
for it, while the correct engine passes the same scenario.
"""

from __future__ import annotations

import dataclasses
import random

import pytest
from raft_harness import Cluster, MemStorage, SafetyViolation

from quorumd._types import LogIndex, NodeId, Term
from quorumd.consensus.engine import (
    ClusterConfig,
    Entry,
    EntryKind,
    HardState,
    Restored,
    Role,
    Snapshot,
    SnapshotMeta,
)
from quorumd.consensus.raft import (
    AppendEntries,
    AppendEntriesResponse,
    Message,
    Raft,
    RaftConfig,
    RequestVote,
    RequestVoteResponse,
)
from quorumd.errors import NotLeader, UsageError

N = NodeId


def elect(c: Cluster, leader: int) -> None:
    c.campaign(leader)
    c.stabilize(verbose=False)
    assert c.raft(leader).role is Role.LEADER


def three(**opts: object) -> Cluster:
    c = Cluster(seed=7)
    c.add_nodes(3, **opts)
    return c


# ---- §5.2 election ----


def test_election_randomized_timeouts_elect_exactly_one_leader() -> None:
    """§5.2: randomized timeouts in [T, 2T) from the Prng; one leader emerges by ticking."""
    c = three()
    for _ in range(60):
        for i in c.ids():
            c.tick(i)
        c.stabilize(verbose=False)
    leaders = [i for i in c.ids() if c.raft(i).role is Role.LEADER]
    assert len(leaders) == 1
    assert all(c.raft(i).leader == leaders[0] for i in c.ids())


def test_same_seed_same_run() -> None:
    """Determinism: the same seed gives the same leader, term and messages."""

    def run() -> tuple[int | None, int, list[str]]:
        c = Cluster(seed=3)
        c.add_nodes(5)
        for _ in range(40):
            for i in c.ids():
                c.tick(i)
            c.stabilize()
        leader = c.leader()
        return leader, c.raft(leader or 1).term, c.out

    assert run() == run()


def test_vote_is_granted_once_per_term() -> None:
    """§5.2: at most one vote per term, first come first served."""
    c = three(pre_vote=False, check_quorum=False)
    c.campaign(1)
    c.campaign(2)
    c.stabilize(verbose=False)
    assert [c.raft(i).role for i in c.ids()].count(Role.LEADER) == 1


def test_candidate_with_stale_log_loses() -> None:
    """§5.4.1: a voter refuses a candidate whose log is less up-to-date than its own."""
    c = three(pre_vote=False, check_quorum=False)
    elect(c, 1)
    c.crash(3)
    c.propose(1, b"x")
    c.stabilize(verbose=False)
    c.restart(3)
    c.campaign(3)
    c.stabilize(verbose=False)
    assert c.raft(3).role is not Role.LEADER
    assert c.raft(3).log.last_index < c.raft(1).log.last_index


# ---- durability contract (engine.py) ----


def test_vote_grant_waits_for_its_hard_state() -> None:
    """The grant is never in the Ready that persists the vote; it comes after advance()."""
    r = Raft(RaftConfig(N(2), ClusterConfig((N(1), N(2), N(3)))), random.Random(1))
    r.step(RequestVote(N(1), N(2), Term(1), LogIndex(0), Term(0)))
    rd = r.ready()
    assert rd.hard_state == HardState(Term(1), N(1), LogIndex(0))
    assert rd.messages == ()
    assert not r.has_ready()  # nothing more until the runtime reports the fsync
    r.advance(rd)
    rd2 = r.ready()
    assert rd2.hard_state is None
    assert rd2.messages == (RequestVoteResponse(N(2), N(1), Term(1), True),)


def test_append_ack_waits_for_the_entries() -> None:
    r = Raft(RaftConfig(N(2), ClusterConfig((N(1), N(2), N(3)))), random.Random(1))
    entry = Entry(Term(1), LogIndex(1), EntryKind.NOOP, b"")
    r.step(AppendEntries(N(1), N(2), Term(1), LogIndex(0), Term(0), (entry,), LogIndex(0)))
    rd = r.ready()
    assert rd.entries == (entry,)
    assert not any(isinstance(m, AppendEntriesResponse) for m in rd.messages)
    r.advance(rd)
    rd2 = r.ready()
    assert rd2.messages == (AppendEntriesResponse(N(2), N(1), Term(1), True, LogIndex(1)),)


def test_commit_notice_is_not_acknowledged_but_a_mismatch_is_rejected() -> None:
    """An `ack=False` AppendEntries only spreads the commit index: the follower applies
    it and answers nothing; if its log does not match, it still says so."""
    r = Raft(RaftConfig(N(2), ClusterConfig((N(1), N(2), N(3)))), random.Random(1))
    entry = Entry(Term(1), LogIndex(1), EntryKind.NOOP, b"")
    r.step(AppendEntries(N(1), N(2), Term(1), LogIndex(0), Term(0), (entry,), LogIndex(0)))
    r.advance(r.ready())
    r.advance(r.ready())  # the ack for entry 1
    notice = AppendEntries(N(1), N(2), Term(1), LogIndex(1), Term(1), (), LogIndex(1), False)
    r.step(notice)
    rd = r.ready()
    assert r.status().commit == 1
    assert rd.committed_entries == (entry,)
    r.advance(rd)
    assert not any(isinstance(m, AppendEntriesResponse) for m in rd.messages)
    assert not r.has_ready()
    r.step(dataclasses.replace(notice, prev_index=LogIndex(5), commit=LogIndex(5)))
    rd = r.ready()
    r.advance(rd)
    replies = [m for m in (*rd.messages, *r.ready().messages)
               if isinstance(m, AppendEntriesResponse)]
    assert [m.success for m in replies] == [False]


def test_leader_asks_no_ack_only_of_a_follower_that_acked_everything() -> None:
    c = three()
    elect(c, 1)
    c.in_flight.clear()
    index = c.propose(1, b"x")
    c.process_ready(1, verbose=False)
    assert all(m.ack for m in c.in_flight if isinstance(m, AppendEntries))
    c.deliver([2], verbose=False)  # node 3's copy stays in flight
    c.process_ready(2, verbose=False)  # persist
    c.process_ready(2, verbose=False)  # the ack, released after the persist
    c.deliver([1], verbose=False)
    c.process_ready(1, verbose=False)
    assert c.raft(1).status().commit == index
    notices = {m.dst: m for m in c.in_flight if isinstance(m, AppendEntries) and not m.entries}
    assert not notices[N(2)].ack  # it acked `index`: only the commit is news
    assert notices[N(3)].ack  # its ack for `index` is still outstanding
    c.stabilize(verbose=False)
    assert all(c.raft(i).log.commit_index == index for i in c.ids())


def test_leader_counts_its_own_entries_only_after_advance() -> None:
    """§10.2.1: the leader may send before its fsync, but its own match waits for it."""
    r = Raft(RaftConfig(N(1), ClusterConfig((N(1),))), random.Random(1))
    for _ in range(25):
        r.tick()
        while r.has_ready():
            r.advance(r.ready())
    index = r.propose(b"x")
    rd = r.ready()
    assert [e.index for e in rd.entries] == [index]
    assert r.status().commit == index - 1
    r.advance(rd)
    assert r.status().commit == index
    rd2 = r.ready()
    assert [e.data for e in rd2.committed_entries] == [b"x"]


def test_ready_twice_without_advance_is_a_usage_error() -> None:
    r = Raft(RaftConfig(N(1), ClusterConfig((N(1),))), random.Random(1))
    r.tick()
    r.step(RequestVote(N(1), N(1), Term(5), LogIndex(0), Term(0)))
    rd = r.ready()
    with pytest.raises(UsageError):
        r.ready()
    r.advance(rd)
    with pytest.raises(UsageError):
        r.advance(rd)


@pytest.mark.parametrize("fault", ["vote_before_persist", "ack_before_persist"])
def test_persist_faults_are_caught(fault: str) -> None:
    c = three(faults=frozenset({fault}))
    with pytest.raises(SafetyViolation, match="before"):
        elect(c, 1)
        c.propose(1, b"x")
        c.stabilize(verbose=False)


# ---- §5.4.2 figure 8 ----


def _without_term_3_entries(m: Message) -> Message:
    """An AppendEntries cut short before any term-3 entry (a leader may send fewer)."""
    if isinstance(m, AppendEntries):
        return dataclasses.replace(m, entries=tuple(e for e in m.entries if e.term < 3))
    return m


def _figure8(faults: frozenset[str]) -> Cluster:
    """Raft paper figure 8, with our terms (each leader also appends a no-op).

    (a) 1 leads term 1 and gets `x` (index 2) onto 1 and 2 only. (b) 5 leads term 2 and
    persists its no-op at index 2 alone. (c) 1 leads term 3 and replicates `x` to 3, so
    `x` is on a majority - but not its term-3 no-op (the network cuts AppendEntries
    short). Counting replicas would commit `x` here. (d) 5 leads term 4 (its last term 2
    beats the others' 1) and overwrites `x`.
    """
    c = Cluster(seed=1)
    c.add_nodes(5, pre_vote=False, check_quorum=False, faults=faults)
    elect(c, 1)
    c.partition([[1, 2], [3, 4, 5]])
    c.propose(1, b"x")  # (a)
    c.stabilize(verbose=False)
    c.crash(1)
    c.campaign(5)  # (b)
    while c.raft(5).role is not Role.LEADER:
        for i in (3, 4, 5):
            c.process_ready(i, verbose=False)
        c.deliver([3, 4, 5], verbose=False)
    c.partition([[5], [1, 2, 3, 4]])
    c.process_ready(5, verbose=False)
    assert c.raft(5).log.last_term == 2
    c.crash(5)
    c.heal()
    c.restart(1)  # (c)
    c.network = _without_term_3_entries
    c.partition([[1, 2, 3], [4, 5]])
    for _ in range(2):  # term 2 is refused by 3 (it voted for 5), term 3 wins
        c.campaign(1)
        c.stabilize(verbose=False)
    assert c.raft(1).role is Role.LEADER and c.raft(1).term == 3
    assert [c.raft(i).log.term(2) for i in (1, 2, 3)] == [1, 1, 1]
    c.crash(1)  # (d)
    c.network = None
    c.heal()
    c.restart(5)
    for _ in range(3):  # term 3 is refused by 2 and 3 (they voted for 1), term 4 wins
        if c.raft(5).role is not Role.LEADER:
            c.campaign(5)
            c.stabilize(verbose=False)
    assert c.raft(5).role is Role.LEADER
    return c


def test_figure8_old_term_entries_are_not_committed_by_counting() -> None:
    """§5.4.2: `x` sat on a majority in (c) but was never committed, so (d) may drop it."""
    c = _figure8(frozenset())
    assert c.committed[2][0].term == 2  # the no-op of term 2 won index 2
    assert all(c.raft(i).log.term(2) == 2 for i in (2, 3, 4, 5))


def test_figure8_fault_commit_old_term_is_caught() -> None:
    with pytest.raises(SafetyViolation):
        _figure8(frozenset({"commit_old_term"}))


# ---- election faults ----


def test_double_vote_fault_gives_two_leaders_in_a_term() -> None:
    c = three(pre_vote=False, check_quorum=False, faults=frozenset({"double_vote"}))
    c.network = lambda m: None if {m.src, m.dst} == {1, 2} else m  # 3 hears both
    c.campaign(1)
    c.campaign(2)
    with pytest.raises(SafetyViolation):  # two leaders, or a grant not backed by disk
        c.stabilize(verbose=False)


def _stale_candidate(faults: frozenset[str]) -> Cluster:
    c = three(pre_vote=False, check_quorum=False, faults=faults)
    elect(c, 1)
    c.partition([[1, 2], [3]])
    c.propose(1, b"x")
    c.stabilize(verbose=False)
    c.heal()
    c.campaign(3)
    c.stabilize(verbose=False)
    return c


def test_skip_log_check_fault_elects_a_leader_without_committed_entries() -> None:
    assert _stale_candidate(frozenset()).raft(3).role is not Role.LEADER
    with pytest.raises(SafetyViolation, match="lacks committed"):
        _stale_candidate(frozenset({"skip_log_check"}))


def test_unknown_fault_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        Raft(
            RaftConfig(N(1), ClusterConfig((N(1),)), faults=frozenset({"nope"})),
            random.Random(0),
        )


# ---- §9.6 pre-vote, §6.2 check-quorum, §4.2.3 stickiness ----


def test_partitioned_node_does_not_disrupt_after_healing() -> None:
    c = three()
    elect(c, 1)
    c.partition([[1, 2], [3]])
    for _ in range(100):
        c.tick(3)
        c.stabilize(verbose=False)
    assert c.raft(3).term == c.raft(1).term  # pre-vote: no term inflation
    c.heal()
    for _ in range(30):
        for i in c.ids():
            c.tick(i)
        c.stabilize(verbose=False)
    assert c.raft(1).role is Role.LEADER and c.raft(1).term == 1
    assert c.raft(3).leader == 1


def test_check_quorum_leader_steps_down_when_cut_off() -> None:
    c = three()
    elect(c, 1)
    c.partition([[1], [2, 3]])
    for _ in range(20):
        c.tick(1)
    assert c.raft(1).role is Role.FOLLOWER
    with pytest.raises(NotLeader):
        c.propose(1, b"late")


def test_leader_stays_without_check_quorum() -> None:
    c = three(check_quorum=False)
    elect(c, 1)
    c.partition([[1], [2, 3]])
    for _ in range(40):
        c.tick(1)
    assert c.raft(1).role is Role.LEADER


# ---- §5.3 replication ----


def _recorded(c: Cluster) -> list[Message]:
    seen: list[Message] = []

    def record(m: Message) -> Message:
        seen.append(m)
        return m

    c.network = record
    return seen


@pytest.mark.parametrize(
    ("max_entries", "max_bytes", "size", "expected"),
    [(3, 1 << 20, 1, 3), (100, 10, 4, 2), (100, 3, 4, 1)],
)
def test_batches_respect_max_entries_and_bytes(
    max_entries: int, max_bytes: int, size: int, expected: int
) -> None:
    """Many entries per AppendEntries, capped by count and bytes (at least one entry)."""
    c = three(max_entries_per_append=max_entries, max_bytes_per_append=max_bytes)
    elect(c, 1)
    c.partition([[1], [2, 3]])
    for n in range(7):
        c.propose(1, bytes([48 + n]) * size)
    c.stabilize(verbose=False)
    c.heal()
    seen = _recorded(c)
    c.tick(1)
    c.stabilize(verbose=False)
    sizes = [len(m.entries) for m in seen if isinstance(m, AppendEntries) and m.entries]
    assert max(sizes) == expected
    assert c.raft(2).log.last_index == c.raft(1).log.last_index == 8


def test_pipelining_window_bounds_inflight_appends() -> None:
    """Thesis §10.2: in REPLICATE the leader pipelines at most max_inflight requests."""
    c = three(max_inflight_appends=2)
    elect(c, 1)
    c.in_flight.clear()
    for n in range(5):
        c.propose(1, b"%d" % n)
        c.process_ready(1, verbose=False)  # one loop iteration per proposal
    to_2 = [m for m in c.in_flight if isinstance(m, AppendEntries) and m.dst == 2]
    assert len(to_2) == 2
    c.stabilize(verbose=False)
    assert all(c.raft(i).log.commit_index == 6 for i in c.ids())


def test_proposals_of_one_ready_travel_in_one_append() -> None:
    """Proposals made before one `ready()` reach each follower as one AppendEntries."""
    c = three()
    elect(c, 1)
    c.in_flight.clear()
    for n in range(5):
        c.propose(1, b"%d" % n)
    c.process_ready(1, verbose=False)
    to_2 = [m for m in c.in_flight if isinstance(m, AppendEntries) and m.dst == 2]
    assert [len(m.entries) for m in to_2] == [5]
    c.stabilize(verbose=False)
    assert all(c.raft(i).log.commit_index == 6 for i in c.ids())


def test_one_ready_fills_the_window_when_proposals_exceed_one_append() -> None:
    c = three(max_entries_per_append=3, max_inflight_appends=2)
    elect(c, 1)
    c.in_flight.clear()
    for n in range(9):
        c.propose(1, b"%d" % n)
    c.process_ready(1, verbose=False)
    to_2 = [m for m in c.in_flight if isinstance(m, AppendEntries) and m.dst == 2]
    assert [len(m.entries) for m in to_2] == [3, 3]  # the window holds two
    c.stabilize(verbose=False)
    assert all(c.raft(i).log.commit_index == 10 for i in c.ids())


def test_fast_backoff_takes_one_round_per_term() -> None:
    """§5.3 optimisation: rejections skip whole terms or gaps, not single entries."""
    c = three(pre_vote=False, check_quorum=False)
    elect(c, 1)
    c.partition([[1], [2, 3]])
    for n in range(30):
        c.propose(1, b"stale%d" % n)
    c.stabilize(verbose=False)
    elect(c, 2)
    for n in range(30):
        c.propose(2, b"new%d" % n)
    c.stabilize(verbose=False)
    c.raft(2).transfer_leadership(N(3))  # 3's progress for 1 starts at its log end
    c.stabilize(verbose=False)
    assert c.raft(3).role is Role.LEADER
    c.heal()
    seen = _recorded(c)
    c.tick(3)
    c.stabilize(verbose=False)
    assert c.raft(1).log.last_index == c.raft(3).log.last_index
    rejections = [m for m in seen if isinstance(m, AppendEntriesResponse) and not m.success]
    # one entry at a time would take 32 rounds; "log too short" + "term 1 from index 2"
    assert len(rejections) == 2


# ---- §6.4 ReadIndex ----


def test_read_index_waits_for_a_current_term_commit() -> None:
    c = three()
    c.campaign(1)
    # run until 1 is leader but its no-op is not committed yet
    for _ in range(8):
        c.deliver(verbose=False)
        for i in c.ids():
            c.process_ready(i, verbose=False)
        if c.raft(1).role is Role.LEADER:
            break
    r = c.raft(1)
    assert r.role is Role.LEADER and r.log.commit_index < r.log.last_index
    c.read_index(1, b"q")
    assert c.nodes[1].read_states == []
    c.stabilize(verbose=False)
    assert [(s.index, s.context) for s in c.nodes[1].read_states] == [(1, b"q")]


def _stale_read(faults: frozenset[str]) -> list[int]:
    """1 is cut off (but still believes it leads); 2 is elected and commits a write."""
    c = three(check_quorum=False, faults=faults)
    elect(c, 1)
    c.partition([[1], [2, 3]])
    elect(c, 2)
    c.propose(2, b"w")
    c.stabilize(verbose=False)
    assert c.raft(1).role is Role.LEADER
    c.read_index(1, b"r")
    c.stabilize(verbose=False)
    return [s.index for s in c.nodes[1].read_states]


def test_read_index_needs_a_quorum_round() -> None:
    assert _stale_read(frozenset()) == []
    # the fault answers at once with index 1, although 3 (holding "w") is committed
    with pytest.raises(SafetyViolation, match="stale read"):
        _stale_read(frozenset({"read_index_no_quorum"}))


def test_read_index_from_follower() -> None:
    c = three()
    elect(c, 1)
    c.propose(1, b"a")
    c.stabilize(verbose=False)
    c.read_index(3, b"f")
    c.stabilize(verbose=False)
    assert [(s.index, s.context) for s in c.nodes[3].read_states] == [(2, b"f")]


# ---- §3.10 leadership transfer ----


def test_leadership_transfer_catches_up_then_hands_over() -> None:
    c = three()
    elect(c, 1)
    c.partition([[1, 2], [3]])
    c.propose(1, b"a")
    c.stabilize(verbose=False)
    c.heal()
    c.raft(1).transfer_leadership(N(3))
    with pytest.raises(NotLeader):
        c.propose(1, b"refused")
    c.stabilize(verbose=False)
    assert c.raft(3).role is Role.LEADER
    assert c.raft(3).term == 2
    with pytest.raises(UsageError):
        c.raft(3).transfer_leadership(N(9))


# ---- §7 snapshots ----


def test_snapshot_install_to_lagging_follower_and_restart() -> None:
    c = three()
    elect(c, 1)
    c.crash(3)
    for n in range(5):
        c.propose(1, b"%d" % n)
    c.stabilize(verbose=False)
    c.compact(1, 4)
    c.compact(2, 4)
    c.restart(3)
    for _ in range(3):
        c.tick(1)
        c.stabilize(verbose=False)
    r3 = c.raft(3)
    assert r3.log.snapshot_index == 4
    assert r3.log.last_index == r3.log.commit_index == 6
    assert c.nodes[3].storage.snapshot is not None
    c.crash(3)
    c.restart(3)
    assert c.raft(3).log.snapshot_index == 4
    assert c.raft(3).status().applied == 4
    c.stabilize(verbose=False)
    assert c.raft(3).status().applied == 6


def test_compact_past_applied_is_a_usage_error() -> None:
    c = three()
    elect(c, 1)
    term = Term(1)
    snap = Snapshot(SnapshotMeta(LogIndex(5), term, ClusterConfig((N(1), N(2), N(3)))), b"")
    with pytest.raises(UsageError):
        c.raft(1).compact(snap)


# ---- restart from Restored ----


def test_restart_from_restored() -> None:
    cluster = ClusterConfig((N(1), N(2), N(3)))
    meta = SnapshotMeta(LogIndex(3), Term(2), cluster)
    entries = tuple(Entry(Term(3), LogIndex(i), EntryKind.NORMAL, b"e") for i in (4, 5))
    restored = Restored(HardState(Term(3), N(2), LogIndex(4)), meta, entries, b"state")
    r = Raft(RaftConfig(N(1), cluster), random.Random(0), restored)
    s = r.status()
    assert (s.term, s.commit, s.applied, s.last_index, s.role) == (3, 4, 3, 5, Role.FOLLOWER)
    assert r.vote == 2
    rd = r.ready()
    assert rd.hard_state is None and rd.entries == ()
    assert [e.index for e in rd.committed_entries] == [4]
    bad = Restored(HardState(Term(3), None, LogIndex(9)), meta, entries)
    with pytest.raises(UsageError):
        Raft(RaftConfig(N(1), cluster), random.Random(0), bad)


def test_memstorage_round_trip_keeps_the_vote() -> None:
    disk = MemStorage()
    r = Raft(RaftConfig(N(2), ClusterConfig((N(1), N(2), N(3)))), random.Random(1))
    r.step(RequestVote(N(1), N(2), Term(4), LogIndex(0), Term(0)))
    rd = r.ready()
    disk.persist(rd)
    r.advance(rd)
    again = Raft(
        RaftConfig(N(2), ClusterConfig((N(1), N(2), N(3)))), random.Random(1), disk.restored()
    )
    again.step(RequestVote(N(3), N(2), Term(4), LogIndex(0), Term(0)))
    rd2 = again.ready()  # nothing new to persist, so the refusal may leave at once
    assert rd2.hard_state is None
    assert list(rd2.messages) == [RequestVoteResponse(N(2), N(3), Term(4), False)]


# ---- learners ----


def test_learner_replicates_but_never_votes_or_counts() -> None:
    c = Cluster(seed=2)
    c.add_nodes(3, learners=[4])
    elect(c, 1)
    c.propose(1, b"x")
    c.stabilize(verbose=False)
    assert c.raft(4).role is Role.LEARNER
    assert c.raft(4).log.commit_index == 2
    for _ in range(50):
        c.tick(4)
    c.stabilize(verbose=False)
    assert c.raft(4).role is Role.LEARNER and c.raft(1).role is Role.LEADER
    c.crash(2)
    c.crash(3)
    c.propose(1, b"y")
    c.stabilize(verbose=False)
    assert c.raft(1).log.commit_index == 2  # a learner's ack does not make a quorum
