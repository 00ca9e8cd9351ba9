"""Engine registry: `--engine NAME` -> how to build that engine and route its messages.

The simulator knows engines only through this table, so Multi-Paxos plugs in with one
`register_engine("paxos", loader)` call and no change elsewhere in sim/. Loaders import
lazily: an engine that is missing or broken only fails the runs that ask for it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from quorumd._types import NodeId, Prng
from quorumd.consensus.engine import ClusterConfig, Engine, Restored
from quorumd.errors import UsageError


@dataclass(frozen=True, slots=True)
class EngineParams:
    id: NodeId
    voters: tuple[NodeId, ...]
    election_timeout_ticks: int
    heartbeat_ticks: int
    variants: frozenset[str]  # deliberately broken behaviours, for teeth tests
    max_entries_per_message: int = 0  # 0: the engine's default batching


@dataclass(frozen=True, slots=True)
class EngineSpec:
    name: str
    build: Callable[[EngineParams, Prng, Restored], Engine]
    destination: Callable[[object], NodeId]  # where a message from `Ready.messages` goes
    variants: frozenset[str]


_LOADERS: dict[str, Callable[[], EngineSpec]] = {}


def register_engine(name: str, loader: Callable[[], EngineSpec]) -> None:
    _LOADERS[name] = loader


def engine_names() -> list[str]:
    return sorted(_LOADERS)


def engine_spec(name: str) -> EngineSpec:
    loader = _LOADERS.get(name)
    if loader is None:
        raise UsageError(f"unknown engine {name!r}; known: {', '.join(engine_names())}")
    return loader()


def _load_raft() -> EngineSpec:
    from quorumd.consensus.raft import FAULTS, Raft, RaftConfig

    def build(p: EngineParams, prng: Prng, restored: Restored) -> Engine:
        config = RaftConfig(
            id=p.id,
            cluster=ClusterConfig(voters=p.voters),
            election_timeout_ticks=p.election_timeout_ticks,
            heartbeat_ticks=p.heartbeat_ticks,
            faults=p.variants,
        )
        if p.max_entries_per_message:
            config = dataclasses.replace(config, max_entries_per_append=p.max_entries_per_message)
        return Raft(config, prng, restored)

    def destination(message: object) -> NodeId:
        dst: NodeId = getattr(message, "dst")  # noqa: B009 - every raft message has one
        return dst

    return EngineSpec("raft", build, destination, FAULTS)


register_engine("raft", _load_raft)


def _load_paxos() -> EngineSpec:
    from quorumd.consensus.paxos import FAULTS, Paxos, PaxosConfig  # lazy on purpose

    def build(p: EngineParams, prng: Prng, restored: Restored) -> Engine:
        config = PaxosConfig(
            id=p.id,
            cluster=ClusterConfig(voters=p.voters),
            election_timeout_ticks=p.election_timeout_ticks,
            heartbeat_ticks=p.heartbeat_ticks,
            faults=p.variants,
        )
        if p.max_entries_per_message:
            config = dataclasses.replace(config, max_entries_per_accept=p.max_entries_per_message)
        return Paxos(config, prng, restored)

    def destination(message: object) -> NodeId:
        dst: NodeId = getattr(message, "dst")  # noqa: B009 - every paxos message has one
        return dst

    return EngineSpec("paxos", build, destination, FAULTS)


register_engine("paxos", _load_paxos)
