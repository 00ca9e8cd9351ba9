"""Sequential specifications for the linearizability checker (porcupine's `Model`).

A model is pure: `init()` gives the initial state, `step(state, input, output)` says
whether `output` is a legal answer to `input` in `state` and what state follows. States
must be hashable and compare by value: the checker memoizes (linearized set, state)
pairs, which is what makes the Wing-Gong search practical (Lowe, "Testing for
linearizability", 2017). `partition` splits a history into independent sub-histories
(one per key for a key-value store); a history is linearizable iff every part is, and
checking the parts separately turns one exponential search into many small ones.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Protocol

from quorumd.check.history import UNKNOWN, Operation


class Model(Protocol):
    def init(self) -> Hashable: ...

    def step(self, state: Hashable, input_: object, output: object) -> tuple[bool, Hashable]:
        """(legal?, next state). `output` may be `UNKNOWN`: accept and apply the effect."""
        ...

    def partition(self, history: Sequence[Operation]) -> list[tuple[str, list[Operation]]]:
        """Independent (name, sub-history) parts, in a deterministic order."""
        ...


@dataclass(frozen=True, slots=True)
class KvInput:
    """`op` is "put", "get" or "cas"; `expected` is only for cas."""

    op: str
    key: str
    value: str | None = None
    expected: str | None = None

    def __str__(self) -> str:
        if self.op == "put":
            return f"put({self.key}={self.value})"
        if self.op == "get":
            return f"get({self.key})"
        return f"cas({self.key}: {self.expected}->{self.value})"


def put(key: str, value: str) -> KvInput:
    return KvInput("put", key, value)


def get(key: str) -> KvInput:
    return KvInput("get", key)


def cas(key: str, expected: str | None, value: str) -> KvInput:
    return KvInput("cas", key, value, expected)


class KvModel:
    """A map of registers: put returns None, get the value (None if absent), cas a bool.

    Partitioned by key, so the state of each part is just that key's value.
    """

    def init(self) -> Hashable:
        return None

    def step(self, state: Hashable, input_: object, output: object) -> tuple[bool, Hashable]:
        assert isinstance(input_, KvInput), input_
        if input_.op == "put":
            return (output is None or output is UNKNOWN), input_.value
        if input_.op == "get":
            return (output is UNKNOWN or output == state), state
        if input_.op == "cas":
            swapped = state == input_.expected
            if output is UNKNOWN or output == swapped:
                return True, (input_.value if swapped else state)
            return False, state
        raise ValueError(f"unknown kv operation {input_.op!r}")

    def partition(self, history: Sequence[Operation]) -> list[tuple[str, list[Operation]]]:
        parts: dict[str, list[Operation]] = {}
        for op in history:
            assert isinstance(op.input, KvInput), op.input
            parts.setdefault(op.input.key, []).append(op)
        return sorted(parts.items())
