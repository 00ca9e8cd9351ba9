"""Random append/truncate/compact/snapshot/crash/recover sequences over SimDisk, checked
against a plain model of what is durable.

The model keeps the synced state (snapshot, log, hard state) and the records pending
since the last sync. After a clean crash recovery must give exactly the synced state;
after a crash in the middle of an fsync (where a torn write can keep part of the batch)
it must give the synced state plus a whole-record prefix of the batch — never a
half-written entry, never a hard state whose batch was not fully kept.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from quorumd._types import LogIndex, NodeId, Term
from quorumd.consensus.engine import (
    ClusterConfig,
    Entry,
    EntryKind,
    HardState,
    Restored,
    Snapshot,
    SnapshotMeta,
)
from quorumd.errors import UsageError
from quorumd.sim.disk import SimDisk
from quorumd.storage import LogStore

DIR = "/node1"
CONFIG = ClusterConfig((NodeId(1), NodeId(2), NodeId(3)))
EMPTY_HS = HardState(Term(0), None, LogIndex(0))


@dataclass
class Durable:
    """A log state: the entries held (index -> entry), the last index, the hard state."""

    log: dict[int, Entry] = field(default_factory=dict)
    last: int = 0
    hs: HardState = EMPTY_HS

    def copy(self) -> Durable:
        return Durable(dict(self.log), self.last, self.hs)

    def apply(self, op: tuple[str, object]) -> None:
        kind, arg = op
        if kind == "entry":
            assert isinstance(arg, Entry)
            for i in [i for i in self.log if i >= arg.index]:
                del self.log[i]
            self.log[arg.index] = arg
            self.last = arg.index
        else:
            assert isinstance(arg, int)
            self.log.clear()
            self.last = arg


def expected(state: Durable, snapshot: Snapshot | None) -> Restored:
    log = state.log
    if snapshot is None:
        entries = tuple(log[i] for i in sorted(log))
    else:
        si = snapshot.meta.index
        if si in log and log[si].term != snapshot.meta.term:
            entries = ()
        else:
            entries = tuple(log[i] for i in sorted(log) if i > si)
    return Restored(
        hard_state=state.hs,
        snapshot=snapshot.meta if snapshot else None,
        entries=entries,
        snapshot_data=snapshot.data if snapshot else None,
    )


class StoreMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.disk: SimDisk
        self.store: LogStore
        self.synced = Durable()
        self.pending: list[tuple[str, object]] = []
        self.pending_hs: HardState | None = None
        self.snapshot: Snapshot | None = None  # newest durable snapshot file
        self.term = 1
        self.counter = 0

    @initialize(seed=st.integers(0, 2**32 - 1), segment_bytes=st.sampled_from([1024, 2048, 8192]))
    def start(self, seed: int, segment_bytes: int) -> None:
        self.disk = SimDisk(random.Random(seed))
        self.disk.makedirs(DIR)
        self.segment_bytes = segment_bytes
        self.store, restored = LogStore.open(
            self.disk, DIR, segment_bytes=segment_bytes, keep_snapshots=2
        )
        assert restored == expected(Durable(), None)

    # -------------------------------------------------------------- model helpers

    def current(self) -> Durable:
        state = self.synced.copy()
        for op in self.pending:
            state.apply(op)
        if self.pending_hs is not None:
            state.hs = self.pending_hs
        return state

    @property
    def snap_index(self) -> int:
        return self.snapshot.meta.index if self.snapshot else 0

    def reopen(self) -> Restored:
        self.store, restored = LogStore.open(
            self.disk, DIR, segment_bytes=self.segment_bytes, keep_snapshots=2
        )
        self.pending, self.pending_hs = [], None
        return restored

    def recovered(self, state: Durable) -> None:
        """Adopts `state` as what is durable, as recovery leaves it: a log that ends
        before the snapshot or diverges from it restarts at the snapshot."""
        snap = self.snapshot
        if snap is not None:
            si = snap.meta.index
            if state.last < si or (si in state.log and state.log[si].term != snap.meta.term):
                state.log.clear()
                state.last = si
        self.synced = state

    # -------------------------------------------------------------- rules

    @rule(
        datas=st.lists(st.binary(max_size=48), min_size=1, max_size=6),
        rewind=st.integers(0, 4),
        new_term=st.booleans(),
    )
    def append(self, datas: list[bytes], rewind: int, new_term: bool) -> None:
        cur = self.current()
        first = max(cur.last + 1 - rewind, cur.hs.commit + 1, self.snap_index + 1)
        if new_term:
            self.term += 1
        entries = []
        for n, data in enumerate(datas):
            self.counter += 1
            kind = EntryKind(self.counter % 3)
            entries.append(Entry(Term(self.term), LogIndex(first + n), kind, data))
        self.store.append(entries)
        self.pending.extend(("entry", e) for e in entries)
        assert self.store.last_index == entries[-1].index

    @rule(advance=st.integers(0, 5), vote=st.none() | st.integers(0, 5))
    def set_hard_state(self, advance: int, vote: int | None) -> None:
        cur = self.current()
        commit = min(cur.hs.commit + advance, max(cur.last, self.snap_index))
        hs = HardState(
            Term(self.term),
            NodeId(vote) if vote is not None else None,
            LogIndex(max(commit, cur.hs.commit)),
        )
        self.store.set_hard_state(hs)
        self.pending_hs = hs

    @rule()
    def sync(self) -> None:
        self.store.sync()
        self.synced = self.current()
        self.pending, self.pending_hs = [], None

    @precondition(lambda self: self.synced.hs.commit > self.snap_index)
    @rule(pick=st.integers(0, 10**6))
    def save_snapshot(self, pick: int) -> None:
        top = min(self.synced.hs.commit, self.synced.last)
        lo = self.snap_index + 1
        if top < lo or any(op[0] == "reset" for op in self.pending):
            return
        index = lo + pick % (top - lo + 1)
        entry = self.synced.log.get(index)
        if entry is None:
            return
        meta = SnapshotMeta(LogIndex(index), entry.term, CONFIG)
        snap = Snapshot(meta, b"state@%d" % index)
        self.store.save_snapshot(snap)
        self.snapshot = snap
        assert self.store.first_index == index + 1

    @rule(ahead=st.integers(1, 6), term_bump=st.integers(0, 2))
    def install_snapshot(self, ahead: int, term_bump: int) -> None:
        cur = self.current()
        index = max(cur.hs.commit, self.snap_index) + ahead
        self.term += term_bump
        snap = Snapshot(
            SnapshotMeta(LogIndex(index), Term(self.term), CONFIG), b"leader@%d" % index
        )
        self.store.install_snapshot(snap)
        self.snapshot = snap
        self.pending.append(("reset", index))
        hs = HardState(Term(self.term), None, LogIndex(index))
        self.store.set_hard_state(hs)
        self.pending_hs = hs

    @rule()
    def crash(self) -> None:
        event(f"crash with {len(self.disk.files())} files")
        self.disk.crash()
        restored = self.reopen()
        assert restored == expected(self.synced, self.snapshot)
        self.recovered(self.synced)

    @rule()
    def close_and_reopen(self) -> None:
        self.store.close()
        restored = self.reopen()
        assert restored == expected(self.synced, self.snapshot)
        self.recovered(self.synced)

    @precondition(lambda self: bool(self.pending) or self.pending_hs is not None)
    @rule()
    def crash_during_fsync(self) -> None:
        candidates = []
        state = self.synced.copy()
        candidates.append(state.copy())
        for op in self.pending:
            state.apply(op)
            candidates.append(state.copy())
        if self.pending_hs is not None:
            candidates.append(replace(state.copy(), hs=self.pending_hs))
        self.disk.fail_next_sync()
        with pytest.raises(OSError):
            self.store.sync()
        self.disk.crash()
        restored = self.reopen()
        for kept, cand in enumerate(candidates):
            if restored == expected(cand, self.snapshot):
                self.recovered(cand)
                event(
                    "torn batch: "
                    + (
                        "none kept"
                        if kept == 0
                        else "all kept"
                        if kept == len(candidates) - 1
                        else "prefix kept"
                    )
                )
                break
        else:
            raise AssertionError(f"recovered {restored} matches no prefix of the batch")

    @invariant()
    def bounds(self) -> None:
        if hasattr(self, "store"):
            cur = self.current()
            assert self.store.first_index == self.snap_index + 1
            assert self.store.last_index == max(cur.last, self.snap_index)


StoreMachine.TestCase.settings = settings(
    max_examples=80,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestStoreModel = StoreMachine.TestCase


def test_append_rejects_rewriting_a_snapshot() -> None:
    disk = SimDisk(random.Random(1))
    disk.makedirs(DIR)
    store, _ = LogStore.open(disk, DIR)
    store.append([Entry(Term(1), LogIndex(i), EntryKind.NORMAL, b"x") for i in (1, 2, 3)])
    store.set_hard_state(HardState(Term(1), None, LogIndex(3)))
    store.sync()
    store.save_snapshot(Snapshot(SnapshotMeta(LogIndex(2), Term(1), CONFIG), b"s"))
    with pytest.raises(UsageError):
        store.append([Entry(Term(2), LogIndex(2), EntryKind.NORMAL, b"y")])
    with pytest.raises(UsageError):
        store.append([Entry(Term(2), LogIndex(5), EntryKind.NORMAL, b"gap")])
