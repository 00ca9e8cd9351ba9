"""Histories, the linearizability checker, its models, and the consensus invariants.

The checker is shaped like porcupine: a history of `Operation`s, a pure `Model`
(`init`, `step`, `partition`), and `check_operations(model, history) -> CheckResult`
whose verdict is ok, illegal, or unknown when the search budget ran out::

    result = check_operations(KvModel(), history, max_steps=1_000_000)
    assert result.verdict is Verdict.OK

`InvariantChecker` watches a cluster of consensus engines (Election Safety, Log
Matching, Leader Completeness, State Machine Safety, ...) and raises
`InvariantViolation` the moment one breaks.
"""

from quorumd.check.history import INFINITY, UNKNOWN, Operation, unknown_outcome
from quorumd.check.linearizability import CheckResult, PartResult, Verdict, check_operations
from quorumd.check.models import KvInput, KvModel, Model, cas, get, put

__all__ = [
    "INFINITY",
    "UNKNOWN",
    "CheckResult",
    "KvInput",
    "KvModel",
    "Model",
    "Operation",
    "PartResult",
    "Verdict",
    "cas",
    "check_operations",
    "get",
    "put",
    "unknown_outcome",
]
