"""A run's options and its result, both plain data (they cross process boundaries)."""

from __future__ import annotations

from dataclasses import dataclass, field

from quorumd.sim.nemesis import FAULT_MODELS

ALL_FAULTS = frozenset(FAULT_MODELS)

OK, CORRECTNESS, LIVENESS, CRASH = 0, 1, 2, 3
"""Exit codes: a broken invariant or a non-linearizable history is a correctness
failure; no convergence in the healed phase is a liveness failure; an exception out of
the engine or the simulator is a crash."""


@dataclass(frozen=True, slots=True)
class SimConfig:
    seed: int
    engine: str = "raft"
    nodes: int = 5
    faults: frozenset[str] = ALL_FAULTS
    variants: frozenset[str] = frozenset()
    fault_ticks: int = 500
    heal_ticks: int = 400
    election_timeout_ticks: int = 10
    heartbeat_ticks: int = 1
    loss: float | None = None  # a fixed loss rate for the whole fault phase
    storage: str = "mem"  # mem | wal
    compact_every: int = 40  # applied entries between snapshots (0: never)
    clients: int = 4
    op_bound_ticks: int = 50  # "committed within a bound", for the liveness figures
    lin_max_steps: int = 1_000_000
    max_batch: int | None = None  # entries per append; None: drawn from the seed, 0: default

    def describe(self) -> str:
        faults = ",".join(sorted(self.faults)) or "none"
        parts = [
            f"seed={self.seed}",
            f"engine={self.engine}",
            f"nodes={self.nodes}",
            f"faults={faults}",
            f"fault_ticks={self.fault_ticks}",
            f"heal_ticks={self.heal_ticks}",
            f"storage={self.storage}",
        ]
        if self.loss is not None:
            parts.append(f"loss={self.loss}")
        if self.variants:
            parts.append(f"variant={','.join(sorted(self.variants))}")
        return " ".join(parts)

    def replay_command(self) -> str:
        cmd = [
            "quorumd sim",
            f"--engine {self.engine}",
            f"--nodes {self.nodes}",
            f"--faults {','.join(sorted(self.faults)) or 'none'}",
        ]
        if self.loss is not None:
            cmd.append(f"--loss {self.loss}")
        cmd.extend(f"--variant {v}" for v in sorted(self.variants))
        if self.storage != "mem":
            cmd.append(f"--storage {self.storage}")
        if (self.fault_ticks, self.heal_ticks) != (500, 400):
            cmd.append(f"--fault-ticks {self.fault_ticks} --heal-ticks {self.heal_ticks}")
        cmd.append(f"--seed {self.seed} --trace")
        return " ".join(cmd)


@dataclass(frozen=True, slots=True)
class RunResult:
    seed: int
    exit_code: int
    outcome: str  # ok | violation | nonlinearizable | liveness | crash
    message: str = ""
    invariant: str | None = None
    step: int = 0
    tick: int = 0
    trace_tail: tuple[str, ...] = ()
    verdict: str = "-"  # linearizability: ok | illegal | unknown | - (not checked)
    first_leader_tick: int | None = None
    election_ticks: tuple[int, ...] = ()  # each leaderless stretch, until a leader
    ops_issued: int = 0
    ops_within_bound: int = 0
    ops_unknown: int = 0
    op_latency_ticks: tuple[int, ...] = ()  # each completed client op, call to return
    history_size: int = 0
    stats: dict[str, int] = field(default_factory=dict)
