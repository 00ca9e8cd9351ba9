"""Local quorumd and ZooKeeper nodes for the bench/ scripts: start, kill -9, restart.

Both kinds of node run as their own process group on 127.0.0.1, on ports picked free,
with data dirs under one base directory (same disk for both). `stop_all()` kills every
process started here; the scripts call it from `finally`.

ZooKeeper settings are those of bench/zookeeper.sh: package defaults (forceSync yes),
admin server off, 4lw whitelist '*', maxClientCnxns=0.
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from quorumd.cli.status import four_letter
from quorumd.errors import ConnectionLoss
from quorumd.loadgen import RawClient

HOST = "127.0.0.1"
JAVA = os.environ.get("JAVA", "/usr/bin/java")
ZK_CLASSPATH = "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar"


REPO = Path(__file__).resolve().parent.parent
NO_TOOLCHAIN = 3  # tools/build_compiled.py's exit status when nothing can compile here


def add_build_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--build", choices=["compiled", "interpreted"], default="compiled",
        help="quorumd servers on the mypyc build (default; built when stale) or the source "
        "tree; this script itself runs interpreted either way",
    )


def serve_env(build: str) -> tuple[str, dict[str, str]]:
    """(the build that will run, the environment to start quorumd servers with). The
    compiled build is made first when stale; a machine that cannot compile runs the
    interpreted one, and says so. Interpreted servers inherit PYTHONPATH, so
    `PYTHONPATH=<other tree>/src ... --build interpreted` measures another tree."""
    env = dict(os.environ)
    if build == "compiled":
        tool = [sys.executable, str(REPO / "tools" / "build_compiled.py"), "--if-stale"]
        rc = subprocess.call(tool, stdout=sys.stderr)
        if rc == 0:
            return "compiled", {**env, "PYTHONPATH": str(REPO / "build" / "compiled" / "src")}
        if rc != NO_TOOLCHAIN:
            raise SystemExit(f"the compiled build failed (exit {rc})")
        print("no compiler here: the servers run the interpreted build", file=sys.stderr)
    return "interpreted", env


def precompile() -> None:
    """Write quorumd's bytecode now, as an installed package has it. With an editable
    install and PYTHONDONTWRITEBYTECODE set (this workplace sets it), every server start
    would compile the changed modules again, a cost a restart timing should not carry."""
    import quorumd

    compileall.compile_dir(os.path.dirname(quorumd.__file__), quiet=1)


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind((HOST, 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


async def open_client(host: str, port: int, timeout_s: float = 20.0) -> RawClient:
    """A session, retried: just after an election a node may still refuse sessions."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return await RawClient.open(host, port, timeout_s=2.0)
        except (OSError, ConnectionLoss, TimeoutError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


def rss_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process in KiB, from /proc/PID/status."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values["VmRSS"], values["VmHWM"]


@dataclass
class _Node:
    id: int
    client_port: int
    peer_ports: tuple[int, ...]
    dir: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@dataclass
class Nodes:
    """A set of local nodes of one kind ("quorumd" or "zookeeper")."""

    kind: str
    base: Path
    size: int = 3
    zk_heap: str = "1g"
    env: dict[str, str] | None = None  # for quorumd servers: see serve_env()
    nodes: list[_Node] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.kind not in ("quorumd", "zookeeper"):
            raise ValueError(self.kind)
        ports = free_ports(3 * self.size)
        for i in range(self.size):
            d = self.base / f"{self.kind}-node{i + 1}"
            d.mkdir(parents=True, exist_ok=True)
            self.nodes.append(_Node(i + 1, ports[3 * i], (ports[3 * i + 1], ports[3 * i + 2]), d))
        if self.kind == "zookeeper":
            self._write_zoo_cfgs()

    # ------------------------------------------------------------------ addresses

    @property
    def hosts(self) -> str:
        return ",".join(f"{HOST}:{n.client_port}" for n in self.nodes)

    def node(self, node_id: int) -> _Node:
        return self.nodes[node_id - 1]

    def pid(self, node_id: int) -> int:
        proc = self.node(node_id).proc
        assert proc is not None
        return proc.pid

    # ------------------------------------------------------------------- commands

    def _write_zoo_cfgs(self) -> None:
        for n in self.nodes:
            (n.dir / "data").mkdir(exist_ok=True)
            lines = [
                "tickTime=2000",
                "initLimit=10",
                "syncLimit=5",
                f"dataDir={n.dir / 'data'}",
                f"dataLogDir={n.dir / 'datalog'}",
                f"clientPortAddress={HOST}",
                f"clientPort={n.client_port}",
                "maxClientCnxns=0",
                "admin.enableServer=false",
                "4lw.commands.whitelist=*",
                "autopurge.purgeInterval=0",
            ]
            if self.size > 1:
                (n.dir / "data" / "myid").write_text(f"{n.id}\n")
                lines += [
                    f"server.{m.id}={HOST}:{m.peer_ports[0]}:{m.peer_ports[1]}" for m in self.nodes
                ]
            (n.dir / "zoo.cfg").write_text("\n".join(lines) + "\n")

    def _command(self, n: _Node) -> list[str]:
        if self.kind == "zookeeper":
            return [
                JAVA,
                f"-Xms{self.zk_heap}",
                f"-Xmx{self.zk_heap}",
                "-XX:+UseG1GC",
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                "-Dzookeeper.admin.enableServer=false",
                "-Dzookeeper.4lw.commands.whitelist=*",
                "-Dzookeeper.jmx.log4j.disable=true",
                "-cp",
                ZK_CLASSPATH,
                "org.apache.zookeeper.server.quorum.QuorumPeerMain",
                str(n.dir / "zoo.cfg"),
            ]
        peers = ",".join(f"{m.id}={HOST}:{m.peer_ports[0]}" for m in self.nodes)
        return [
            sys.executable,
            "-m",
            "quorumd",
            "serve",
            "--id",
            str(n.id),
            "--peers",
            peers,
            "--client-port",
            str(n.client_port),
            "--data-dir",
            str(n.dir / "data"),
            "--log-level",
            "warning",
        ]

    def start(self, node_id: int) -> float:
        """Start one node; returns the monotonic time just before the exec."""
        n = self.node(node_id)
        assert not n.alive, f"node {node_id} is running"
        log = open(n.dir / "node.log", "ab")  # noqa: SIM115 - the child owns it
        t0 = time.monotonic()
        n.proc = subprocess.Popen(
            self._command(n),
            env=self.env if self.kind == "quorumd" else None,
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        return t0

    def start_all(self, timeout_s: float = 60.0) -> None:
        if self.kind == "quorumd":
            precompile()
        for n in self.nodes:
            self.start(n.id)
        self.wait_leader(timeout_s)

    def kill(self, node_id: int, sig: int = signal.SIGKILL) -> None:
        n = self.node(node_id)
        if n.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(n.proc.pid, sig)
        n.proc.wait(timeout=30)

    def stop_all(self) -> None:
        for n in self.nodes:
            if n.alive:
                self.kill(n.id)

    # --------------------------------------------------------------------- state

    def role(self, node_id: int) -> str:
        """leader | follower | standalone | '' (down or not serving)."""
        port = self.node(node_id).client_port
        if self.kind == "quorumd":
            for line in four_letter(HOST, port, "mntr", timeout=0.5).splitlines():
                key, _, value = line.partition("\t")
                if key == "zk_server_state":
                    return value.strip()
            return ""
        for line in four_letter(HOST, port, "srvr", timeout=0.5).splitlines():
            if line.startswith("Mode: "):
                return line[6:].strip()
        return ""

    def leader(self) -> int | None:
        leaders = [
            n.id for n in self.nodes if n.alive and self.role(n.id) in ("leader", "standalone")
        ]
        return leaders[0] if len(leaders) == 1 else None

    def wait_leader(self, timeout_s: float = 60.0, exclude: int | None = None) -> int:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            leader = self.leader()
            if leader is not None and leader != exclude:
                return leader
            time.sleep(0.02)
        raise RuntimeError(f"{self.kind}: no leader within {timeout_s}s (logs in {self.base})")

    def wait_serving(self, node_id: int, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.role(node_id):
                return
            if not self.node(node_id).alive:
                raise RuntimeError(f"{self.kind} node {node_id} exited (log in {self.base})")
            time.sleep(0.05)
        raise RuntimeError(f"{self.kind} node {node_id} not serving within {timeout_s}s")
