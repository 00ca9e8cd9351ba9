"""`--storage wal`: the real write-ahead log (`storage.LogStore`) over `SimDisk`.

Each node gets its own crash-modelling disk. A crash is `SimDisk.crash()`: unsynced
bytes vanish or survive as a torn prefix, un-synced directory changes revert, and the
node restarts through `LogStore.open`, i.e. through the production recovery code.
"""

from __future__ import annotations

from collections.abc import Callable

from quorumd._types import NodeId, Prng
from quorumd.consensus.engine import Restored
from quorumd.sim.disk import SimDisk
from quorumd.sim.storage import NodeStorage
from quorumd.storage import LogStore

DATA_DIR = "/data"


class WalBackend:
    def __init__(self, disk_prng: Callable[[NodeId], Prng]) -> None:
        self._disk_prng = disk_prng
        self._disks: dict[NodeId, SimDisk] = {}
        self._stores: dict[NodeId, LogStore] = {}

    def open(self, node: NodeId) -> tuple[NodeStorage, Restored]:
        disk = self._disks.get(node)
        if disk is None:
            disk = self._disks[node] = SimDisk(self._disk_prng(node))
        store, restored = LogStore.open(disk, DATA_DIR, segment_bytes=64 * 1024)
        self._stores[node] = store
        return store, restored

    def crash(self, node: NodeId) -> None:
        self._stores.pop(node, None)  # its file handles die with the disk's generation
        self._disks[node].crash()
