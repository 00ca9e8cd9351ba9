"""The per-write CPU cost of the apply path and of the wire codecs, without a cluster.

    .venv/bin/python bench/apply_path.py [--n 200000] [--creates 50000] [--rounds 3]

Why: on a small box the three servers and the load generator share the cores, so the
CPU one write costs on *every* node bounds cluster throughput. Every node runs
`decode_txn` + `StateMachine.apply` for every committed entry; only the node holding
the client's connection also decodes the request frame, translates it and encodes the
reply. This times those steps in-process, one at a time, so a change to one of them
shows up undiluted by sockets, consensus and fsync.

What is timed (µs of process CPU time per operation, best of `--rounds`; CPU time, not
wall time, because this box is shared and a descheduled round would only measure the
neighbours; the state machine is rebuilt before each round, outside the clock):

  set.decode     decode_txn of a SetData txn (100-byte data, `quorumd bench --workload set`)
  set.apply      StateMachine.apply of the already decoded txns
  set.total      decode_txn + apply: the cost every replica pays per setData
  set.encode     encode_txn (the origin node, once per write)
  create.total   decode_txn + apply of a persistent sequential Create under one parent
  get.machine    StateMachine.get_data with the session's ACL check (a local read)
  wire.set       ServerConnection: decode a setData frame, encode its SetDataResponse reply
  wire.get       the same for getData / GetDataResponse
  origin.set     server/translate.py: write_op + write_response for one setData
  client.set     ClientConnection (the load generator's): encode a setData request,
                 decode its reply; it shares the cores with the servers

Writes pick one of 1,000 nodes at random (seeded), as the load generator does. Frames
arrive in chunks of 32 requests, like a pipelined client's. The last line is the
figures as JSON.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import time
from collections.abc import Callable

from quorumd import machine as m
from quorumd import wire as w
from quorumd.server.translate import stat_out, write_op, write_response
from quorumd.wire.constants import OpCode

SESSION = 0x1234
NODES = 1000
DATA = bytes(100)
ROOT = "/quorumd-bench"
ORIGIN = 1
TIME_MS = 1_700_000_000_000
CHUNK = 32  # requests per receive_data, as a client with depth 32 sends them


def data_path(i: int) -> str:
    return f"{ROOT}/data/n{i:04d}"


def fresh_machine() -> m.StateMachine:
    """A session and the bench layout's 1,000 data nodes, as after `quorumd bench` setup."""
    machine = m.StateMachine()
    zxid = 1
    machine.apply(
        zxid, m.Txn(SESSION, TIME_MS, ORIGIN, 0, m.CreateSession(SESSION, bytes(16), 30_000))
    )
    for path in (ROOT, f"{ROOT}/data", f"{ROOT}/create", *(data_path(i) for i in range(NODES))):
        zxid += 1
        op = m.Create(path, DATA, m.OPEN_ACL_UNSAFE)
        applied = machine.apply(zxid, m.Txn(SESSION, TIME_MS, ORIGIN, zxid, op))
        assert isinstance(applied.result, m.Created), applied.result
    return machine


def set_txns(n: int, rng: random.Random) -> list[m.Txn]:
    return [
        m.Txn(SESSION, TIME_MS + i, ORIGIN, i, m.SetData(data_path(rng.randrange(NODES)), DATA))
        for i in range(n)
    ]


def create_txns(n: int) -> list[m.Txn]:
    op = m.Create(
        f"{ROOT}/create/n-", DATA, m.OPEN_ACL_UNSAFE, int(m.CreateMode.PERSISTENT_SEQUENTIAL)
    )
    return [m.Txn(SESSION, TIME_MS + i, ORIGIN, i, op) for i in range(n)]


def best_us(
    rounds: int, n: int, setup: Callable[[], object], run: Callable[[object], None]
) -> list[float]:
    """µs per op of each round; `setup` (untimed) builds what `run` consumes."""
    out = []
    for _ in range(rounds):
        state = setup()
        gc.collect()
        t = time.process_time_ns()
        run(state)
        out.append((time.process_time_ns() - t) / 1000 / n)
    return out


# ----------------------------------------------------------------------- apply path


def bench_set(n: int, rounds: int) -> dict[str, list[float]]:
    txns = set_txns(n, random.Random(1))
    blobs = [m.encode_txn(t) for t in txns]
    first = NODES + 5  # zxids after the setup entries
    decode = m.decode_txn

    def decode_only(_: object) -> None:
        for b in blobs:
            decode(b)

    def apply_only(machine: object) -> None:
        assert isinstance(machine, m.StateMachine)
        apply = machine.apply
        for zxid, txn in enumerate(decoded, first):
            apply(zxid, txn)

    def total(machine: object) -> None:
        assert isinstance(machine, m.StateMachine)
        apply = machine.apply
        for zxid, b in enumerate(blobs, first):
            apply(zxid, decode(b))

    def encode_only(_: object) -> None:
        encode = m.encode_txn
        for t in txns:
            encode(t)

    decoded = [decode(b) for b in blobs]
    assert decoded == txns
    check = fresh_machine()
    for zxid, txn in enumerate(decoded[:100], first):
        assert isinstance(check.apply(zxid, txn).result, m.Stat)
    return {
        "set.decode": best_us(rounds, n, lambda: None, decode_only),
        "set.apply": best_us(rounds, n, fresh_machine, apply_only),
        "set.total": best_us(rounds, n, fresh_machine, total),
        "set.encode": best_us(rounds, n, lambda: None, encode_only),
    }


