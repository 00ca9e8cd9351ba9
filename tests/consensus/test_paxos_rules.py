"""Rule tests for Multi-Paxos, each citing the rule it checks.

PMS = Lamport, "Paxos Made Simple" (2001); PML = Chandra et al., "Paxos Made Live"
(2007); design rules = docs/design/paxos.md and the module docstrings.
"""

from __future__ import annotations

import random

import pytest
from paxos_harness import Cluster, SafetyViolation, check_durability, messages_of

from quorumd._types import LogIndex, NodeId
from quorumd.consensus.engine import ClusterConfig, EntryKind, Role, Snapshot, SnapshotMeta
from quorumd.consensus.paxos import (
    Accept,
    Accepted,
    InstallSnapshot,
    Paxos,
    PaxosConfig,
    Prepare,
    Promise,
    TimeoutNow,
)
from quorumd.consensus.paxos.ballot import make_ballot, proposer_of, round_of
from quorumd.errors import NotLeader, UsageError


def elect(c: Cluster, node: int) -> None:
    """Make `node` the leader; a refusal teaches it a higher ballot, so it may retry."""
    for _ in range(3):
        c.lapse_leases()
        c.campaign(node)
        c.stabilize(verbose=False)
        if c.px(node).role is Role.LEADER:
            return
    raise AssertionError(f"node {node} did not become the leader")


def cluster(n: int = 3, **opts: object) -> Cluster:
    c = Cluster(seed=7)
    c.add_nodes(n, **opts)
    return c


def settle(c: Cluster, node: int) -> None:
    """Run `node`'s Ready loop dry (held replies leave in the Ready after the fsync)."""
    while c.process_ready(node, verbose=False):
        pass


def values(c: Cluster, node: int) -> list[bytes]:
    """The normal values a node applied, in slot order."""
    return [e.data for e in c.nodes[node].applied if e.kind is EntryKind.NORMAL]


# ---- ballots (PMS §2.2) ----


def test_ballots_are_unique_per_proposer_and_totally_ordered() -> None:
    assert make_ballot(3, NodeId(2)) > make_ballot(3, NodeId(1)) > make_ballot(2, NodeId(9))
    b = make_ballot(5, NodeId(4))
    assert (round_of(b), proposer_of(b)) == (5, 4)


def test_unknown_fault_variant_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown paxos fault"):
        Paxos(
            PaxosConfig(NodeId(1), ClusterConfig((NodeId(1),)), faults=frozenset({"nope"})),
            random.Random(0),
        )


# ---- phase 1 (PMS §3) ----


def test_phase1_once_elects_a_leader_that_opens_its_ballot_with_a_noop() -> None:
    c = cluster()
    elect(c, 1)
    ballot = c.px(1).promised
    assert proposer_of(ballot) == 1
    for n in (1, 2, 3):
        st = c.px(n).status()
        assert (st.term, st.leader, st.commit) == (ballot, 1, 1)
        [noop] = c.nodes[n].applied
        assert (noop.kind, noop.term) == (EntryKind.NOOP, ballot)


def test_one_prepare_covers_every_slot_from_the_first_unchosen_one() -> None:
    c = cluster()
    elect(c, 1)
    for v in (b"a", b"b"):
        c.propose(1, v)
    c.stabilize(verbose=False)
    c.campaign(2, probe=False)
    prepares = [m for m in messages_of_ready(c, 2) if isinstance(m, Prepare)]
    assert {m.dst for m in prepares} == {1, 3}
    assert all(m.first_slot == c.px(2).log.commit_index + 1 for m in prepares)


def messages_of_ready(c: Cluster, node: int) -> list[object]:
    p = c.px(node)
    rd = p.ready()
    out = list(rd.messages)
    for m in messages_of(rd):
        c.in_flight.append(m)
    c.nodes[node].disk.persist(rd)
    p.advance(rd)
    return out


