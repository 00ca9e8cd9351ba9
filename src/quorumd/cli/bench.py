"""`quorumd bench`: drive any ZooKeeper-protocol server and print what it sustained.

The human report ends with one JSON line (always the last line of stdout) so scripts
such as bench/compare_zookeeper.sh can parse it; `--json` prints only that line.
Exit status: 0 clean run, 1 errors/timeouts/lost connections (said loudly), 2 the run
could not be done, 3 the workload was skipped (lock-native on a server without it).
"""

from __future__ import annotations

import json
import sys

import click
from rich.console import Console
from rich.progress import BarColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress
from rich.table import Table

from quorumd.loadgen import (
    WORKLOADS,
    BenchConfig,
    BenchError,
    BenchResult,
    LockExtensionUnsupported,
    Progress,
    run_bench,
)
from quorumd.loadgen.stats import error_label

EXIT_FAILURES = 1
EXIT_ERROR = 2
EXIT_SKIPPED = 3


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def _report(console: Console, r: BenchResult) -> None:
    table = Table(title=f"quorumd bench: {r.workload} on {r.hosts}")
    for col in ("ops/s", "ops", "p50 ms", "p99 ms", "p99.9 ms", "max ms", "errors", "timeouts"):
        table.add_column(col, justify="right")
    lat = r.latency
    table.add_row(
        f"{r.ops_per_s:,.0f}",
        f"{r.ops:,}",
        _fmt(lat.percentile_ms(50)),
        _fmt(lat.percentile_ms(99)),
        _fmt(lat.percentile_ms(99.9)),
        _fmt(lat.max_us / 1000 if lat.count else None),
        str(r.error_count),
        str(r.timeouts),
    )
    console.print(table)
    per_proc = ", ".join(f"{x:.0f}%" for x in r.worker_cpu_pct)
    console.print(
        f"conns={r.conns} depth={r.depth} procs={r.procs} window={r.duration_s:g}s; "
        f"load generator CPU: {r.cpu_pct_total:.0f}% of one core (per process: {per_proc})"
    )
    if any(x > 90 for x in r.worker_cpu_pct):
        console.print(
            "[yellow]a generator process was above 90% of a core: the figure may be "
            "the generator's limit, not the server's (try more --procs)[/yellow]"
        )
    if r.failed:
        console.print("[bold red]" + "!" * 70)
        console.print(
            f"[bold red]THIS RUN HAD FAILURES: {r.error_count} error replies, "
            f"{r.timeouts} timeouts, {r.connection_losses} requests lost with a connection"
        )
        for key, n in sorted(r.errors.items()):
            console.print(f"[red]  {error_label(key)}: {n}")
        for name, n in sorted(r.anomalies.items()):
            console.print(f"[red]  anomaly {name}: {n}")
        console.print("[bold red]" + "!" * 70)


@click.command()
@click.option("--hosts", default="127.0.0.1:2181", show_default=True, help="HOST:PORT,...")
@click.option("--workload", type=click.Choice(WORKLOADS), default="set", show_default=True)
@click.option("--conns", default=16, show_default=True, help="Connections (sessions) in all.")
@click.option("--depth", default=16, show_default=True, help="Requests in flight per connection.")
@click.option("--procs", default=1, show_default=True, help="Worker processes.")
@click.option("--duration", default=10.0, show_default=True, help="Measured seconds.")
@click.option("--warmup", default=2.0, show_default=True, help="Unmeasured seconds first.")
@click.option(
    "--timeout",
    default=10.0,
    show_default=True,
    help="Seconds before a request counts as unanswered.",
)
@click.option("--seed", default=1, show_default=True)
@click.option(
    "--root", default="/quorumd-bench", show_default=True, help="Znode the load works under."
)
@click.option("--json", "as_json", is_flag=True, help="Print only the final JSON line.")
def bench(
    hosts: str,
    workload: str,
    conns: int,
    depth: int,
    procs: int,
    duration: float,
    warmup: float,
    timeout: float,
    seed: int,
    root: str,
    as_json: bool,
) -> None:
    """Pipelined load (set|get|mixed|create|lock|lock-native) against ZooKeeper-protocol servers.

    set/get/mixed work on 1,000 pre-created 100-byte nodes (mixed: 90 % get, 10 % set);
    create makes persistent sequential nodes; lock is kazoo's recipe (create ephemeral
    sequential, getChildren, delete), lock-native quorumd's lockAcquire/lockRelease.
    """
    if depth < 1 or duration <= 0 or warmup < 0 or timeout <= 0:
        raise click.UsageError("need depth >= 1, duration > 0, warmup >= 0, timeout > 0")
    cfg = BenchConfig(hosts, workload, conns, depth, procs, duration, warmup, timeout, seed, root)
    console = Console(stderr=as_json)
    try:
        result = run_bench(cfg) if as_json else _run_with_progress(console, cfg)
    except LockExtensionUnsupported as exc:
        console.print(f"[yellow]SKIPPED {workload}: {exc}[/yellow]")
        click.echo(json.dumps({"workload": workload, "hosts": hosts, "skipped": str(exc)}))
        sys.exit(EXIT_SKIPPED)
    except (BenchError, OSError, ValueError) as exc:
        console.print(f"[bold red]bench failed: {exc}")
        click.echo(json.dumps({"workload": workload, "hosts": hosts, "failed": str(exc)}))
        sys.exit(EXIT_ERROR)
    if not as_json:
        _report(console, result)
    elif result.failed:
        console.print(f"[bold red]THIS RUN HAD FAILURES: {result.to_json()['errors_by_code']}")
    click.echo(json.dumps(result.to_json()))
    if result.failed:
        sys.exit(EXIT_FAILURES)


def _run_with_progress(console: Console, cfg: BenchConfig) -> BenchResult:
    total = cfg.warmup_s + cfg.duration_s
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[info]}"),
    )
    with RichProgress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("connecting", total=total, info="")
        last = [0.0, 0]

        def show(p: Progress) -> None:
            dt = p.elapsed_s - last[0]
            if dt < 0.5:
                return
            rate = (p.completed - last[1]) / dt
            last[0], last[1] = p.elapsed_s, p.completed
            bad = f"  [red]{p.failures} failures[/red]" if p.failures else ""
            bar.update(
                task,
                description=p.phase,
                completed=min(p.elapsed_s, total),
                info=f"{rate:,.0f} ops/s  {p.completed:,} done{bad}",
            )

        return run_bench(cfg, on_progress=show)
