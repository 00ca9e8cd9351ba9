"""Pins quorumd.loadgen's public surface: a name removed or renamed here is an API change."""

import quorumd.loadgen


def test_loadgen_exports() -> None:
    assert sorted(quorumd.loadgen.__all__) == [
        "BenchConfig",
        "BenchError",
        "BenchResult",
        "LatencyHistogram",
        "Layout",
        "LockExtensionUnsupported",
        "Progress",
        "RawClient",
        "WORKLOADS",
        "WireProtocol",
        "WorkerResult",
        "Workload",
        "aggregate",
        "make_workload",
        "parse_hosts",
        "run_bench",
        "split_conns",
    ]
    assert quorumd.loadgen.WORKLOADS == ("set", "get", "mixed", "create", "lock", "lock-native")
