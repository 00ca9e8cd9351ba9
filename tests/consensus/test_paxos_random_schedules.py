"""Random message schedules over three in-memory Multi-Paxos nodes (hypothesis).

The network may deliver any queued message next (reordering), drop it or duplicate it;
nodes tick, crash and restart, compact, take proposals and read requests in any order.
After every input the harness checks agreement (one value per slot, every later leader
holds it), slot matching, applied prefixes, the durability contract, stale reads and
every node's `check_invariants()`. Then the network heals and the cluster must converge.
"""

from __future__ import annotations

import contextlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paxos_harness import Cluster

from quorumd.consensus.engine import Role
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
    min_size=40,
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
            c.px(m.dst).step(m)
            c.check()
    elif op == "flush":
        for n in c.up():
            c.process_ready(n, verbose=False)
        c.deliver(verbose=False)
    elif op == "propose" and up:
        with contextlib.suppress(NotLeader):
            c.propose(node, b"v%d" % arg)
    elif op == "read" and up:
        c.read_index(node, b"r%d" % c.reads_issued)
    elif op == "crash" and up and not c.down:
        c.crash(node)
    elif op == "restart" and not up:
        c.restart(node)
    elif op == "compact" and up:
        log = c.px(node).log
        if log.applied > log.snapshot_index:
            c.compact(node, log.snapshot_index + 1 + arg % (log.applied - log.snapshot_index))


def _converge(c: Cluster) -> None:
    for node in sorted(c.down):
        c.restart(node)
    c.heal()
    for _ in range(300):
        for node in c.ids():
            c.tick(node)
        c.stabilize(verbose=False)
        leader = c.leader()
        if leader is not None and all(c.px(n).leader == leader for n in c.ids()):
            break
    leader = c.leader()
    assert leader is not None, "no leader after healing"
    index = c.propose(leader, b"final")
    for _ in range(5):
        for node in c.ids():
            c.tick(node)
        c.stabilize(verbose=False)
    assert c.px(leader).role is Role.LEADER
    for node in c.ids():
        assert c.px(node).status().applied >= index, f"node {node} did not catch up"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ops=OPS,
    seed=st.integers(min_value=0, max_value=2**16),
    probe=st.booleans(),
    elected=st.booleans(),
)
def test_random_schedules_keep_paxos_safe_and_converge(
    ops: list[tuple[str, int, int]], seed: int, probe: bool, elected: bool
) -> None:
    c = Cluster(seed=seed)
    c.add_nodes(3, election_timeout_ticks=3, probe=probe, max_inflight_accepts=4)
    if elected:  # half the runs start from a leader, so phase 2 gets most of the schedule
        c.campaign(1)
        c.stabilize(verbose=False)
    for op, node, arg in ops:
        _apply(c, op, node, arg)
    _converge(c)
