"""Random message schedules over three in-memory nodes (hypothesis).

The network may deliver any queued message next (reordering), drop it or duplicate it;
nodes tick, crash and restart, compact, take proposals and read requests in any order.
The harness checks after every input: election safety, log matching, leader
completeness, state machine safety, the durability contract and every node's
`check_invariants()`. Then the network heals and the cluster must converge (liveness).
"""

from __future__ import annotations

import contextlib
import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from raft_harness import Cluster

from quorumd.consensus.engine import Entry, HardState, ReadState, Ready, Role
from quorumd.consensus.paxos import messages as paxos_messages
from quorumd.consensus.raft import messages as raft_messages
from quorumd.errors import NotLeader

KINDS = (
    ["tick"] * 3
    + ["ready"] * 4
    + ["deliver"] * 6
    + ["flush"] * 2
    + ["drop", "dup", "propose", "propose", "read", "crash", "restart", "compact"]
)
OPS = st.lists(
    st.tuples(
        st.sampled_from(KINDS),
        st.integers(min_value=1, max_value=3),
        st.integers(min_value=0, max_value=1000),
    ),
    max_size=250,
)


def _apply(c: Cluster, op: str, node: int, arg: int) -> None:
    up = node not in c.down
    if op == "tick" and up:
        c.tick(node)
    elif op == "ready" and up:
        c.process_ready(node, verbose=False)
    elif op in ("deliver", "drop", "dup") and c.in_flight:
        m = c.in_flight.pop(arg % len(c.in_flight))
        if op == "dup":
            c.in_flight.append(m)
        if op != "drop" and m.dst not in c.down:
            c.raft(m.dst).step(m)
            c.check()
    elif op == "flush":
        for n in c.up():
            c.process_ready(n, verbose=False)
        c.deliver(verbose=False)
    elif op == "propose" and up:
        with contextlib.suppress(NotLeader):
            c.propose(node, b"v%d" % arg)
    elif op == "read" and up:
        c.read_index(node, b"r%d" % c.reads_issued)  # unique: an answer names its read
    elif op == "crash" and up and len(c.down) < 1:
        c.crash(node)
    elif op == "restart" and not up:
        c.restart(node)
    elif op == "compact" and up:
        r = c.raft(node)
        if r.log.applied > r.log.snapshot_index:
            c.compact(node, r.log.snapshot_index + 1 + arg % (r.log.applied - r.log.snapshot_index))


def _converge(c: Cluster) -> None:
    for node in sorted(c.down):
        c.restart(node)
    c.heal()
    for _ in range(300):
        for node in c.ids():
            c.tick(node)
        c.stabilize(verbose=False)
        leader = c.leader()
        if leader is not None and all(
            c.raft(n).leader == leader and c.raft(n).role is not Role.PRE_CANDIDATE for n in c.ids()
        ):
            break
    leader = c.leader()
    assert leader is not None, "no leader after healing"
    index = c.propose(leader, b"final")
    for _ in range(5):
        for node in c.ids():
            c.tick(node)
        c.stabilize(verbose=False)
    for node in c.ids():
        assert c.raft(node).status().applied >= index, f"node {node} did not catch up"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS, seed=st.integers(min_value=0, max_value=2**16), prevote=st.booleans())
def test_random_schedules_keep_raft_safe(
    ops: list[tuple[str, int, int]], seed: int, prevote: bool
) -> None:
    c = Cluster(seed=seed)
    c.add_nodes(3, election_timeout_ticks=3, pre_vote=prevote, max_inflight_appends=4)
    for op, node, arg in ops:
        _apply(c, op, node, arg)
    _converge(c)


@pytest.mark.pure_python
def test_messages_and_ready_records_are_read_only() -> None:
    """A message in flight is shared by sender, network and receiver: no one may change
    it. The hot records are not `frozen` (too slow) but every field is `Final`, which
    mypy --strict enforces; this checks no field lost its `Final`."""
    records: list[type] = [Entry, HardState, ReadState, Ready]
    records += [*raft_messages.MESSAGE_TYPES, *paxos_messages.MESSAGE_TYPES]
    for cls in records:
        fields = dataclasses.fields(cls)
        assert fields, cls
        for f in fields:
            assert isinstance(f.type, str) and f.type.startswith("Final["), (cls, f.name)
    c = Cluster()
    c.add_nodes(3)
    c.campaign(1)
    c.process_ready(1, verbose=False)
    assert type(c.in_flight[0]) in raft_messages.MESSAGE_TYPES
