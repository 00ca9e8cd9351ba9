"""What each workload sends, how lock flows react to replies, and how a worker counts."""

from __future__ import annotations

import random
import struct

import pytest

from quorumd.loadgen import split_conns
from quorumd.loadgen.conn import parse_hosts
from quorumd.loadgen.lockwire import LOCK_ACQUIRE, LOCK_EXTENSIONS, LOCK_RELEASE
from quorumd.loadgen.worker import WorkerParams, _Worker
from quorumd.loadgen.workloads import Layout, Workload, op_name, sequence_number
from quorumd.wire import (
    ClientConnection,
    ConnectRequest,
    CreateMode,
    CreateRequest,
    CreateResponse,
    DeleteRequest,
    GetChildrenRequest,
    GetChildrenResponse,
    GetDataRequest,
    OpCode,
    Reply,
    SetDataRequest,
)

LAYOUT = Layout(root="/b", nonce="n1", nodes=1000, data_size=100)


def flows(name, n, seed=7):
    factory = Workload(name, LAYOUT).flow_factory(0, 0, 0, random.Random(seed))
    return [factory() for _ in range(n)]


def test_set_writes_100_bytes_to_the_1000_data_nodes():
    steps = [f.first() for f in flows("set", 3000)]
    assert {op for op, _ in steps} == {OpCode.SET_DATA}
    records = [r for _, r in steps]
    assert all(isinstance(r, SetDataRequest) and r.version == -1 for r in records)
    assert all(len(r.data) == 100 for r in records)
    paths = {r.path for r in records}
    assert paths <= {LAYOUT.data_path(i) for i in range(1000)}
    assert len(paths) > 900  # spread over the nodes, not one hot node


def test_get_reads_the_data_nodes_without_watches():
    steps = [f.first() for f in flows("get", 200)]
    assert all(
        op == OpCode.GET_DATA and isinstance(r, GetDataRequest) and not r.watch for op, r in steps
    )


def test_mixed_is_about_ten_percent_sets_and_reproducible():
    ops = [f.first()[0] for f in flows("mixed", 20_000)]
    share = ops.count(OpCode.SET_DATA) / len(ops)
    assert 0.09 < share < 0.11
    assert set(ops) == {OpCode.SET_DATA, OpCode.GET_DATA}
    assert ops == [f.first()[0] for f in flows("mixed", 20_000)]


def test_single_request_flows_end_at_their_reply():
    f = flows("create", 1)[0]
    op, rec = f.first()
    assert op == OpCode.CREATE
    assert rec == CreateRequest(
        "/b/create-n1/n-", bytes(100), rec.acl, int(CreateMode.PERSISTENT_SEQUENTIAL)
    )
    assert (
        f.advance(Reply(1, 5, 0, OpCode.CREATE, CreateResponse("/b/create-n1/n-0000000001")))
        is None
    )


def _lock_dir():
    return "/b/locks/" + LAYOUT.slot_name(0, 0, 0)


def test_recipe_lock_creates_lists_and_deletes_when_lowest():
    f = flows("lock", 1)[0]
    op, rec = f.first()
    assert op == OpCode.CREATE and rec.flags == CreateMode.EPHEMERAL_SEQUENTIAL
    assert rec.path == _lock_dir() + "/lock-"
    mine = _lock_dir() + "/lock-0000000007"
    op, rec = f.advance(Reply(1, 1, 0, OpCode.CREATE, CreateResponse(mine)))
    assert (op, rec) == (OpCode.GET_CHILDREN, GetChildrenRequest(_lock_dir(), False))
    children = GetChildrenResponse(("lock-0000000009", "lock-0000000007"))
    op, rec = f.advance(Reply(2, 1, 0, OpCode.GET_CHILDREN, children))
    assert (op, rec) == (OpCode.DELETE, DeleteRequest(mine, -1))
    assert f.anomaly is None
    assert f.advance(Reply(3, 2, 0, OpCode.DELETE, None)) is None


