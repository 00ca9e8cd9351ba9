"""The client port: accepts ZooKeeper clients, fires watches, answers four-letter words.

Any node accepts any client. A node answers pings only while it has heard from a leader
within the longest election timeout (2 x `election_timeout_ticks`), so an answered ping
means the session is being renewed on the quorum (what `quorumd lock` and `run-elected`
rely on). A node that has not heard from a leader for twice that stops serving (it
might be on the minority side of a partition): it drops its client connections
and refuses new ones, so clients move to a node on the majority side (ZooKeeper's
followers do the same when they lose the leader). Serving resumes once it hears from
a leader again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from typing import Any

from quorumd import __version__
from quorumd import machine as m
from quorumd.consensus.engine import Role
from quorumd.server import locks as lock_ops
from quorumd.server.config import ServerConfig
from quorumd.server.connection import ClientConn, _Slot
from quorumd.server.node import Node
from quorumd.wire import fourletter as fl
from quorumd.wire.codec import RecordType

log = logging.getLogger("quorumd.clients")

ExtensionHandler = Callable[[ClientConn, _Slot], None]


class ClientServer:
    def __init__(self, node: Node, cfg: ServerConfig) -> None:
        self.node = node
        self.cfg = cfg
        self.watches = m.WatchRegistry()
        self.conns: set[ClientConn] = set()
        self.unflushed: list[ClientConn] = []  # connections with replies not yet written
        self._flush_queued = False
        self.by_session: dict[int, ClientConn] = {}
        self.extensions: dict[int, tuple[RecordType | None, RecordType | None]] = {}
        self.extension_handlers: dict[int, ExtensionHandler] = {}
        self.serving = True
        self.port = cfg.client_port
        self._server: asyncio.Server | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._started = time.time()
        self._lat_count = 0
        self._lat_sum = 0.0
        self._lat_min = 0.0
        self._lat_max = 0.0
        node.on_apply = self._on_apply
        node.after_apply = self.flush_replies
        lock_ops.install(self)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: ClientConn(self), self.cfg.client_host, self.cfg.client_port,
            reuse_address=True,
        )
        # uvloop gives a list where typeshed says tuple: index it untyped, so a compiled
        # build (tools/build_compiled.py) does not reject it
        server: Any = self._server
        self.port = server.sockets[0].getsockname()[1]
        self._watchdog = asyncio.create_task(self._watch_leadership())

    async def stop(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        if self._server is not None:
            self._server.close()
        for conn in list(self.conns):
            conn.close("server shutting down")

    # ---------------------------------------------------------------- sessions

    def new_session(self) -> tuple[int, bytes]:
        """A session id with this node's id in the top byte (as ZooKeeper does), so ids
        made on different nodes never collide; the rest and the password are random."""
        rand = int.from_bytes(os.urandom(7), "big")
        return ((self.node.id & 0xFF) << 56) | rand, os.urandom(16)

    def attach(self, conn: ClientConn) -> None:
        old = self.by_session.get(conn.session_id)
        if old is not None and old is not conn:
            old.close("session moved to a newer connection")
        self.by_session[conn.session_id] = conn

    def detach(self, conn: ClientConn) -> None:
        self.conns.discard(conn)
        if self.by_session.get(conn.session_id) is conn:
            del self.by_session[conn.session_id]
        self.watches.remove_all(conn)

    def schedule_flush(self, conn: ClientConn) -> None:
        """`conn` has output: it is written after the current apply batch, or at the end
        of this loop iteration, whichever comes first — one write per connection."""
        self.unflushed.append(conn)
        if not self._flush_queued:
            self._flush_queued = True
            asyncio.get_running_loop().call_soon(self.flush_replies)

    def flush_replies(self) -> None:
        """Write every connection's pending output now. After an apply batch this puts
        the replies on the wire before the node sends its commit notices."""
        self._flush_queued = False
        conns, self.unflushed = self.unflushed, []
        for conn in conns:
            conn.flush()

    def _on_apply(self, txn: m.Txn, applied: m.Applied, mine: bool) -> None:
        if applied.events and self.watches.watcher_count:
            machine = self.node.machine
            read = int(m.Perms.READ)

            def allowed(watcher: object, event: m.WatchTrigger) -> bool:
                assert isinstance(watcher, ClientConn)
                return machine.check_perm(watcher.session_id, event.acl, read)

            for watcher, event_type, path in self.watches.trigger(applied.events, allowed):
                assert isinstance(watcher, ClientConn)
                watcher.notify(int(event_type), path)
        if applied.grants:
            lock_ops.notify_grants(self, applied.grants)
        op = txn.op
        if isinstance(op, m.ExpireSessions) and isinstance(applied.result, tuple):
            for sid in applied.result:
                conn = self.by_session.get(sid)  # type: ignore[call-overload]
                if conn is not None:
                    conn.session_gone()
        elif isinstance(op, m.CloseSession) and not mine:
            conn = self.by_session.get(op.session_id)
            if conn is not None:
                conn.session_gone()

    def leader_recent(self) -> bool:
        """Heard from a leader within the longest (randomized) election timeout."""
        election_timeout_ms = self.cfg.election_timeout_ticks * self.cfg.tick_ms
        return self.node.leader_contact_age_ms() <= 2 * election_timeout_ms

    async def _watch_leadership(self) -> None:
        limit_ms = 4 * self.cfg.election_timeout_ticks * self.cfg.tick_ms
        while True:
            await asyncio.sleep(self.cfg.tick_ms / 1000)
            age_ms = self.node.leader_contact_age_ms()
            if age_ms < limit_ms:
                if not self.serving:
                    log.info("node %d: hears from leader %s again, serving clients",
                             self.node.id, self.node.leader)
                self.serving = True
            elif self.serving:
                self.serving = False
                log.warning("node %d: no word from a leader for %d ms, dropping %d client "
                            "connections", self.node.id, age_ms, len(self.conns))
                for conn in list(self.conns):
                    conn.close("this node lost its leader")

    # ---------------------------------------------------------------- figures

    def record_latency(self, seconds: float) -> None:
        ms = seconds * 1000
        if self._lat_count == 0 or ms < self._lat_min:
            self._lat_min = ms
        self._lat_max = max(ms, self._lat_max)
        self._lat_count += 1
        self._lat_sum += ms

    def stats(self) -> fl.ServerStats:
        node, machine = self.node, self.node.machine
        st = node.status()
        single = len(self.cfg.voters) == 1
        mode = "standalone" if single else ("leader" if st.role == Role.LEADER else "follower")
        lag = max((st.commit - idx for idx in st.progress.values()), default=0)
        watches: dict[int, list[str]] = {}
        for conn in self.conns:
            paths = self.watches.paths_of(conn)
            if paths:
                watches.setdefault(conn.session_id, []).extend(paths)
        extra = (
            ("node_id", str(node.id)),
            ("role", st.role.value),
            ("term", str(st.term)),
            ("leader", str(st.leader) if st.leader is not None else "-"),
            ("commit", str(st.commit)),
            ("applied", str(node.applied_index)),
            ("lag", str(lag)),
            ("sessions", str(len(machine.session_timeouts()))),
        )
        return fl.ServerStats(
            quorumd_version=__version__,
            serving=self.serving,
            mode=mode,
            server_id=node.id,
            latency_min_ms=int(self._lat_min),
            latency_avg_ms=self._lat_sum / self._lat_count if self._lat_count else 0.0,
            latency_max_ms=int(self._lat_max),
            packets_received=sum(c.received for c in self.conns),
            packets_sent=sum(c.sent for c in self.conns),
            outstanding_requests=sum(len(c.queue) for c in self.conns),
            last_zxid=machine.last_zxid,
            node_count=machine.node_count,
            approximate_data_size=machine.approximate_data_size(),
            uptime_ms=int((time.time() - self._started) * 1000),
            global_sessions=len(machine.session_timeouts()),
            connections=tuple(self._conn_stats(c) for c in sorted(self.conns, key=id)),
            watches_by_session=tuple((sid, tuple(p)) for sid, p in sorted(watches.items())),
            client_port=self.port,
            data_dir=self.cfg.data_dir,
            data_log_dir=self.cfg.data_dir,
            tick_time_ms=self.cfg.tick_ms,
            min_session_timeout_ms=self.cfg.min_session_timeout_ms,
            max_session_timeout_ms=self.cfg.max_session_timeout_ms,
            peers=tuple(f"server.{i}={a.host}:{a.port}:participant;{self.cfg.client_host}"
                        for i, a in sorted(self.cfg.peers.items())),
            extra_metrics=extra,
        )

    @staticmethod
    def _conn_stats(c: ClientConn) -> fl.ConnectionStats:
        return fl.ConnectionStats(
            remote_address=f"/{c.peer_ip}",
            queued=len(c.queue),
            received=c.received,
            sent=c.sent,
            session_id=c.session_id,
            established_ms=int(c.connected_at * 1000),
            timeout_ms=c.timeout_ms,
        )

    def four_letter(self, word: str) -> str:
        return fl.render(word, self.stats())
