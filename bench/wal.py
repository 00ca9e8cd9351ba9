"""WAL throughput against the disk's own limit.

    .venv/bin/python bench/wal.py [--dir D] [--seconds S]

Measures, on the same file system:
- the limit: a raw loop of one 126-byte `os.write` + `os.fdatasync` (126 bytes is one
  framed 100-byte entry), alternated with the WAL runs so both see the same disk;
- LogStore over OsDisk: appends/s of 100-byte entries at batch sizes 1, 16, 256 and
  4096, each batch = `append` + `set_hard_state` + ONE `sync()` (one write, one
  fdatasync), as the server's disk writer does per Ready.
Only the store calls are timed (building Entry objects is the engine's cost).

Acceptance: batch 1 reaches >= 0.8x the raw fdatasync rate; batch 256 >= 200,000
entries/s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

from quorumd._types import LogIndex, NodeId, Term
from quorumd.consensus.engine import Entry, EntryKind, HardState
from quorumd.storage import LogStore, OsDisk
from quorumd.storage.osdisk import OsFile

ENTRY_BYTES = 100
BATCHES = (1, 16, 256, 4096)


def raw_fdatasync_rate(directory: str, seconds: float) -> float:
    path = os.path.join(directory, "raw.bin")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_TRUNC, 0o644)
    record = b"r" * 126
    n = 0
    start = time.perf_counter()
    deadline = start + seconds
    try:
        while time.perf_counter() < deadline:
            os.write(fd, record)
            os.fdatasync(fd)
            n += 1
        return n / (time.perf_counter() - start)
    finally:
        os.close(fd)
        os.remove(path)


class _NoSyncFile(OsFile):
    def sync(self) -> None:
        """Skipped: measures the store's own CPU cost, not the disk's."""


class _NoSyncDisk(OsDisk):
    def open_append(self, path: str) -> OsFile:
        return _NoSyncFile(path)


def wal_rate(
    directory: str, batch: int, seconds: float, disk: OsDisk | None = None
) -> tuple[float, float]:
    """(entries/s, syncs/s) for `batch` entries per sync, timing only the store."""
    data_dir = os.path.join(directory, f"wal-batch-{batch}")
    store, _ = LogStore.open(disk or OsDisk(), data_dir)
    payload = b"p" * ENTRY_BYTES
    term, vote = Term(1), NodeId(1)
    last = 0
    syncs = 0
    busy = 0.0
    wall_deadline = time.perf_counter() + seconds * 3  # bounds setup time too
    perf = time.perf_counter
    while busy < seconds and perf() < wall_deadline:
        entries = [
            Entry(term, LogIndex(i), EntryKind.NORMAL, payload)
            for i in range(last + 1, last + batch + 1)
        ]
        hs = HardState(term, vote, LogIndex(last))
        t0 = perf()
        store.append(entries)
        store.set_hard_state(hs)
        store.sync()
        busy += perf() - t0
        last += batch
        syncs += 1
    store.close()
    shutil.rmtree(data_dir)
    return last / busy, syncs / busy


def paired(base: str, batch: int, seconds: float, rounds: int = 4) -> tuple[float, float, float]:
    """Alternates short raw and WAL runs so both see the same disk weather (shared or
    virtual disks drift by several x within seconds): (raw fsyncs/s, entries/s, syncs/s)."""
    raw = entries = syncs = 0.0
    for _ in range(rounds):
        raw += raw_fdatasync_rate(base, seconds / rounds) / rounds
        e, s = wal_rate(base, batch, seconds / rounds)
        entries += e / rounds
        syncs += s / rounds
    return raw, entries, syncs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", help="directory on the disk to measure (default: a temp dir)")
    parser.add_argument("--seconds", type=float, default=2.0, help="per measurement")
    args = parser.parse_args()
    base = tempfile.mkdtemp(prefix="quorumd-bench-wal-", dir=args.dir)
    try:
        print(
            f"dir={base} entry={ENTRY_BYTES}B seconds={args.seconds} (raw and WAL runs "
            "alternate in 4 rounds per batch size)"
        )
        results = {b: paired(base, b, args.seconds) for b in BATCHES}
        for batch, (raw, entries_s, syncs_s) in results.items():
            print(
                f"batch {batch:>5}: {entries_s:>12,.0f} entries/s {syncs_s:>9,.0f} fsyncs/s"
                f" | raw write+fdatasync loop {raw:>9,.0f} fsyncs/s | ratio {syncs_s / raw:.2f}"
            )
        ceiling = {b: wal_rate(base, b, args.seconds / 2, _NoSyncDisk())[0] for b in (1, 256)}
        print(
            f"store CPU ceiling (fdatasync skipped, for reference): batch 1 "
            f"{ceiling[1]:,.0f} entries/s, batch 256 {ceiling[256]:,.0f} entries/s"
        )
        ratio1 = results[1][2] / results[1][0]
        rate256 = results[256][1]
        print(
            f"acceptance: batch 1 fsyncs/s = {ratio1:.2f} x raw (>= 0.80: "
            f"{'PASS' if ratio1 >= 0.8 else 'FAIL'}); batch 256 = {rate256:,.0f} entries/s "
            f"(>= 200,000: {'PASS' if rate256 >= 200_000 else 'FAIL'})"
        )
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
