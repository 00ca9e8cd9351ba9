"""quorumd.loadgen: a pipelined, multi-process load generator for ZooKeeper-protocol servers.

It speaks raw frames through `quorumd.wire.ClientConnection` (no client library in the
way), keeps `depth` requests in flight per connection and spreads connections over
`procs` worker processes, so the generator itself is rarely what limits the figure, and
when it is, its own CPU use in the report says so.

    from quorumd.loadgen import BenchConfig, run_bench
    result = run_bench(BenchConfig(hosts="127.0.0.1:2181", workload="get", conns=32,
                                   depth=16, procs=2, duration_s=10, warmup_s=2))
    result.ops_per_s, result.latency.percentile_ms(99.9), result.errors, result.to_json()

Modules: `workloads` (what is sent; pure), `stats` (histograms, error counts,
aggregation; pure), `conn` (asyncio connection: `WireProtocol`, `RawClient`), `worker`
(one process), `runner` (the parent), `lockwire` (the lock extension's records).
It depends only on quorumd.wire, quorumd.errors and quorumd._types (import-linter).
"""

from quorumd.loadgen.conn import RawClient, WireProtocol, parse_hosts
from quorumd.loadgen.runner import (
    BenchConfig,
    BenchError,
    LockExtensionUnsupported,
    Progress,
    run_bench,
    split_conns,
)
from quorumd.loadgen.stats import BenchResult, LatencyHistogram, WorkerResult, aggregate
from quorumd.loadgen.workloads import WORKLOADS, Layout, Workload, make_workload

__all__ = [
    "WORKLOADS",
    "BenchConfig",
    "BenchError",
    "BenchResult",
    "LatencyHistogram",
    "Layout",
    "LockExtensionUnsupported",
    "Progress",
    "RawClient",
    "WireProtocol",
    "WorkerResult",
    "Workload",
    "aggregate",
    "make_workload",
    "parse_hosts",
    "run_bench",
    "split_conns",
]
