"""Child process of the real-process crash test (test_storage_sigkill.py).

Usage: python crash_writer.py DIR SEED

Opens a LogStore over OsDisk in DIR (running real recovery), prints `start LAST`, then
appends batches of entries forever; after each `sync()` returns it prints `ack LAST`,
the last index that is now durable. Every few batches it saves a snapshot, so WAL
compaction and snapshot pruning run under the kill too. The parent SIGKILLs it.
"""

from __future__ import annotations

import hashlib
import random
import sys

from quorumd._types import LogIndex, NodeId, Term
from quorumd.consensus.engine import (
    ClusterConfig,
    Entry,
    EntryKind,
    HardState,
    Snapshot,
    SnapshotMeta,
)
from quorumd.storage import LogStore, OsDisk

SEGMENT_BYTES = 32 << 10
KEEP_SNAPSHOTS = 2
CONFIG = ClusterConfig((NodeId(1), NodeId(2), NodeId(3)))


def payload(index: int) -> bytes:
    """The data of entry `index`: the parent recomputes it to check the content."""
    size = (index * 37) % 400
    block = hashlib.blake2b(index.to_bytes(8, "little")).digest()
    return (block * (size // len(block) + 1))[:size]


def snapshot_data(index: int) -> bytes:
    return b"snapshot@%d" % index


def main() -> None:
    directory, seed = sys.argv[1], int(sys.argv[2])
    rng = random.Random(seed)
    store, _ = LogStore.open(
        OsDisk(), directory, segment_bytes=SEGMENT_BYTES, keep_snapshots=KEEP_SNAPSHOTS
    )
    last = int(store.last_index)
    out = sys.stdout
    out.write(f"start {last}\n")
    out.flush()
    while True:
        n = rng.randrange(1, 48)
        entries = [
            Entry(Term(1), LogIndex(i), EntryKind.NORMAL, payload(i))
            for i in range(last + 1, last + n + 1)
        ]
        store.append(entries)
        last += n
        store.set_hard_state(HardState(Term(1), NodeId(1), LogIndex(last)))
        store.sync()
        out.write(f"ack {last}\n")
        out.flush()
        if rng.randrange(8) == 0:
            index = max(int(store.snapshot_index) + 1, last - rng.randrange(20))
            meta = SnapshotMeta(LogIndex(index), Term(1), CONFIG)
            store.save_snapshot(Snapshot(meta, snapshot_data(index)))


if __name__ == "__main__":
    main()
