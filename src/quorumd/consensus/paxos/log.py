"""One acceptor's slots: the accepted values after a snapshot, and how much is durable.

Theory of operation:

1. Slot `i` holds the value this acceptor accepted for it, as `Entry(index=i,
   term=ballot, kind, data)`. The ballot is the one that *first proposed* that value; a
   value re-proposed by a later leader keeps it (see `phase1.py` for why the accepted
   ballot of a slot is then the ballot of the acceptor's last slot). Ballots never
   decrease along the slots.
2. Slots are contiguous: an acceptor accepts slot i only when it holds i-1 as the leader
   does (`merge`), because the WAL stores a log, not a map: writing slot i replaces i and
   every slot after it. A leader therefore (re)sends every open slot in order.
3. `stable_index` is the last slot the runtime fsynced. Slots above it are never
   acknowledged, counted toward a majority or applied until `advance()` says so.
4. `commit_index` is the chosen prefix (only grows); `applied` trails it.
"""

from __future__ import annotations

from quorumd._types import LogIndex, Term
from quorumd.consensus.engine import Entry

_NONE = LogIndex(0)
_ZERO = Term(0)


class SlotLog:
    __slots__ = (
        "_entries",
        "applied",
        "commit_index",
        "snapshot_ballot",
        "snapshot_index",
        "stable_index",
    )

    def __init__(
        self,
        snapshot_index: LogIndex = _NONE,
        snapshot_ballot: Term = _ZERO,
        entries: tuple[Entry, ...] = (),
        commit_index: LogIndex = _NONE,
    ) -> None:
        self.snapshot_index = snapshot_index
        self.snapshot_ballot = snapshot_ballot
        self._entries: list[Entry] = list(entries)
        self.stable_index = LogIndex(snapshot_index + len(entries))
        self.commit_index = LogIndex(max(commit_index, snapshot_index))
        self.applied = snapshot_index

    # ---- reading ----

    @property
    def first_index(self) -> LogIndex:
        return LogIndex(self.snapshot_index + 1)

    @property
    def last_index(self) -> LogIndex:
        return LogIndex(self.snapshot_index + len(self._entries))

    @property
    def last_ballot(self) -> Term:
        return self._entries[-1].term if self._entries else self.snapshot_ballot

    def ballot(self, index: int) -> Term | None:
        """The ballot of slot `index`, or None when compacted away or past the end."""
        if index == self.snapshot_index:
            return self.snapshot_ballot
        if index < self.snapshot_index or index > self.last_index:
            return None
        return self._entries[index - self.snapshot_index - 1].term

    def slice(self, lo: int, hi: int, max_bytes: int | None = None) -> list[Entry]:
        """Slots lo..hi-1 (past the snapshot); at least one, then at most max_bytes."""
        assert lo > self.snapshot_index, "slice into compacted slots"
        out = self._entries[lo - self.snapshot_index - 1 : hi - self.snapshot_index - 1]
        if max_bytes is None:
            return out
        size = 0
        for n, entry in enumerate(out):
            size += len(entry.data)
            if size > max_bytes and n > 0:
                return out[:n]
        return out

    def unstable(self) -> list[Entry]:
        return self.slice(self.stable_index + 1, self.last_index + 1)

    def run_start(self, index: int) -> LogIndex:
        """The first slot of the run of slots sharing `index`'s ballot (a back-off hint)."""
        ballot = self.ballot(index)
        assert ballot is not None
        while index > self.first_index and self.ballot(index - 1) == ballot:
            index -= 1
        return LogIndex(index)

    # ---- writing ----

    def append(self, entries: list[Entry] | tuple[Entry, ...]) -> None:
        for entry in entries:
            assert entry.index == self.last_index + 1, "non-contiguous slots"
            self._entries.append(entry)

    def truncate_after(self, index: int) -> None:
        """Drop every slot past `index`; never a chosen one."""
        assert index >= self.commit_index, "dropping chosen slots"
        del self._entries[index - self.snapshot_index :]
        self.stable_index = LogIndex(min(self.stable_index, index))

    def merge(self, prev_index: int, entries: tuple[Entry, ...]) -> LogIndex:
        """Accept `entries` following a matching `prev_index`; returns the last slot sent.

        Slots already held with the same ballot are the same value (one proposer per
        ballot, contiguous slots), so a duplicate or reordered Accept never drops a longer
        matching suffix; the first slot that differs replaces the rest.
        """
        for n, entry in enumerate(entries):
            if entry.index <= self.snapshot_index or self.ballot(entry.index) == entry.term:
                continue
            self.truncate_after(entry.index - 1)
            self.append(entries[n:])
            break
        return LogIndex(prev_index + len(entries))

    def stable_to(self, entries: tuple[Entry, ...]) -> None:
        """The runtime fsynced `entries`: mark the longest still-present prefix durable."""
        for entry in reversed(entries):
            if self.ballot(entry.index) == entry.term:
                self.stable_index = LogIndex(max(self.stable_index, entry.index))
                return

    def compact(self, index: LogIndex, ballot: Term) -> None:
        assert index <= self.last_index
        del self._entries[: index - self.snapshot_index]
        self.snapshot_index = index
        self.snapshot_ballot = ballot

    def restore(self, index: LogIndex, ballot: Term) -> None:
        """Reset to an installed snapshot: nothing before or after it survives."""
        self._entries = []
        self.snapshot_index = index
        self.snapshot_ballot = ballot
        self.stable_index = self.commit_index = self.applied = index

    def check(self) -> None:
        """Invariants; a violation is a bug, so it crashes (STYLE rule 9)."""
        prev = self.snapshot_ballot
        for offset, entry in enumerate(self._entries):
            assert entry.index == self.snapshot_index + 1 + offset, "slots not contiguous"
            assert entry.term >= prev, "ballots decrease along the slots"
            prev = entry.term
        assert self.snapshot_index <= self.applied <= self.commit_index <= self.last_index, (
            f"snap {self.snapshot_index} applied {self.applied} commit {self.commit_index}"
            f" last {self.last_index}"
        )
        assert self.snapshot_index <= self.stable_index <= self.last_index
