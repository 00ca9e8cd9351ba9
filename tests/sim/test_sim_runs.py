"""Whole simulated runs: reproducibility, a sweep of seeds, regression seeds, teeth.

The teeth tests switch on one deliberately broken Raft variant at a time and require the
simulator to report a *correctness* failure within a bounded number of seeds (scanned
from seed 0, so the count is what docs/design/sim.md records).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from quorumd.sim import ALL_FAULTS, SimConfig, Simulation, engine_spec, run_seed
from quorumd.sim.config import CORRECTNESS, OK

REGRESSION = Path(__file__).parent / "regression_seeds.txt"


def _trace(config: SimConfig) -> tuple[list[str], object]:
    lines: list[str] = []
    result = Simulation(config, lines.append).run()
    return lines, result


def test_one_seed_reproduces_the_same_trace() -> None:
    config = SimConfig(seed=11, nodes=3, fault_ticks=250, heal_ticks=300)
    first, r1 = _trace(config)
    second, r2 = _trace(config)
    assert len(first) > 300
    assert first == second
    assert r1 == r2


def test_another_seed_gives_another_run() -> None:
    a, _ = _trace(SimConfig(seed=1, nodes=3, fault_ticks=150, heal_ticks=300))
    b, _ = _trace(SimConfig(seed=2, nodes=3, fault_ticks=150, heal_ticks=300))
    assert a != b


def test_a_quiet_cluster_elects_commits_and_is_linearizable() -> None:
    r = run_seed(SimConfig(seed=3, faults=frozenset(), fault_ticks=200, heal_ticks=200))
    assert r.outcome == "ok", r.message
    assert r.verdict == "ok"
    assert r.first_leader_tick is not None and r.first_leader_tick <= 40
    assert r.ops_issued > 50 and r.ops_unknown == 0


SWEEP = [(seed, ALL_FAULTS) for seed in range(1000, 1120)] + [
    (seed, frozenset({model})) for model in sorted(ALL_FAULTS) for seed in range(2000, 2045)
]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("seed", "faults"), SWEEP, ids=[f"{s}-{'+'.join(sorted(f))}" for s, f in SWEEP]
)
def test_seed_sweep_over_all_fault_models(seed: int, faults: frozenset[str]) -> None:
    r = run_seed(SimConfig(seed=seed, faults=faults))
    assert r.exit_code == OK, (r.outcome, r.invariant, r.message, r.trace_tail[-10:])
    assert r.verdict == "ok"


def _regressions() -> list[tuple[int, str, str, int]]:
    rows = []
    for raw in REGRESSION.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            seed, variant, outcome, *options = line.split()
            opts = dict(o.split("=") for o in options)
            rows.append((int(seed), variant, outcome, int(opts.get("nodes", 5))))
    return rows


@pytest.mark.parametrize(("seed", "variant", "outcome", "nodes"), _regressions())
def test_regression_seed(seed: int, variant: str, outcome: str, nodes: int) -> None:
    variants = frozenset() if variant == "-" else frozenset({variant})
    r = run_seed(SimConfig(seed=seed, nodes=nodes, variants=variants))
    assert r.outcome == outcome, (r.invariant, r.message)


TEETH = {
    # variant: (nodes, seeds scanned from 0 before giving up). First catching seed as
    # measured (docs/design/sim.md): double_vote 0, skip_log_check 0, ack_before_persist
    # 19, commit_old_term 9, read_index_no_quorum 20, vote_before_persist 51 (3 nodes).
    "double_vote": (5, 20),
    "skip_log_check": (5, 20),
    "ack_before_persist": (5, 60),
    "commit_old_term": (5, 20),
    "read_index_no_quorum": (5, 60),
    "vote_before_persist": (3, 120),
}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("variant", "nodes", "bound"), [(v, n, b) for v, (n, b) in sorted(TEETH.items())]
)
def test_teeth_each_broken_variant_is_caught(variant: str, nodes: int, bound: int) -> None:
    for seed in range(bound):
        r = run_seed(SimConfig(seed=seed, nodes=nodes, variants=frozenset({variant})))
        if r.exit_code == CORRECTNESS:
            return
    pytest.fail(f"{variant} not caught in {bound} seeds")


def test_every_engine_variant_has_a_teeth_test() -> None:
    assert set(TEETH) == set(engine_spec("raft").variants)
