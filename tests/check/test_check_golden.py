"""The checker against hand-built histories whose verdicts are known."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from quorumd.check import (
    UNKNOWN,
    KvInput,
    KvModel,
    Operation,
    Verdict,
    cas,
    check_operations,
    get,
    put,
)

TESTDATA = Path(__file__).parent / "testdata" / "kv_histories.txt"


def _value(text: str) -> str | None:
    return None if text == "nil" else text


def _parse_op(line: str) -> Operation:
    left, _, out_text = line.partition("->")
    client, call, ret, op, key, *args = left.split()
    inp: KvInput
    output: object
    if op == "put":
        inp, output = put(key, args[0]), None
    elif op == "get":
        inp, output = get(key), _value(out_text.strip())
    else:
        inp, output = cas(key, _value(args[0]), args[1]), out_text.strip() == "true"
    return_time = math.inf if ret == "inf" else float(ret)
    if ret == "inf":
        output = UNKNOWN
    return Operation(int(client), inp, float(call), output, return_time)


def _load() -> list[tuple[str, str, list[Operation]]]:
    cases: list[tuple[str, str, list[Operation]]] = []
    for raw in TESTDATA.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("=="):
            cases.append((line[2:].strip(), "", []))
        elif line.startswith("expect"):
            name, _, ops = cases[-1]
            cases[-1] = (name, line.split()[1], ops)
        else:
            cases[-1][2].append(_parse_op(line))
    return cases


CASES = _load()


def test_golden_file_has_both_kinds() -> None:
    expectations = [expect for _, expect, _ in CASES]
    assert expectations.count("ok") >= 5
    assert expectations.count("illegal") >= 5


@pytest.mark.parametrize(("name", "expect", "ops"), CASES, ids=[c[0] for c in CASES])
def test_golden_history(name: str, expect: str, ops: list[Operation]) -> None:
    result = check_operations(KvModel(), ops)
    assert result.verdict.value == expect, (name, result)


@pytest.mark.parametrize(("name", "expect", "ops"), CASES, ids=[c[0] for c in CASES])
def test_verdict_does_not_depend_on_input_order(
    name: str, expect: str, ops: list[Operation]
) -> None:
    result = check_operations(KvModel(), list(reversed(ops)))
    assert result.verdict.value == expect, name


def test_budget_exhaustion_is_unknown_not_ok() -> None:
    # 12 fully concurrent puts and a read of a value none of them wrote: illegal, but
    # proving it needs exploring many orders; a tiny budget must say unknown.
    ops = [Operation(i, put("x", str(i)), 0, None, 100) for i in range(12)]
    ops.append(Operation(99, get("x"), 0, "zzz", 100))
    assert check_operations(KvModel(), ops, max_steps=50).verdict is Verdict.UNKNOWN
    assert check_operations(KvModel(), ops).verdict is Verdict.ILLEGAL


def test_illegal_part_is_named() -> None:
    ops = [
        Operation(1, put("a", "1"), 0, None, 1),
        Operation(1, put("b", "1"), 2, None, 3),
        Operation(2, get("b"), 4, "2", 5),
    ]
    result = check_operations(KvModel(), ops)
    assert [p.name for p in result.illegal_parts] == ["b"]


def test_return_before_call_is_rejected() -> None:
    with pytest.raises(ValueError, match="returns before"):
        Operation(1, get("x"), 5, None, 4)
