"""A simulated node's persistence, behind the same small surface as `storage.LogStore`.

`NodeStorage` mirrors LogStore (`append`, `set_hard_state`, `save_snapshot`, `sync`);
a `StorageBackend` opens one per node and models crashes. `MemBackend` keeps two copies
per node: what was handed to storage, and what the last `sync()` made durable. A crash
throws the first away, so a node restarts with exactly what it had fsynced: this is
the window the durability bugs (vote before persist, ack before persist) live in.
`--storage wal` swaps in the real WAL over `SimDisk` (see `wal.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from quorumd._types import LogIndex, NodeId, Term
from quorumd.consensus.engine import Entry, HardState, Restored, Snapshot


class NodeStorage(Protocol):
    def append(self, entries: Sequence[Entry]) -> None:
        """An entry at an index that exists replaces it and everything after it."""
        ...

    def set_hard_state(self, hs: HardState) -> None: ...

    def save_snapshot(self, snapshot: Snapshot) -> None:
        """The state machine's own snapshot: the log up to it may be dropped."""
        ...

    def install_snapshot(self, snapshot: Snapshot) -> None:
        """A snapshot from the leader (`Ready.snapshot`): it replaces the whole log."""
        ...

    def sync(self) -> None: ...


class StorageBackend(Protocol):
    def open(self, node: NodeId) -> tuple[NodeStorage, Restored]:
        """Storage for `node` and what it holds durably (empty on first start)."""
        ...

    def crash(self, node: NodeId) -> None:
        """Power loss at `node`: whatever was not synced is gone."""
        ...


@dataclass(slots=True)
class _LogState:
    hard_state: HardState = field(default_factory=lambda: HardState(Term(0), None, LogIndex(0)))
    snapshot: Snapshot | None = None
    entries: list[Entry] = field(default_factory=list)  # after the snapshot, in order

    def first_index(self) -> int:
        return (self.snapshot.meta.index if self.snapshot else 0) + 1

    def append(self, entries: Sequence[Entry]) -> None:
        if not entries:
            return
        offset = entries[0].index - self.first_index()
        assert 0 <= offset <= len(self.entries), (entries[0].index, self.first_index())
        del self.entries[offset:]
        self.entries.extend(entries)

    def install(self, snapshot: Snapshot) -> None:
        """Keep the suffix after the snapshot only if the log agrees at its index."""
        meta = snapshot.meta
        assert meta.index >= self.first_index() - 1, "snapshot older than the log's base"
        pos = meta.index - self.first_index()
        keep: list[Entry] = []
        if 0 <= pos < len(self.entries) and self.entries[pos].term == meta.term:
            keep = self.entries[pos + 1 :]
        self.snapshot = snapshot
        self.entries = keep

    def restored(self) -> Restored:
        snap = self.snapshot
        return Restored(
            hard_state=self.hard_state,
            snapshot=snap.meta if snap else None,
            entries=tuple(self.entries),
            snapshot_data=snap.data if snap else None,
        )


class MemStorage:
    """One node's storage: writes go to a pending list that `sync()` makes durable.

    Pending writes are replayed onto the durable copy at sync time, so a sync costs
    what was written since the last one, not the size of the log.
    """

    def __init__(self, durable: _LogState) -> None:
        self._durable = durable
        self._pending: list[tuple[str, object]] = []
        self.syncs = 0

    def append(self, entries: Sequence[Entry]) -> None:
        if entries:
            self._pending.append(("append", tuple(entries)))

    def set_hard_state(self, hs: HardState) -> None:
        self._pending.append(("hard_state", hs))

    def save_snapshot(self, snapshot: Snapshot) -> None:
        self._pending.append(("snapshot", snapshot))

    def install_snapshot(self, snapshot: Snapshot) -> None:
        # The engine sends a snapshot in a Ready only when its log disagrees with it, so
        # keeping a suffix that agrees (what `install` does) drops the whole log here.
        self._pending.append(("snapshot", snapshot))

    def sync(self) -> None:
        self.syncs += 1
        d = self._durable
        for kind, value in self._pending:
            if kind == "append":
                assert isinstance(value, tuple)
                d.append(value)
            elif kind == "hard_state":
                assert isinstance(value, HardState)
                d.hard_state = value
            else:
                assert isinstance(value, Snapshot)
                d.install(value)
        self._pending.clear()

    @property
    def unsynced(self) -> int:
        return len(self._pending)


class MemBackend:
    def __init__(self) -> None:
        self._durable: dict[NodeId, _LogState] = {}

    def open(self, node: NodeId) -> tuple[NodeStorage, Restored]:
        durable = self._durable.setdefault(node, _LogState())
        return MemStorage(durable), durable.restored()

    def crash(self, node: NodeId) -> None:
        # The pending writes die with the MemStorage object the crashed node held.
        pass
