"""Seeded randomness, one independent stream per concern.

Every random choice in a run derives from the one seed, but each concern (network,
nemesis, clients, each engine) draws from its own `random.Random`. Adding one draw to
the client workload then cannot shift every later network delay, so a schedule stays
recognisable when the workload changes (TigerBeetle's VOPR derives its options the same
way). Streams are seeded with a string: `random.Random(str)` hashes it with SHA-512,
so the result does not depend on PYTHONHASHSEED.
"""

from __future__ import annotations

import random


class Streams:
    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._streams: dict[str, random.Random] = {}

    def stream(self, name: str) -> random.Random:
        """The stream for `name`, created on first use (same seed, same name, same stream)."""
        rng = self._streams.get(name)
        if rng is None:
            rng = random.Random(f"quorumd-sim:{self.seed}:{name}")
            self._streams[name] = rng
        return rng

    def fresh(self, name: str) -> random.Random:
        """A new stream for `name`, e.g. for an engine rebuilt after a crash (incarnation
        numbers go in the name so each restart draws different timeouts, reproducibly)."""
        rng = random.Random(f"quorumd-sim:{self.seed}:{name}")
        self._streams[name] = rng
        return rng
