"""The in-memory Raft log: entries after a snapshot offset, and how much of it is durable.

Theory of operation:

1. The log holds entries `snapshot_index + 1 .. last_index`; the snapshot (index, term)
   stands in for everything before, so `term(snapshot_index)` is still known (§5.3 needs
   it for the consistency check right after a compaction).
2. `stable_index` is the last index the runtime has fsynced. Entries above it are
   *unstable*: handed out in the next `Ready.entries`, and never applied, acknowledged or
   counted toward the leader's own match index until `advance()` reports them durable.
3. Truncation (a follower overwriting a conflicting suffix, §5.3) pulls `stable_index`
   down with it: the runtime rewrites from the first replaced index.
4. `commit_index` only grows; `applied` trails it and moves when the runtime applied.
"""

from __future__ import annotations

from quorumd._types import LogIndex, Term
from quorumd.consensus.engine import Entry

_NO_INDEX = LogIndex(0)
_NO_TERM = Term(0)


class RaftLog:
    __slots__ = (
        "_entries",
        "applied",
        "commit_index",
        "last_index",
        "snapshot_index",
        "snapshot_term",
        "stable_index",
    )

    def __init__(
        self,
        snapshot_index: LogIndex = _NO_INDEX,
        snapshot_term: Term = _NO_TERM,
        entries: tuple[Entry, ...] = (),
        commit_index: LogIndex = _NO_INDEX,
    ) -> None:
        self.snapshot_index = snapshot_index
        self.snapshot_term = snapshot_term
        self._entries: list[Entry] = list(entries)
        # kept up to date by every method that changes the log, not computed: the engine
        # reads it dozens of times per write
        self.last_index = LogIndex(snapshot_index + len(entries))
        self.stable_index = self.last_index
        self.commit_index = LogIndex(max(commit_index, snapshot_index))
        self.applied = snapshot_index

    # ---- reading ----

    @property
    def first_index(self) -> LogIndex:
        return LogIndex(self.snapshot_index + 1)

    @property
    def last_term(self) -> Term:
        return self._entries[-1].term if self._entries else self.snapshot_term

    def term(self, index: int) -> Term | None:
        """The term at `index`, or None when compacted away or past the end."""
        offset = index - self.snapshot_index
        if offset == 0:
            return self.snapshot_term
        if offset < 0 or index > self.last_index:
            return None
        return self._entries[offset - 1].term

    def matches(self, index: int, term: Term) -> bool:
        return self.term(index) == term

    def slice(self, lo: int, hi: int, max_bytes: int | None = None) -> list[Entry]:
        """Entries lo..hi-1 (lo must be past the snapshot); at least one entry if any,
        then stop before exceeding max_bytes of data."""
        assert lo > self.snapshot_index, "slice into compacted log"
        out = self._entries[lo - self.snapshot_index - 1 : hi - self.snapshot_index - 1]
        if max_bytes is None or not out:
            return out
        size = 0
        for n, entry in enumerate(out):
            size += len(entry.data)
            if size > max_bytes and n > 0:
                return out[:n]
        return out

    def unstable(self) -> list[Entry]:
        return self.slice(self.stable_index + 1, self.last_index + 1)

    def first_index_of_term(self, index: int) -> LogIndex:
        """The first index of the run of entries sharing `term(index)` (back-off hint)."""
        term = self.term(index)
        assert term is not None
        while index > self.first_index and self.term(index - 1) == term:
            index -= 1
        return LogIndex(index)

    def last_index_of_term(self, term: Term) -> LogIndex | None:
        """The last index holding `term`, or None if the log has no entry of it."""
        for entry in reversed(self._entries):
            if entry.term == term:
                return entry.index
            if entry.term < term:
                return None
        return self.snapshot_index if self.snapshot_term == term else None

    def is_up_to_date(self, last_index: int, last_term: Term) -> bool:
        """§5.4.1: the candidate's log is at least as up-to-date as ours."""
        return (last_term, last_index) >= (self.last_term, self.last_index)

    # ---- writing ----

    def append(self, entries: list[Entry] | tuple[Entry, ...]) -> None:
        """Append entries that follow on directly from last_index."""
        for entry in entries:
            assert entry.index == self.last_index + 1, "non-contiguous append"
            self._entries.append(entry)
            self.last_index = entry.index

    def truncate_after(self, index: int) -> None:
        """Drop every entry past `index` (a conflicting suffix, §5.3)."""
        assert index >= self.commit_index, "truncating committed entries"
        del self._entries[index - self.snapshot_index :]
        self.last_index = LogIndex(self.snapshot_index + len(self._entries))
        self.stable_index = LogIndex(min(self.stable_index, index))

    def merge(self, prev_index: int, entries: tuple[Entry, ...]) -> LogIndex:
        """Apply an AppendEntries payload whose prev entry matched; returns the last new index.

        Entries already present with the same term are kept (a duplicate or reordered
        request must not truncate a longer, matching log: §5.3 "if an existing entry
        conflicts ... delete the existing entry and all that follow it").
        """
        for n, entry in enumerate(entries):
            existing = self.term(entry.index)
            if existing == entry.term:
                continue
            if entry.index <= self.snapshot_index:
                continue  # covered by our snapshot, hence committed and matching
            self.truncate_after(entry.index - 1)
            self.append(entries[n:])
            break
        return LogIndex(prev_index + len(entries))

    def stable_to(self, entries: tuple[Entry, ...]) -> None:
        """The runtime fsynced `entries`; mark the longest still-present prefix durable."""
        for entry in reversed(entries):
            if self.term(entry.index) == entry.term:
                self.stable_index = LogIndex(max(self.stable_index, entry.index))
                return

    def compact(self, index: LogIndex, term: Term) -> None:
        """Drop entries up to `index` (a snapshot covers them)."""
        assert index <= self.last_index
        del self._entries[: index - self.snapshot_index]
        self.snapshot_index = index
        self.snapshot_term = term

    def restore(self, index: LogIndex, term: Term) -> None:
        """Reset to an installed snapshot: nothing before or after it survives."""
        self._entries = []
        self.snapshot_index = index
        self.snapshot_term = term
        self.last_index = index
        self.stable_index = index
        self.commit_index = index
        self.applied = index

    def check(self) -> None:
        """Invariants; a violation is a bug, so it crashes (STYLE rule 9)."""
        assert self.last_index == self.snapshot_index + len(self._entries), "last_index stale"
        for offset, entry in enumerate(self._entries):
            assert entry.index == self.snapshot_index + 1 + offset, "log not contiguous"
        prev = self.snapshot_term
        for entry in self._entries:
            assert entry.term >= prev, "terms decrease along the log"
            prev = entry.term
        assert self.snapshot_index <= self.applied <= self.commit_index, (
            f"applied {self.applied} / commit {self.commit_index} / snap {self.snapshot_index}"
        )
        assert self.commit_index <= self.last_index, "commit past the end of the log"
        assert self.snapshot_index <= self.stable_index <= self.last_index
