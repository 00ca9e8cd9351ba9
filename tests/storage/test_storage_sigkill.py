"""Real processes, real files, SIGKILL at random moments.

A child (crash_writer.py) appends batches with LogStore over OsDisk and prints the last
index after each `sync()` returns. We kill it at random moments — while it recovers,
writes, fsyncs, snapshots or compacts — then check the directory with the read-only
recovery (storage/datadir.py) and restart it. Every acknowledged entry must be there,
in order, with its exact content; entries past the last acknowledgement may exist only
whole (their content is checked too). The number of kills is QUORUMD_CRASH_KILLS
(default 20; run with 50+ for the acceptance figure).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from quorumd.consensus.engine import EntryKind
from quorumd.storage.datadir import inspect_data_dir
from quorumd.storage.osdisk import OsDisk

sys.path.insert(0, str(Path(__file__).parent))
from crash_writer import KEEP_SNAPSHOTS, payload, snapshot_data

WRITER = Path(__file__).with_name("crash_writer.py")


def _run_and_kill(directory: Path, seed: int, rng: random.Random) -> tuple[int, int]:
    """Start a writer, kill it at a random moment: (index it started at, last ack)."""
    proc = subprocess.Popen(
        [sys.executable, str(WRITER), str(directory), str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    lines: list[bytes] = []
    try:
        if rng.randrange(6) == 0:  # sometimes in the middle of start-up recovery
            time.sleep(rng.uniform(0.0, 0.15))
        else:
            for _ in range(rng.randrange(1, 40)):
                line = proc.stdout.readline()
                if not line:
                    break
                lines.append(line)
            time.sleep(rng.uniform(0.0, 0.004))
    finally:
        proc.send_signal(signal.SIGKILL)
        rest, err = proc.communicate(timeout=30)
    lines.extend(rest.splitlines(keepends=True))
    assert proc.returncode == -signal.SIGKILL, err.decode(errors="replace")
    complete = [ln.split() for ln in lines if ln.endswith(b"\n")]
    start = next((int(w[1]) for w in complete if w[0] == b"start"), -1)
    acks = [int(w[1]) for w in complete if w[0] == b"ack"]
    return start, (acks[-1] if acks else -1)


def _check(directory: Path, acked: int, seen: dict[str, int]) -> int:
    """Everything acknowledged is present and exact; returns the last index found."""
    state = inspect_data_dir(OsDisk(), str(directory), keep_snapshots=KEEP_SNAPSHOTS)
    seen["torn tails"] += state.scan.torn is not None
    seen["unacknowledged entries found whole"] += max(0, state.scan.last_index - acked)
    seen["snapshot temp files"] += any(p.suffix == ".tmp" for p in (directory / "snap").iterdir())
    snap = state.snapshot
    index = 0
    if snap is not None:
        index = snap.meta.index
        assert snap.data == snapshot_data(index)
    for entry in state.entries:
        index += 1
        assert entry.index == index, f"entries out of order at {index}"
        assert entry.term == 1 and entry.kind is EntryKind.NORMAL
        assert entry.data == payload(index), f"entry {index} has the wrong content"
    assert index >= acked, f"acknowledged up to {acked}, recovered only up to {index}"
    assert state.hard_state.commit >= acked
    return index


def test_sigkill_at_random_moments_loses_no_acknowledged_entry(tmp_path: Path) -> None:
    kills = int(os.environ.get("QUORUMD_CRASH_KILLS", "20"))
    rng = random.Random(int(os.environ.get("QUORUMD_CRASH_SEED", "20240611")))
    acked = 0
    on_disk = 0
    seen = dict.fromkeys(
        (
            "kills before any ack",
            "torn tails",
            "unacknowledged entries found whole",
            "snapshot temp files",
        ),
        0,
    )
    for k in range(kills):
        start, ack = _run_and_kill(tmp_path, k, rng)
        if start >= 0:
            assert start >= acked, f"restart {k} began at {start}, before ack {acked}"
            assert start == on_disk, f"restart {k} began at {start}, disk had {on_disk}"
        seen["kills before any ack"] += ack < 0
        acked = max(acked, ack)
        on_disk = _check(tmp_path, acked, seen)
    print(f"kills={kills} acknowledged={acked} " + " ".join(f"{k}={v}" for k, v in seen.items()))
    assert acked > 0
