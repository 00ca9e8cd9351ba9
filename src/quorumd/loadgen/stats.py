"""Latency histograms, error counts and the aggregation of worker results (pure).

Each worker process keeps its own `LatencyHistogram` and error counters and sends them
to the parent once, at the end; the parent merges them. A histogram rather than a list
of samples keeps that message small whatever the rate, and merging is exact.

Theory of operation:

1. Buckets are log-linear, as in HdrHistogram: every microsecond below 256 us has its
   own bucket; above, each power of two is cut into 128 equal buckets, so a reported
   value is within 1/128 (< 0.8 %) of the true one, at every scale.
2. Percentiles use the nearest-rank definition: p-th percentile = the smallest sample
   such that at least p % of the samples are <= it. A bucket reports its midpoint,
   clamped to the smallest and largest sample seen.
3. Errors are counted per (operation, wire error code) and never dropped; timeouts
   (a request unanswered past the deadline) and connection losses are counted apart.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from quorumd.errors import error_for_code

__all__ = [
    "BenchResult",
    "ErrorKey",
    "LatencyHistogram",
    "WorkerResult",
    "aggregate",
    "error_label",
    "nearest_rank",
]

_LINEAR_US = 256  # below this every microsecond has its own bucket
_SUB_BUCKETS = 128  # buckets per power of two above it

#: (operation name, ZooKeeper error code); code 0 never appears.
ErrorKey = tuple[str, int]


def _bucket(us: int) -> int:
    if us < _LINEAR_US:
        return max(us, 0)
    shift = us.bit_length() - 8  # us >> shift lands in [128, 256)
    return _LINEAR_US + (shift - 1) * _SUB_BUCKETS + ((us >> shift) - _SUB_BUCKETS)


def _bucket_bounds(index: int) -> tuple[int, int]:
    """[low, high) in microseconds of a bucket."""
    if index < _LINEAR_US:
        return index, index + 1
    shift = (index - _LINEAR_US) // _SUB_BUCKETS + 1
    mantissa = (index - _LINEAR_US) % _SUB_BUCKETS + _SUB_BUCKETS
    return mantissa << shift, (mantissa + 1) << shift


def nearest_rank(count: int, q: float) -> int:
    """The 1-based rank of the q-th percentile (0 < q <= 100) among `count` samples."""
    if count <= 0:
        raise ValueError("no samples")
    # round first: 99.9 / 100 * 1000 is 999.0000000000001 in binary floating point
    return min(count, max(1, math.ceil(round(q / 100.0 * count, 9))))


@dataclass(slots=True)
class LatencyHistogram:
    """Mergeable latency histogram with < 0.8 % relative error (rule 1)."""

    counts: dict[int, int] = field(default_factory=dict)
    count: int = 0
    total_us: int = 0
    min_us: int = 0
    max_us: int = 0

    def record_us(self, us: int) -> None:
        b = _bucket(us)
        counts = self.counts
        counts[b] = counts.get(b, 0) + 1
        if self.count == 0 or us < self.min_us:
            self.min_us = us
        self.max_us = max(self.max_us, us)
        self.count += 1
        self.total_us += us

    def merge(self, other: LatencyHistogram) -> None:
        if other.count == 0:
            return
        for b, n in other.counts.items():
            self.counts[b] = self.counts.get(b, 0) + n
        self.min_us = other.min_us if self.count == 0 else min(self.min_us, other.min_us)
        self.max_us = max(self.max_us, other.max_us)
        self.count += other.count
        self.total_us += other.total_us

    def percentile_us(self, q: float) -> float:
        """The q-th percentile in microseconds (rule 2); raises ValueError when empty."""
        rank = nearest_rank(self.count, q)
        seen = 0
        for b in sorted(self.counts):
            seen += self.counts[b]
            if seen >= rank:
                low, high = _bucket_bounds(b)
                mid = (low + high - 1) / 2.0
                return min(max(mid, float(self.min_us)), float(self.max_us))
        raise AssertionError("ranks exceed the histogram count")  # pragma: no cover

    def percentile_ms(self, q: float) -> float | None:
        return None if self.count == 0 else self.percentile_us(q) / 1000.0

    @property
    def mean_ms(self) -> float | None:
        return None if self.count == 0 else self.total_us / self.count / 1000.0


def error_label(key: ErrorKey) -> str:
    """`setData NONODE(-101)`: what a reader of the report needs to see."""
    op, code = key
    name = type(error_for_code(code)).zk_name if code < 0 else "?"
    if name == "SYSTEMERROR" and code != -1:
        name = "UNKNOWN"
    return f"{op} {name}({code})"


@dataclass(frozen=True, slots=True)
class WorkerResult:
    """What one worker process measured; `ops` and `latency` cover the window only,
    errors, timeouts and connection losses the whole run (rule 3)."""

    worker: int
    ops: int
    latency: LatencyHistogram
    errors: Mapping[ErrorKey, int]
    timeouts: int
    connection_losses: int
    anomalies: Mapping[str, int]
    cpu_s: float
    window_s: float


@dataclass(frozen=True, slots=True)
class BenchResult:
    """The whole run: the sum of every worker's result."""

    workload: str
    hosts: str
    conns: int
    depth: int
    procs: int
    duration_s: float
    ops: int
    latency: LatencyHistogram
    errors: Mapping[ErrorKey, int]
    timeouts: int
    connection_losses: int
    anomalies: Mapping[str, int]
    worker_cpu_pct: tuple[float, ...]

    @property
    def ops_per_s(self) -> float:
        return self.ops / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def failed(self) -> bool:
        """Anything a reader must not overlook: error replies, timeouts, lost
        connections or anomalies (a lock recipe that did not find itself lowest)."""
        return bool(self.error_count or self.timeouts or self.connection_losses or self.anomalies)

    @property
    def cpu_pct_total(self) -> float:
        return sum(self.worker_cpu_pct)

    def to_json(self) -> dict[str, Any]:
        def r3(x: float | None) -> float | None:
            return None if x is None else round(x, 3)

        return {
            "workload": self.workload,
            "hosts": self.hosts,
            "conns": self.conns,
            "depth": self.depth,
            "procs": self.procs,
            "duration_s": self.duration_s,
            "ops": self.ops,
            "ops_per_s": round(self.ops_per_s, 1),
            "p50_ms": r3(self.latency.percentile_ms(50)),
            "p99_ms": r3(self.latency.percentile_ms(99)),
            "p999_ms": r3(self.latency.percentile_ms(99.9)),
            "mean_ms": r3(self.latency.mean_ms),
            "max_ms": r3(self.latency.max_us / 1000.0 if self.latency.count else None),
            "errors": self.error_count,
            "errors_by_code": {error_label(k): n for k, n in sorted(self.errors.items())},
            "timeouts": self.timeouts,
            "connection_losses": self.connection_losses,
            "anomalies": dict(sorted(self.anomalies.items())),
            "loadgen_cpu_pct": round(self.cpu_pct_total, 1),
            "loadgen_cpu_pct_per_proc": [round(x, 1) for x in self.worker_cpu_pct],
        }


