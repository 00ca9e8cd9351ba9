"""Raft's safety properties (Raft paper Figure 3), checked as a cluster runs.

The simulator reports what each node hands to storage, applies and says about itself;
`InvariantChecker` raises `InvariantViolation` the moment a property breaks:

1. Election Safety: at most one leader per term, over the whole run (§5.2).
2. Log Matching: two logs with an entry of the same index and term agree on every
   entry up to it (§5.3).
3. Leader Completeness: an entry committed in term t is in the log of every leader of
   a term after t (§5.4).
4. State Machine Safety: no two nodes apply different entries at one index, and a node
   applies indices in order (§5.4.3). A node rebuilt after a crash re-applies the same
   entries: an applied entry never changes.
5. Commit never decreases while a node runs. The commit index is volatile in the paper
   (Figure 2), persisted lazily here in HardState, so after a crash it restarts at the
   persisted value, which may be lower than before: safe, because those entries stay
   committed cluster-wide and the leader re-teaches the rest. What must hold is that
   the *persisted* commit never decreases, and that a running node never goes below it.
6. A committed prefix never changes: whenever a node reports commit index c, its log up
   to c is the one every other node committed.
7. Durable term never decreases, and a node never records two different votes in one
   term (what makes a vote a promise, §5.2).
8. Leader Commit Rule (§5.4.2): a leader advances its commit index only to an entry of
   its own term (older entries become committed under it). Breaking this is harmless in
   most schedules and fatal in figure 8's, so it is checked directly.

How it stays cheap: each log position gets a *chain id*, interned from (previous chain
id, term, kind, data). Equal chain ids at an index mean equal logs up to it, so a
prefix comparison is one integer comparison, and Log Matching is a dict lookup on
(index, term) per appended entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from quorumd._types import LogIndex, NodeId
from quorumd.consensus.engine import Entry, HardState, Restored, Role, SnapshotMeta, Status


class InvariantViolation(AssertionError):
    """A safety property broke; `invariant` names which (for reports and exit codes)."""

    def __init__(self, invariant: str, detail: str) -> None:
        super().__init__(f"{invariant}: {detail}")
        self.invariant = invariant
        self.detail = detail


@dataclass(slots=True)
class _NodeView:
    base: int = 0  # snapshot index: the log starts after it
    base_chain: int = 0
    chain: list[int] = field(default_factory=list)  # chain id of index base+1+k
    terms: list[int] = field(default_factory=list)
    applied: int = 0
    commit: int = 0
    term: int = 0
    leader_term: int | None = None  # term in which it was last seen leading
    hard_state: HardState | None = None  # last handed to storage
    durable: HardState | None = None

    def chain_at(self, index: int) -> int | None:
        if index == self.base:
            return self.base_chain
        k = index - self.base - 1
        if 0 <= k < len(self.chain):
            return self.chain[k]
        return None

    @property
    def last_index(self) -> int:
        return self.base + len(self.chain)


class InvariantChecker:
    def __init__(self) -> None:
        self._views: dict[NodeId, _NodeView] = {}
        self._chain_ids: dict[tuple[int, int, int, bytes], int] = {}
        self._by_index_term: dict[tuple[int, int], int] = {}
        self.committed: list[int] = [0]  # chain id of each committed index (0: empty log)
        self._commit_term: list[int] = [0]  # term in which each index was seen committed
        self.leaders: dict[int, NodeId] = {}  # term -> leader
        self._applied: dict[int, tuple[int, int, bytes]] = {}

    def _view(self, node: NodeId) -> _NodeView:
        view = self._views.get(node)
        if view is None:
            view = self._views[node] = _NodeView()
        return view

    def _intern(self, key: tuple[int, int, int, bytes]) -> int:
        cid = self._chain_ids.get(key)
        if cid is None:
            cid = self._chain_ids[key] = len(self._chain_ids) + 1
        return cid

    # -- storage ------------------------------------------------------------------------

    def on_persist(self, node: NodeId, entries: tuple[Entry, ...]) -> None:
        """`entries` were handed to `node`'s storage (replacing any suffix they overlap)."""
        if not entries:
            return
        view = self._view(node)
        k = entries[0].index - view.base - 1
        if k < 0 or k > len(view.chain):
            raise InvariantViolation(
                "Log Matching",
                f"node {node} appends at {entries[0].index} to a log of {view.base}+"
                f"{len(view.chain)} entries (gap or below snapshot)",
            )
        del view.chain[k:]
        del view.terms[k:]
        prev = view.chain[-1] if view.chain else view.base_chain
        for e in entries:
            if e.index != view.last_index + 1:
                raise InvariantViolation("Log Matching", f"node {node} non-contiguous {e}")
            prev = self._intern((prev, e.term, int(e.kind), e.data))
            seen = self._by_index_term.setdefault((e.index, e.term), prev)
            if seen != prev:
                raise InvariantViolation(
                    "Log Matching",
                    f"node {node} holds a different log up to index {e.index} term {e.term}"
                    f" than another node with an entry of that index and term",
                )
            view.chain.append(prev)
            view.terms.append(e.term)

    def on_snapshot(self, node: NodeId, meta: SnapshotMeta) -> None:
        view = self._view(node)
        idx = meta.index
        keep = view.chain_at(idx)
        if idx > len(self.committed) - 1:
            raise InvariantViolation(
                "State Machine Safety", f"node {node} snapshot at {idx} beyond any commit"
            )
        base_chain = self.committed[idx]
        k = idx - view.base - 1
        if keep == base_chain and k < len(view.chain):
            view.chain, view.terms = view.chain[k + 1 :], view.terms[k + 1 :]
        else:
            view.chain, view.terms = [], []
        view.base, view.base_chain = idx, base_chain

    def on_hard_state(self, node: NodeId, hs: HardState) -> None:
        view = self._view(node)
        prev = view.hard_state
        if prev is not None:
            if hs.term < prev.term:
                raise InvariantViolation("Term Monotonic", f"node {node} term {prev} -> {hs}")
            if hs.term == prev.term and prev.vote is not None and hs.vote != prev.vote:
                raise InvariantViolation(
                    "Vote Stability", f"node {node} voted {prev.vote} then {hs.vote} in {hs.term}"
                )
        view.hard_state = hs

    def on_sync(self, node: NodeId) -> None:
        view = self._view(node)
        hs, prev = view.hard_state, view.durable
        if hs is not None and prev is not None and hs.commit < prev.commit:
            raise InvariantViolation(
                "Commit Monotonic", f"node {node} persisted commit {prev.commit} -> {hs.commit}"
            )
        view.durable = hs

    def on_restart(self, node: NodeId, restored: Restored) -> None:
        old = self._view(node)
        view = _NodeView(durable=old.durable, hard_state=old.durable)
        hs = restored.hard_state
        if old.durable is not None and hs != old.durable:
            raise InvariantViolation(
                "Durability", f"node {node} restarted with {hs}, had synced {old.durable}"
            )
        self._views[node] = view
        if restored.snapshot is not None:
            view.base = restored.snapshot.index
            view.base_chain = self.committed[view.base]
        view.applied = view.base
        view.commit = hs.commit
        view.term = hs.term
        self.on_persist(node, restored.entries)

    # -- engine -------------------------------------------------------------------------

    def on_apply(self, node: NodeId, entry: Entry) -> None:
        view = self._view(node)
        if entry.index != view.applied + 1:
            raise InvariantViolation(
                "State Machine Safety",
                f"node {node} applies {entry.index} after {view.applied} (out of order)",
            )
        view.applied = entry.index
        mine = (entry.term, int(entry.kind), entry.data)
        other = self._applied.setdefault(entry.index, mine)
        if other != mine:
            raise InvariantViolation(
                "State Machine Safety",
                f"node {node} applies {entry} at {entry.index}; another applied term {other[0]}",
            )

    def on_install(self, node: NodeId, meta: SnapshotMeta) -> None:
        """`node`'s state machine jumped to a snapshot (InstallSnapshot)."""
        view = self._view(node)
        if meta.index < view.applied:
            raise InvariantViolation(
                "State Machine Safety", f"node {node} installs {meta.index} < {view.applied}"
            )
        view.applied = meta.index

    def on_status(self, node: NodeId, st: Status) -> None:
        view = self._view(node)
        if st.term < view.term:
            raise InvariantViolation("Term Monotonic", f"node {node} term {view.term}->{st.term}")
        view.term = st.term
        if (
            st.role is Role.LEADER
            and view.leader_term == st.term
            and st.commit > view.commit
            and st.commit > view.base
            and view.terms[st.commit - view.base - 1] != st.term
        ):
            raise InvariantViolation(
                "Leader Commit Rule",
                f"leader {node} of term {st.term} committed index {st.commit} of term "
                f"{view.terms[st.commit - view.base - 1]} by counting replicas",
            )
        if st.commit < view.commit:
            raise InvariantViolation(
                "Commit Monotonic", f"node {node} commit {view.commit} -> {st.commit}"
            )
        view.commit = st.commit
        if view.applied > st.commit:
            raise InvariantViolation(
                "State Machine Safety", f"node {node} applied {view.applied} > commit {st.commit}"
            )
        if st.role is Role.LEADER:
            self._check_leader(node, view, st)
        else:
            view.leader_term = None
        self._check_commit(node, view, st)

    def _check_leader(self, node: NodeId, view: _NodeView, st: Status) -> None:
        holder = self.leaders.setdefault(st.term, node)
        if holder != node:
            raise InvariantViolation(
                "Election Safety", f"nodes {holder} and {node} both lead term {st.term}"
            )
        if view.leader_term == st.term:
            return
        view.leader_term = st.term
        i = len(self.committed) - 1
        while i > 0 and self._commit_term[i] >= st.term:
            i -= 1
        self._require_committed(node, view, LogIndex(i), "Leader Completeness")

    def _require_committed(self, node: NodeId, view: _NodeView, i: LogIndex, name: str) -> None:
        if i < view.base:
            return  # covered by a snapshot, which only holds committed state
        mine = view.chain_at(i)
        if mine != self.committed[i]:
            raise InvariantViolation(
                name,
                f"node {node} (term {view.term}) log up to {i} differs from the committed "
                f"log (its last index {view.last_index})",
            )

    def _check_commit(self, node: NodeId, view: _NodeView, st: Status) -> None:
        c = st.commit
        top = len(self.committed) - 1
        if c <= view.base:
            return
        if c > view.last_index:
            raise InvariantViolation(
                "Commit Beyond Log", f"node {node} commit {c} > last index {view.last_index}"
            )
        if c <= top:
            self._require_committed(node, view, LogIndex(c), "Committed Prefix Stable")
            return
        if top >= view.base:
            self._require_committed(node, view, LogIndex(top), "Committed Prefix Stable")
        for i in range(top + 1, c + 1):
            chain = view.chain_at(i)
            assert chain is not None
            self.committed.append(chain)
            self._commit_term.append(st.term)
        for other_id, other in sorted(self._views.items()):
            if other.leader_term is not None and other.leader_term > st.term:
                self._require_committed(other_id, other, LogIndex(c), "Leader Completeness")
