"""Operations as a linearizability checker sees them (porcupine's `Operation`).

An operation is what one client observed: it called with `input` at time `call` and saw
`output` at `return_time`. Times only need to be comparable; the simulator uses a global
event counter, so no two events share a time. An operation whose outcome the client
never learned (it timed out) has `output = UNKNOWN` and `return_time = INFINITY`: it
may have taken effect at any point after its call, or never, and the checker must
allow both (Herlihy & Wing's completion of a history by pending operations).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Final


class _Unknown(enum.Enum):
    UNKNOWN = "unknown"

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Final = _Unknown.UNKNOWN
"""The output of an operation whose client never saw a reply."""

INFINITY: Final = math.inf
"""The return time of an operation whose client never saw a reply."""


@dataclass(frozen=True, slots=True)
class Operation:
    client_id: int
    input: object
    call: float
    output: object
    return_time: float

    def __post_init__(self) -> None:
        if self.return_time < self.call:
            raise ValueError(f"operation returns before it is called: {self}")

    @property
    def pending(self) -> bool:
        return self.output is UNKNOWN


def unknown_outcome(client_id: int, input_: object, call: float) -> Operation:
    """An operation the client gave up on: it may take effect later, or never."""
    return Operation(client_id, input_, call, UNKNOWN, INFINITY)
