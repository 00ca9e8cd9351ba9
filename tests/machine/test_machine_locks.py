"""Chubby locks in the state machine: FIFO, modes, fencing tokens, lock-delay, mirror
nodes, snapshots (docs/design/locks.md; Chubby, OSDI '06, §2.4)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import msgpack
import pytest
from legacy_snapshot import encode_format_1, encode_format_2
from machine_helpers import OPEN, Driver

from quorumd import errors
from quorumd.machine import (
    LOCK_FREE,
    AcquireLock,
    AddAuth,
    Applied,
    CloseSession,
    Create,
    Delete,
    EventType,
    ExpireSessions,
    GrantDueLocks,
    LockGrant,
    LockGranted,
    LockInfo,
    LockMode,
    LockStatus,
    Multi,
    ReleaseLock,
    Sequencer,
    SetACL,
    SetData,
    StateMachine,
    Txn,
    decode_txn,
    digest_id,
    encode_txn,
)
from quorumd.machine.locks import lock_node_path

EX = LockMode.EXCLUSIVE
SH = LockMode.SHARED


def _driver(*sessions: int) -> Driver:
    d = Driver()
    for sid in sessions or (1, 2, 3, 4):
        d.session(sid)
    return d


def acquire(
    d: Driver, sid: int, path: str = "/l", mode: int = EX, wait: bool = True, delay: int = -1
) -> Applied:
    return d.apply(AcquireLock(path, mode, wait, delay), session_id=sid)


def release(d: Driver, sid: int, path: str = "/l") -> Applied:
    return d.apply(ReleaseLock(path), session_id=sid)


def assert_unchanged(d: Driver, before: bytes) -> None:
    """Only last_zxid moved since the snapshot `before`."""
    restored = StateMachine.restore(before)
    restored.apply_noop(d.zxid)
    assert restored.snapshot() == d.machine.snapshot()


def granted(d: Driver, applied: Applied) -> LockGrant:
    assert applied.result == LockGrant(LockStatus.GRANTED, d.zxid, 0), applied.result
    return applied.result


# -- FIFO and modes ---------------------------------------------------------------------


def test_waiters_are_granted_in_fifo_order() -> None:
    d = _driver()
    granted(d, acquire(d, 1))
    for position, sid in enumerate((2, 3, 4), start=1):
        applied = acquire(d, sid)
        assert applied.result == LockGrant(LockStatus.QUEUED, 0, position)
        assert applied.grants == ()
    assert d.machine.lock_info("/l") == LockInfo(EX, 5, (1,), (2, 3, 4))
    for holder, successor in ((1, 2), (2, 3), (3, 4)):
        applied = release(d, holder)
        assert applied.result is None
        assert applied.grants == (LockGranted(successor, "/l", EX, d.zxid),)
    applied = release(d, 4)
    assert applied.grants == ()
    assert d.machine.lock_info("/l") == LockInfo(LOCK_FREE, 0, (), ())


def test_shared_holders_coexist_and_exclusive_waits_for_all() -> None:
    d = _driver()
    t1 = granted(d, acquire(d, 1, mode=SH)).token
    t2 = granted(d, acquire(d, 2, mode=SH)).token
    assert t1 < t2  # each holder keeps the token of the entry that granted it
    assert acquire(d, 3, mode=EX).result == LockGrant(LockStatus.QUEUED, 0, 1)
    assert release(d, 1).grants == ()
    assert release(d, 2).grants == (LockGranted(3, "/l", EX, d.zxid),)
    assert d.machine.lock_info("/l").holders == (3,)


def test_no_writer_starvation_shared_waits_behind_exclusive_waiter() -> None:
    d = _driver()
    granted(d, acquire(d, 1, mode=SH))
    acquire(d, 2, mode=EX)
    # compatible with the shared holder, but an exclusive waiter is ahead of it
    assert acquire(d, 3, mode=SH).result == LockGrant(LockStatus.QUEUED, 0, 2)
    assert acquire(d, 4, mode=SH, wait=False).result.__class__ is errors.NodeExists
    assert release(d, 1).grants == (LockGranted(2, "/l", EX, d.zxid),)
    assert release(d, 2).grants == (LockGranted(3, "/l", SH, d.zxid),)


def test_shared_waiters_granted_by_one_entry_share_its_token() -> None:
    d = _driver()
    granted(d, acquire(d, 1))
    acquire(d, 2, mode=SH)
    acquire(d, 3, mode=SH)
    acquire(d, 4, mode=EX)
    applied = release(d, 1)
    assert applied.grants == (
        LockGranted(2, "/l", SH, d.zxid),
        LockGranted(3, "/l", SH, d.zxid),
    )
    assert d.machine.lock_info("/l") == LockInfo(SH, d.zxid, (2, 3), (4,))


def test_cancelling_the_head_waiter_lets_the_next_ones_in() -> None:
    d = _driver()
    granted(d, acquire(d, 1, mode=SH))
    acquire(d, 2, mode=EX)
    acquire(d, 3, mode=SH)
    applied = release(d, 2)  # a waiter leaves the queue with the release op
    assert applied.result is None
    assert applied.grants == (LockGranted(3, "/l", SH, d.zxid),)
    assert d.machine.lock_info("/l").holders == (1, 3)


def test_locks_are_independent_by_path() -> None:
    d = _driver()
    granted(d, acquire(d, 1, "/a"))
    granted(d, acquire(d, 2, "/b"))
    granted(d, acquire(d, 1, "/a/b"))
    assert d.machine.locks_held(1) == (Sequencer("/a", EX, 5), Sequencer("/a/b", EX, 7))
    assert d.machine.locks_held(3) == ()


# -- try-lock and errors ----------------------------------------------------------------


def test_try_lock_busy_queues_nothing() -> None:
    d = _driver()
    granted(d, acquire(d, 1, wait=False))
    applied = acquire(d, 2, wait=False)
    assert isinstance(applied.result, errors.NodeExists)
    assert applied.result.code == -110
    assert d.machine.lock_info("/l") == LockInfo(EX, 5, (1,), ())
    assert release(d, 1).grants == ()
    granted(d, acquire(d, 2, wait=False))


@pytest.mark.parametrize(
    ("op", "sid", "error"),
    [
        (AcquireLock("/l", EX, True), 1, errors.BadArguments),  # holds it already
        (AcquireLock("/l", SH, True), 2, errors.BadArguments),  # waits on it already
        (AcquireLock("/x", EX, True), 9, errors.SessionExpired),
        (AcquireLock("/x", 2, True), 1, errors.BadArguments),
        (AcquireLock("/x", EX, True, -2), 1, errors.BadArguments),
        (AcquireLock("/", EX, True), 1, errors.BadArguments),
        (AcquireLock("x", EX, True), 1, errors.BadArguments),
        (AcquireLock("/x/", EX, True), 1, errors.BadArguments),
        (ReleaseLock("/x"), 1, errors.NoNode),
        (ReleaseLock("/l"), 3, errors.NoNode),
        (ReleaseLock("/l"), 9, errors.SessionExpired),
        (ReleaseLock("/x//"), 1, errors.BadArguments),
    ],
)
def test_lock_op_errors_change_nothing(op: object, sid: int, error: type) -> None:
    d = _driver()
    acquire(d, 1)
    acquire(d, 2)
    before = d.machine.snapshot()
    applied = d.apply(op, session_id=sid)  # type: ignore[arg-type]
    assert type(applied.result) is error
    assert applied.events == () and applied.grants == ()
    assert_unchanged(d, before)


def test_lock_delay_is_capped_and_zero_allowed() -> None:
    d = _driver()
    acquire(d, 1, "/a", delay=10**9)
    acquire(d, 2, "/b", delay=0)
    d.apply(ExpireSessions((1, 2)), session_id=0, time_ms=5_000)
    assert d.machine.lock_info("/b") == LockInfo(LOCK_FREE, 0, (), ())
    assert not d.machine.locks_due(5_000 + 60_000 - 1)
    assert d.machine.locks_due(5_000 + 60_000)


# -- fencing tokens ---------------------------------------------------------------------


def test_check_sequencer_rejects_an_old_token_after_a_regrant() -> None:
    d = _driver()
    old = granted(d, acquire(d, 1)).token
    assert d.machine.check_sequencer("/l", EX, old) == (True, old)
    assert d.machine.check_sequencer("/l", SH, old) == (False, old)
    release(d, 1)
    assert d.machine.check_sequencer("/l", EX, old) == (False, 0)
    new = granted(d, acquire(d, 1)).token
    assert new > old
    assert d.machine.check_sequencer("/l", EX, old) == (False, new)
    assert d.machine.check_sequencer("/l", EX, new) == (True, new)
    assert d.machine.check_sequencer("/other", EX, new) == (False, 0)
    with pytest.raises(errors.BadArguments):
        d.machine.check_sequencer("nope", EX, new)


def test_shared_sequencers_stay_valid_while_their_holder_holds() -> None:
    d = _driver()
    t1 = granted(d, acquire(d, 1, mode=SH)).token
    t2 = granted(d, acquire(d, 2, mode=SH)).token
    assert d.machine.lock_info("/l", session_id=1).token == t1
    assert d.machine.lock_info("/l", session_id=2).token == t2
    assert d.machine.lock_info("/l").token == t2
    release(d, 2)
    assert d.machine.check_sequencer("/l", SH, t1) == (True, t1)
    assert d.machine.check_sequencer("/l", SH, t2) == (False, t1)


def test_tokens_increase_across_snapshot_and_restore() -> None:
    d = _driver()
    t1 = granted(d, acquire(d, 1)).token
    acquire(d, 2)
    restored = Driver(StateMachine.restore(d.machine.snapshot()))
    assert restored.machine.check_sequencer("/l", EX, t1) == (True, t1)
    applied = release(restored, 1)
    (grant,) = applied.grants
    assert grant.session_id == 2 and grant.token > t1
    release(restored, 2)
    assert granted(restored, acquire(restored, 3)).token > grant.token


# -- session end and lock-delay -----------------------------------------------------------


def test_close_releases_at_once_without_delay() -> None:
    d = _driver()
    acquire(d, 1, delay=30_000)
    acquire(d, 2)
    acquire(d, 3, "/m")
    applied = d.apply(CloseSession(1), session_id=1)
    assert applied.grants == (LockGranted(2, "/l", EX, d.zxid),)
    assert d.machine.locks_held(1) == ()
    assert not d.machine.locks_due(10**12)


def test_lock_delay_after_holder_expiry() -> None:
    d = _driver()
    acquire(d, 1, delay=5_000)
    acquire(d, 2)
    applied = d.apply(ExpireSessions((1,)), session_id=0, time_ms=1_000)
    assert applied.result == (1,) and applied.grants == ()
    info = d.machine.lock_info("/l")
    assert info == LockInfo(LOCK_FREE, 0, (), (2,))
    # busy for a try-lock, queued for a waiter, while the delay lasts
    assert isinstance(acquire(d, 3, wait=False).result, errors.NodeExists)
    assert acquire(d, 3).result == LockGrant(LockStatus.QUEUED, 0, 2)
    assert not d.machine.locks_due(5_999)
    early = d.apply(GrantDueLocks(), session_id=0, time_ms=5_999)
    assert early.result == () and early.grants == ()
    assert d.machine.locks_due(6_000)
    due = d.apply(GrantDueLocks(), session_id=0, time_ms=6_000)
    assert due.result == ("/l",)
    assert due.grants == (LockGranted(2, "/l", EX, d.zxid),)
    assert not d.machine.locks_due(10**12)


def test_lock_delay_without_waiters_still_blocks_then_clears() -> None:
    d = _driver()
    acquire(d, 1, delay=2_000)
    d.apply(ExpireSessions((1,)), session_id=0, time_ms=1_000)
    assert d.machine.exists(lock_node_path("/l")) is not None  # still shown, as delayed
    assert isinstance(acquire(d, 2, wait=False, delay=0).result, errors.NodeExists)
    assert d.apply(GrantDueLocks(), session_id=0, time_ms=3_000).result == ("/l",)
    assert d.machine.exists(lock_node_path("/l")) is None


def test_any_entry_past_the_delay_grants_the_queue_first() -> None:
    d = _driver()
    acquire(d, 1, delay=1_000)
    acquire(d, 2)
    d.apply(ExpireSessions((1,)), session_id=0, time_ms=1_000)
    applied = d.apply(AcquireLock("/l", EX, True), session_id=3, time_ms=2_000)
    assert applied.grants == (LockGranted(2, "/l", EX, d.zxid),)
    assert applied.result == LockGrant(LockStatus.QUEUED, 0, 1)


def test_waiter_expiry_and_shared_holder_expiry() -> None:
    d = _driver()
    acquire(d, 1, mode=SH, delay=1_000)
    acquire(d, 2, mode=SH)
    acquire(d, 3, mode=EX)
    acquire(d, 4, mode=SH)
    d.apply(ExpireSessions((3,)), session_id=0, time_ms=1_000)  # a waiter: no delay
    assert d.machine.lock_info("/l").holders == (1, 2, 4)
    d.apply(ExpireSessions((1,)), session_id=0, time_ms=2_000)  # a holder: delay
    assert not d.machine.locks_due(2_999) and d.machine.locks_due(3_000)
    d.session(5)
    assert acquire(d, 5, mode=SH).result == LockGrant(LockStatus.QUEUED, 0, 1)


def test_sessions_ending_together_are_not_granted_by_that_entry() -> None:
    d = _driver()
    acquire(d, 1, delay=0)
    acquire(d, 2)
    acquire(d, 3)
    applied = d.apply(ExpireSessions((1, 2)), session_id=0)
    assert applied.grants == (LockGranted(3, "/l", EX, d.zxid),)


# -- visibility nodes -----------------------------------------------------------------------


def test_mirror_nodes_follow_the_lock() -> None:
    d = _driver()
    applied = acquire(d, 1, "/a/b")
    node = lock_node_path("/a/b")
    assert node == "/quorumd/locks/a%2Fb"
    assert (EventType.NODE_CREATED, node) in [(e.kind, e.path) for e in applied.events]
    assert d.machine.get_data(node, 2)[0] == b"mode=exclusive token=5 holders=0x1 waiters=0"
    acquire(d, 2, "/a/b")
    assert d.machine.get_data(node, 2)[0] == b"mode=exclusive token=5 holders=0x1 waiters=1"
    assert d.machine.get_children("/quorumd/locks", 2)[0] == ["a%2Fb"]
    release(d, 1, "/a/b")
    release(d, 2, "/a/b")
    assert d.machine.exists(node) is None
    assert d.machine.exists("/quorumd/locks") is not None


def test_mirror_names_are_one_to_one() -> None:
    d = _driver()
    acquire(d, 1, "/a/b")
    acquire(d, 1, "/a%2Fb")
    assert d.machine.get_children("/quorumd/locks", 1)[0] == ["a%252Fb", "a%2Fb"]


@pytest.mark.parametrize(
    "op",
    [
        Create("/quorumd/locks/x", b"", OPEN),
        Create("/quorumd/x", b"", OPEN, 2),
        Delete(lock_node_path("/l")),
        Delete("/quorumd/locks"),
        SetData(lock_node_path("/l"), b"mode=none"),
        SetACL("/quorumd", OPEN),
        Multi((Create("/ok", b"", OPEN), Create("/quorumd/y", b"", OPEN))),
    ],
)
def test_clients_cannot_write_under_quorumd_not_even_super(op: object) -> None:
    d = Driver(StateMachine(super_digest=digest_id("super", "pw")))
    d.session(1)
    d.ok(AddAuth(1, "digest", digest_id("super", "pw")))
    acquire(d, 1)
    before = d.machine.snapshot()
    result = d.apply(op, session_id=1).result  # type: ignore[arg-type]
    if isinstance(op, Multi):
        assert isinstance(result, tuple) and type(result[1]) is errors.NoAuth
    else:
        assert type(result) is errors.NoAuth
    assert_unchanged(d, before)


def test_reserved_root_cannot_be_created_before_any_lock() -> None:
    d = _driver(1)
    assert type(d.apply(Create("/quorumd", b"", OPEN)).result) is errors.NoAuth
    assert d.create("/quorumdx") == "/quorumdx"


# -- codec and snapshots ------------------------------------------------------------------


def test_lock_ops_round_trip_through_the_txn_codec() -> None:
    for op in (AcquireLock("/l", SH, False, 0), ReleaseLock("/l"), GrantDueLocks()):
        txn = Txn(1, 2, 3, 4, op)
        assert decode_txn(encode_txn(txn)) == txn
    bad = msgpack.packb([1, 2, 3, 4, [200, "/l", 0, 1, -1]])  # wait must be a boolean
    with pytest.raises(errors.ProtocolError):
        decode_txn(bad)


def _busy_machine() -> Driver:
    d = _driver()
    acquire(d, 1, "/a", mode=SH)
    acquire(d, 2, "/a", mode=SH)
    acquire(d, 3, "/a", mode=EX)
    acquire(d, 4, "/b", delay=3_000)
    acquire(d, 1, "/b")
    d.apply(ExpireSessions((4,)), session_id=0, time_ms=1_000)
    return d


def test_snapshot_keeps_the_lock_table() -> None:
    d = _busy_machine()
    snap = d.machine.snapshot()
    twin = Driver(StateMachine.restore(snap))
    assert twin.machine.snapshot() == snap
    twin.machine.check_invariants()
    for path in ("/a", "/b"):
        assert twin.machine.lock_info(path) == d.machine.lock_info(path)
    assert twin.machine.locks_due(4_000) and not twin.machine.locks_due(3_999)
    # both replicas go on identically
    for driver in (d, twin):
        driver.apply(GrantDueLocks(), session_id=0, time_ms=4_000)
        release(driver, 1, "/a")
        driver.apply(CloseSession(2), session_id=2)
    assert twin.machine.snapshot() == d.machine.snapshot()
    assert d.machine.lock_info("/a").holders == (3,)


def test_format_1_snapshots_still_load() -> None:
    d = _driver(1)
    d.create("/x")
    old = encode_format_1(d.machine)
    assert old[:2] == b"\x95\x01"  # a 5-field header of format 1: no lock table
    m = StateMachine.restore(old)
    assert m.get_data("/x", None)[0] == b"" and m.lock_info("/x").mode == LOCK_FREE
    assert m.snapshot() == d.machine.snapshot()


def test_format_2_snapshots_keep_the_lock_table() -> None:
    d = _busy_machine()
    m = StateMachine.restore(encode_format_2(d.machine))
    m.check_invariants()
    assert m.snapshot() == d.machine.snapshot()
    assert m.lock_info("/a") == d.machine.lock_info("/a")


@pytest.mark.parametrize(
    "locks",
    [
        "nope",
        [["/a", 0, 0, [[1, 5]], []]],  # holder without its delay
        [["/a", 7, 0, [[1, 5, 0]], []]],  # unknown mode
        [["/a", -1, 0, [], []]],  # an idle lock is never stored
        [["/a", -1, 0, [[1, 5, 0]], []]],  # a holder of a free lock
        [["/a", 0, 0, [[1, 5, 0], [2, 5, 0]], []]],  # two exclusive holders
        [[3, 0, 0, [[1, 5, 0]], []]],
        [["/a", 0, "x", [[1, 5, 0]], []]],
    ],
)
def test_bad_lock_records_are_protocol_errors(locks: object) -> None:
    d = _driver(1)
    unpacker = msgpack.Unpacker(raw=False)
    unpacker.feed(d.machine.snapshot())
    header, *nodes = list(unpacker)
    header[5] = locks
    data = b"".join(msgpack.packb(x, use_bin_type=True) for x in [header, *nodes])
    with pytest.raises(errors.ProtocolError):
        StateMachine.restore(data)


_WORKLOAD = textwrap.dedent(
    """
    import hashlib, random
    from quorumd.machine import *
    m = StateMachine()
    rng = random.Random(11)
    z = 0
    h = hashlib.sha256()
    def ap(op, sid, t):
        global z
        z += 1
        h.update(repr(m.apply(z, Txn(sid, t, 0, 0, op))).encode())
    for s in range(1, 7):
        ap(CreateSession(s, b"p", 1000), 0, 0)
    for i in range(400):
        sid, path = rng.randint(1, 6), rng.choice(("/a", "/b", "/c/d"))
        roll = rng.random()
        if roll < 0.5:
            ap(AcquireLock(path, rng.randint(0, 1), True, rng.choice((0, 50))), sid, i * 10)
        elif roll < 0.8:
            ap(ReleaseLock(path), sid, i * 10)
        elif roll < 0.9:
            ap(ExpireSessions((sid, rng.randint(1, 6))), 0, i * 10)
            ap(CreateSession(sid, b"p", 1000), 0, i * 10)
        else:
            ap(GrantDueLocks(), 0, i * 10)
    h.update(m.snapshot())
    print(h.hexdigest())
    """
)


def test_lock_state_independent_of_hash_seed() -> None:
    """Sets of sessions and paths iterate in hash order; grants, events and snapshots
    must not depend on it."""
    digests = set()
    for seed in ("1", "2", "3"):
        out = subprocess.run(
            [sys.executable, "-c", _WORKLOAD],
            env={"PYTHONHASHSEED": seed, "PATH": ""},
            capture_output=True,
            text=True,
            check=True,
        )
        digests.add(out.stdout.strip())
    assert len(digests) == 1
