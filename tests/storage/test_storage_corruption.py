"""Damaged data directories on real files (OsDisk in tmp_path): recovery must cut a
torn tail with a warning and refuse everything else, naming the file and the offset."""

from __future__ import annotations

import logging
import random
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from quorumd._types import LogIndex, NodeId, Term
from quorumd.cli.check_data import check_data
from quorumd.consensus.engine import (
    ClusterConfig,
    Entry,
    EntryKind,
    HardState,
    Snapshot,
    SnapshotMeta,
)
from quorumd.errors import StorageError
from quorumd.storage import LogStore, OsDisk
from quorumd.storage.records import decode_at, encode_entries, encode_hard_state

CONFIG = ClusterConfig((NodeId(1), NodeId(2), NodeId(3)))
SEGMENT_BYTES = 4096


def entry(index: int, term: int = 1) -> Entry:
    return Entry(Term(term), LogIndex(index), EntryKind.NORMAL, b"entry-%d-" % index * 3)


def build(directory: Path, n: int = 300, batch: int = 7) -> list[Path]:
    """A directory with entries 1..n over several segments; returns them in order."""
    store, _ = LogStore.open(OsDisk(), str(directory), segment_bytes=SEGMENT_BYTES)
    for first in range(1, n + 1, batch):
        store.append([entry(i) for i in range(first, min(first + batch, n + 1))])
        store.set_hard_state(HardState(Term(1), NodeId(2), LogIndex(min(first + batch, n + 1) - 1)))
        store.sync()
    store.close()
    return sorted((directory / "wal").iterdir())


def reopen(directory: Path) -> tuple[LogStore, tuple[Entry, ...]]:
    store, restored = LogStore.open(OsDisk(), str(directory), segment_bytes=SEGMENT_BYTES)
    return store, restored.entries


def record_starts(data: bytes) -> list[int]:
    starts, offset = [], 0
    while offset < len(data):
        rec = decode_at(data, offset)
        assert rec is not None
        starts.append(offset)
        offset = rec.end
    return starts


def flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x5A
    path.write_bytes(bytes(data))


