"""The Ready loop: the thin runtime around one consensus engine (DESIGN.md rule 4).

Theory of operation:
1. Inputs arrive on the event loop: timer ticks, peer frames, client requests. Each one
   is fed to the engine (`tick`, `step`, `propose`, `read_index`) and `pump()` is
   scheduled for the end of the loop iteration.
2. `pump()` takes one `Ready` at a time. Its messages go out at once (the engine holds
   back anything that waits on the disk). If it has something to persist, the disk
   writer thread does it while the loop keeps serving; everything proposed meanwhile
   lands in the next `Ready` — one fsync per batch on every node. At low load (a Ready
   of one or two entries) the loop writes it itself: two thread hand-offs cost more
   than the fsync.
3. When the write is durable the loop calls `advance()`, installs a received snapshot,
   applies the committed entries in order, and releases reads whose index is applied.
4. Client writes are `Txn`s, encoded once by the node that holds the connection and
   proposed by the leader (forwarded by a follower). A write proposed in term t that is
   not applied by the time an entry of a later term is applied can never commit (a
   leader of a later term holds every entry of term t it will ever commit before its
   own first entry), so it is routed again: exactly once, without replies from the
   leader, and in order: later writes wait behind one whose fate is unknown.
5. The node makes no consensus decisions: it only moves bytes and owns the clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import logging
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from quorumd import build
from quorumd._types import NodeId
from quorumd.consensus.engine import (
    ClusterConfig,
    Engine,
    Entry,
    EntryKind,
    HardState,
    Ready,
    Role,
    Snapshot,
    SnapshotMeta,
    Status,
)
from quorumd.errors import NotLeader, ProtocolError
from quorumd.machine import (
    Applied,
    CloseSession,
    CreateSession,
    DeleteTTLExpired,
    ExpireSessions,
    GrantDueLocks,
    StateMachine,
    Txn,
    decode_txn,
    encode_txn,
)
from quorumd.server import snapshotter
from quorumd.server.config import ServerConfig
from quorumd.server.engines import make_engine, wire_codec
from quorumd.server.peers import PeerTransport
from quorumd.server.sessions import SessionTracker
from quorumd.server.writer import DiskWriter
from quorumd.storage import LogStore, persist_ready
from quorumd.storage.osdisk import OsDisk

log = logging.getLogger("quorumd.node")

WriteDone = Callable[[Applied], None]
ApplyHook = Callable[[Txn, Applied, bool], None]


@dataclass(slots=True)
class _PendingWrite:
    request_id: int
    data: bytes
    done: WriteDone
    term: int = -1  # term in which it was last proposed or forwarded; -1 = not routed


@dataclass(slots=True)
class _PendingRead:
    done: Callable[[], None]
    issued_tick: int


def _release_free_heap() -> None:
    """glibc keeps the heap the restore's temporaries (snapshot columns, decoded log)
    freed, for reuse; hand it back so the node's RSS is what it holds."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to trim
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _persist(store: LogStore, rd: Ready, buffered: HardState | None) -> None:
    if buffered is not None:
        store.set_hard_state(buffered)  # a later hard state in `rd` overrides it
    persist_ready(store, rd)


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


def monotonic_ms() -> int:
    return time.monotonic_ns() // 1_000_000


