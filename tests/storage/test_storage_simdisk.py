"""SimDisk's crash model: what survives a crash, and that one seed replays it."""

from __future__ import annotations

import random

import pytest

from quorumd.sim.disk import SimDisk


def fresh(seed: int = 1) -> SimDisk:
    disk = SimDisk(random.Random(seed))
    disk.makedirs("/d")
    return disk


def test_synced_data_in_a_synced_directory_survives() -> None:
    disk = fresh()
    f = disk.open_append("/d/a")
    f.write(b"hello")
    f.sync()
    disk.sync_dir("/d")
    disk.crash()
    assert disk.read("/d/a") == b"hello"


def test_unsynced_bytes_are_lost_or_torn_to_a_prefix() -> None:
    outcomes = set()
    for seed in range(60):
        disk = fresh(seed)
        f = disk.open_append("/d/a")
        f.write(b"durable|")
        f.sync()
        disk.sync_dir("/d")
        f.write(b"0123456789")
        disk.crash()
        data = disk.read("/d/a")
        assert data.startswith(b"durable|")
        assert b"durable|0123456789".startswith(data)
        outcomes.add(len(data))
    assert len(outcomes) > 3  # none, all, and torn prefixes all happen


def test_create_without_directory_sync_vanishes() -> None:
    disk = fresh()
    f = disk.open_append("/d/a")
    f.write(b"x")
    f.sync()  # data synced, name not
    disk.crash()
    assert not disk.exists("/d/a")
    assert disk.listdir("/d") == []


def test_rename_without_directory_sync_reverts() -> None:
    disk = fresh()
    f = disk.open_append("/d/tmp")
    f.write(b"new")
    f.sync()
    disk.sync_dir("/d")
    disk.rename("/d/tmp", "/d/final")
    assert disk.listdir("/d") == ["final"]
    disk.crash()
    assert disk.listdir("/d") == ["tmp"]
    disk.rename("/d/tmp", "/d/final")
    disk.sync_dir("/d")
    disk.crash()
    assert disk.listdir("/d") == ["final"]
    assert disk.read("/d/final") == b"new"


def test_remove_without_directory_sync_comes_back() -> None:
    disk = fresh()
    f = disk.open_append("/d/a")
    f.write(b"x")
    f.sync()
    disk.sync_dir("/d")
    disk.remove("/d/a")
    disk.crash()
    assert disk.read("/d/a") == b"x"


def test_unsynced_truncate_may_or_may_not_survive() -> None:
    seen = set()
    for seed in range(40):
        disk = fresh(seed)
        f = disk.open_append("/d/a")
        f.write(b"0123456789")
        f.sync()
        disk.sync_dir("/d")
        f.truncate(4)
        disk.crash()
        seen.add(disk.read("/d/a"))
    assert seen == {b"0123456789", b"0123"}


def test_handles_from_before_a_crash_are_dead() -> None:
    disk = fresh()
    f = disk.open_append("/d/a")
    disk.sync_dir("/d")
    disk.crash()
    with pytest.raises(OSError):
        f.write(b"x")


def test_a_failed_sync_keeps_the_bytes_unsynced() -> None:
    disk = fresh()
    f = disk.open_append("/d/a")
    disk.sync_dir("/d")
    f.write(b"abc")
    disk.fail_next_sync()
    with pytest.raises(OSError):
        f.sync()
    f.sync()  # the fault fires once
    assert disk.stats.syncs == 1


def test_same_seed_same_crash() -> None:
    def run(seed: int) -> dict[str, int]:
        disk = fresh(seed)
        for name in "abcdef":
            f = disk.open_append(f"/d/{name}")
            f.write(b"x" * 50)
            f.sync()
            f.write(b"y" * 50)
        disk.sync_dir("/d")
        disk.crash()
        return disk.files()

    assert run(7) == run(7)
    assert any(run(7) != run(s) for s in range(8, 20))


def test_missing_paths_raise_like_the_os() -> None:
    disk = fresh()
    with pytest.raises(FileNotFoundError):
        disk.read("/d/none")
    with pytest.raises(FileNotFoundError):
        disk.open_append("/nodir/x")
    with pytest.raises(FileNotFoundError):
        disk.remove("/d/none")