def test_clean_reopen_restores_everything(tmp_path: Path) -> None:
    segments = build(tmp_path)
    assert len(segments) > 3
    store, entries = reopen(tmp_path)
    assert entries == tuple(entry(i) for i in range(1, 301))
    assert store.last_index == 300
    store.close()
    result = CliRunner().invoke(check_data, [str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "WAL holds indexes 1..300" in result.output and "OK" in result.output


@pytest.mark.parametrize("seed", range(12))
def test_flipped_byte_before_the_tail_refuses_naming_file_and_offset(
    tmp_path: Path, seed: int
) -> None:
    segments = build(tmp_path)
    rng = random.Random(seed)
    victim = rng.choice(segments)
    data = victim.read_bytes()
    starts = record_starts(data)
    if victim == segments[-1]:
        starts = starts[:-1]  # the last record of the last segment could be a torn tail
    record = rng.randrange(len(starts))
    end = starts[record + 1] if record + 1 < len(starts) else len(data)
    offset = rng.randrange(starts[record], end)
    flip(victim, offset)
    with pytest.raises(StorageError) as err:
        reopen(tmp_path)
    assert f"{victim}: offset {starts[record]}:" in str(err.value)
    result = CliRunner().invoke(check_data, [str(tmp_path)])
    assert result.exit_code == 1
    assert "CORRUPT" in result.output
    assert victim.name in result.output


def test_missing_middle_segment_refuses(tmp_path: Path) -> None:
    segments = build(tmp_path)
    gone = segments[len(segments) // 2]
    gone.unlink()
    with pytest.raises(StorageError, match="missing between") as err:
        reopen(tmp_path)
    assert re.search(r"between \S+ and \S+", str(err.value))
    assert CliRunner().invoke(check_data, [str(tmp_path)]).exit_code == 1


def test_missing_first_segment_without_snapshot_refuses(tmp_path: Path) -> None:
    segments = build(tmp_path)
    segments[0].unlink()
    with pytest.raises(StorageError, match=r"entries 1\.\.\d+ are missing"):
        reopen(tmp_path)


def test_gap_in_indexes_refuses(tmp_path: Path) -> None:
    wal = tmp_path / "wal"
    wal.mkdir(parents=True)
    buf = bytearray(4096)
    end = encode_entries(buf, 0, [entry(1), entry(2), entry(4)])
    (wal / "0000000000000000-0000000000000001.wal").write_bytes(bytes(buf[:end]))
    with pytest.raises(StorageError, match=r"offset \d+: entry 4 follows entry 2"):
        reopen(tmp_path)


def test_commit_beyond_the_log_refuses(tmp_path: Path) -> None:
    wal = tmp_path / "wal"
    wal.mkdir(parents=True)
    buf = bytearray(4096)
    end = encode_entries(buf, 0, [entry(1), entry(2)])
    hs = encode_hard_state(HardState(Term(1), None, LogIndex(5)))
    (wal / "0000000000000000-0000000000000001.wal").write_bytes(bytes(buf[:end]) + hs)
    with pytest.raises(StorageError, match="commit index 5 but the log ends at 2"):
        reopen(tmp_path)


@pytest.mark.parametrize("cut", [1, 5, 9, 20, "zeros", "garbage"])
def test_torn_tail_is_cut_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, cut: int | str
) -> None:
    segments = build(tmp_path)
    last = segments[-1]
    data = last.read_bytes()
    starts = record_starts(data)
    if cut == "zeros":  # a file extended by the crash but never written
        torn, valid_end = data + bytes(300), len(data)
    elif cut == "garbage":
        torn, valid_end = (
            data + bytes(random.Random(3).randrange(256) for _ in range(77)),
            len(data),
        )
    else:
        assert isinstance(cut, int)
        last_record = decode_at(data, starts[-1])
        assert last_record is not None and last_record.hard_state is not None
        torn, valid_end = data[: starts[-1] + cut], starts[-1]
    last.write_bytes(torn)
    runner_out = CliRunner().invoke(check_data, [str(tmp_path)])
    assert runner_out.exit_code == 0, runner_out.output
    assert "torn tail" in runner_out.output
    with caplog.at_level(logging.WARNING, logger="quorumd.storage"):
        store, entries = reopen(tmp_path)
    assert any("torn write" in r.message and str(valid_end) in r.message for r in caplog.records)
    assert last.stat().st_size == valid_end
    assert entries == tuple(entry(i) for i in range(1, 301))  # only the hard state was torn
    store.append([entry(301)])
    store.sync()
    store.close()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="quorumd.storage"):
        _, entries = reopen(tmp_path)
    assert not caplog.records
    assert entries[-1] == entry(301)


def test_damaged_newest_snapshot_falls_back_when_the_wal_covers_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store, _ = LogStore.open(OsDisk(), str(tmp_path), segment_bytes=SEGMENT_BYTES)
    for i in range(1, 201):
        store.append([entry(i)])
        store.set_hard_state(HardState(Term(1), None, LogIndex(i)))
        store.sync()
        if i in (100, 150):
            store.save_snapshot(Snapshot(SnapshotMeta(LogIndex(i), Term(1), CONFIG), b"s%d" % i))
    store.close()
    newest = sorted((tmp_path / "snap").iterdir())[-1]
    flip(newest, 30)
    result = CliRunner().invoke(check_data, [str(tmp_path)])
    assert result.exit_code == 1 and "corrupt" in result.output
    with caplog.at_level(logging.ERROR, logger="quorumd.storage"):
        _, restored = LogStore.open(OsDisk(), str(tmp_path), segment_bytes=SEGMENT_BYTES)
    assert any(newest.name in r.getMessage() for r in caplog.records)
    assert restored.snapshot is not None and restored.snapshot.index == 100
    assert restored.snapshot_data == b"s100"
    assert restored.entries == tuple(entry(i) for i in range(101, 201))


def test_damaged_newest_snapshot_refuses_when_the_wal_does_not_cover_it(tmp_path: Path) -> None:
    store, _ = LogStore.open(OsDisk(), str(tmp_path), segment_bytes=SEGMENT_BYTES)
    for i in range(1, 11):
        store.append([entry(i)])
    store.set_hard_state(HardState(Term(1), None, LogIndex(10)))
    store.sync()
    store.save_snapshot(Snapshot(SnapshotMeta(LogIndex(5), Term(1), CONFIG), b"s5"))
    # A leader's snapshot far ahead replaces the log: the WAL restarts after it.
    store.install_snapshot(Snapshot(SnapshotMeta(LogIndex(500), Term(2), CONFIG), b"s500"))
    store.append([entry(501, term=2)])
    store.set_hard_state(HardState(Term(2), None, LogIndex(500)))
    store.sync()
    store.close()
    newest = sorted((tmp_path / "snap").iterdir())[-1]
    assert newest.name.startswith("00000000000001f4")
    flip(newest, len(newest.read_bytes()) - 2)
    with pytest.raises(StorageError, match=re.escape(f"{newest}: offset")):
        LogStore.open(OsDisk(), str(tmp_path), segment_bytes=SEGMENT_BYTES)


def test_unfinished_snapshot_temp_file_is_ignored_and_removed(tmp_path: Path) -> None:
    build(tmp_path, n=20)
    tmp = tmp_path / "snap" / "0000000000000014-0000000000000001.snap.tmp"
    tmp.write_bytes(b"half a snapshot")
    _, entries = reopen(tmp_path)
    assert len(entries) == 20
    assert not tmp.exists()
