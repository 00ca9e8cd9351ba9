"""Log replication, both sides (Raft §5.3, §5.4.2, §7; thesis §10.2 pipelining).

Leader side: `send_append` feeds one follower according to its `Progress` state;
responses move that state and `maybe_commit` advances the commit index by counting
replicas of a *current-term* entry only (§5.4.2, the figure-8 rule).

Follower side: `on_append_entries` runs the consistency check on (prev_index, prev_term),
merges, and acknowledges only after the runtime persisted (see `Raft.send_after_persist`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from quorumd._types import LogIndex, NodeId
from quorumd.consensus.raft.messages import (
    AppendEntries,
    AppendEntriesResponse,
    Heartbeat,
    HeartbeatResponse,
    InstallSnapshot,
    InstallSnapshotResponse,
    TimeoutNow,
)
from quorumd.consensus.raft.progress import ProgressState

if TYPE_CHECKING:
    from quorumd.consensus.raft.node import Raft


# ---- leader side ----


def send_append(r: Raft, peer: NodeId, *, send_empty: bool = True) -> bool:
    """Send `peer` the entries it lacks, a snapshot if they were compacted; False if
    nothing was sent (paused, window full, or nothing new and not send_empty)."""
    pr = r.progress[peer]
    if not send_empty and pr.next == r.log.last_index + 1:
        return False  # nothing new: the usual end of the loops below, decided cheaply
    if pr.is_paused():
        return False
    prev_index = LogIndex(pr.next - 1)
    prev_term = r.log.term(prev_index)
    if prev_term is None:
        return send_snapshot(r, peer)
    entries = []
    if pr.next <= r.log.last_index:
        hi = min(r.log.last_index + 1, pr.next + r.cfg.max_entries_per_append)
        entries = r.log.slice(pr.next, hi, r.cfg.max_bytes_per_append)
    if not entries and not send_empty:
        return False
    ack = bool(entries) or pr.state is not ProgressState.REPLICATE or prev_index != pr.match
    r.send(
        AppendEntries(
            r.id, peer, r.term, prev_index, prev_term, tuple(entries), r.log.commit_index, ack
        )
    )
    pr.sent(LogIndex(prev_index + len(entries)), len(entries))
    return True


def send_snapshot(r: Raft, peer: NodeId) -> bool:
    """§7: the follower needs entries we compacted; send the snapshot that covers them."""
    if r.snapshot is None:
        return False
    r.send(InstallSnapshot(r.id, peer, r.term, r.snapshot))
    r.progress[peer].become_snapshot(r.snapshot.meta.index)
    return True


def bcast_append(r: Raft) -> None:
    """Each follower gets what it lacks, as far as its window allows (proposals are
    broadcast once per Ready, so there may be more than one AppendEntries' worth)."""
    for peer in r.peers:
        if send_append(r, peer):
            while send_append(r, peer, send_empty=False):
                pass


def bcast_heartbeat(r: Raft, context: int = 0) -> None:
    for peer in r.peers:
        pr = r.progress[peer]
        commit = LogIndex(min(pr.match, r.log.commit_index))
        r.send(Heartbeat(r.id, peer, r.term, commit, context))


def maybe_commit(r: Raft) -> bool:
    """Commit the highest index a quorum of voters hold, if it is of the current term.

    §5.4.2: an older-term entry is never committed by counting replicas (figure 8); it
    becomes committed when a current-term entry after it is.
    """
    matches = sorted((r.progress[v].match for v in r.voters), reverse=True)
    index = matches[r.quorum() - 1]
    if index <= r.log.commit_index:
        return False
    current_term = r.log.term(index) == r.term
    if "commit_old_term" in r.faults:
        current_term = True  # FAULT: figure 8, a replicated old-term entry may be overwritten
    if not current_term:
        return False
    r.log.commit_index = index
    r.on_commit_advanced()
    return True


def on_append_response(r: Raft, m: AppendEntriesResponse) -> None:
    pr = r.progress.get(m.src)
    if pr is None:
        return
    pr.recent_active = True
    if not m.success:
        next_index = m.conflict_index
        if m.conflict_term is not None:
            last_of_term = r.log.last_index_of_term(m.conflict_term)
            if last_of_term is not None:
                next_index = LogIndex(last_of_term + 1)
        if pr.maybe_decrease(m.index, LogIndex(max(1, next_index))):
            send_append(r, m.src)
        return
    on_acked(r, m.src, m.index)


def on_acked(r: Raft, peer: NodeId, index: LogIndex) -> None:
    """`peer`'s log matches ours up to `index`."""
    pr = r.progress[peer]
    probe_answered = pr.state is ProgressState.PROBE and index >= pr.match
    updated = pr.maybe_update(index)
    if probe_answered or _snapshot_done(r, peer):
        # the probe found where the logs match: start pipelining (etcd does the same)
        pr.become_replicate()
    if updated:
        maybe_commit(r)
        if peer == r.transferee and pr.match == r.log.last_index:
            r.send(TimeoutNow(r.id, peer, r.term))
    while send_append(r, peer, send_empty=False):
        pass


def _snapshot_done(r: Raft, peer: NodeId) -> bool:
    """A follower in SNAPSHOT can take entries again: it has the snapshot, or it turned
    out to match far enough that our log still holds its next entry."""
    pr = r.progress[peer]
    return pr.state is ProgressState.SNAPSHOT and (
        pr.match >= pr.pending_snapshot or pr.match + 1 >= r.log.first_index
    )


def on_snapshot_response(r: Raft, m: InstallSnapshotResponse) -> None:
    if m.src in r.progress:
        r.progress[m.src].recent_active = True
        on_acked(r, m.src, m.index)


def on_heartbeat_response(r: Raft, m: HeartbeatResponse) -> None:
    pr = r.progress.get(m.src)
    if pr is None:
        return
    pr.recent_active = True
    pr.paused = False
    if pr.state is ProgressState.REPLICATE and len(pr.inflight) >= pr.max_inflight:
        pr.inflight.popleft()  # the window may be full of lost requests: let one more out
    if pr.match < r.log.last_index:
        send_append(r, m.src)
    if m.context:
        r.on_read_ack(m.context, m.src)


# ---- follower side ----


def on_append_entries(r: Raft, m: AppendEntries) -> None:
    """§5.3 consistency check, merge, commit = min(leader commit, last new entry)."""
    log = r.log
    if m.prev_index < log.commit_index:
        # everything up to our commit index matches the leader already
        if m.ack:
            r.send_after_persist(
                AppendEntriesResponse(r.id, m.src, r.term, True, log.commit_index)
            )
        return
    if log.matches(m.prev_index, m.prev_term):
        last_new = log.merge(m.prev_index, m.entries)
        commit_to(r, LogIndex(min(m.commit, last_new)))
        if m.ack:
            r.send_after_persist(AppendEntriesResponse(r.id, m.src, r.term, True, last_new))
        return
    if m.prev_index > log.last_index:
        hint = AppendEntriesResponse(
            r.id, m.src, r.term, False, m.prev_index, None, LogIndex(log.last_index + 1)
        )
    else:
        term = log.term(m.prev_index)
        assert term is not None  # prev_index >= commit >= snapshot index
        first = log.first_index_of_term(m.prev_index)
        hint = AppendEntriesResponse(
            r.id,
            m.src,
            r.term,
            False,
            m.prev_index,
            term,
            LogIndex(max(first, log.commit_index + 1)),
        )
    r.send_after_persist(hint)


def commit_to(r: Raft, index: LogIndex) -> None:
    if index > r.log.commit_index:
        r.log.commit_index = LogIndex(min(index, r.log.last_index))


def on_heartbeat(r: Raft, m: Heartbeat) -> None:
    commit_to(r, m.commit)
    r.send_after_persist(HeartbeatResponse(r.id, m.src, r.term, m.context))


def on_install_snapshot(r: Raft, m: InstallSnapshot) -> None:
    """§7: keep our log if it already contains the snapshot's last entry, else reset to it."""
    meta = m.snapshot.meta
    if meta.index <= r.log.commit_index:
        r.send_after_persist(InstallSnapshotResponse(r.id, m.src, r.term, r.log.commit_index))
        return
    if r.log.matches(meta.index, meta.term):
        commit_to(r, meta.index)
    else:
        r.log.restore(meta.index, meta.term)
        r.pending_snapshot = m.snapshot
        r.snapshot = m.snapshot
    r.send_after_persist(InstallSnapshotResponse(r.id, m.src, r.term, meta.index))
