"""Phase 1 (Prepare/Promise), run once for every open slot when a proposer takes over.

Paxos Made Simple §3: a new leader runs phase 1 "for infinitely many instances" with one
message, from its first unchosen slot on; acceptors answer with every value they accepted
there. The new leader re-proposes, for each slot, the value accepted in the highest
ballot, and opens its own ballot with a no-op.

Theory of operation (why the rules below are safe with a log-structured WAL):

1. A value keeps the ballot that first proposed it (`Entry.term`) when it is re-proposed,
   so a chosen slot has one identity on every node, as the WAL and the checker require.
2. An acceptor accepts slots in order and only after its previous slot matched the
   leader's (phase2.py). So once it holds a slot of ballot c at position j, its slots up to
   j are exactly leader c's: every one of them was (re)accepted in ballot c. The ballot
   in which an acceptor's slots were last accepted is therefore the ballot of its *last*
   slot (`Promise.last_ballot`), and that is what phase 1 compares.
3. "The highest-ballot accepted value for each slot" is then: the value of the promise
   with the highest (last_ballot, last_index) that holds the slot. Up to the end of the
   best promise that is the best promise's own value (ballot kept). Slots past it come
   from lower-ballot logs whose earlier slots differ from the best one, so they are
   re-proposed under the new ballot (restamped; none of them can have been chosen).
4. Re-proposed slots whose ballot is older are not yet durably "accepted in the new
   ballot" on an acceptor that has not reached a slot of the new ballot after them: the
   leader counts a slot as chosen only once a majority holds a new-ballot slot at or
   after it (phase2.maybe_commit; Raft §5.4.2 is the same rule). Hence the no-op.
5. Logs have no holes (rule 2 of log.py), so phase 1 never finds a gap to fill; the
   no-op only opens the ballot.
6. Before raising anyone's ballot a proposer probes (`Prepare.probe`): acceptors that
   still hear a live leader refuse, so a node returning from a partition cannot depose a
   healthy leader (the Raft thesis §9.6 pre-vote, Chubby's "master lease").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from quorumd._types import LogIndex, NodeId, Term
from quorumd.consensus.engine import Entry, EntryKind, Role
from quorumd.consensus.paxos import phase2
from quorumd.consensus.paxos.ballot import next_ballot
from quorumd.consensus.paxos.messages import Prepare, Promise
from quorumd.consensus.paxos.progress import AcceptorProgress

if TYPE_CHECKING:
    from quorumd.consensus.paxos.node import Paxos


def campaign(p: Paxos, *, probe: bool, transfer: bool = False) -> None:
    """Start phase 1 (or its probe) with a fresh ballot above every ballot seen.

    The proposer's own promise counts only once it is durable: it comes back as a
    self-addressed Promise released by `advance()`.
    """
    ballot = next_ballot(max(p.max_seen, p.promised), p.id)
    if not probe and p.probing and p.ballot > p.promised and p.ballot >= p.max_seen:
        ballot = p.ballot  # the probed ballot is still the highest seen: use it
    if not probe:
        p.promised = ballot
    p.max_seen = max(p.max_seen, ballot)
    p.role = Role.CANDIDATE
    p.leader = None
    p.ballot = ballot
    p.probing = probe
    p.promises = {}
    p.reset_election_timer()
    first = LogIndex(p.log.commit_index + 1)
    for voter in p.voters:
        if voter != p.id:
            p.send(Prepare(p.id, voter, ballot, first, probe, transfer))
    if probe:
        on_promise(p, Promise(p.id, p.id, ballot, granted=True, probe=True))
        return
    own = promise_for(p, p.id, ballot, first)
    assert own is not None, "a proposer always holds its own snapshot"
    p.send_after_persist(own)


def in_lease(p: Paxos) -> bool:
    """We heard from a live leader less than an election timeout ago (stickiness)."""
    return (
        p.cfg.check_quorum
        and p.leader is not None
        and p.election_elapsed < p.cfg.election_timeout_ticks
    )


def on_probe(p: Paxos, m: Prepare) -> None:
    """Would we promise m.ballot? Changes nothing here; a live leader means no."""
    if m.ballot > p.promised and not in_lease(p):
        p.send(Promise(p.id, m.src, m.ballot, granted=True, probe=True))
    elif m.ballot <= p.promised:
        p.send(Promise(p.id, m.src, p.promised, granted=False, probe=True))


def promise_for(p: Paxos, dst: NodeId, ballot: Term, first: LogIndex) -> Promise | None:
    """Phase 1b: every slot accepted from `first` on (with the snapshot covering any
    compacted ones), or None if they were compacted and the snapshot is not at hand."""
    log = p.log
    snapshot = None
    if first <= log.snapshot_index:
        if p.snapshot is None or p.snapshot.meta.index != log.snapshot_index:
            return None
        snapshot = p.snapshot
    lo = max(first, log.first_index)
    entries = tuple(log.slice(lo, log.last_index + 1)) if lo <= log.last_index else ()
    return Promise(
        p.id,
        dst,
        ballot,
        granted=True,
        commit=log.commit_index,
        last_index=log.last_index,
        last_ballot=log.last_ballot,
        entries=entries,
        snapshot=snapshot,
    )


def on_prepare(p: Paxos, m: Prepare) -> None:
    """Phase 1b for a ballot we promised (the caller raised `promised` to it)."""
    reply = promise_for(p, m.src, m.ballot, m.first_slot)
    if reply is not None:
        p.send_after_persist(reply)


def on_promise(p: Paxos, m: Promise) -> None:
    if (
        p.role is not Role.CANDIDATE
        or m.ballot != p.ballot
        or m.probe != p.probing
        or not m.granted
        or m.src not in p.voters
    ):
        return
    p.promises.setdefault(m.src, m)
    if len(p.promises) < p.quorum():
        return
    if p.probing:
        campaign(p, probe=False)
    else:
        become_leader(p)


def become_leader(p: Paxos) -> None:
    """A majority promised: adopt their accepted values, open the ballot, start phase 2."""
    assert p.role is Role.CANDIDATE and p.ballot == p.promised
    promises = [p.promises[n] for n in sorted(p.promises)]
    _install_newest_snapshot(p, promises)
    first = LogIndex(p.log.commit_index + 1)
    if "no_reproposal" in p.faults:
        p.log.truncate_after(first - 1)  # FAULT: forgets values a majority may have chosen
    else:
        _adopt(p, promises, first)
    p.log.append([Entry(p.ballot, LogIndex(p.log.last_index + 1), EntryKind.NOOP, b"")])
    p.role = Role.LEADER
    p.leader = p.id
    p.promises = {}
    p.transferee = None
    p.election_elapsed = 0
    p.heartbeat_elapsed = 0
    limit = p.cfg.max_inflight_accepts
    p.progress = {n: AcceptorProgress(first, limit) for n in (*p.voters, *p.learners)}
    own = p.progress[p.id]
    own.pipeline()
    own.match = p.log.stable_index
    phase2.bcast_accept(p)


def _install_newest_snapshot(p: Paxos, promises: list[Promise]) -> None:
    """A promiser compacted slots we have not learned: they are chosen; take its snapshot."""
    snaps = [m.snapshot for m in promises if m.snapshot is not None]
    if not snaps:
        return
    newest = max(snaps, key=lambda s: s.meta.index)
    if newest.meta.index > p.log.commit_index:
        p.log.restore(newest.meta.index, newest.meta.term)
        p.snapshot = p.pending_snapshot = newest


def _adopt(p: Paxos, promises: list[Promise], first: LogIndex) -> None:
    """Make our slots from `first` on the highest-ballot accepted values (rules 3-5)."""
    best = max(promises, key=lambda m: (m.last_ballot, m.last_index))
    kept = [e for e in best.entries if e.index >= first]
    cut = max(best.last_index, first - 1)
    last = max(m.last_index for m in promises)
    tail: list[Entry] = []
    for index in range(cut + 1, last + 1):
        holder = max(
            (m for m in promises if m.last_index >= index),
            key=lambda m: (m.last_ballot, m.last_index),
        )
        value = holder.entries[index - holder.entries[0].index]
        tail.append(Entry(p.ballot, LogIndex(index), value.kind, value.data))
    log = p.log
    for n, entry in enumerate(kept):
        if log.ballot(entry.index) != entry.term:
            log.truncate_after(entry.index - 1)
            log.append(kept[n:])
            break
    if log.last_index > cut:
        log.truncate_after(cut)
    log.append(tail)
