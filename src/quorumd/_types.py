"""Identifiers shared by every layer, and the one randomness protocol.

They are `NewType`s over `int` so mixing a term with a log index is a type error, while
costing nothing at run time. `Prng` lives here, not in `env.py`, because the pure cores
(consensus, machine) may import only `_types` and `errors`: randomness reaches them as a
seeded object passed in, never as a global.
"""

from __future__ import annotations

from typing import NewType, Protocol

NodeId = NewType("NodeId", int)
Term = NewType("Term", int)
LogIndex = NewType("LogIndex", int)
Ballot = NewType("Ballot", int)
Zxid = NewType("Zxid", int)
SessionId = NewType("SessionId", int)


class Prng(Protocol):
    """A seeded pseudo-random source. `random.Random` satisfies it."""

    def randrange(self, start: int, stop: int = ..., step: int = ..., /) -> int: ...

    def random(self) -> float: ...
