"""quorumd.storage: the write-ahead log, snapshots and crash recovery.

This is the only code that calls fsync, and it reaches files only through `env.Disk`,
so the simulator's crash-modelling `SimDisk` exercises exactly this recovery code::

    store, restored = LogStore.open(OsDisk(), "/var/lib/quorumd", segment_bytes=64 << 20)
    engine = make_engine(..., restored)        # hard state, snapshot, log after it
    while running:
        rd = engine.ready()
        persist_ready(store, rd)               # snapshot, entries, hard state, ONE fsync
        engine.advance(rd)

See docs/design/wal.md for the record format, the recovery rules and what a crash can
lose.
"""

from quorumd.storage.log_store import LogStore, persist_ready
from quorumd.storage.osdisk import OsDisk
from quorumd.storage.snapshot import SnapshotStore

__all__ = ["LogStore", "OsDisk", "SnapshotStore", "persist_ready"]