class Node:
    """One quorumd server: engine, log store, state machine and peers on one event loop."""

    def __init__(self, cfg: ServerConfig) -> None:
        self.cfg = cfg
        self.id = NodeId(cfg.id)
        self.store: LogStore | None = None
        self.engine: Engine | None = None
        self.machine = StateMachine(super_digest=cfg.super_digest)
        self.sessions = SessionTracker()
        self.on_apply: ApplyHook = lambda txn, applied, mine: None
        self.after_apply: Callable[[], None] = lambda: None  # a batch was applied
        self.on_role_change: Callable[[Status], None] = lambda st: None
        self._peers: PeerTransport | None = None
        self._writer: DiskWriter | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._persisting = False
        self._pump_scheduled = False
        self._ticks = 0
        self._tick_handle: asyncio.TimerHandle | None = None
        self._boot = int.from_bytes(os.urandom(3), "big") << 32
        self._next_request = 0
        self._pending: dict[int, _PendingWrite] = {}
        self._blocked = False  # some write could not be routed: route in order later
        self._forward_out: dict[int, list[list[Any]]] = {}
        self._forward_flush = False
        self._forward_restart = False
        self._refusing: set[int] = set()  # leader: followers whose forwards it refused
        self._last_forwarder: int | None = None  # leader: the follower that forwarded last
        self._reads: dict[bytes, _PendingRead] = {}
        self._read_waiting: list[tuple[int, bytes]] = []
        self._next_read = 0
        self._applied_index = 0
        self._applied_term = 0
        self._snapshot_index = 0
        self._snapshotting = False
        self._role = Role.FOLLOWER
        self._term = 0
        self._leader: int | None = None
        self._live_sessions: set[int] = set()
        self._ttl_in_flight = False
        self._leader_contact_ms = monotonic_ms()  # last frame from a leader, or start
        self._durable_hs: HardState | None = None  # term/vote last handed to the disk
        self._buffered_hs: HardState | None = None  # commit-only change, for the next fsync
        self._locks_in_flight = False
        self.fatal: asyncio.Future[BaseException] | None = None
        self.stopped = False

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._loop = loop
        self.fatal = loop.create_future()
        disk = OsDisk()
        disk.makedirs(self.cfg.data_dir)
        store, restored = LogStore.open(
            disk,
            self.cfg.data_dir,
            segment_bytes=self.cfg.segment_bytes,
            keep_snapshots=self.cfg.keep_snapshots,
        )
        self.store = store
        self._durable_hs = restored.hard_state
        if restored.snapshot is not None and restored.snapshot_data is not None:
            self.machine = StateMachine.restore(restored.snapshot_data)
            self._applied_index = restored.snapshot.index
            self._snapshot_index = restored.snapshot.index
        # What was restored lives as long as the process: keep the cyclic collector from
        # walking it again and again (a million nodes cost it seconds while the log replays).
        gc.freeze()
        _release_free_heap()
        cluster = ClusterConfig(voters=tuple(NodeId(v) for v in self.cfg.voters))
        self.engine = make_engine(self.cfg, cluster, random.Random(), restored)
        if self.cfg.voters == (self.id,):
            # Alone there is nobody to wait for or to disrupt: campaign at once instead of
            # sitting out an election timeout (ZooKeeper's standalone mode serves at once).
            for _ in range(2 * self.cfg.election_timeout_ticks):
                if self.engine.status().role is not Role.FOLLOWER:
                    break
                self.engine.tick()
        self._writer = DiskWriter(loop, name=f"quorumd-writer-{self.id}")
        self._peers = PeerTransport(
            self.id,
            self.cfg.cluster_id,
            self.cfg.peers,
            self._on_peer_frame,
            max_frame=self.cfg.max_peer_frame,
            queue_limit=self.cfg.peer_queue_limit,
            on_down=self._on_peer_down,
        )
        await self._peers.start()
        self._schedule_tick()
        self._schedule_pump()
        log.info(
            "node %d started: %d entries after snapshot %d, consensus=%s, build=%s",
            self.id, len(restored.entries), self._snapshot_index, self.cfg.consensus, build(),
        )

    async def stop(self) -> None:
        self.stopped = True
        if self._tick_handle is not None:
            self._tick_handle.cancel()
        if self._peers is not None:
            await self._peers.stop()
        if self._writer is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._writer.close)
        if self.store is not None:
            if self._buffered_hs is not None and not self._persisting:
                with contextlib.suppress(Exception):  # best effort: commit is volatile
                    self.store.set_hard_state(self._buffered_hs)
                    self.store.sync()
            self.store.close()

    def _fail(self, exc: BaseException) -> None:
        log.critical("node %d cannot continue: %r", self.id, exc)
        if self.fatal is not None and not self.fatal.done():
            self.fatal.set_result(exc)

    # ------------------------------------------------------------------ engine inputs

    def _schedule_tick(self) -> None:
        assert self._loop is not None
        self._tick_handle = self._loop.call_later(self.cfg.tick_ms / 1000, self._on_tick)

    def _on_tick(self) -> None:
        if self.stopped:
            return
        assert self.engine is not None
        self._ticks += 1
        self.engine.tick()
        self._maintain_sessions()
        self._retry_reads()
        if self._blocked:
            self._route_pending()
        self._schedule_pump()
        self._schedule_tick()

    def _on_peer_frame(self, peer: int, frame: Any) -> None:
        assert self.engine is not None
        if peer == self._leader:
            self._leader_contact_ms = monotonic_ms()
        try:
            kind = frame[0]
            if kind == "r":
                self.engine.step(wire_codec(self.cfg).decode(frame[1]))
            elif kind == "fwd":
                self._on_forwarded(peer, frame[1], frame[2], bool(frame[3]))
            elif kind == "nack":
                self._on_nack(frame[1])
            elif kind == "live":
                now = monotonic_ms()
                for sid in frame[1]:
                    self.sessions.touch(sid, now)
            else:
                raise ProtocolError(f"unknown peer frame kind {kind!r}")
        except (ProtocolError, IndexError, TypeError, KeyError) as exc:
            log.warning("node %d: dropping bad frame from peer %d: %s", self.id, peer, exc)
            return
        self._schedule_pump()

    def _on_peer_down(self, peer: int) -> None:
        """The connection to our leader broke (a killed process resets it at once, as
        ZooKeeper's followers notice): count the election timeout as passed instead of
        waiting it out. What is left is the randomized part, so followers still do not
        campaign all at once. Safe even if the leader lives: pre-vote and the lease of
        followers still in touch with it refuse the campaign."""
        if self.stopped or peer != self._leader or self._role != Role.FOLLOWER:
            return
        assert self.engine is not None
        log.info("node %d: connection to leader %d lost; election timer fast-forwarded",
                 self.id, peer)
        for _ in range(self.cfg.election_timeout_ticks):
            self.engine.tick()
        self._schedule_pump()

    # ------------------------------------------------------------------ the Ready loop

    def _schedule_pump(self) -> None:
        if not self._pump_scheduled and self._loop is not None:
            self._pump_scheduled = True
            self._loop.call_soon(self._pump)

    def _pump(self) -> None:
        self._pump_scheduled = False
        engine = self.engine
        if self.stopped or engine is None or self._persisting or not engine.has_ready():
            return
        rd = engine.ready()
        # Committed entries are already durable on a quorum that includes this node, so
        # they are applied while this Ready's new entries are being written (etcd does
        # the same): a write waits for one fsync, not two. On a leader with writes of its
        # own clients in flight, a Ready with no new entries mostly spreads the commit
        # index, so those clients' replies go first. Otherwise the messages go first: a
        # follower's acks, or the commit notice a follower waits on to answer its client.
        applied_early = rd.snapshot is None and bool(rd.committed_entries)
        if applied_early and not rd.entries and self._pending and self._role == Role.LEADER:
            self._apply(rd.committed_entries)
            self._send(rd.messages)
        else:
            self._send(rd.messages)
            if applied_early:
                self._apply(rd.committed_entries)
        if rd.must_sync() and not self._needs_fsync(rd):
            # Only the commit index moved: Raft treats it as volatile (a restarted node
            # learns it again), so it rides along with the next fsync instead of being
            # synced alone — etcd's MustSync rule. This saves an fsync, and a trip to the
            # writer thread, per write at low load.
            self._buffered_hs = rd.hard_state
            self._finish(rd, applied_early)
        elif rd.must_sync():
            self._durable_hs = rd.hard_state or self._durable_hs
            self._persisting = True
            store = self.store
            assert self._writer is not None and store is not None
            buffered, self._buffered_hs = self._buffered_hs, None
            if self._persist_inline(rd):
                try:
                    _persist(store, rd, buffered)
                except Exception as exc:  # a node that cannot persist must stop
                    self._persisted(rd, exc, applied_early)
                    return
                self._persisted(rd, None, applied_early)
                return
            self._writer.submit(
                lambda: _persist(store, rd, buffered),
                lambda err: self._persisted(rd, err, applied_early),
            )
        else:
            self._finish(rd, applied_early)

    def _persist_inline(self, rd: Ready) -> bool:
        """Low load: nothing else for the loop to do while the disk works. Under load
        the writer thread lets the loop keep reading sockets during the fsync."""
        limit = self.cfg.inline_persist_max
        return (
            len(rd.entries) <= limit
            and len(self._pending) <= limit
            and rd.snapshot is None
            and not (self._writer is not None and self._writer.busy())
        )

    def _needs_fsync(self, rd: Ready) -> bool:
        if rd.entries or rd.snapshot is not None:
            return True
        hs, last = rd.hard_state, self._durable_hs
        if hs is None:
            return False
        return last is None or hs.term != last.term or hs.vote != last.vote

    def _persisted(self, rd: Ready, err: BaseException | None, applied_early: bool) -> None:
        self._persisting = False
        if err is not None:
            self._fail(err)
            return
        if not self.stopped:
            self._finish(rd, applied_early)
            # What the write held back (acks, votes) goes out now, not an iteration later.
            self._pump()

    def _finish(self, rd: Ready, applied_early: bool) -> None:
        assert self.engine is not None
        self.engine.advance(rd)
        if rd.snapshot is not None:
            self._install_snapshot(rd.snapshot)
        if rd.committed_entries and not applied_early:
            self._apply(rd.committed_entries)
        for rs in rd.read_states:
            self._read_ready(rs.index, rs.context)
        self._observe_role()
        self._schedule_pump()

    def _send(self, messages: tuple[object, ...]) -> None:
        if not messages:
            return
        peers = self._peers
        assert peers is not None
        encode = wire_codec(self.cfg).encode
        first = self._last_forwarder
        if first is not None and len(messages) > 1 and self._role == Role.LEADER:
            # The follower whose client waits on these messages (the entries, then the
            # commit notice, of a write it forwarded) hears first: the other followers'
            # wake-ups then do not stand between it and the CPU.
            messages = tuple(sorted(messages, key=lambda m: m.dst != first))  # type: ignore[attr-defined]
        for msg in messages:
            peers.send(msg.dst, ["r", encode(msg)])  # type: ignore[attr-defined]
        peers.flush()  # now, not at the end of the loop iteration: followers start sooner

    # ------------------------------------------------------------------ apply

    def _apply(self, entries: tuple[Entry, ...]) -> None:
        machine = self.machine
        me = int(self.id)
        hook = self.on_apply
        pending = self._pending
        term_before = self._applied_term
        for e in entries:
            if e.kind == EntryKind.NORMAL:
                try:
                    txn = decode_txn(e.data)
                except ProtocolError:
                    log.exception("undecodable committed entry %d; applied as no-op", e.index)
                    machine.apply_noop(e.index)
                    continue
                applied = machine.apply(e.index, txn)
                mine = txn.origin == me and txn.request_id in pending
                hook(txn, applied, mine)
                self._track_session_change(txn, applied)
                if mine:
                    pending.pop(txn.request_id).done(applied)
            else:
                machine.apply_noop(e.index)
            self._applied_index = e.index
            self._applied_term = e.term
        if self._applied_term > term_before and self._pending:
            self._route_pending()
        self._release_reads()
        self.after_apply()
        self._maybe_snapshot()

    def _install_snapshot(self, snap: Snapshot) -> None:
        self.machine = StateMachine.restore(snap.data)
        self._applied_index = snap.meta.index
        self._applied_term = snap.meta.term
        self._snapshot_index = snap.meta.index
        if self._pending:
            self._route_pending()
        log.info("node %d installed snapshot at index %d", self.id, snap.meta.index)

    def _maybe_snapshot(self) -> None:
        due = self._applied_index - self._snapshot_index >= self.cfg.snapshot_every
        if self._snapshotting or not due:
            return
        self.take_snapshot()

    def take_snapshot(self) -> None:
        """Snapshot the state at the applied index without stalling the loop (a forked
        child serializes it, see snapshotter.py); the writer saves it, then the engine
        compacts its log."""
        assert self._writer is not None and self.store is not None and self.engine is not None
        meta = SnapshotMeta(
            index=self._applied_index,  # type: ignore[arg-type]
            term=self._applied_term,  # type: ignore[arg-type]
            config=self.engine.status().config,
        )
        self._snapshotting = True
        path = os.path.join(self.cfg.data_dir, f"snapshot-{meta.index}.forked")
        pid, blocked_ms = snapshotter.fork_serialize(self.machine.snapshot, path)
        task = asyncio.ensure_future(snapshotter.collect(pid, path))
        task.add_done_callback(lambda t: self._snapshot_serialized(t, meta, blocked_ms))

    def _snapshot_serialized(
        self, task: asyncio.Future[bytes], meta: SnapshotMeta, blocked_ms: float
    ) -> None:
        if task.exception() is not None:
            self._snapshotting = False
            log.error("node %d: snapshot at %d failed: %r", self.id, meta.index,
                      task.exception())
            return
        snap = Snapshot(meta, task.result())
        store = self.store
        assert self._writer is not None and store is not None

        def saved(err: BaseException | None) -> None:
            self._snapshotting = False
            if err is not None:
                self._fail(err)
                return
            assert self.engine is not None
            self._snapshot_index = meta.index
            self.engine.compact(snap)
            log.info(
                "node %d snapshot at %d (%d bytes, event loop blocked %.1f ms by the fork)",
                self.id, meta.index, len(snap.data), blocked_ms,
            )

        self._writer.submit(lambda: store.save_snapshot(snap), saved)

    # ------------------------------------------------------------------ writes

    def write(self, session_id: int, op: object, done: WriteDone) -> None:
        """Replicate `op` for `session_id`; `done(applied)` runs once it is applied here.

        Writes of this node are routed strictly in order (per-session FIFO follows): a new
        write waits while an earlier one's fate is unknown (rule 4)."""
        self._next_request += 1
        rid = self._boot | self._next_request
        txn = Txn(session_id=session_id, time_ms=wall_ms(), origin=int(self.id),
                  request_id=rid, op=op)  # type: ignore[arg-type]
        p = _PendingWrite(rid, encode_txn(txn), done)
        self._pending[rid] = p
        if self._blocked or not self._send_one(p):
            self._blocked = True

    def _send_one(self, p: _PendingWrite) -> bool:
        """Propose (leader) or forward (follower) one write; False if there is no leader."""
        if self._role == Role.LEADER:
            assert self.engine is not None
            try:
                self.engine.propose(p.data)
            except NotLeader:
                return False
            p.term = self._term
            self._schedule_pump()
            return True
        leader = self._leader
        if leader is None or leader == self.id:
            return False
        p.term = self._term
        self._forward_out.setdefault(leader, []).append([p.request_id, p.data])
        if not self._forward_flush and self._loop is not None:
            self._forward_flush = True
            self._loop.call_soon(self._flush_forwards)
        return True

    def _route_pending(self) -> None:
        """Route every write not routed in the current term, in order. A write routed in
        an older term is dead once an entry of a later term is applied (rule 4); until
        then it, and everything after it, waits."""
        current = self._term
        for p in self._pending.values():
            if p.term == current:
                continue
            if 0 <= p.term < current:
                if self._applied_term <= p.term:
                    self._blocked = True
                    return
                p.term = -1
            if not self._send_one(p):
                self._blocked = True
                return
        self._blocked = False

    def _flush_forwards(self) -> None:
        self._forward_flush = False
        assert self._peers is not None
        out, self._forward_out = self._forward_out, {}
        restart, self._forward_restart = self._forward_restart, False
        for leader, batch in sorted(out.items()):
            self._peers.send(leader, ["fwd", self._term, batch, restart])
        self._peers.flush()

    def _on_forwarded(self, peer: int, term: int, batch: list[list[Any]], restart: bool) -> None:
        """Propose a follower's writes in order. Once one is refused, every later one from
        that follower is refused too until it re-sends from the refused one (`restart`),
        so a refusal can never reorder its writes."""
        engine = self.engine
        assert engine is not None and self._peers is not None
        if restart:
            self._refusing.discard(peer)
        self._last_forwarder = peer
        rejected: list[int] = []
        for rid, data in batch:
            if peer in self._refusing or term != self._term or self._role != Role.LEADER:
                self._refusing.add(peer)
                rejected.append(rid)
                continue
            try:
                engine.propose(data)
            except NotLeader:
                self._refusing.add(peer)
                rejected.append(rid)
        if rejected:
            self._peers.send(peer, ["nack", rejected])

    def _on_nack(self, request_ids: list[int]) -> None:
        for rid in request_ids:
            p = self._pending.get(rid)
            if p is not None:
                p.term = -1
        self._blocked = True
        self._forward_restart = True

    # ------------------------------------------------------------------ linearizable reads

    def linearizable_read(self, done: Callable[[], None]) -> None:
        """Run `done` once this node's state reflects every write committed before now."""
        assert self.engine is not None
        self._next_read += 1
        ctx = self._next_read.to_bytes(8, "big")
        self._reads[ctx] = _PendingRead(done, self._ticks)
        self.engine.read_index(ctx)
        self._schedule_pump()

    def _read_ready(self, index: int, ctx: bytes) -> None:
        if ctx not in self._reads:
            return
        if index <= self._applied_index:
            self._reads.pop(ctx).done()
        else:
            self._read_waiting.append((index, ctx))

    def _release_reads(self) -> None:
        if not self._read_waiting:
            return
        keep: list[tuple[int, bytes]] = []
        for index, ctx in self._read_waiting:
            if index <= self._applied_index and ctx in self._reads:
                self._reads.pop(ctx).done()
            elif ctx in self._reads:
                keep.append((index, ctx))
        self._read_waiting = keep

    def _retry_reads(self) -> None:
        """ReadIndex requests are dropped when leadership is unknown: ask again."""
        if not self._reads or self.engine is None:
            return
        waiting = {ctx for _, ctx in self._read_waiting}
        limit = self.cfg.election_timeout_ticks
        for ctx, r in self._reads.items():
            if ctx not in waiting and self._ticks - r.issued_tick >= limit:
                r.issued_tick = self._ticks
                self.engine.read_index(ctx)

    # ------------------------------------------------------------------ sessions & roles

    def touch_session(self, session_id: int) -> None:
        """A client of this node spoke: its session is alive."""
        if self._role == Role.LEADER:
            self.sessions.touch(session_id, monotonic_ms())
        else:
            self._live_sessions.add(session_id)

    def _maintain_sessions(self) -> None:
        if self._role == Role.LEADER:
            due = self.sessions.due(monotonic_ms())
            if due:
                self.write(0, ExpireSessions(session_ids=tuple(due)), lambda applied: None)
            self._expire_ttl_nodes()
        elif self._live_sessions and self._leader is not None and self._ticks % 2 == 0:
            assert self._peers is not None
            self._peers.send(self._leader, ["live", sorted(self._live_sessions)])
            self._live_sessions.clear()

    def _expire_ttl_nodes(self) -> None:
        """Leader-only, time-based decisions: TTL node expiry, and grants whose
        lock-delay has passed. At most one of each in flight."""
        now = wall_ms()
        if self._ticks % 20 == 0 and not self._ttl_in_flight:
            expired = self.machine.ttl_expired(now)
            if expired:
                self._ttl_in_flight = True
                self.write(0, DeleteTTLExpired(paths=tuple(expired)), self._ttl_done)
        if not self._locks_in_flight and self.machine.locks_due(now):
            self._locks_in_flight = True
            self.write(0, GrantDueLocks(), self._locks_done)

    def _ttl_done(self, applied: Applied) -> None:
        self._ttl_in_flight = False

    def _locks_done(self, applied: Applied) -> None:
        self._locks_in_flight = False

    def _track_session_change(self, txn: Txn, applied: Applied) -> None:
        if self._role != Role.LEADER:
            return
        op = txn.op
        if isinstance(op, CreateSession):
            self.sessions.add(op.session_id, op.timeout_ms, monotonic_ms())
        elif isinstance(op, CloseSession):
            self.sessions.remove(op.session_id)
        elif isinstance(op, ExpireSessions):
            for sid in op.session_ids:
                self.sessions.remove(sid)

    def _observe_role(self) -> None:
        assert self.engine is not None
        role, term, leader = self.engine.leadership()
        if role == self._role and term == self._term and leader == self._leader:
            return
        was_leader = self._role == Role.LEADER
        self._role, self._term, self._leader = role, term, leader
        st = self.engine.status()
        if st.role == Role.LEADER and not was_leader:
            # Chubby's grace period: every session gets a fresh timeout under a new leader.
            self.sessions.reset(self.machine.session_timeouts(), monotonic_ms())
            self._refusing.clear()
            log.info("node %d is leader of term %d", self.id, st.term)
        elif st.role != Role.LEADER and was_leader:
            self.sessions.clear()
            log.info("node %d stepped down in term %d", self.id, st.term)
        if self._pending:
            self._route_pending()
        self.on_role_change(st)

    # ------------------------------------------------------------------ introspection

    @property
    def role(self) -> Role:
        return self._role

    @property
    def leader(self) -> int | None:
        return self._leader

    def leader_contact_age_ms(self) -> int:
        """How long ago this node last heard from a leader (or started, if it never
        has): 0 on the leader itself (check-quorum makes it step down when it cannot
        reach a majority)."""
        if self._role == Role.LEADER:
            return 0
        return monotonic_ms() - self._leader_contact_ms

    @property
    def applied_index(self) -> int:
        return self._applied_index

    def status(self) -> Status:
        assert self.engine is not None
        return self.engine.status()

    async def transfer_leadership(self, timeout_s: float) -> bool:
        """Hand leadership to the most caught-up voter (used on SIGTERM)."""
        if self._role != Role.LEADER or self.engine is None:
            return False
        st = self.engine.status()
        others = [(idx, nid) for nid, idx in st.progress.items() if nid != self.id]
        if not others:
            return False
        target = max(others)[1]
        self.engine.transfer_leadership(target)
        self._schedule_pump()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self._role == Role.LEADER:
            await asyncio.sleep(self.cfg.tick_ms / 1000)
        return self._role != Role.LEADER
