"""Real quorumd processes on 127.0.0.1 for integration tests.

Every process started here is killed at teardown (SIGKILL to its process group), and
ports are picked free by binding to port 0 first.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from quorumd.cli.status import four_letter, mntr

HOST = "127.0.0.1"


def free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind((HOST, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@dataclass
class NodeProc:
    id: int
    client_port: int
    peer_port: int
    data_dir: Path
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@dataclass
class Cluster:
    base: Path
    size: int = 3
    consensus: str = field(default_factory=lambda: os.environ.get("QUORUMD_CONSENSUS", "raft"))
    extra_args: list[str] = field(default_factory=list)
    nodes: list[NodeProc] = field(default_factory=list)

    def __post_init__(self) -> None:
        ports = free_ports(2 * self.size)
        for i in range(self.size):
            d = self.base / f"node{i + 1}"
            d.mkdir(parents=True, exist_ok=True)
            self.nodes.append(NodeProc(i + 1, ports[2 * i], ports[2 * i + 1], d, d / "node.log"))

    @property
    def peers(self) -> str:
        return ",".join(f"{n.id}={HOST}:{n.peer_port}" for n in self.nodes)

    @property
    def hosts(self) -> str:
        return ",".join(f"{HOST}:{n.client_port}" for n in self.nodes)

    def node(self, node_id: int) -> NodeProc:
        return self.nodes[node_id - 1]

    def start_node(self, node_id: int) -> None:
        n = self.node(node_id)
        assert not n.alive
        cmd = [sys.executable, "-m", "quorumd", "serve", "--id", str(n.id), "--peers",
               self.peers, "--client-port", str(n.client_port), "--data-dir",
               str(n.data_dir), "--consensus", self.consensus, *self.extra_args]
        log = open(n.log_path, "ab")  # noqa: SIM115 - owned by the child
        n.proc = subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                  start_new_session=True)
        log.close()

    def start(self, timeout: float = 20.0) -> Cluster:
        for n in self.nodes:
            self.start_node(n.id)
        self.wait_leader(timeout)
        return self

    def wait_ready(self, node_id: int, timeout: float = 20.0) -> None:
        n = self.node(node_id)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if four_letter(HOST, n.client_port, "ruok", timeout=0.5) == "imok":
                return
            if not n.alive:
                raise AssertionError(f"node {node_id} exited:\n{self.log_tail(node_id)}")
            time.sleep(0.05)
        raise AssertionError(f"node {node_id} not ready:\n{self.log_tail(node_id)}")

    def state(self, node_id: int) -> dict[str, str]:
        return mntr(HOST, self.node(node_id).client_port)

    def leader(self) -> int | None:
        leaders = [n.id for n in self.nodes
                   if n.alive and self.state(n.id).get("zk_server_state") == "leader"]
        return leaders[0] if len(leaders) == 1 else None

    def wait_leader(self, timeout: float = 20.0, exclude: int | None = None) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            leader = self.leader()
            if leader is not None and leader != exclude:
                return leader
            time.sleep(0.05)
        logs = "\n".join(self.log_tail(n.id) for n in self.nodes)
        raise AssertionError(f"no leader within {timeout}s\n{logs}")

    def kill(self, node_id: int, sig: int = signal.SIGKILL) -> None:
        n = self.node(node_id)
        assert n.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.kill(n.proc.pid, sig)
        if sig in (signal.SIGKILL, signal.SIGTERM):
            n.proc.wait(timeout=15)

    def log_tail(self, node_id: int, lines: int = 40) -> str:
        path = self.node(node_id).log_path
        if not path.exists():
            return f"(node {node_id}: no log)"
        text = path.read_text(errors="replace").splitlines()[-lines:]
        return f"--- node {node_id} log ---\n" + "\n".join(text)

    def stop(self) -> None:
        for n in self.nodes:
            if n.proc is not None and n.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(n.proc.pid, signal.SIGKILL)
                n.proc.wait(timeout=15)