def test_new_leader_reproposes_a_value_accepted_by_a_minority() -> None:
    """PMS §3: slot 2 was accepted by 1 and 2 only; 3 takes over with 2's promise and
    must re-propose it, keeping the ballot that first proposed it."""
    c = cluster()
    elect(c, 1)
    c.propose(1, b"x")
    c.process_ready(1, verbose=False)
    c.deliver([2], verbose=False)
    settle(c, 2)  # 2 accepted x durably; its ack is in flight
    c.crash(1)
    c.in_flight.clear()
    elect(c, 3)
    slot2 = c.px(3).log.slice(2, 3)[0]
    assert slot2.data == b"x" and slot2.term == c.px(2).log.ballot(2)
    assert values(c, 3) == [b"x"] and values(c, 2) == [b"x"]


def test_value_chosen_but_unknown_to_the_new_leader_survives() -> None:
    """1 learned slot 2 chosen (acks of 1 and 2) and crashed before telling anyone."""
    c = cluster()
    elect(c, 1)
    c.propose(1, b"x")
    c.process_ready(1, verbose=False)
    c.deliver([2], verbose=False)
    settle(c, 2)
    c.deliver([1], verbose=False)
    assert c.px(1).log.commit_index == 2 and c.px(2).log.commit_index == 1
    c.crash(1)
    c.in_flight.clear()
    elect(c, 3)
    assert values(c, 3) == [b"x"]


def test_no_reproposal_variant_loses_a_chosen_value_and_is_caught() -> None:
    c = cluster(faults=frozenset({"no_reproposal"}))
    elect(c, 1)
    c.propose(1, b"x")
    c.process_ready(1, verbose=False)
    c.deliver([2], verbose=False)
    settle(c, 2)
    c.deliver([1], verbose=False)  # x chosen at 1
    c.crash(1)
    c.in_flight.clear()
    with pytest.raises(SafetyViolation, match="lacks chosen"):
        elect(c, 3)


def test_highest_ballot_value_wins_and_replaces_an_older_one() -> None:
    """PMS §2.3 P2c: 1 holds a@1.x at slot 2, 2 holds a no-op of a higher ballot there;
    when 1 takes over again with 2's promise it must adopt 2's value, not its own."""
    c = cluster()
    elect(c, 1)
    c.propose(1, b"a")
    c.process_ready(1, verbose=False)
    c.in_flight.clear()  # a reached no one else
    c.partition([[1], [2, 3]])
    c.lapse_leases()
    c.campaign(2, probe=False)
    settle(c, 2)
    c.deliver([3], verbose=False)
    settle(c, 3)
    c.deliver([2], verbose=False)
    settle(c, 2)  # 2 leads; its no-op at slot 2 is durable on 2 only
    assert c.px(2).role is Role.LEADER
    assert c.px(2).log.slice(2, 3)[0].kind is EntryKind.NOOP
    c.in_flight.clear()
    c.crash(3)
    c.crash(2)
    c.restart(2)  # 2 keeps its durable no-op, and is no leader any more
    c.tick(1, 2 * c.px(1).cfg.election_timeout_ticks)  # 1, cut off, steps down
    c.stabilize(verbose=False)
    c.heal()
    assert c.px(1).log.slice(2, 3)[0].data == b"a"
    elect(c, 1)
    entry = c.px(1).log.slice(2, 3)[0]
    assert entry.kind is EntryKind.NOOP and proposer_of(entry.term) == 2
    c.stabilize(verbose=False)
    assert b"a" not in values(c, 1) + values(c, 2)


def test_takeover_leaves_no_gaps_and_restamps_values_past_the_best_log() -> None:
    """design rules 3 and 5: slots past the best promise's last slot come from lower
    ballots, get the new ballot, and the new ballot's no-op closes the range."""
    c = cluster(5)
    elect(c, 1)
    c.propose(1, b"p")
    c.propose(1, b"q")
    c.process_ready(1, verbose=False)
    c.deliver([2], verbose=False)
    c.process_ready(2, verbose=False)  # 2 holds p, q (slots 2-3); 3-5 hold only slot 1
    c.in_flight.clear()
    c.crash(1)
    elect(c, 2)
    log = c.px(2).log
    kinds = [(e.index, e.kind, e.data) for e in log.slice(1, log.last_index + 1)]
    assert kinds == [
        (1, EntryKind.NOOP, b""),
        (2, EntryKind.NORMAL, b"p"),
        (3, EntryKind.NORMAL, b"q"),
        (4, EntryKind.NOOP, b""),
    ]
    assert log.last_ballot == c.px(2).ballot
    assert values(c, 3) == [b"p", b"q"]


