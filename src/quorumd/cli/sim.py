"""`quorumd sim`: run the deterministic simulator over many seeds, in parallel.

Worker processes live here and only here (sim/ is single-threaded and imports no
concurrency): each worker runs whole seeds and sends back a `RunResult`. The command
prints the options line first, a progress bar, then violations, linearizability
verdicts and liveness figures; for each failing seed the step, the invariant, the last
trace events and the replay command. Exit code: 1 if any seed broke correctness, else 3
if any crashed, else 2 if any failed liveness, else 0.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from quorumd.sim import ALL_FAULTS, RunResult, SimConfig, Simulation, engine_names, run_seed
from quorumd.sim.config import CORRECTNESS, CRASH, LIVENESS, OK

_DETAILED_FAILURES = 3


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _results(configs: list[SimConfig], workers: int) -> Iterator[RunResult]:
    if workers <= 1 or len(configs) == 1:
        yield from map(run_seed, configs)
        return
    ctx = multiprocessing.get_context("spawn")
    chunk = max(1, min(16, len(configs) // (workers * 8)))
    with ctx.Pool(workers) as pool:
        yield from pool.imap_unordered(run_seed, configs, chunksize=chunk)


def _exit_code(results: Sequence[RunResult]) -> int:
    codes = {r.exit_code for r in results}
    for code in (CORRECTNESS, CRASH, LIVENESS):
        if code in codes:
            return code
    return OK


def _report_failure(r: RunResult, base: SimConfig) -> None:
    cfg = dataclasses.replace(base, seed=r.seed)
    click.echo(f"\nFAILED seed={r.seed} outcome={r.outcome} step={r.step} tick={r.tick}")
    if r.invariant:
        click.echo(f"invariant broken: {r.invariant}")
    click.echo(r.message)
    if r.trace_tail:
        click.echo(f"last {len(r.trace_tail)} trace events:")
        for line in r.trace_tail:
            click.echo(f"  {line}")
    click.echo(f"replay: {cfg.replay_command()}")


def _summary(results: Sequence[RunResult], base: SimConfig, wall_s: float) -> None:
    n = len(results)
    outcomes = Counter(r.outcome for r in results)
    verdicts = Counter(r.verdict for r in results)
    et = base.election_timeout_ticks
    click.echo(f"\nseeds run: {n} in {wall_s:.1f}s wall")
    click.echo(
        f"violations: {outcomes['violation'] + outcomes['nonlinearizable']} "
        f"(invariant {outcomes['violation']}, non-linearizable {outcomes['nonlinearizable']})"
        f"   liveness failures: {outcomes['liveness']}   crashes: {outcomes['crash']}"
    )
    unknown_pct = 100 * verdicts["unknown"] / n if n else 0.0
    click.echo(
        f"linearizability: ok {verdicts['ok']}  illegal {verdicts['illegal']}  "
        f"unknown {verdicts['unknown']} ({unknown_pct:.2f}%)  not checked {verdicts['-']}"
    )
    elections = [t for r in results for t in r.election_ticks]
    if elections:
        med, p99 = statistics.median(elections), _percentile(elections, 0.99)
        click.echo(
            f"time to elect a leader ({len(elections)} leaderless stretches): "
            f"median {med:.0f} ticks ({med / et:.1f} election timeouts), "
            f"p99 {p99:.0f} ticks ({p99 / et:.1f} election timeouts)"
        )
    firsts = [r.first_leader_tick for r in results]
    within = sum(1 for t in firsts if t is not None and t <= 10 * et)
    click.echo(
        f"seeds with a first leader within 10 election timeouts: {within}/{n} "
        f"({100 * within / n:.1f}%)"
    )
    issued = sum(r.ops_issued for r in results)
    bounded = sum(r.ops_within_bound for r in results)
    unknown_ops = sum(r.ops_unknown for r in results)
    if issued:
        click.echo(
            f"client ops: {issued} issued, {100 * bounded / issued:.1f}% completed within "
            f"{base.op_bound_ticks} ticks, {unknown_ops} with unknown outcome"
        )


def _run_many(base: SimConfig, count: int, workers: int) -> tuple[list[RunResult], float]:
    configs = [dataclasses.replace(base, seed=base.seed + i) for i in range(count)]
    started = time.monotonic()
    results: list[RunResult] = []
    columns = (
        *Progress.get_default_columns()[:1],
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task("seeds", total=count)
        for r in _results(configs, workers):
            results.append(r)
            bar.advance(task)
    results.sort(key=lambda r: r.seed)
    return results, time.monotonic() - started


_COMPARE_MODELS = ("partition", "crash", "loss", "pause", "all")


def _compare(engines: list[str], base: SimConfig, count: int, workers: int) -> int:
    """Each fault model, each engine, the same seeds: a side-by-side table."""
    table = Table(title=f"{count} seeds per cell, {base.nodes} nodes, seeds {base.seed}..")
    for col in ("faults", "engine", "violations", "elect p50/p99 (ticks)",
                "op latency p50/p99 (ticks)", f"ops within {base.op_bound_ticks} ticks",
                "leader within 10 ET", "lin. ok/unknown"):
        table.add_column(col, justify="right")
    worst = OK
    for model in _COMPARE_MODELS:
        faults = ALL_FAULTS if model == "all" else frozenset({model})
        for engine in engines:
            cfg = dataclasses.replace(base, engine=engine, faults=faults)
            results, _ = _run_many(cfg, count, workers)
            worst = max(worst, _exit_code(results), key=lambda c: (c == CORRECTNESS, c))
            table.add_row(model, engine, *_compare_row(results, base))
    # a file or a pipe gets the whole table, not one squeezed to 80 columns
    Console(width=None if sys.stdout.isatty() else 140).print(table)
    return worst


def _compare_row(results: Sequence[RunResult], base: SimConfig) -> list[str]:
    bad = sum(1 for r in results if r.outcome in ("violation", "nonlinearizable"))
    elections = [t for r in results for t in r.election_ticks] or [0]
    latencies = [t for r in results for t in r.op_latency_ticks] or [0]
    issued = sum(r.ops_issued for r in results) or 1
    bounded = sum(r.ops_within_bound for r in results)
    et = 10 * base.election_timeout_ticks
    leaders = sum(1 for r in results if r.first_leader_tick is not None
                  and r.first_leader_tick <= et)
    ok = sum(1 for r in results if r.verdict == "ok")
    unknown = sum(1 for r in results if r.verdict == "unknown")
    return [
        str(bad),
        f"{statistics.median(elections):.0f} / {_percentile(elections, 0.99):.0f}",
        f"{statistics.median(latencies):.0f} / {_percentile(latencies, 0.99):.0f}",
        f"{100 * bounded / issued:.1f}%",
        f"{100 * leaders / len(results):.1f}%",
        f"{ok}/{unknown}",
    ]


@click.command("sim")
@click.option("--engine", default="raft", show_default=True, help="consensus engine registry name")
@click.option("--nodes", default=5, show_default=True)
@click.option("--seeds", "count", default=1, show_default=True, help="how many seeds to run")
@click.option("--seed", type=int, default=None, help="first seed (default: random)")
@click.option(
    "--faults",
    default=",".join(sorted(ALL_FAULTS)),
    show_default=True,
    help="comma-separated fault models (or 'none')",
)
@click.option("--loss", type=float, default=None, help="fixed loss rate for the fault phase")
@click.option("--variant", multiple=True, help="switch on a deliberately broken engine variant")
@click.option("--trace", is_flag=True, help="print every event (single seed)")
@click.option("--workers", type=int, default=None, help="worker processes (default: CPUs)")
@click.option("--storage", type=click.Choice(["mem", "wal"]), default="mem", show_default=True)
@click.option("--fault-ticks", default=500, show_default=True)
@click.option("--heal-ticks", default=400, show_default=True)
@click.option(
    "--max-batch", type=int, default=None, help="entries per append (default: drawn from the seed)"
)
@click.option("--compare", default=None,
              help="engines to compare side by side over each fault model, e.g. raft,paxos")
def sim(
    engine: str,
    nodes: int,
    count: int,
    seed: int | None,
    faults: str,
    loss: float | None,
    variant: tuple[str, ...],
    trace: bool,
    workers: int | None,
    storage: str,
    fault_ticks: int,
    heal_ticks: int,
    max_batch: int | None,
    compare: str | None,
) -> None:
    """Run the deterministic simulator: safety, linearizability and liveness per seed."""
    if engine not in engine_names():
        raise click.BadParameter(f"known engines: {', '.join(engine_names())}", param_hint="engine")
    models = frozenset() if faults == "none" else frozenset(f for f in faults.split(",") if f)
    if models - ALL_FAULTS:
        raise click.BadParameter(f"unknown fault models {sorted(models - ALL_FAULTS)}")
    first = seed if seed is not None else int.from_bytes(os.urandom(4), "big")
    base = SimConfig(
        seed=first,
        engine=engine,
        nodes=nodes,
        faults=models,
        variants=frozenset(variant),
        fault_ticks=fault_ticks,
        heal_ticks=heal_ticks,
        loss=loss,
        storage=storage,
        max_batch=max_batch,
    )
    if compare is not None:
        engines = [e for e in compare.split(",") if e]
        unknown = sorted(set(engines) - set(engine_names()))
        if unknown:
            raise click.BadParameter(f"unknown engines {unknown}", param_hint="compare")
        click.echo(base.describe().replace(f"engine={engine}", f"compare={compare}"))
        code = _compare(engines, base, count, workers or os.cpu_count() or 1)
        click.get_current_context().exit(code)
    if count == 1:
        simulation = Simulation(base, click.echo if trace else None)
        click.echo(simulation.describe())
        results, wall = [simulation.run()], 0.0
    else:
        header = base.describe().replace(f"seed={first}", f"seed={first}..{first + count - 1}")
        click.echo(header)
        results, wall = _run_many(base, count, workers or os.cpu_count() or 1)
    failures = [r for r in results if r.exit_code != OK]
    for r in failures[:_DETAILED_FAILURES]:
        _report_failure(r, base)
    if len(failures) > _DETAILED_FAILURES:
        click.echo(f"\nother failing seeds: {' '.join(str(r.seed) for r in failures[3:])}")
    _summary(results, base, wall)
    click.get_current_context().exit(_exit_code(results))