def bench_create(n: int, rounds: int) -> dict[str, list[float]]:
    blobs = [m.encode_txn(t) for t in create_txns(n)]
    first = NODES + 5
    decode = m.decode_txn

    def total(machine: object) -> None:
        assert isinstance(machine, m.StateMachine)
        apply = machine.apply
        for zxid, b in enumerate(blobs, first):
            apply(zxid, decode(b))

    check = fresh_machine()
    result = check.apply(first, decode(blobs[0])).result
    assert isinstance(result, m.Created) and result.path.endswith("n-0000000000"), result
    return {"create.total": best_us(rounds, n, fresh_machine, total)}


def bench_get(n: int, rounds: int) -> dict[str, list[float]]:
    rng = random.Random(2)
    paths = [data_path(rng.randrange(NODES)) for _ in range(n)]
    machine = fresh_machine()

    def run(_: object) -> None:
        get = machine.get_data
        for p in paths:
            get(p, SESSION)

    return {"get.machine": best_us(rounds, n, lambda: None, run)}


# ----------------------------------------------------------------------- wire codecs


def _client_chunks(opcode: int, records: list[w.Record]) -> list[bytes]:
    client = w.ClientConnection()
    client.connect(w.ConnectRequest(0, 0, 30_000, 0, bytes(16)))
    frames = [client.request(xid, opcode, rec) for xid, rec in enumerate(records, 1)]
    return [b"".join(frames[i : i + CHUNK]) for i in range(0, len(frames), CHUNK)]


def _connected_server() -> w.ServerConnection:
    server = w.ServerConnection()
    client = w.ClientConnection()
    server.receive_data(client.connect(w.ConnectRequest(0, 0, 30_000, 0, bytes(16))))
    assert isinstance(server.next_event(), w.ConnectRequest)
    return server


def bench_wire(n: int, rounds: int) -> dict[str, list[float]]:
    rng = random.Random(3)
    machine = fresh_machine()
    sets: list[w.Record] = [
        w.SetDataRequest(data_path(rng.randrange(NODES)), DATA, -1) for _ in range(n)
    ]
    gets: list[w.Record] = [
        w.GetDataRequest(data_path(rng.randrange(NODES)), False) for _ in range(n)
    ]
    stat = stat_out(machine.get_data(data_path(0), SESSION)[1])
    set_reply: w.Record = w.SetDataResponse(stat)
    get_reply: w.Record = w.GetDataResponse(DATA, stat)

    def run_wire(opcode: int, chunks: list[bytes], reply: w.Record) -> Callable[[object], None]:
        def run(server: object) -> None:
            assert isinstance(server, w.ServerConnection)
            receive, next_event, answer = server.receive_data, server.next_event, server.reply
            for chunk in chunks:
                receive(chunk)
                while (event := next_event()) is not None:
                    assert isinstance(event, w.Request)
                    answer(event.xid, 7, 0, opcode, reply)

        return run

    set_chunks = _client_chunks(OpCode.SET_DATA, sets)
    get_chunks = _client_chunks(OpCode.GET_DATA, gets)
    mstat = machine.get_data(data_path(0), SESSION)[1]

    def origin(_: object) -> None:
        for rec in sets:
            write_response(OpCode.SET_DATA, rec, mstat)
            write_op(OpCode.SET_DATA, rec)

    def client_side(_: object) -> None:
        client = w.ClientConnection()
        client.connect(w.ConnectRequest(0, 0, 30_000, 0, bytes(16)))
        client.receive_data(handshake)
        assert isinstance(client.next_event(), w.ConnectResponse)
        request, receive, next_event = client.request, client.receive_data, client.next_event
        xid = 0
        for chunk in reply_chunks:
            for _ in range(CHUNK):
                xid += 1
                request(xid, OpCode.SET_DATA, sets[xid - 1])
            receive(chunk)
            while (event := next_event()) is not None:
                assert isinstance(event, w.Reply)

    server = _connected_server()
    handshake = server.connect_response(w.ConnectResponse(0, 30_000, SESSION, bytes(16)))
    replies = [server.reply(xid, 7, 0, OpCode.SET_DATA, set_reply) for xid in range(1, n + 1)]
    reply_chunks = [b"".join(replies[i : i + CHUNK]) for i in range(0, n, CHUNK)]
    assert n % CHUNK == 0, "--n must be a multiple of 32"

    return {
        "wire.set": best_us(
            rounds, n, _connected_server, run_wire(OpCode.SET_DATA, set_chunks, set_reply)
        ),
        "wire.get": best_us(
            rounds, n, _connected_server, run_wire(OpCode.GET_DATA, get_chunks, get_reply)
        ),
        "origin.set": best_us(rounds, n, lambda: None, origin),
        "client.set": best_us(rounds, n, lambda: None, client_side),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200_000, help="setData txns / requests per round")
    parser.add_argument("--creates", type=int, default=50_000, help="sequential creates per round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    figures: dict[str, list[float]] = {}
    figures |= bench_set(args.n, args.rounds)
    figures |= bench_create(args.creates, args.rounds)
    figures |= bench_get(args.n, args.rounds)
    figures |= bench_wire(args.n, args.rounds)
    print(f"apply_path: n={args.n} creates={args.creates} rounds={args.rounds} (µs per op)")
    print(f"{'part':<14}{'best':>8}{'median':>8}{'worst':>8}")
    for name, values in figures.items():
        print(f"{name:<14}{min(values):8.2f}{statistics.median(values):8.2f}{max(values):8.2f}")
    print(json.dumps({name: round(min(values), 3) for name, values in figures.items()}))


if __name__ == "__main__":
    main()