# ---- durability contract (engine.py) ----


def test_promise_leaves_only_after_the_promised_ballot_is_persisted() -> None:
    c = cluster()
    c.campaign(1, probe=False)
    c.process_ready(1, verbose=False)
    c.deliver([2], verbose=False)
    rd = c.px(2).ready()
    assert rd.hard_state is not None and rd.hard_state.term == c.px(1).promised
    assert not [m for m in messages_of(rd) if isinstance(m, Promise)]
    c.nodes[2].disk.persist(rd)
    c.px(2).advance(rd)
    rd2 = c.px(2).ready()
    assert [m for m in messages_of(rd2) if isinstance(m, Promise) and m.granted]
    check_durability(c.nodes[2].disk, rd2)


def test_reply_before_persist_variant_breaks_the_contract_and_is_caught() -> None:
    c = cluster(faults=frozenset({"reply_before_persist"}))
    c.campaign(1, probe=False)
    c.process_ready(1, verbose=False)
    c.deliver([2], verbose=False)
    with pytest.raises(SafetyViolation, match="promise released before"):
        c.process_ready(2, verbose=False)


def test_acceptance_counts_only_after_persisting_and_survives_a_crash() -> None:
    c = cluster()
    elect(c, 1)
    c.propose(1, b"x")
    c.process_ready(1, verbose=False)
    c.deliver([2], verbose=False)
    rd = c.px(2).ready()
    assert rd.entries and not [m for m in messages_of(rd) if isinstance(m, Accepted)]
    c.nodes[2].disk.persist(rd)
    c.px(2).advance(rd)
    c.crash(2)
    c.restart(2)
    assert c.px(2).log.slice(2, 3)[0].data == b"x"


# ---- duelling proposers and stickiness (PMS §3 progress, PML §5, Chubby §2.12) ----


def test_duelling_proposers_resolve_to_one_leader() -> None:
    c = cluster()
    c.campaign(1, probe=False)
    c.campaign(2, probe=False)
    for _ in range(200):
        c.stabilize(verbose=False)
        if c.leader() is not None and all(c.px(n).leader == c.leader() for n in c.ids()):
            break
        for n in c.ids():
            c.tick(n)
    leader = c.leader()
    assert leader is not None
    assert {c.px(n).promised for n in c.ids()} == {c.px(leader).promised}


def test_pre_empted_proposer_backs_off_with_a_randomized_timeout() -> None:
    c = cluster()
    c.campaign(1, probe=False)
    c.campaign(2, probe=False)
    c.process_ready(1, verbose=False)
    c.process_ready(2, verbose=False)
    c.deliver([3], only="Prepare", verbose=False)  # 3 promises 1's ballot, then 2's higher
    c.stabilize(verbose=False)
    assert c.leader() == 2
    assert c.px(1).role is Role.FOLLOWER


def test_a_rejoining_node_does_not_disrupt_a_live_leader() -> None:
    c = cluster()
    elect(c, 1)
    ballot = c.px(1).promised
    c.partition([[1, 2], [3]])
    for _ in range(60):
        for n in c.ids():
            c.tick(n)
        c.stabilize(verbose=False)
    assert c.px(3).promised == ballot, "probing alone never raises a ballot"
    c.heal()
    for _ in range(30):
        for n in c.ids():
            c.tick(n)
        c.stabilize(verbose=False)
    assert c.leader() == 1 and c.px(1).promised == ballot
    assert c.px(3).leader == 1


