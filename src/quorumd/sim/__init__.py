"""The deterministic simulator: a whole cluster in one process, reproducible from a seed.

One run, as `quorumd sim --seed 7 --trace` does it::

    result = run_seed(SimConfig(seed=7, nodes=5, faults=ALL_FAULTS))
    assert result.exit_code == 0, (result.invariant, result.message)

A run boots `nodes` engines (from the `engines` registry) over simulated storage and a
simulated network, drives them tick by tick while a nemesis draws partitions, crashes,
loss and pauses from the seed (FAULT phase), then heals everything and requires the
cluster to converge (HEALED phase). Clients issue put/get/cas throughout; their history
goes through the linearizability checker at the end. After every input to a node the
invariant checker (`quorumd.check.invariants`) looks at the cluster. See
docs/design/sim.md.
"""

from quorumd.sim.config import ALL_FAULTS, RunResult, SimConfig
from quorumd.sim.engines import EngineParams, EngineSpec, engine_names, engine_spec, register_engine
from quorumd.sim.runner import Simulation, run_seed

__all__ = [
    "ALL_FAULTS",
    "EngineParams",
    "EngineSpec",
    "RunResult",
    "SimConfig",
    "Simulation",
    "engine_names",
    "engine_spec",
    "register_engine",
    "run_seed",
]
