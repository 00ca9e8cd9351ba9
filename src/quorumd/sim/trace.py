"""The run's trace: what happened, at which step and tick, cheap unless printed.

Events are stored as tuples and formatted only when shown, so the last ~50 (kept
always, for the failure report) cost almost nothing; `--trace` formats and prints every
event as it happens. Two runs of one seed produce the same formatted trace.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

TAIL = 50
_MAX_REPR = 220


def short(obj: object) -> str:
    text = repr(obj)
    return text if len(text) <= _MAX_REPR else text[: _MAX_REPR - 3] + "..."


class Trace:
    def __init__(self, echo: Callable[[str], None] | None = None) -> None:
        self._tail: deque[tuple[int, int, str, object]] = deque(maxlen=TAIL)
        self._echo = echo

    def add(self, step: int, tick: int, kind: str, what: object) -> None:
        event = (step, tick, kind, what)
        self._tail.append(event)
        if self._echo is not None:
            self._echo(_format(event))

    def tail(self) -> tuple[str, ...]:
        return tuple(_format(e) for e in self._tail)


def _format(event: tuple[int, int, str, object]) -> str:
    step, tick, kind, what = event
    body = what if isinstance(what, str) else short(what)
    return f"step={step} tick={tick} {kind} {body}"
