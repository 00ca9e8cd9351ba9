"""Properties of the checker on generated histories.

A history produced by really executing operations one at a time, each at a point inside
its [call, return] interval, is linearizable by construction, however much the
intervals overlap and whichever outcomes the clients never learned.
"""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from quorumd.check import UNKNOWN, KvInput, KvModel, Operation, Verdict, check_operations
from quorumd.check.models import cas, get, put

KEYS = ("x", "y")
VALUES = ("a", "b", "c")

kv_inputs = st.one_of(
    st.builds(put, st.sampled_from(KEYS), st.sampled_from(VALUES)),
    st.builds(get, st.sampled_from(KEYS)),
    st.builds(
        cas, st.sampled_from(KEYS), st.sampled_from((None, *VALUES)), st.sampled_from(VALUES)
    ),
)

# (input, widen left, widen right, fate) ; fate: 0 known, 1 unknown but applied,
# 2 unknown and never applied
steps = st.lists(
    st.tuples(
        kv_inputs,
        st.integers(0, 35),
        st.integers(0, 35),
        st.sampled_from((0, 0, 0, 0, 1, 2)),
    ),
    max_size=24,
)


def _execute(plan: list[tuple[KvInput, int, int, int]]) -> list[Operation]:
    store: dict[str, str | None] = {}
    history: list[Operation] = []
    for n, (inp, left, right, fate) in enumerate(plan):
        point = 10 * n + 5  # distinct linearization points
        output: object = None
        if fate != 2:
            current = store.get(inp.key)
            if inp.op == "put":
                store[inp.key] = inp.value
            elif inp.op == "get":
                output = current
            else:
                output = current == inp.expected
                if output:
                    store[inp.key] = inp.value
        if fate == 0:
            history.append(Operation(n, inp, point - left, output, point + right))
        elif inp.op != "get":  # an unknown read constrains nothing: clients drop it
            history.append(Operation(n, inp, point - left, UNKNOWN, math.inf))
    return history


@settings(max_examples=150, deadline=None)
@given(steps)
def test_sequential_executions_are_linearizable(plan: list[tuple[KvInput, int, int, int]]) -> None:
    history = _execute(plan)
    assert check_operations(KvModel(), history).verdict is Verdict.OK


@settings(max_examples=100, deadline=None)
@given(steps, st.data())
def test_a_read_of_a_value_never_written_is_illegal(
    plan: list[tuple[KvInput, int, int, int]], data: st.DataObject
) -> None:
    history = _execute(plan)
    key = data.draw(st.sampled_from(KEYS))
    end = max([op.call for op in history], default=0)
    bogus = Operation(999, get(key), end + 1, "never-written", end + 2)
    assert check_operations(KvModel(), [*history, bogus]).verdict is Verdict.ILLEGAL


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(KEYS), st.sampled_from(VALUES)), min_size=2, max_size=12))
def test_strictly_sequential_reads_must_see_the_last_write(writes: list[tuple[str, str]]) -> None:
    # No overlap at all: the only legal order is real-time order. Reading the value of
    # the write before last (when it differs) is illegal.
    history: list[Operation] = []
    last: dict[str, list[str]] = {}
    t = 0.0
    for key, value in writes:
        history.append(Operation(1, put(key, value), t, None, t + 1))
        last.setdefault(key, []).append(value)
        t += 2
    for key, values in sorted(last.items()):
        if len(values) >= 2 and values[-1] != values[-2]:
            history.append(Operation(2, get(key), t, values[-2], t + 1))
            assert check_operations(KvModel(), history).verdict is Verdict.ILLEGAL
            return
        history.append(Operation(2, get(key), t, values[-1], t + 1))
        t += 2
    assert check_operations(KvModel(), history).verdict is Verdict.OK