def test_without_probing_a_rejoining_node_forces_a_new_ballot() -> None:
    """The contrast to the test above: the probe is what keeps the leader."""
    c = cluster(probe=False)
    elect(c, 1)
    ballot = c.px(1).promised
    c.partition([[1, 2], [3]])
    for _ in range(60):
        for n in c.ids():
            c.tick(n)
        c.stabilize(verbose=False)
    assert c.px(3).promised > ballot


def test_leader_without_a_majority_steps_down() -> None:
    c = cluster()
    elect(c, 1)
    c.partition([[1], [2, 3]])
    c.tick(1, c.px(1).cfg.election_timeout_ticks * 2)
    assert c.px(1).role is Role.FOLLOWER


def test_accept_lower_ballot_variant_lets_a_deposed_leader_choose_and_is_caught() -> None:
    c = cluster(faults=frozenset({"accept_lower_ballot"}), probe=False)
    elect(c, 1)
    c.propose(1, b"old")
    c.process_ready(1, verbose=False)
    stale = [m for m in c.in_flight if isinstance(m, Accept)]
    c.in_flight.clear()
    c.partition([[1], [2, 3]])
    elect(c, 2)
    c.propose(2, b"new")
    c.stabilize(verbose=False)
    c.heal()
    c.in_flight.extend(m for m in stale if m.dst == 3)
    # 3 accepts 1's stale ballot and answers with its (higher) chosen prefix: the harness
    # or 1's own invariants (a match past its last slot) stop the run
    with pytest.raises(AssertionError):
        c.stabilize(verbose=False)


# ---- pipelining and batching (PML §4) ----


def test_accepts_are_pipelined_and_batched() -> None:
    c = cluster(max_entries_per_accept=3)
    elect(c, 1)
    c.partition([[1, 2], [3]])
    for i in range(9):
        c.propose(1, b"v%d" % i)
    c.process_ready(1, verbose=False)
    to2 = [m for m in c.in_flight if isinstance(m, Accept) and m.dst == 2]
    # one Ready: 3 Accepts of 3 (the batch limit), all in flight before any answer
    assert [len(m.entries) for m in to2] == [3, 3, 3]
    c.stabilize(verbose=False)
    c.heal()
    sent: list[Accept] = []
    c.network = lambda m: sent.append(m) or m if isinstance(m, Accept) else m
    for _ in range(3):
        c.tick(1)
        c.stabilize(verbose=False)
    assert max(len(m.entries) for m in sent if m.dst == 3) == 3  # the lagging node: batches
    assert values(c, 3) == [b"v%d" % i for i in range(9)]


# ---- linearizable reads ----


def test_read_index_on_the_leader_needs_a_majority_round() -> None:
    c = cluster()
    elect(c, 1)
    c.propose(1, b"x")
    c.stabilize(verbose=False)
    c.partition([[1], [2, 3]])
    c.read_index(1, b"r1")
    c.stabilize(verbose=False)
    assert c.nodes[1].read_states == []
    c.heal()
    c.tick(1)
    c.stabilize(verbose=False)
    assert [(rs.index, rs.context) for rs in c.nodes[1].read_states] == [(2, b"r1")]


def test_read_index_from_a_follower_asks_the_leader() -> None:
    c = cluster()
    elect(c, 1)
    c.propose(1, b"x")
    c.stabilize(verbose=False)
    c.read_index(3, b"r2")
    c.stabilize(verbose=False)
    assert [(rs.index, rs.context) for rs in c.nodes[3].read_states] == [(2, b"r2")]


def test_read_waits_until_the_new_ballot_has_chosen_its_reproposals() -> None:
    c = cluster()
    c.campaign(1, probe=False)
    settle(c, 1)
    c.deliver([2], verbose=False)
    settle(c, 2)
    c.deliver([1], verbose=False)
    assert c.px(1).role is Role.LEADER and c.px(1).log.commit_index == 0
    c.read_index(1, b"r3")
    c.process_ready(1, verbose=False)
    assert not [m for m in c.in_flight if getattr(m, "context", 0)]
    c.stabilize(verbose=False)
    c.tick(1)
    c.stabilize(verbose=False)
    assert [rs.context for rs in c.nodes[1].read_states] == [b"r3"]


