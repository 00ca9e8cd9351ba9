"""Virtual time: the simulator's clock only moves when the run loop says so."""

from __future__ import annotations


class VirtualClock:
    """Ticks, with `env.Clock`'s millisecond view for code that wants one.

    A tick is the unit in which engines count timeouts (`election_timeout_ticks`). The
    run loop advances time; nothing else can, so two runs of one seed see the same times.
    """

    def __init__(self, tick_ms: int = 10, epoch_ms: int = 1_700_000_000_000) -> None:
        self.now = 0
        self.tick_ms = tick_ms
        self._epoch_ms = epoch_ms

    def advance(self) -> int:
        self.now += 1
        return self.now

    def monotonic_ms(self) -> int:
        return self.now * self.tick_ms

    def wall_ms(self) -> int:
        return self._epoch_ms + self.now * self.tick_ms
