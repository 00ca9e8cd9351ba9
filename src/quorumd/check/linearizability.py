"""The Wing-Gong / Lowe linearizability search, shaped like porcupine's checker.

Theory of operation (porcupine `checker.go`, Lowe 2017 §3):

1. Turn each operation into a call event and a return event, sort them by time (a call
   sorts before a return at the same time: touching intervals count as concurrent) and
   thread them on a doubly linked list.
2. Walk the list. At a call, try to *linearize* that operation now: if the model accepts
   its output in the current state and the pair (set of linearized ops, new state) was
   never seen, push (call, old state) on a stack, unlink the call and its return and
   restart from the head. At a return whose call is still in the list, the operation
   must have taken effect by now but could not be placed: pop the stack, relink the
   popped call and continue right after it (backtracking).
3. The list becoming empty means every operation was placed: linearizable. Backtracking
   from an empty stack means no order works: illegal.

The memo of (bitset, state) pairs is what keeps this from being factorial; the budget
(search steps, optionally wall time) turns a hopeless search into `unknown` instead of a
hang. Operations with unknown outcome return at +infinity, so they can always be placed
last, which is the same as never having taken effect.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from quorumd.check.history import Operation
from quorumd.check.models import Model


class Verdict(enum.Enum):
    OK = "ok"
    ILLEGAL = "illegal"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class PartResult:
    name: str
    verdict: Verdict
    operations: int
    steps: int


@dataclass(frozen=True, slots=True)
class CheckResult:
    verdict: Verdict
    parts: tuple[PartResult, ...]

    @property
    def illegal_parts(self) -> tuple[PartResult, ...]:
        return tuple(p for p in self.parts if p.verdict is Verdict.ILLEGAL)


DEFAULT_MAX_STEPS = 2_000_000


def check_operations(
    model: Model,
    history: Sequence[Operation],
    *,
    max_steps: int = DEFAULT_MAX_STEPS,
    timeout_s: float | None = None,
) -> CheckResult:
    """Check `history` against `model`, one partition at a time.

    `max_steps` bounds each partition's search deterministically (same history, same
    verdict on any machine); `timeout_s` additionally bounds the whole check in wall
    time, for interactive use. Any illegal part makes the history illegal; otherwise
    any part over budget makes it unknown.
    """
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    parts: list[PartResult] = []
    for name, ops in model.partition(history):
        verdict, steps = _search(model, ops, max_steps, deadline)
        parts.append(PartResult(name, verdict, len(ops), steps))
        if verdict is Verdict.ILLEGAL:
            break
    verdicts = {p.verdict for p in parts}
    if Verdict.ILLEGAL in verdicts:
        overall = Verdict.ILLEGAL
    elif Verdict.UNKNOWN in verdicts:
        overall = Verdict.UNKNOWN
    else:
        overall = Verdict.OK
    return CheckResult(overall, tuple(parts))


def _search(
    model: Model, ops: Sequence[Operation], max_steps: int, deadline: float | None
) -> tuple[Verdict, int]:
    n = len(ops)
    # Nodes: 0 = head, 1..2n = events in time order, 2n+1 = tail.
    events = sorted(
        [(op.call, 0, i) for i, op in enumerate(ops)]
        + [(op.return_time, 1, i) for i, op in enumerate(ops)]
    )
    tail = 2 * n + 1
    nxt = [*range(1, 2 * n + 2), tail]
    prv = [0, *range(2 * n + 1)]
    op_of = [-1] * (2 * n + 2)
    is_call = [False] * (2 * n + 2)
    match = [-1] * (2 * n + 2)
    call_node = [0] * n
    for pos, (_, kind, i) in enumerate(events, start=1):
        op_of[pos] = i
        if kind == 0:
            is_call[pos] = True
            call_node[i] = pos
        else:
            match[call_node[i]] = pos

    def lift(node: int) -> None:
        nxt[prv[node]] = nxt[node]
        prv[nxt[node]] = prv[node]
        ret = match[node]
        nxt[prv[ret]] = nxt[ret]
        prv[nxt[ret]] = prv[ret]

    def unlift(node: int) -> None:
        ret = match[node]
        nxt[prv[ret]] = ret
        prv[nxt[ret]] = ret
        nxt[prv[node]] = node
        prv[nxt[node]] = node

    state: Hashable = model.init()
    linearized = 0
    seen: set[tuple[int, Hashable]] = set()
    stack: list[tuple[int, Hashable]] = []
    steps = 0
    entry = nxt[0]
    while nxt[0] != tail:
        steps += 1
        if steps > max_steps or (
            deadline is not None and steps % 4096 == 0 and time.monotonic() > deadline
        ):
            return Verdict.UNKNOWN, steps
        if is_call[entry]:
            i = op_of[entry]
            op = ops[i]
            legal, new_state = model.step(state, op.input, op.output)
            if legal:
                key = (linearized | (1 << i), new_state)
                if key not in seen:
                    seen.add(key)
                    stack.append((entry, state))
                    state = new_state
                    linearized = key[0]
                    lift(entry)
                    entry = nxt[0]
                    continue
            entry = nxt[entry]
        else:
            if not stack:
                return Verdict.ILLEGAL, steps
            entry, state = stack.pop()
            linearized &= ~(1 << op_of[entry])
            unlift(entry)
            entry = nxt[entry]
    return Verdict.OK, steps
