"""Server configuration: flags, an optional TOML file, and defaults that work out of the box.

Defaults follow what a ZooKeeper user expects: one node on 127.0.0.1:2181, data in
./quorumd-data. Timeouts are chosen so a crashed leader is replaced in well under two
seconds: tick 50 ms, election timeout 10 ticks (randomized to [0.5 s, 1 s)).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from quorumd.errors import UsageError

DEFAULT_CLIENT_PORT = 2181


@dataclass(frozen=True, slots=True)
class PeerAddress:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class ServerConfig:
    id: int = 1
    # node id -> peer (consensus) address; a single node needs none of its own
    peers: dict[int, PeerAddress] = field(default_factory=dict)
    client_host: str = "127.0.0.1"
    client_port: int = DEFAULT_CLIENT_PORT
    data_dir: str = "quorumd-data"
    cluster_id: str = "quorumd"
    consensus: str = "raft"
    tick_ms: int = 50
    election_timeout_ticks: int = 10
    heartbeat_ticks: int = 1
    min_session_timeout_ms: int = 4000
    max_session_timeout_ms: int = 40000
    snapshot_every: int = 100_000  # entries applied between snapshots
    keep_snapshots: int = 3
    segment_bytes: int = 64 << 20
    max_client_frame: int = 0xFFFFF  # jute.maxbuffer
    max_peer_frame: int = 512 << 20
    peer_queue_limit: int = 64 << 20  # bytes buffered per peer before messages are dropped
    super_digest: str | None = None
    lock_delay_ms: int = 10_000
    # A Ready of at most this many entries, with at most this many of our own writes in
    # flight, is written on the event loop itself: at low load the two thread hand-offs
    # cost more than the fsync they wrap. 0 = always use the writer thread.
    inline_persist_max: int = 2

    def validate(self) -> ServerConfig:
        if self.peers and self.id not in self.peers:
            raise UsageError(f"--id {self.id} is not among --peers {sorted(self.peers)}")
        if self.consensus not in ("raft", "paxos"):
            raise UsageError(f"--consensus must be raft or paxos, not {self.consensus!r}")
        if self.tick_ms <= 0 or self.election_timeout_ticks <= self.heartbeat_ticks:
            raise UsageError("need tick_ms > 0 and election_timeout_ticks > heartbeat_ticks")
        if not 0 < self.min_session_timeout_ms <= self.max_session_timeout_ms:
            raise UsageError("need 0 < min_session_timeout_ms <= max_session_timeout_ms")
        if self.snapshot_every <= 0:
            raise UsageError("--snapshot-every must be positive")
        return self

    @property
    def voters(self) -> tuple[int, ...]:
        return tuple(sorted(self.peers)) if self.peers else (self.id,)


def parse_peers(spec: str) -> dict[int, PeerAddress]:
    """`1=127.0.0.1:2888,2=127.0.0.1:2889` -> {1: PeerAddress(...), ...}."""
    peers: dict[int, PeerAddress] = {}
    for raw in spec.split(","):
        item = raw.strip()
        if not item:
            continue
        try:
            ident, addr = item.split("=", 1)
            host, port = addr.rsplit(":", 1)
            node_id, port_no = int(ident), int(port)
        except ValueError as exc:
            raise UsageError(f"bad peer {item!r}: expected ID=HOST:PORT") from exc
        if node_id <= 0 or not 0 < port_no < 65536:
            raise UsageError(f"bad peer {item!r}: id must be > 0 and port in 1..65535")
        if node_id in peers:
            raise UsageError(f"peer id {node_id} given twice")
        peers[node_id] = PeerAddress(host.strip("[]"), port_no)
    return peers


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file of the same keys as ServerConfig (peers as a table or a string)."""
    with open(path, "rb") as f:
        raw = tomllib.load(f)
    known = {f.name for f in fields(ServerConfig)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise UsageError(f"{path}: unknown settings {unknown}; known: {sorted(known)}")
    peers = raw.get("peers")
    if isinstance(peers, str):
        raw["peers"] = parse_peers(peers)
    elif isinstance(peers, dict):
        raw["peers"] = parse_peers(",".join(f"{k}={v}" for k, v in peers.items()))
    return raw


def build_config(toml_values: dict[str, Any], overrides: dict[str, Any]) -> ServerConfig:
    """Defaults, then the TOML file, then explicit flags (None = flag not given)."""
    cfg = replace(ServerConfig(), **toml_values)
    given = {k: v for k, v in overrides.items() if v is not None}
    return replace(cfg, **given).validate()