def test_recipe_lock_that_is_not_lowest_is_an_anomaly_and_still_cleans_up():
    f = flows("lock", 1)[0]
    mine = _lock_dir() + "/lock-0000000007"
    f.advance(Reply(1, 1, 0, OpCode.CREATE, CreateResponse(mine)))
    children = GetChildrenResponse(("lock-0000000007", "lock-0000000003"))
    op, rec = f.advance(Reply(2, 1, 0, OpCode.GET_CHILDREN, children))
    assert (op, rec) == (OpCode.DELETE, DeleteRequest(mine, -1))
    assert f.anomaly == "lock-not-lowest"


def test_native_lock_acquires_then_releases():
    f = flows("lock-native", 1)[0]
    op, rec = f.first()
    assert op == LOCK_ACQUIRE and rec.path == "/b/nlocks/" + LAYOUT.slot_name(0, 0, 0)
    assert (rec.mode, rec.wait, rec.lock_delay_ms) == (0, False, -1)
    granted = LOCK_EXTENSIONS[LOCK_ACQUIRE][1](0, 42, 0)
    op, rec = f.advance(Reply(1, 1, 0, LOCK_ACQUIRE, granted))
    assert op == LOCK_RELEASE and rec.path.startswith("/b/nlocks/")
    assert f.anomaly is None
    assert f.advance(Reply(2, 1, 0, LOCK_RELEASE, None)) is None


def test_native_lock_left_queued_is_an_anomaly():
    f = flows("lock-native", 1)[0]
    queued = LOCK_EXTENSIONS[LOCK_ACQUIRE][1](1, 0, 3)
    op, _ = f.advance(Reply(1, 1, 0, LOCK_ACQUIRE, queued))
    assert op == LOCK_RELEASE
    assert f.anomaly == "lock-not-granted"


def test_lock_acquire_frame_has_the_documented_layout():
    conn = ClientConnection(extensions=LOCK_EXTENSIONS)
    conn.connect(ConnectRequest(0, 0, 30000, 0, bytes(16)))
    frame = conn.request(5, LOCK_ACQUIRE, flows("lock-native", 1)[0].first()[1])
    path = ("/b/nlocks/" + LAYOUT.slot_name(0, 0, 0)).encode()
    body = (
        struct.pack(">ii", 5, 200)
        + struct.pack(">i", len(path))
        + path
        + struct.pack(">i?i", 0, False, -1)
    )
    assert frame == struct.pack(">i", len(body)) + body


def test_setup_creates_root_data_nodes_and_lock_dirs():
    set_steps = list(Workload("set", LAYOUT).setup_steps())
    paths = [r.path for _, r in set_steps]
    assert paths[:2] == ["/b", "/b/data"]
    assert paths[2:] == [LAYOUT.data_path(i) for i in range(1000)]
    assert all(len(r.data) == 100 for _, r in set_steps[2:])
    assert [r.path for _, r in Workload("create", LAYOUT).setup_steps()] == ["/b", "/b/create-n1"]
    lock = Workload("lock", LAYOUT)
    assert [r.path for _, r in lock.setup_steps()] == ["/b", "/b/locks"]
    slot_paths = [r.path for _, r in lock.slot_setup_steps(1, 2, 3)]
    assert slot_paths == [f"/b/locks/n1-w1-c2-s{s}" for s in range(3)]
    assert list(Workload("get", LAYOUT).slot_setup_steps(0, 0, 8)) == []


def test_unknown_workload_is_refused():
    with pytest.raises(ValueError, match="unknown workload"):
        Workload("scan", LAYOUT)


