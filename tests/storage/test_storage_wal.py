"""The WAL's contracts: record framing, group commit, segments, compaction, snapshots."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quorumd._types import LogIndex, NodeId, Term
from quorumd.consensus.engine import (
    ClusterConfig,
    Entry,
    EntryKind,
    HardState,
    Ready,
    Snapshot,
    SnapshotMeta,
)
from quorumd.errors import StorageError, UsageError
from quorumd.sim.disk import SimDisk
from quorumd.storage import LogStore, persist_ready
from quorumd.storage.records import (
    decode_at,
    encode_entries,
    encode_hard_state,
    encode_reset,
    encoded_entries_size,
    find_valid_record,
)
from quorumd.storage.snapshot import SnapshotStore, decode_snapshot, encode_snapshot

CONFIG = ClusterConfig((NodeId(1), NodeId(2), NodeId(3)), (NodeId(9),))


def entry(index: int, term: int = 1, data: bytes | None = None) -> Entry:
    return Entry(
        Term(term), LogIndex(index), EntryKind.NORMAL, b"e%d" % index if data is None else data
    )


def sim(seed: int = 0) -> SimDisk:
    disk = SimDisk(random.Random(seed))
    disk.makedirs("/n")
    return disk


entries_st = st.lists(
    st.builds(
        Entry,
        st.integers(0, 2**64 - 1).map(Term),
        st.integers(0, 2**64 - 1).map(LogIndex),
        st.sampled_from(EntryKind),
        st.binary(max_size=300),
    ),
    max_size=20,
)


@settings(max_examples=60)
@given(entries=entries_st, hs_term=st.integers(0, 2**64 - 1), vote=st.none() | st.integers(0, 99))
def test_records_round_trip(entries: list[Entry], hs_term: int, vote: int | None) -> None:
    buf = bytearray(encoded_entries_size(entries))
    end = encode_entries(buf, 0, entries)
    assert end == len(buf)
    hs = HardState(Term(hs_term), None if vote is None else NodeId(vote), LogIndex(7))
    data = bytes(buf) + encode_hard_state(hs) + encode_reset(5, 3)
    offset, decoded = 0, []
    while offset < len(data):
        rec = decode_at(data, offset)
        assert rec is not None
        decoded.append(rec.entry or rec.hard_state or rec.reset)
        offset = rec.end
    assert decoded == [*entries, hs, (5, 3)]


@settings(max_examples=60)
@given(entries=st.lists(st.binary(max_size=40), min_size=1, max_size=5), data=st.data())
def test_any_flipped_bit_is_detected(entries: list[bytes], data: st.DataObject) -> None:
    es = [entry(i + 1, data=d) for i, d in enumerate(entries)]
    buf = bytearray(encoded_entries_size(es))
    encode_entries(buf, 0, es)
    pos = data.draw(st.integers(0, len(buf) - 1))
    bit = data.draw(st.integers(0, 7))
    damaged = bytearray(buf)
    damaged[pos] ^= 1 << bit
    offset, good = 0, []
    while True:
        rec = decode_at(bytes(damaged), offset)
        if rec is None:
            break
        good.append(rec.entry)
        offset = rec.end
    assert good == es[: len(good)] and len(good) < len(es)


def test_find_valid_record_skips_garbage_and_zeros() -> None:
    rec = encode_hard_state(HardState(Term(3), None, LogIndex(1)))
    noise = bytes(random.Random(1).randrange(256) for _ in range(500))
    assert find_valid_record(bytes(100) + rec, 0) == 100
    assert find_valid_record(noise + rec, 0) == 500
    assert find_valid_record(noise + bytes(300), 0) is None


def test_group_commit_is_one_write_and_one_fdatasync() -> None:
    disk = sim()
    store, _ = LogStore.open(disk, "/n")
    writes, syncs = disk.stats.writes, disk.stats.syncs
    store.append([entry(i) for i in range(1, 1001)])
    store.append([entry(i) for i in range(1001, 2001)])
    store.set_hard_state(HardState(Term(1), NodeId(1), LogIndex(2000)))
    store.sync()
    assert (disk.stats.writes - writes, disk.stats.syncs - syncs) == (1, 1)
    store.sync()  # nothing pending: no I/O at all
    assert (disk.stats.writes - writes, disk.stats.syncs - syncs) == (1, 1)


def test_truncating_a_conflicting_suffix_across_segments() -> None:
    disk = sim()
    store, _ = LogStore.open(disk, "/n", segment_bytes=1024)
    for i in range(1, 101):
        store.append([entry(i)])
        store.sync()
    assert len(store.segments) == 3  # 1.., 35.., 69..: the rewrite at 40 reaches back
    store.append([entry(i, term=2) for i in (40, 41, 42)])  # replaces 40..100
    store.set_hard_state(HardState(Term(2), None, LogIndex(41)))
    store.sync()
    store.close()
    disk.crash()
    _, restored = LogStore.open(disk, "/n", segment_bytes=1024)
    assert restored.entries == (
        *(entry(i) for i in range(1, 40)),
        *(entry(i, term=2) for i in (40, 41, 42)),
    )


def test_hard_state_survives_compaction_of_the_segment_that_held_it() -> None:
    disk = sim()
    store, _ = LogStore.open(disk, "/n", segment_bytes=1024, keep_snapshots=1)
    hs = HardState(Term(7), NodeId(3), LogIndex(5))
    store.append([entry(i) for i in range(1, 6)])
    store.set_hard_state(hs)
    store.sync()
    for i in range(6, 200):  # many segments, no new hard state
        store.append([entry(i)])
        store.sync()
    store.save_snapshot(Snapshot(SnapshotMeta(LogIndex(5), Term(1), CONFIG), b"five"))
    store.save_snapshot(Snapshot(SnapshotMeta(LogIndex(190), Term(1), CONFIG), b"s"))
    assert store.segments[0].first_index > 5  # the hard state's segment is gone
    disk.crash()
    _, restored = LogStore.open(disk, "/n", segment_bytes=1024)
    assert restored.hard_state == hs
    assert restored.snapshot is not None and restored.snapshot.index == 190
    assert restored.entries == tuple(entry(i) for i in range(191, 200))


def test_install_snapshot_replaces_the_log() -> None:
    disk = sim()
    store, _ = LogStore.open(disk, "/n")
    store.append([entry(i) for i in range(1, 11)])
    store.sync()
    snap = Snapshot(SnapshotMeta(LogIndex(1000), Term(4), CONFIG), b"leader")
    persist_ready(
        store,
        Ready(
            snapshot=snap,
            entries=(entry(1001, term=4),),
            hard_state=HardState(Term(4), None, LogIndex(1000)),
        ),
    )
    assert (store.first_index, store.last_index) == (1001, 1001)
    disk.crash()
    store, restored = LogStore.open(disk, "/n")
    assert restored.snapshot == snap.meta and restored.snapshot_data == b"leader"
    assert restored.entries == (entry(1001, term=4),)
    assert restored.hard_state.commit == 1000


def test_persist_ready_without_anything_to_persist_does_no_io() -> None:
    disk = sim()
    store, _ = LogStore.open(disk, "/n")
    before = (disk.stats.writes, disk.stats.syncs)
    persist_ready(store, Ready())
    assert (disk.stats.writes, disk.stats.syncs) == before


def test_usage_errors() -> None:
    disk = sim()
    store, _ = LogStore.open(disk, "/n")
    store.append([entry(1), entry(2)])
    with pytest.raises(UsageError, match="not contiguous"):
        store.append([entry(3), entry(5)])
    with pytest.raises(UsageError, match="gap"):
        store.append([entry(4)])
    store.set_hard_state(HardState(Term(1), None, LogIndex(3)))
    with pytest.raises(UsageError, match="beyond last index"):
        store.sync()


def test_a_failed_fsync_poisons_the_store() -> None:
    disk = sim()
    store, _ = LogStore.open(disk, "/n")
    store.append([entry(1)])
    disk.fail_next_sync()
    with pytest.raises(OSError):
        store.sync()
    with pytest.raises(StorageError, match="restart"):
        store.append([entry(2)])


def test_snapshot_store_keeps_the_last_n_and_round_trips() -> None:
    disk = sim()
    disk.makedirs("/n/snap")
    store = SnapshotStore(disk, "/n/snap", keep=2)
    for i in (10, 20, 30):
        store.save(Snapshot(SnapshotMeta(LogIndex(i), Term(2), CONFIG), b"data%d" % i))
    assert [f.index for f in store.list()] == [20, 30]
    snap = store.load(store.list()[-1])
    assert snap == Snapshot(SnapshotMeta(LogIndex(30), Term(2), CONFIG), b"data30")
    raw = encode_snapshot(snap)
    for pos in (0, 10, 40, len(raw) - 1):
        damaged = bytearray(raw)
        damaged[pos] ^= 1
        with pytest.raises(StorageError, match=r"x\.snap: offset"):
            decode_snapshot(bytes(damaged), "x.snap")
    with pytest.raises(StorageError):
        decode_snapshot(raw[:-3], "x.snap")


def test_snapshot_rename_is_durable_only_with_the_directory_sync() -> None:
    """Crash right after save: the snapshot is there (rename + sync_dir happened)."""
    disk = sim()
    store, _ = LogStore.open(disk, "/n")
    store.append([entry(i) for i in range(1, 6)])
    store.set_hard_state(HardState(Term(1), None, LogIndex(5)))
    store.sync()
    store.save_snapshot(Snapshot(SnapshotMeta(LogIndex(5), Term(1), CONFIG), b"five"))
    disk.crash()
    _, restored = LogStore.open(disk, "/n")
    assert restored.snapshot_data == b"five" and restored.entries == ()


def test_storage_public_api() -> None:
    import quorumd.storage

    assert sorted(quorumd.storage.__all__) == [
        "LogStore",
        "OsDisk",
        "SnapshotStore",
        "persist_ready",
    ]
