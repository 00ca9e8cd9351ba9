"""Ballot numbers: a total order in which every proposer owns its own ballots.

Paxos Made Simple §2.2 asks that "different proposals have different numbers" and that
a proposer can always pick a higher one. A ballot is `round << 16 | node_id`: comparing
ballots compares rounds first, node ids break ties, and no two proposers ever pick the
same ballot (node ids are below 2**16). Ballots travel in the shared `Term` slots
(`HardState.term`, `Entry.term`, `Status.term`).
"""

from __future__ import annotations

from quorumd._types import NodeId, Term

NODE_BITS = 16
MAX_NODE_ID = (1 << NODE_BITS) - 1
ZERO = Term(0)


def make_ballot(round_: int, node: NodeId) -> Term:
    assert 0 <= node <= MAX_NODE_ID and round_ >= 0
    return Term(round_ << NODE_BITS | node)


def round_of(ballot: int) -> int:
    return ballot >> NODE_BITS


def proposer_of(ballot: int) -> NodeId:
    return NodeId(ballot & MAX_NODE_ID)


def next_ballot(seen: int, node: NodeId) -> Term:
    """The smallest ballot of `node` above every ballot seen so far."""
    return make_ballot(round_of(seen) + 1, node)


def fmt(ballot: int) -> str:
    """`round.node`, e.g. 3.2 (used by tests and traces)."""
    return f"{round_of(ballot)}.{proposer_of(ballot)}"
