"""Leader election: campaigns, (pre-)vote requests and responses (Raft §5.2, §5.4.1,
thesis §9.6 pre-vote, §4.2.3 leader stickiness, §3.10 leadership transfer)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from quorumd._types import NodeId, Term
from quorumd.consensus.engine import Role
from quorumd.consensus.raft.messages import RequestVote, RequestVoteResponse

if TYPE_CHECKING:
    from quorumd.consensus.raft.node import Raft


def campaign(r: Raft, *, pre_vote: bool, transfer: bool = False) -> None:
    """Start a (pre-)election.

    A pre-candidate asks "would you vote for me in term+1?" without touching its own term
    (§9.6), so a node cut off from the cluster never inflates terms and cannot depose a
    healthy leader when it returns. A real candidate's own vote counts only once it is
    durable: it reaches us as a self-addressed response released by `advance()`.
    """
    if pre_vote:
        r.role = Role.PRE_CANDIDATE
        r.leader = None
        r.votes = {}
        term = Term(r.term + 1)
    else:
        r.become_candidate()
        term = r.term
    r.reset_election_timer()
    for voter in r.voters:
        if voter == r.id:
            continue
        r.send(
            RequestVote(r.id, voter, term, r.log.last_index, r.log.last_term, pre_vote, transfer)
        )
    self_vote = RequestVoteResponse(r.id, r.id, term, granted=True, pre_vote=pre_vote)
    if pre_vote:
        on_vote_response(r, self_vote)
    else:
        r.send_after_persist(self_vote)


def in_lease(r: Raft) -> bool:
    """§4.2.3: we heard from a live leader less than an election timeout ago."""
    return (
        r.cfg.check_quorum
        and r.leader is not None
        and r.election_elapsed < r.cfg.election_timeout_ticks
    )


def on_request_vote(r: Raft, m: RequestVote) -> None:
    """Grant at most one vote per term (§5.2), only to an up-to-date log (§5.4.1).

    Called after the term rule in `Raft.step`, so a real request has m.term == r.term
    here. A pre-vote is granted to any up-to-date log proposing a higher term: it
    changes nothing on this node.
    """
    if m.pre_vote:
        can_vote = m.term > r.term
    else:
        can_vote = m.term == r.term and (r.vote == m.src or (r.vote is None and r.leader is None))
        if "double_vote" in r.faults and m.term == r.term:
            can_vote = True  # FAULT: forgets it already voted for another this term
    log_ok = r.log.is_up_to_date(m.last_index, m.last_term)
    if "skip_log_check" in r.faults:
        log_ok = True  # FAULT: may elect a leader missing committed entries
    if can_vote and log_ok:
        if not m.pre_vote:
            r.vote = m.src
            r.reset_election_timer()
        r.send_after_persist(RequestVoteResponse(r.id, m.src, m.term, True, m.pre_vote))
    else:
        r.send_after_persist(RequestVoteResponse(r.id, m.src, r.term, False, m.pre_vote))


def on_vote_response(r: Raft, m: RequestVoteResponse) -> None:
    if m.pre_vote:
        if r.role is not Role.PRE_CANDIDATE:
            return
        expected = Term(r.term + 1) if m.granted else r.term
    else:
        if r.role is not Role.CANDIDATE:
            return
        expected = r.term
    if m.term != expected or m.src not in r.voters:
        return
    r.votes.setdefault(m.src, m.granted)
    granted = sum(1 for v in r.votes.values() if v)
    rejected = len(r.votes) - granted
    if granted >= r.quorum():
        if m.pre_vote:
            campaign(r, pre_vote=False)
        else:
            r.become_leader()
    elif rejected >= r.quorum():
        r.become_follower(r.term, None)


def can_campaign(r: Raft) -> bool:
    return r.id in r.voters


def start_election(r: Raft) -> None:
    """The election timer fired on a follower or (pre-)candidate."""
    if can_campaign(r) and r.role is not Role.LEADER:
        campaign(r, pre_vote=r.cfg.pre_vote)


def on_timeout_now(r: Raft, sender: NodeId) -> None:
    """§3.10: the leader handed us leadership; campaign at once, past leases and pre-vote."""
    if can_campaign(r) and r.role is not Role.LEADER and sender == r.leader:
        campaign(r, pre_vote=False, transfer=True)
