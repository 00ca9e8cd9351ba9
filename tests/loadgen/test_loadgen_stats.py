"""Histogram percentiles, merging and the aggregation of worker results."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quorumd.loadgen.stats import (
    LatencyHistogram,
    WorkerResult,
    _bucket,
    _bucket_bounds,
    aggregate,
    error_label,
    nearest_rank,
)

latencies = st.lists(st.integers(min_value=0, max_value=5_000_000), min_size=1, max_size=400)
quantiles = st.sampled_from([1.0, 50.0, 90.0, 99.0, 99.9, 100.0])


def exact_percentile(values: list[int], q: float) -> int:
    return sorted(values)[nearest_rank(len(values), q) - 1]


def test_nearest_rank_definition():
    assert nearest_rank(1000, 50) == 500
    assert nearest_rank(1000, 99) == 990
    assert nearest_rank(1000, 99.9) == 999
    assert nearest_rank(1000, 100) == 1000
    assert nearest_rank(3, 1) == 1
    assert nearest_rank(1, 99.9) == 1


@settings(max_examples=200)
@given(st.integers(min_value=0, max_value=10**10))
def test_every_value_falls_inside_its_bucket(us):
    low, high = _bucket_bounds(_bucket(us))
    assert low <= us < high
    assert high - low <= max(1, low / 128)


@settings(max_examples=100)
@given(latencies, quantiles)
def test_percentile_is_within_one_percent_of_exact(values, q):
    h = LatencyHistogram()
    for v in values:
        h.record_us(v)
    exact = exact_percentile(values, q)
    got = h.percentile_us(q)
    assert abs(got - exact) <= max(1.0, exact / 128)
    assert min(values) <= got <= max(values)


@settings(max_examples=60)
@given(latencies, latencies)
def test_merge_equals_recording_everything_in_one(a, b):
    ha, hb, hall = LatencyHistogram(), LatencyHistogram(), LatencyHistogram()
    for v in a:
        ha.record_us(v)
        hall.record_us(v)
    for v in b:
        hb.record_us(v)
        hall.record_us(v)
    ha.merge(hb)
    assert ha == hall


def test_merging_into_an_empty_histogram_keeps_the_minimum():
    src = LatencyHistogram()
    src.record_us(700)
    into = LatencyHistogram()
    into.merge(src)
    into.merge(LatencyHistogram())
    assert (into.min_us, into.max_us, into.count) == (700, 700, 1)


def test_empty_histogram_reports_no_percentiles():
    h = LatencyHistogram()
    assert h.percentile_ms(99) is None
    assert h.mean_ms is None


def _worker(n, ops, lat, errors=None, timeouts=0, losses=0, cpu=0.5):
    h = LatencyHistogram()
    for v in lat:
        h.record_us(v)
    return WorkerResult(n, ops, h, errors or {}, timeouts, losses, {}, cpu, 2.0)


def test_aggregate_sums_workers_and_keeps_every_error():
    r = aggregate(
        [
            _worker(1, 300, [2000, 4000], {("setData", -101): 2}, timeouts=1),
            _worker(0, 100, [1000], {("setData", -101): 1, ("create", -110): 4}, losses=3),
        ],
        workload="set",
        hosts="h:1",
        conns=4,
        depth=2,
        duration_s=2.0,
    )
    assert r.ops == 400
    assert r.ops_per_s == 200.0
    assert r.errors == {("setData", -101): 3, ("create", -110): 4}
    assert r.error_count == 7
    assert (r.timeouts, r.connection_losses) == (1, 3)
    assert r.failed
    assert r.worker_cpu_pct == (25.0, 25.0)  # ordered by worker id, 0.5 s of CPU in 2 s
    doc = r.to_json()
    assert doc["errors_by_code"] == {"create NODEEXISTS(-110)": 4, "setData NONODE(-101)": 3}
    assert doc["p50_ms"] == pytest.approx(2.0, rel=1 / 128)
    assert doc["loadgen_cpu_pct"] == 50.0


def test_a_clean_run_is_not_failed():
    r = aggregate(
        [_worker(0, 10, [5])], workload="get", hosts="h:1", conns=1, depth=1, duration_s=1.0
    )
    assert not r.failed
    assert r.to_json()["errors"] == 0


def test_error_labels_name_the_code():
    assert error_label(("getData", -101)) == "getData NONODE(-101)"
    assert error_label(("lockAcquire", -6)) == "lockAcquire UNIMPLEMENTED(-6)"
    assert error_label(("setData", -9999)) == "setData UNKNOWN(-9999)"
