"""The nemesis: a fault schedule drawn from the seed, for the enabled fault models.

Each fault model has one or more *lanes*; a lane is a sequence of windows separated by
quiet gaps, all drawn up front from the nemesis stream, so the schedule is a pure
function of (seed, options) and lanes of different models overlap freely. What a window
hits (the leader, a random node) is resolved when it opens, from the cluster as it is
then: targeting the leader is what exposes stale-leader bugs.

Windows by model:

- partition: cut the leader off alone, or with one follower, or split the cluster in
  random halves, or cut one direction only (a node that can talk but not hear, or hear
  but not talk), or cut off the *next* node to become leader the moment it wins, before
  its first appends land (it keeps entries of its term nobody else has: figure 8's S5).
  Healed when the window closes.
- crash: power-off of the leader or a random node, either at once or *armed* to strike
  inside the next Ready that persists something (between sending its messages and the
  fsync), optionally only one that changes the vote or appends entries: the windows in
  which vote-before-persist and ack-before-persist bugs live. Restarted `downtime`
  ticks after the strike (0: at once, before the other candidate's request lands); an
  armed crash that did not strike by the window's end is disarmed.
- loss: extra message loss at a random rate (or a fixed rate for the whole fault phase).
- pause: the leader or a random node stops (no ticks, messages queue) and resumes.

The run's HEALED phase starts with `heal_all`: every fault ends at once.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

FAULT_MODELS = ("crash", "loss", "partition", "pause")

PARTITION_MODES = ("isolate", "minority", "split", "one_way_in", "one_way_out", "new_leader")
CRASH_MODES = ("now", "sync", "vote", "append")


@dataclass(frozen=True, slots=True)
class Fault:
    start: int
    end: int
    kind: str  # one of FAULT_MODELS
    mode: str  # PARTITION_MODES / CRASH_MODES; "" otherwise
    target_leader: bool  # else a random node
    rate: float = 0.0  # loss rate
    downtime: int = 0  # crash: ticks from the strike to the restart

    def __str__(self) -> str:
        who = "leader" if self.target_leader else "random"
        extra = f" rate={self.rate:.2f}" if self.kind == "loss" else ""
        return f"{self.kind}[{self.mode or '-'}] {who} ticks {self.start}-{self.end}{extra}"


# (lanes, min gap, max gap, min length, max length) per model, in ticks
_SHAPES = {
    "partition": (1, 5, 60, 10, 120),
    "crash": (2, 5, 80, 3, 60),
    "loss": (1, 10, 80, 20, 150),
    "pause": (1, 10, 80, 5, 60),
}


# Short downtimes matter: a node that lost an unsynced vote must be back before the
# other candidate's request arrives for a double vote to happen.
_DOWNTIMES = (0, 0, 1, 2, 5, 10, 20, 40)


def draw_schedule(
    rng: random.Random, models: frozenset[str], fault_ticks: int, fixed_loss: float | None
) -> list[Fault]:
    """The whole fault phase's schedule, sorted by start (then model, for ties)."""
    faults: list[Fault] = []
    for kind in sorted(models):
        if kind == "loss" and fixed_loss is not None:
            faults.append(Fault(0, fault_ticks, "loss", "", False, fixed_loss))
            continue
        lanes, gap_lo, gap_hi, len_lo, len_hi = _SHAPES[kind]
        for _ in range(lanes):
            t = rng.randrange(0, gap_hi)
            while t < fault_ticks:
                length = rng.randrange(len_lo, len_hi + 1)
                faults.append(_draw_fault(rng, kind, t, min(t + length, fault_ticks)))
                t += length + rng.randrange(gap_lo, gap_hi + 1)
    faults.sort(key=lambda f: (f.start, f.kind, f.end))
    return faults


def _draw_fault(rng: random.Random, kind: str, start: int, end: int) -> Fault:
    target_leader = rng.random() < 0.6
    if kind == "crash":
        mode = rng.choice(CRASH_MODES)
        target_leader = target_leader and mode != "vote"
        return Fault(start, end, kind, mode, target_leader, 0.0, rng.choice(_DOWNTIMES))
    if kind == "partition":
        return Fault(start, end, kind, rng.choice(PARTITION_MODES), target_leader)
    if kind == "loss":
        return Fault(start, end, kind, "", False, rng.choice((0.05, 0.1, 0.2, 0.4)))
    return Fault(start, end, kind, "", target_leader)


def partition_groups(
    mode: str, nodes: tuple[int, ...], target: int, rng: random.Random
) -> tuple[list[int], list[int]]:
    """(side A, side B) for a partition window centred on `target`."""
    rest = [n for n in nodes if n != target]
    if mode in ("isolate", "one_way_in", "one_way_out"):
        return [target], rest
    if mode == "minority":
        buddy = rest[rng.randrange(len(rest))]
        return sorted([target, buddy]), [n for n in rest if n != buddy]
    shuffled = list(nodes)
    rng.shuffle(shuffled)
    cut = rng.randrange(1, len(nodes))
    return sorted(shuffled[:cut]), sorted(shuffled[cut:])
