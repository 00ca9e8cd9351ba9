"""Phase 2 (Accept/Accepted), learning, and catch-up, both sides.

Leader side: `send_accept` feeds one acceptor a batch of consecutive slots (pipelined,
see progress.py); `maybe_commit` declares slots chosen once a majority accepted them in
the leader's ballot (Paxos Made Simple §3, with phase1.py rule 4). The chosen prefix
rides on every Accept and Heartbeat, so every node learns it (§3 "learning").

Acceptor side: `on_accept` accepts a batch only when its previous slot matches the
leader's (slots stay contiguous, log.py rule 2) and acknowledges only after the runtime
persisted it (`Paxos.send_after_persist`). A node too far behind for the leader's
compacted slots gets the snapshot instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from quorumd._types import LogIndex, NodeId
from quorumd.consensus.paxos.messages import (
    Accept,
    Accepted,
    Heartbeat,
    HeartbeatAck,
    InstallSnapshot,
    SnapshotAck,
    TimeoutNow,
)
from quorumd.consensus.paxos.progress import Mode

if TYPE_CHECKING:
    from quorumd.consensus.paxos.node import Paxos


# ---- leader side ----


def send_accept(p: Paxos, peer: NodeId, *, send_empty: bool = True) -> bool:
    """Send `peer` the slots it lacks (a snapshot if they were compacted); False if
    nothing went out (paused, window full, or nothing new and not send_empty)."""
    pr = p.progress[peer]
    if pr.is_paused():
        return False
    prev_index = LogIndex(pr.next - 1)
    prev_ballot = p.log.ballot(prev_index)
    if prev_ballot is None:
        return send_snapshot(p, peer)
    entries = []
    if pr.next <= p.log.last_index:
        hi = min(p.log.last_index + 1, pr.next + p.cfg.max_entries_per_accept)
        entries = p.log.slice(pr.next, hi, p.cfg.max_bytes_per_accept)
    if not entries and not send_empty:
        return False
    commit = p.log.commit_index
    p.send(Accept(p.id, peer, p.ballot, prev_index, prev_ballot, tuple(entries), commit))
    pr.sent(LogIndex(prev_index + len(entries)), len(entries))
    return True


def send_snapshot(p: Paxos, peer: NodeId) -> bool:
    if p.snapshot is None:
        return False
    p.send(InstallSnapshot(p.id, peer, p.ballot, p.snapshot))
    p.progress[peer].snapshot_sent(p.snapshot.meta.index)
    return True


def bcast_accept(p: Paxos) -> None:
    """Each acceptor gets what it lacks, as far as its window allows (proposals are
    broadcast once per Ready, so there may be more than one Accept's worth)."""
    for peer in p.peers:
        if send_accept(p, peer):
            while send_accept(p, peer, send_empty=False):
                pass


def bcast_heartbeat(p: Paxos, context: int = 0) -> None:
    for peer in p.peers:
        commit = LogIndex(min(p.progress[peer].match, p.log.commit_index))
        p.send(Heartbeat(p.id, peer, p.ballot, commit, context))


def maybe_commit(p: Paxos) -> bool:
    """Choose the highest slot a majority accepted, if it belongs to our ballot."""
    matches = sorted((p.progress[v].match for v in p.voters), reverse=True)
    index = matches[p.quorum() - 1]
    if index <= p.log.commit_index or p.log.ballot(index) != p.ballot:
        return False
    p.log.commit_index = index
    p.on_commit_advanced()
    return True


def on_accepted(p: Paxos, m: Accepted) -> None:
    pr = p.progress.get(m.src)
    if pr is None:
        return
    pr.recent_active = True
    if not m.success:
        if pr.refused(m.index, m.hint):
            send_accept(p, m.src)
        return
    on_caught_up(p, m.src, m.index)


def on_caught_up(p: Paxos, peer: NodeId, index: LogIndex) -> None:
    """`peer` holds our slots up to `index`, durably."""
    pr = p.progress[peer]
    probe_answered = pr.mode is Mode.PROBING and index >= pr.match
    snapshot_done = pr.mode is Mode.SNAPSHOT and (
        index >= pr.pending_snapshot or index + 1 >= p.log.first_index
    )
    updated = pr.accepted(index)
    if probe_answered or snapshot_done:
        pr.pipeline()
    if updated:
        maybe_commit(p)
        if peer == p.transferee and pr.match == p.log.last_index:
            p.send(TimeoutNow(p.id, peer, p.ballot))
    while send_accept(p, peer, send_empty=False):
        pass


def on_snapshot_ack(p: Paxos, m: SnapshotAck) -> None:
    if m.src in p.progress:
        p.progress[m.src].recent_active = True
        on_caught_up(p, m.src, m.index)


def on_heartbeat_ack(p: Paxos, m: HeartbeatAck) -> None:
    pr = p.progress.get(m.src)
    if pr is None:
        return
    pr.recent_active = True
    pr.paused = False
    if pr.mode is Mode.PIPELINING and len(pr.inflight) >= pr.max_inflight:
        pr.inflight.popleft()  # the window may be full of lost Accepts: let one more out
    if pr.match < p.log.last_index:
        send_accept(p, m.src)
    if m.context:
        p.on_read_ack(m.context, m.src)


# ---- acceptor side ----


def on_accept(p: Paxos, m: Accept) -> None:
    """Phase 2b: accept the batch if our slot prev_index matches the leader's."""
    log = p.log
    if m.prev_index < log.commit_index:
        # our chosen prefix is the leader's: we match it at least that far
        p.send_after_persist(Accepted(p.id, m.src, m.ballot, True, log.commit_index))
        return
    if log.ballot(m.prev_index) == m.prev_ballot:
        last_new = log.merge(m.prev_index, m.entries)
        learn_commit(p, LogIndex(min(m.commit, last_new)))
        p.send_after_persist(Accepted(p.id, m.src, m.ballot, True, last_new))
        return
    if m.prev_index > log.last_index:
        hint = LogIndex(log.last_index + 1)
    else:
        hint = LogIndex(max(log.run_start(m.prev_index), log.commit_index + 1))
    p.send_after_persist(Accepted(p.id, m.src, m.ballot, False, m.prev_index, hint))


def learn_commit(p: Paxos, index: LogIndex) -> None:
    if index > p.log.commit_index:
        p.log.commit_index = LogIndex(min(index, p.log.last_index))


def on_heartbeat(p: Paxos, m: Heartbeat) -> None:
    learn_commit(p, m.commit)
    p.send_after_persist(HeartbeatAck(p.id, m.src, m.ballot, m.context))


def on_install_snapshot(p: Paxos, m: InstallSnapshot) -> None:
    """Keep our slots if they already contain the snapshot's last one, else reset to it."""
    meta = m.snapshot.meta
    if meta.index <= p.log.commit_index:
        p.send_after_persist(SnapshotAck(p.id, m.src, m.ballot, p.log.commit_index))
        return
    if p.log.ballot(meta.index) == meta.term:
        learn_commit(p, meta.index)
    else:
        p.log.restore(meta.index, meta.term)
        p.pending_snapshot = p.snapshot = m.snapshot
    p.send_after_persist(SnapshotAck(p.id, m.src, m.ballot, meta.index))
