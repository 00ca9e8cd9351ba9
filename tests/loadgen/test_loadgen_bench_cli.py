"""`quorumd bench` end to end against a real single-node quorumd on free ports."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _ruok(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"ruok")
            return s.recv(4) == b"imok"
    except OSError:
        return False


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    client, peer = _free_ports(2)
    log = open(tmp_path / "node.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "quorumd",
            "serve",
            "--client-port",
            str(client),
            "--peers",
            f"1=127.0.0.1:{peer}",
            "--data-dir",
            str(tmp_path / "data"),
        ],
        stdout=log,
        stderr=log,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 20
        while not _ruok(client):
            assert proc.poll() is None, (tmp_path / "node.log").read_text()
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)
        yield f"127.0.0.1:{client}"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        log.close()


def _bench(hosts: str, *args: str) -> tuple[int, dict[str, object]]:
    cmd = [sys.executable, "-m", "quorumd", "bench", "--hosts", hosts, "--json", *args]
    done = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=120)
    assert done.stdout.strip(), done.stderr[-3000:]
    last = done.stdout.strip().splitlines()[-1]
    return done.returncode, json.loads(last)


def test_bench_reports_throughput_and_no_errors(server: str) -> None:
    rc, doc = _bench(
        server,
        "--workload",
        "mixed",
        "--conns",
        "4",
        "--depth",
        "4",
        "--procs",
        "2",
        "--duration",
        "2",
        "--warmup",
        "0.5",
    )
    assert rc == 0, doc
    assert doc["ops_per_s"] > 0
    assert doc["errors"] == 0 and doc["timeouts"] == 0 and doc["connection_losses"] == 0
    assert doc["p50_ms"] is not None and doc["p50_ms"] <= doc["p99_ms"] <= doc["p999_ms"]
    assert len(doc["loadgen_cpu_pct_per_proc"]) == 2
