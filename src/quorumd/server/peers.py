"""Peer transport: one TCP connection per pair of nodes, msgpack frames, best effort.

Theory of operation:
1. The node with the lower id dials, the higher one accepts; after a handshake the one
   connection carries frames both ways.
2. The handshake names the cluster and both ids. A node of another cluster, or one
   claiming an id that is not in our peer list (or that is not who we dialled), is refused
   with a logged reason and the connection closed.
3. Sending never blocks and never grows memory without bound: frames go into the
   transport's buffer, written once per loop iteration; when a peer's buffer is over its
   limit (a slow or dead peer) messages are dropped — the consensus engine retransmits.
4. A dropped connection is redialled with exponential backoff (50 ms .. 1 s), and the
   node is told (`on_down`): a connection reset is the fastest sign that a peer died.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, cast

from quorumd.errors import ProtocolError
from quorumd.server.config import PeerAddress
from quorumd.server.framing import FrameReader, pack_frame

log = logging.getLogger("quorumd.peers")

HELLO = "quorumd-peer/1"
Handler = Callable[[int, Any], None]


class _PeerLink(asyncio.Protocol):
    """One side of a peer connection (dialled or accepted)."""

    def __init__(self, transport_owner: PeerTransport, expected_peer: int | None) -> None:
        self.owner = transport_owner
        self.expected_peer = expected_peer  # known when we dialled
        self.peer_id: int | None = None
        self.transport: asyncio.Transport | None = None
        self.reader = FrameReader(transport_owner.max_frame)
        self.pending: list[bytes] = []
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        if self.expected_peer is not None:  # we dialled: introduce ourselves
            o = self.owner
            self.transport.write(pack_frame([HELLO, o.cluster_id, o.node_id, self.expected_peer]))

    def data_received(self, data: bytes) -> None:
        try:
            frames = self.reader.feed(data)
            for frame in frames:
                if self.peer_id is None:
                    self._handshake(frame)
                else:
                    self.owner.deliver(self.peer_id, frame)
        except ProtocolError as exc:
            log.warning("closing peer connection from %s: %s", self._who(), exc)
            self.abort()

    def _who(self) -> str:
        if self.transport is None:
            return "?"
        return f"{self.transport.get_extra_info('peername')} (node {self.peer_id})"

    def _handshake(self, frame: Any) -> None:
        o = self.owner
        if self.expected_peer is None:  # accepted: expect HELLO
            if not (isinstance(frame, list) and len(frame) == 4 and frame[0] == HELLO):
                raise ProtocolError("bad handshake: not a quorumd peer")
            _, cluster, sender, target = frame
            if cluster != o.cluster_id:
                raise ProtocolError(f"refused: cluster id {cluster!r} != ours {o.cluster_id!r}")
            if target != o.node_id:
                raise ProtocolError(
                    f"refused: peer thinks we are node {target}, we are {o.node_id}"
                )
            if not isinstance(sender, int) or sender not in o.addresses or sender == o.node_id:
                raise ProtocolError(f"refused: node id {sender!r} is not a peer of this cluster")
            assert self.transport is not None
            self.transport.write(pack_frame(["ok", o.cluster_id, o.node_id]))
            self.peer_id = sender
        else:
            if not (isinstance(frame, list) and len(frame) == 3 and frame[0] == "ok"):
                raise ProtocolError(f"handshake refused by node {self.expected_peer}: {frame!r}")
            if frame[1] != o.cluster_id or frame[2] != self.expected_peer:
                raise ProtocolError(f"handshake: wrong cluster/id {frame[1:]!r}")
            self.peer_id = self.expected_peer
        o.link_up(self.peer_id, self)

    def send(self, frame: bytes) -> bool:
        t = self.transport
        if t is None or t.is_closing():
            return False
        if t.get_write_buffer_size() > self.owner.queue_limit:
            return False
        self.pending.append(frame)
        self.owner.queue_flush()
        return True

    def flush(self) -> None:
        if self.pending and self.transport is not None and not self.transport.is_closing():
            data = self.pending[0] if len(self.pending) == 1 else b"".join(self.pending)
            self.transport.write(data)
        self.pending.clear()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.peer_id is not None:
            self.owner.link_down(self.peer_id, self)
        if not self.closed.done():
            self.closed.set_result(None)


class PeerTransport:
    """Best-effort messaging to the other nodes of the cluster."""

    def __init__(
        self,
        node_id: int,
        cluster_id: str,
        addresses: dict[int, PeerAddress],
        handler: Handler,
        *,
        max_frame: int,
        queue_limit: int,
        on_down: Callable[[int], None] = lambda peer: None,
    ) -> None:
        self.node_id = node_id
        self.on_down = on_down
        self.cluster_id = cluster_id
        self.addresses = addresses
        self.handler = handler
        self.max_frame = max_frame
        self.queue_limit = queue_limit
        self.links: dict[int, _PeerLink] = {}
        self.dropped = 0
        self._server: asyncio.Server | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._flush_queued = False

    async def start(self) -> None:
        me = self.addresses.get(self.node_id)
        if me is None:
            return
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _PeerLink(self, None), me.host, me.port, reuse_address=True
        )
        for peer in sorted(self.addresses):
            if peer > self.node_id:
                self._tasks.append(asyncio.create_task(self._dial_forever(peer)))

    async def _dial_forever(self, peer: int) -> None:
        loop = asyncio.get_running_loop()
        addr = self.addresses[peer]
        backoff = 0.05
        while not self.stopping():
            try:
                _, link = await loop.create_connection(
                    lambda: _PeerLink(self, peer), addr.host, addr.port
                )
                await link.closed
                backoff = 0.05
            except OSError:
                pass
            if self.stopping():
                return
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 1.0)

    def link_up(self, peer: int, link: _PeerLink) -> None:
        old = self.links.get(peer)
        if old is not None and old is not link:
            old.abort()
        self.links[peer] = link
        log.info("node %d: connected to peer %d", self.node_id, peer)

    def link_down(self, peer: int, link: _PeerLink) -> None:
        if self.links.get(peer) is link:
            del self.links[peer]
            log.info("node %d: lost peer %d", self.node_id, peer)
            if not self._stopping:
                self.on_down(peer)

    def deliver(self, peer: int, frame: Any) -> None:
        self.handler(peer, frame)

    def send(self, peer: int, obj: Any) -> None:
        link = self.links.get(peer)
        if link is None or not link.send(pack_frame(obj)):
            self.dropped += 1

    def queue_flush(self) -> None:
        """Queued frames go out at the end of this loop iteration at the latest (the
        node flushes sooner, right after sending a Ready's messages)."""
        if not self._flush_queued:
            self._flush_queued = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        """Write what is queued for every peer now (one write per peer)."""
        self._flush_queued = False
        for link in self.links.values():
            if link.pending:
                link.flush()

    def connected(self) -> list[int]:
        return sorted(self.links)

    def stopping(self) -> bool:
        return self._stopping

    async def stop(self) -> None:
        self._stopping = True
        for t in self._tasks:
            t.cancel()
        for link in list(self.links.values()):
            link.flush()
            link.abort()
        if self._server is not None:
            self._server.close()