# ---- catch-up, snapshots, restart ----


def test_lagging_node_catches_up_by_resent_chosen_values() -> None:
    c = cluster()
    elect(c, 1)
    c.crash(3)
    for i in range(5):
        c.propose(1, b"v%d" % i)
    c.stabilize(verbose=False)
    c.restart(3)
    c.tick(1)
    c.stabilize(verbose=False)
    assert values(c, 3) == values(c, 1) and len(values(c, 1)) == 5


def test_lagging_node_catches_up_from_a_snapshot_when_slots_are_compacted() -> None:
    c = cluster()
    elect(c, 1)
    c.crash(3)
    for i in range(5):
        c.propose(1, b"v%d" % i)
    c.stabilize(verbose=False)
    c.compact(1, 5)
    c.restart(3)
    sent: list[object] = []
    c.network = lambda m: sent.append(m) or m
    for _ in range(3):
        c.tick(1)
        c.stabilize(verbose=False)
    assert any(isinstance(m, InstallSnapshot) and m.dst == 3 for m in sent)
    assert c.px(3).log.snapshot_index == 5 and c.px(3).log.commit_index == 6


def test_a_proposer_behind_a_compacted_promiser_takes_its_snapshot() -> None:
    c = cluster()
    elect(c, 1)
    c.crash(3)
    for i in range(4):
        c.propose(1, b"v%d" % i)
    c.stabilize(verbose=False)
    c.compact(2, 4)
    c.crash(1)
    c.restart(3)
    elect(c, 3)
    assert c.px(3).log.snapshot_index >= 4
    c.propose(3, b"after")
    c.stabilize(verbose=False)
    assert c.px(2).log.commit_index == c.px(3).log.commit_index


def test_restart_from_restored_keeps_promise_commit_and_slots() -> None:
    c = cluster()
    elect(c, 1)
    c.propose(1, b"x")
    c.stabilize(verbose=False)
    before = {n: c.px(n).status() for n in c.ids()}
    for n in c.ids():
        c.crash(n)
    for n in c.ids():
        c.restart(n)
    for n in c.ids():
        st = c.px(n).status()
        assert (st.term, st.commit, st.last_index) == (
            before[n].term,
            before[n].commit,
            before[n].last_index,
        )
    elect(c, 2)
    c.propose(2, b"y")
    c.stabilize(verbose=False)
    assert values(c, 1) == [b"x", b"y"]


def test_restored_gap_is_a_usage_error() -> None:
    c = cluster()
    elect(c, 1)
    c.propose(1, b"x")
    c.stabilize(verbose=False)
    disk = c.nodes[2].disk
    disk.entries = disk.entries[1:]
    with pytest.raises(UsageError, match="contiguous"):
        c.restart(2)


# ---- leadership transfer and API misuse ----


def test_transfer_makes_the_target_start_phase1_at_once() -> None:
    c = cluster()
    elect(c, 1)
    c.px(1).transfer_leadership(NodeId(3))
    c.process_ready(1, verbose=False)
    assert [m for m in c.in_flight if isinstance(m, TimeoutNow)]
    with pytest.raises(NotLeader):
        c.propose(1, b"held")
    c.stabilize(verbose=False)
    assert c.leader() == 3


def test_api_misuse_raises() -> None:
    c = cluster()
    with pytest.raises(NotLeader):
        c.propose(1, b"x")
    p = c.px(1)
    rd = p.ready() if p.has_ready() else None
    if rd is not None:
        with pytest.raises(UsageError):
            p.ready()
    with pytest.raises(UsageError, match="not a paxos message"):
        p.step(object())
    with pytest.raises(UsageError, match="stepped into"):
        p.step(Accepted(NodeId(2), NodeId(3), p.promised, True, LogIndex(0)))
    snap = Snapshot(SnapshotMeta(LogIndex(5), p.promised, ClusterConfig((NodeId(1),))), b"")
    with pytest.raises(UsageError, match="past applied"):
        p.compact(snap)