def _add(into: dict[Any, int], items: Mapping[Any, int]) -> None:
    for key, n in items.items():
        into[key] = into.get(key, 0) + n


def aggregate(
    results: Iterable[WorkerResult],
    *,
    workload: str,
    hosts: str,
    conns: int,
    depth: int,
    duration_s: float,
) -> BenchResult:
    """Merge worker results; CPU is reported per worker as % of one core over its
    window, so a generator near 100 % per process is visibly the bottleneck."""
    ordered = sorted(results, key=lambda r: r.worker)
    latency = LatencyHistogram()
    errors: dict[ErrorKey, int] = {}
    anomalies: dict[str, int] = {}
    for r in ordered:
        latency.merge(r.latency)
        _add(errors, r.errors)
        _add(anomalies, r.anomalies)
    return BenchResult(
        workload=workload,
        hosts=hosts,
        conns=conns,
        depth=depth,
        procs=len(ordered),
        duration_s=duration_s,
        ops=sum(r.ops for r in ordered),
        latency=latency,
        errors=errors,
        timeouts=sum(r.timeouts for r in ordered),
        connection_losses=sum(r.connection_losses for r in ordered),
        anomalies=anomalies,
        worker_cpu_pct=tuple(
            100.0 * r.cpu_s / r.window_s if r.window_s > 0 else 0.0 for r in ordered
        ),
    )