def test_names_and_helpers():
    assert op_name(OpCode.SET_DATA) == "setData"
    assert op_name(OpCode.GET_CHILDREN2) == "getChildren2"
    assert op_name(LOCK_ACQUIRE) == "lockAcquire"
    assert op_name(999) == "op999"
    assert sequence_number("lock-0000000042") == 42
    assert split_conns(10, 3) == [4, 3, 3]
    with pytest.raises(ValueError):
        split_conns(1, 2)
    assert parse_hosts("a:1, 2") == [("a", 1), ("127.0.0.1", 2)]


# ------------------------------------------------------ worker accounting, without I/O


class FakeProto:
    def __init__(self):
        self.sent = []
        self.closed = False

    def send(self, opcode, record, token):
        self.sent.append((opcode, record, token))


def make_worker(name="set", depth=2):
    params = WorkerParams(
        worker=0,
        hosts=(("127.0.0.1", 1),),
        conns=1,
        first_conn=0,
        depth=depth,
        workload=name,
        layout=LAYOUT,
        warmup_s=0,
        duration_s=1,
        timeout_s=1,
        seed=3,
    )
    w = _Worker(params, lambda done, bad: None)
    proto = FakeProto()
    w.conns[0].proto = proto
    w.running = True
    w.window_start_ns, w.window_end_ns = 0, 2**62
    w._start_slots(w.conns[0])
    return w, proto


def test_worker_counts_every_error_reply_by_op_and_code_and_keeps_going():
    w, proto = make_worker()
    assert len(proto.sent) == 2 and w.active == 2
    slot = proto.sent[0][2]
    w.on_reply(slot, Reply(1, 0, -101, OpCode.SET_DATA, None), 0)
    w.on_reply(slot, Reply(2, 0, -101, OpCode.SET_DATA, None), 0)
    assert w.errors == {("setData", -101): 2}
    assert w.ops == 0
    assert len(proto.sent) == 4  # each failed flow was replaced by a new one
    w.on_reply(slot, Reply(3, 9, 0, OpCode.SET_DATA, None), 0)
    assert w.ops == 1 and w.latency.count == 1


def test_worker_counts_lost_and_timed_out_requests_apart():
    w, proto = make_worker()
    a, b = (s for _, _, s in proto.sent)
    w.on_reply(a, None, 0)
    w.conns[0].timed_out = True
    w.on_reply(b, None, 0)
    assert (w.losses, w.timeouts, w.active) == (1, 1, 0)
    result = w._result()
    assert (result.connection_losses, result.timeouts) == (1, 1)


def test_only_flows_finishing_inside_the_window_are_measured():
    w, proto = make_worker()
    w.window_start_ns = 2**62  # the window has not begun
    slot = proto.sent[0][2]
    w.on_reply(slot, Reply(1, 1, 0, OpCode.SET_DATA, None), 0)
    assert (w.completed, w.ops) == (1, 0)
    w.running = False  # after the window: no new flow starts
    before = len(proto.sent)
    w.on_reply(proto.sent[1][2], Reply(2, 1, 0, OpCode.SET_DATA, None), 0)
    assert len(proto.sent) == before and w.active == 1


def test_a_lock_flow_counts_one_op_for_its_three_requests():
    w, proto = make_worker("lock", depth=1)
    slot = proto.sent[0][2]
    mine = "/b/locks/" + LAYOUT.slot_name(0, 0, 0) + "/lock-0000000001"
    w.on_reply(slot, Reply(1, 1, 0, OpCode.CREATE, CreateResponse(mine)), 0)
    w.on_reply(
        slot, Reply(2, 1, 0, OpCode.GET_CHILDREN, GetChildrenResponse(("lock-0000000001",))), 0
    )
    assert w.ops == 0
    w.on_reply(slot, Reply(3, 2, 0, OpCode.DELETE, None), 0)
    assert w.ops == 1 and not w.anomalies and not w.errors
    assert [op for op, _, _ in proto.sent] == [
        OpCode.CREATE,
        OpCode.GET_CHILDREN,
        OpCode.DELETE,
        OpCode.CREATE,
    ]
