"""The simulator's parts on their own: network, storage, KV machine, nemesis, PRNG."""

from __future__ import annotations

import random

from quorumd._types import LogIndex, NodeId, Term
from quorumd.check.models import cas, put
from quorumd.consensus.engine import (
    ClusterConfig,
    Entry,
    EntryKind,
    HardState,
    Snapshot,
    SnapshotMeta,
)
from quorumd.sim.kv import Command, KvMachine, encode
from quorumd.sim.nemesis import FAULT_MODELS, draw_schedule
from quorumd.sim.network import NetworkParams, SimNetwork
from quorumd.sim.prng import Streams
from quorumd.sim.storage import MemBackend

QUIET = NetworkParams(loss=0.0, dup=0.0, reorder=0.0, delay=0.0)


def _net(params: NetworkParams = QUIET, seed: int = 1) -> SimNetwork:
    return SimNetwork(random.Random(seed), params)


def test_messages_arrive_after_the_base_delay_in_send_order() -> None:
    net = _net()
    for i in range(5):
        net.send(1, 2, i, now=0)
    assert net.due(0) == []
    assert [e.message for e in net.due(1)] == [0, 1, 2, 3, 4]


def test_symmetric_partition_cuts_both_ways_and_heal_restores() -> None:
    net = _net()
    net.partition([[1], [2, 3]])
    net.send(1, 2, "a", 0)
    net.send(3, 1, "b", 0)
    net.send(2, 3, "c", 0)
    assert [e.message for e in net.due(5)] == ["c"]
    net.heal()
    net.send(1, 2, "d", 5)
    assert [e.message for e in net.due(6)] == ["d"]


def test_one_way_partition_cuts_one_direction() -> None:
    net = _net()
    net.cut_one_way([1], [2])
    net.send(1, 2, "lost", 0)
    net.send(2, 1, "kept", 0)
    assert [e.message for e in net.due(1)] == ["kept"]


def test_cut_after_send_drops_in_flight_messages() -> None:
    net = _net()
    net.send(1, 2, "x", 0)
    net.partition([[1], [2]])
    assert net.due(1) == []


def test_paused_node_gets_its_messages_in_order_on_resume() -> None:
    net = _net()
    net.pause(2)
    net.send(1, 2, "a", 0)
    net.send(3, 2, "b", 0)
    net.send(1, 3, "c", 0)
    assert [e.message for e in net.due(1)] == ["c"]
    net.resume(2, now=10)
    assert [e.message for e in net.due(11)] == ["a", "b"]


def test_loss_and_duplication_rates_are_roughly_as_asked() -> None:
    net = _net(NetworkParams(loss=0.3, dup=0.2, reorder=0.0, delay=0.0), seed=7)
    for i in range(2000):
        net.send(1, 2, i, 0)
    got = [e.message for e in net.due(10)]
    assert 0.6 * 2000 < len(set(got)) < 0.8 * 2000
    assert len(got) > len(set(got))  # some duplicates


def test_reordering_happens_with_jitter() -> None:
    net = _net(NetworkParams(loss=0.0, dup=0.0, reorder=0.3, delay=0.1), seed=3)
    for i in range(200):
        net.send(1, 2, i, now=i // 10)
    got = [e.message for t in range(60) for e in net.due(t)]
    assert sorted(got) == list(range(200))
    assert got != sorted(got)


def _entry(index: int, term: int, data: bytes = b"x") -> Entry:
    return Entry(Term(term), LogIndex(index), EntryKind.NORMAL, data)


def test_mem_storage_keeps_synced_state_and_loses_the_rest() -> None:
    backend = MemBackend()
    node = NodeId(1)
    storage, restored = backend.open(node)
    assert restored.entries == () and restored.hard_state.term == 0
    storage.append([_entry(1, 1), _entry(2, 1)])
    storage.set_hard_state(HardState(Term(1), NodeId(2), LogIndex(1)))
    storage.sync()
    storage.append([_entry(3, 1)])
    storage.set_hard_state(HardState(Term(2), NodeId(3), LogIndex(2)))
    backend.crash(node)
    _, restored = backend.open(node)
    assert [e.index for e in restored.entries] == [1, 2]
    assert restored.hard_state == HardState(Term(1), NodeId(2), LogIndex(1))


def test_mem_storage_append_replaces_the_suffix_and_snapshot_compacts() -> None:
    backend = MemBackend()
    storage, _ = backend.open(NodeId(1))
    storage.append([_entry(i, 1) for i in range(1, 6)])
    storage.append([_entry(3, 2), _entry(4, 2)])
    meta = SnapshotMeta(LogIndex(2), Term(1), ClusterConfig((NodeId(1),)))
    storage.save_snapshot(Snapshot(meta, b"state"))
    storage.sync()
    _, restored = backend.open(NodeId(1))
    assert restored.snapshot == meta and restored.snapshot_data == b"state"
    assert [(e.index, e.term) for e in restored.entries] == [(3, 2), (4, 2)]


def test_kv_machine_applies_a_retried_write_once() -> None:
    kv = KvMachine()
    e1 = Entry(Term(1), LogIndex(1), EntryKind.NORMAL, encode(Command(7, 1, put("k", "v1"))))
    e2 = Entry(Term(1), LogIndex(2), EntryKind.NORMAL, encode(Command(8, 1, cas("k", "v1", "v2"))))
    e3 = Entry(Term(2), LogIndex(3), EntryKind.NORMAL, encode(Command(8, 1, cas("k", "v1", "v2"))))
    first = kv.apply(e1)
    assert first is not None and first.fresh
    second = kv.apply(e2)
    assert second is not None and second.output is True
    retry = kv.apply(e3)  # the same (client, seq) again: cached answer, no second effect
    assert retry is not None and retry.output is True and not retry.fresh
    assert kv.read("k") == "v2"
    copy = KvMachine.restore(kv.snapshot())
    assert copy.data == kv.data and copy.sessions == kv.sessions


def test_nemesis_schedule_is_a_function_of_the_seed() -> None:
    models = frozenset(FAULT_MODELS)
    a = draw_schedule(Streams(5).stream("nemesis"), models, 500, None)
    b = draw_schedule(Streams(5).stream("nemesis"), models, 500, None)
    c = draw_schedule(Streams(6).stream("nemesis"), models, 500, None)
    assert a == b
    assert a != c
    assert {f.kind for f in a} == set(FAULT_MODELS)
    assert all(0 <= f.start < f.end <= 500 for f in a)


def test_nemesis_fixed_loss_is_one_window_over_the_fault_phase() -> None:
    sched = draw_schedule(Streams(1).stream("nemesis"), frozenset({"loss"}), 300, 0.01)
    assert [(f.kind, f.start, f.end, f.rate) for f in sched] == [("loss", 0, 300, 0.01)]


def test_prng_streams_are_independent_per_concern() -> None:
    s1, s2 = Streams(42), Streams(42)
    s1.stream("clients").random()  # an extra draw in one concern...
    assert s1.stream("network").random() == s2.stream("network").random()  # ...leaves others
    assert Streams(42).stream("x").random() != Streams(43).stream("x").random()
