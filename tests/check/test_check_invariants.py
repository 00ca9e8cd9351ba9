"""The Raft invariant checker catches each kind of violation, and accepts legal runs."""

from __future__ import annotations

import pytest

from quorumd._types import LogIndex, NodeId, Term
from quorumd.check.invariants import InvariantChecker, InvariantViolation
from quorumd.consensus.engine import (
    ClusterConfig,
    Entry,
    EntryKind,
    HardState,
    Restored,
    Role,
    Status,
)

N1, N2, N3 = NodeId(1), NodeId(2), NodeId(3)
CONFIG = ClusterConfig((N1, N2, N3))


def e(index: int, term: int, data: bytes = b"") -> Entry:
    return Entry(Term(term), LogIndex(index), EntryKind.NORMAL, data or f"{index}@{term}".encode())


def status(node: NodeId, role: Role, term: int, commit: int, last: int) -> Status:
    leader = node if role is Role.LEADER else None
    return Status(
        node, role, Term(term), leader, LogIndex(commit), LogIndex(0), LogIndex(last), CONFIG
    )


def test_a_legal_sequence_passes() -> None:
    c = InvariantChecker()
    log = (e(1, 1), e(2, 1))
    for n in (N1, N2, N3):
        c.on_persist(n, log)
    c.on_status(N1, status(N1, Role.LEADER, 1, 2, 2))
    c.on_status(N2, status(N2, Role.FOLLOWER, 1, 2, 2))
    for n in (N1, N2):
        for entry in log:
            c.on_apply(n, entry)
    c.on_persist(N2, (e(3, 2),))
    c.on_status(N2, status(N2, Role.LEADER, 2, 2, 3))


def test_two_leaders_in_one_term() -> None:
    c = InvariantChecker()
    c.on_status(N1, status(N1, Role.LEADER, 3, 0, 0))
    with pytest.raises(InvariantViolation, match="Election Safety"):
        c.on_status(N2, status(N2, Role.LEADER, 3, 0, 0))


def test_log_matching_same_index_and_term_different_prefix() -> None:
    c = InvariantChecker()
    c.on_persist(N1, (e(1, 1, b"a"), e(2, 2)))
    with pytest.raises(InvariantViolation, match="Log Matching"):
        c.on_persist(N2, (e(1, 1, b"b"), e(2, 2)))


def test_state_machine_safety_different_entries_at_one_index() -> None:
    c = InvariantChecker()
    c.on_apply(N1, e(1, 1, b"a"))
    with pytest.raises(InvariantViolation, match="State Machine Safety"):
        c.on_apply(N2, e(1, 1, b"b"))


def test_apply_out_of_order() -> None:
    c = InvariantChecker()
    with pytest.raises(InvariantViolation, match="out of order"):
        c.on_apply(N1, e(2, 1))


def test_leader_completeness_new_leader_lacks_a_committed_entry() -> None:
    c = InvariantChecker()
    c.on_persist(N1, (e(1, 1), e(2, 1)))
    c.on_status(N1, status(N1, Role.LEADER, 1, 2, 2))  # commits 1..2 in term 1
    c.on_persist(N3, (e(1, 1),))
    with pytest.raises(InvariantViolation, match="Leader Completeness"):
        c.on_status(N3, status(N3, Role.LEADER, 2, 0, 1))


def test_committed_prefix_overwritten() -> None:
    c = InvariantChecker()
    c.on_persist(N1, (e(1, 1), e(2, 1)))
    c.on_status(N1, status(N1, Role.FOLLOWER, 1, 2, 2))
    c.on_persist(N2, (e(1, 1), e(2, 3)))
    with pytest.raises(InvariantViolation, match="Committed Prefix Stable"):
        c.on_status(N2, status(N2, Role.FOLLOWER, 3, 2, 2))


def test_commit_decreasing_while_running() -> None:
    c = InvariantChecker()
    c.on_persist(N1, (e(1, 1), e(2, 1)))
    c.on_status(N1, status(N1, Role.FOLLOWER, 1, 2, 2))
    with pytest.raises(InvariantViolation, match="Commit Monotonic"):
        c.on_status(N1, status(N1, Role.FOLLOWER, 1, 1, 2))


def test_commit_may_restart_at_the_persisted_value() -> None:
    c = InvariantChecker()
    c.on_persist(N1, (e(1, 1), e(2, 1)))
    c.on_hard_state(N1, HardState(Term(1), None, LogIndex(1)))
    c.on_sync(N1)
    c.on_status(N1, status(N1, Role.FOLLOWER, 1, 2, 2))
    restored = Restored(HardState(Term(1), None, LogIndex(1)), None, (e(1, 1), e(2, 1)))
    c.on_restart(N1, restored)
    c.on_status(N1, status(N1, Role.FOLLOWER, 1, 1, 2))  # back to the persisted value: fine
    with pytest.raises(InvariantViolation, match="Commit Monotonic"):
        c.on_status(N1, status(N1, Role.FOLLOWER, 1, 0, 2))


def test_restart_with_other_than_the_synced_state() -> None:
    c = InvariantChecker()
    c.on_hard_state(N1, HardState(Term(2), N2, LogIndex(0)))
    c.on_sync(N1)
    with pytest.raises(InvariantViolation, match="Durability"):
        c.on_restart(N1, Restored(HardState(Term(1), None, LogIndex(0)), None, ()))


def test_two_votes_in_one_term() -> None:
    c = InvariantChecker()
    c.on_hard_state(N1, HardState(Term(2), N2, LogIndex(0)))
    with pytest.raises(InvariantViolation, match="Vote Stability"):
        c.on_hard_state(N1, HardState(Term(2), N3, LogIndex(0)))


def test_commit_beyond_the_log() -> None:
    c = InvariantChecker()
    c.on_persist(N1, (e(1, 1),))
    with pytest.raises(InvariantViolation, match="Commit Beyond Log"):
        c.on_status(N1, status(N1, Role.FOLLOWER, 1, 2, 1))


def test_leader_commits_an_old_term_entry_by_counting() -> None:
    c = InvariantChecker()
    c.on_persist(N1, (e(1, 1), e(2, 1), e(3, 2)))
    c.on_status(N1, status(N1, Role.FOLLOWER, 2, 1, 3))
    c.on_status(N1, status(N1, Role.LEADER, 3, 1, 3))
    with pytest.raises(InvariantViolation, match="Leader Commit Rule"):
        c.on_status(N1, status(N1, Role.LEADER, 3, 2, 3))


def test_leader_commits_its_own_term_entry() -> None:
    c = InvariantChecker()
    c.on_persist(N1, (e(1, 1), e(2, 1)))
    c.on_status(N1, status(N1, Role.FOLLOWER, 1, 1, 2))
    c.on_status(N1, status(N1, Role.LEADER, 2, 1, 2))
    c.on_persist(N1, (e(3, 2),))
    c.on_status(N1, status(N1, Role.LEADER, 2, 3, 3))
