"""`quorumd run-elected`: three supervisors, one command at a time, failover on death."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from client_harness import Cluster

pytestmark = pytest.mark.integration

MARKER = str(Path(__file__).with_name("marker_cmd.py"))
SESSION_MS = 3000


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path / "cluster")
    try:
        c.start()
        yield c
    finally:
        c.stop()


def read_marks(path: Path) -> list[tuple[str, int, int, float, str]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        kind, pid, ppid, t, token = line.split()
        out.append((kind, int(pid), int(ppid), float(t), token))
    return out


def runs(marks: list[tuple[str, int, int, float, str]]) -> dict[int, tuple[float, float, int]]:
    """child pid -> (first mark, last mark, supervisor pid)."""
    out: dict[int, tuple[float, float, int]] = {}
    for _kind, pid, ppid, t, _ in marks:
        first, _, _ = out.get(pid, (t, t, ppid))
        out[pid] = (first, t, ppid)
    return out


def wait_for(pred, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def test_three_supervisors_fail_over_without_overlap(cluster: Cluster, tmp_path: Path) -> None:
    marks = tmp_path / "marks.txt"
    supervisors: list[subprocess.Popen[bytes]] = []
    try:
        for i in range(3):
            log = open(tmp_path / f"sup{i}.log", "wb")  # noqa: SIM115 - owned by the child
            supervisors.append(subprocess.Popen(
                [sys.executable, "-m", "quorumd", "run-elected", "--name", "svc",
                 "--hosts", cluster.hosts, "--session-timeout-ms", str(SESSION_MS),
                 "--grace", "1", "--identity", f"sup{i}", "--",
                 sys.executable, MARKER, str(marks)],
                stdout=log, stderr=log, start_new_session=True))  # fmt: skip
            log.close()
        first = wait_for(lambda: [m for m in read_marks(marks) if m[0] == "start"], 20,
                         "a first leader")  # fmt: skip
        leader_sup = first[0][2]
        time.sleep(1.0)
        assert len({m[1] for m in read_marks(marks) if m[0] == "start"}) == 1

        os.kill(leader_sup, signal.SIGKILL)
        killed_at = time.time()

        def second_start():  # type: ignore[no-untyped-def]
            return [m for m in read_marks(marks) if m[0] == "start" and m[2] != leader_sup]

        second = wait_for(second_start, SESSION_MS / 1000 + 8, "a second leader")
        print(f"failover after kill -9 of the active supervisor: {second[0][3] - killed_at:.2f}s")
        assert second[0][3] - killed_at < SESSION_MS / 1000 + 2
        assert int(second[0][4]) > int(first[0][4])  # the election's fencing token grew

        # kill -9 the quorumd leader node: the new leader's session survives the failover
        cluster.kill(cluster.wait_leader(), signal.SIGKILL)
        time.sleep(SESSION_MS / 1000 + 1)
    finally:
        for p in supervisors:
            with contextlib.suppress(ProcessLookupError):
                p.send_signal(signal.SIGTERM)
        for p in supervisors:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(5)
    all_marks = read_marks(marks)
    assert not [m for m in all_marks if m[0] == "overlap"]
    intervals = sorted((a, b) for a, b, _ in runs(all_marks).values())
    for (_, end), (start, _) in itertools.pairwise(intervals):
        assert end <= start, f"two copies ran at once: {intervals}"
    alive_after_stop = read_marks(marks)[-1][3] if all_marks else 0
    time.sleep(0.2)
    assert (read_marks(marks)[-1][3] if all_marks else 0) == alive_after_stop
