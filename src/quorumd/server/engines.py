"""Which consensus engine a node runs (`--consensus raft|paxos`), and its message codec.

The only place in the runtime that names an engine: everything else sees the `Engine`
protocol and opaque messages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from quorumd._types import NodeId, Prng
from quorumd.consensus.engine import ClusterConfig, Engine, Restored
from quorumd.errors import UsageError
from quorumd.server.config import ServerConfig


@dataclass(frozen=True, slots=True)
class MessageCodec:
    encode: Callable[[object], Any]
    decode: Callable[[Any], object]


def make_engine(
    cfg: ServerConfig, cluster: ClusterConfig, prng: Prng, restored: Restored | None
) -> Engine:
    if cfg.consensus == "raft":
        from quorumd.consensus.raft import Raft, RaftConfig

        return Raft(
            RaftConfig(
                id=NodeId(cfg.id),
                cluster=cluster,
                election_timeout_ticks=cfg.election_timeout_ticks,
                heartbeat_ticks=cfg.heartbeat_ticks,
            ),
            prng,
            restored,
        )
    if cfg.consensus == "paxos":
        from quorumd.consensus.paxos import Paxos, PaxosConfig

        return Paxos(
            PaxosConfig(
                id=NodeId(cfg.id),
                cluster=cluster,
                election_timeout_ticks=cfg.election_timeout_ticks,
                heartbeat_ticks=cfg.heartbeat_ticks,
            ),
            prng,
            restored,
        )
    raise UsageError(f"consensus engine {cfg.consensus!r} is not available in this build")


_CODECS: dict[str, MessageCodec] = {}


def wire_codec(cfg: ServerConfig) -> MessageCodec:
    codec = _CODECS.get(cfg.consensus)
    if codec is None:
        if cfg.consensus == "raft":
            from quorumd.consensus.raft import decode_message, encode_message

            codec = MessageCodec(encode_message, decode_message)
        elif cfg.consensus == "paxos":
            from quorumd.consensus.paxos import decode_message as paxos_decode
            from quorumd.consensus.paxos import encode_message as paxos_encode

            codec = MessageCodec(paxos_encode, paxos_decode)
        else:
            raise UsageError(f"no message codec for {cfg.consensus!r}")
        _CODECS[cfg.consensus] = codec
    return codec
