"""The simulator has teeth for Multi-Paxos too: each deliberately wrong variant is
caught (a correctness failure: an invariant or a non-linearizable history) within a
bounded number of seeds, while the correct engine passes the same seeds."""

from __future__ import annotations

import pytest

from quorumd.sim import SimConfig, engine_spec, run_seed
from quorumd.sim.config import CORRECTNESS, OK

PAXOS_TEETH = {
    # variant: seeds scanned from 1 before giving up. First catching seed as measured:
    # no_reproposal 2, accept_lower_ballot 15, reply_before_persist 83.
    "no_reproposal": 20,
    "accept_lower_ballot": 60,
    "reply_before_persist": 200,
}


@pytest.mark.slow
@pytest.mark.parametrize(("variant", "bound"), sorted(PAXOS_TEETH.items()))
def test_paxos_teeth_each_broken_variant_is_caught(variant: str, bound: int) -> None:
    for seed in range(1, bound + 1):
        cfg = SimConfig(seed=seed, engine="paxos", variants=frozenset({variant}))
        if run_seed(cfg).exit_code == CORRECTNESS:
            return
    pytest.fail(f"{variant} not caught in {bound} seeds")


def test_every_paxos_variant_has_a_teeth_test() -> None:
    assert set(PAXOS_TEETH) == set(engine_spec("paxos").variants)


@pytest.mark.parametrize("seed", [2, 15])
def test_correct_paxos_passes_the_seeds_that_catch_the_variants(seed: int) -> None:
    r = run_seed(SimConfig(seed=seed, engine="paxos"))
    assert r.exit_code == OK, (r.outcome, r.invariant, r.message)
