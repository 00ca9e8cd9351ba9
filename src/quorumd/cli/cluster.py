"""`quorumd cluster --nodes 3`: a local cluster as child processes, for trying quorumd.

Data lives under one folder (node<i>/ each); the nodes' logs are streamed with a prefix;
a status table refreshes every few seconds; Ctrl-C (or SIGTERM) stops every child, first
politely (SIGTERM), then SIGKILL after a grace period.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import click
from rich.console import Console

from quorumd.cli.status import status_table


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _stream(proc: subprocess.Popen[bytes], console: Console) -> None:
    """Copy a node's log lines (each already names its node) to the console."""
    assert proc.stderr is not None
    for raw in proc.stderr:
        console.print(raw.decode(errors="replace").rstrip(), markup=False, highlight=False,
                      soft_wrap=True)


@click.command()
@click.option("--nodes", default=3, show_default=True, type=click.IntRange(1, 9))
@click.option("--data-dir", default="quorumd-data/cluster", show_default=True,
              help="Folder holding node1/, node2/, ...")
@click.option("--client-port", default=2181, show_default=True,
              help="Client port of node 1; node i listens on client-port + i - 1.")
@click.option("--peer-port", default=2888, show_default=True,
              help="Peer port of node 1; node i uses peer-port + i - 1.")
@click.option("--consensus", type=click.Choice(["raft", "paxos"]), default="raft",
              show_default=True)
@click.option("--status-every", default=5.0, show_default=True,
              help="Seconds between status tables (0 = never).")
@click.option("--log-level", default="info", show_default=True)
def cluster(nodes: int, data_dir: str, client_port: int, peer_port: int, consensus: str,
            status_every: float, log_level: str) -> None:
    """Start a local cluster of NODES quorumd processes; Ctrl-C stops them all."""
    console = Console(stderr=False)
    host = "127.0.0.1"
    busy = [p for i in range(nodes) for p in (client_port + i, peer_port + i)
            if not _port_free(host, p)]
    if busy:
        raise click.ClickException(
            f"ports {busy} on {host} are in use (another cluster or ZooKeeper?); "
            "pick others with --client-port/--peer-port")
    peers = ",".join(f"{i + 1}={host}:{peer_port + i}" for i in range(nodes))
    base = Path(data_dir)
    procs: list[subprocess.Popen[bytes]] = []
    for i in range(1, nodes + 1):
        node_dir = base / f"node{i}"
        node_dir.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "quorumd", "serve", "--id", str(i), "--peers", peers,
               "--client-port", str(client_port + i - 1), "--data-dir", str(node_dir),
               "--consensus", consensus, "--log-level", log_level]
        procs.append(subprocess.Popen(cmd, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL))
    for proc in procs:
        threading.Thread(target=_stream, args=(proc, console), daemon=True).start()
    hosts = [(host, client_port + i) for i in range(nodes)]
    connect = ",".join(f"{h}:{p}" for h, p in hosts)
    console.print(f"[bold green]quorumd cluster of {nodes} ({consensus})[/bold green]; "
                  f"data in {base}/")
    console.print(f"connect string: [bold]{connect}[/bold]   (Ctrl-C stops the cluster)")
    stopping = False

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    try:
        next_status = time.monotonic() + 2.0
        while not stopping:
            time.sleep(0.2)
            dead = [i for i, p in enumerate(procs, 1) if p.poll() is not None]
            if dead:
                console.print(f"[red]node(s) {dead} exited; stopping the cluster[/red]")
                break
            if status_every > 0 and time.monotonic() >= next_status:
                console.print(status_table(hosts))
                next_status = time.monotonic() + status_every
    except KeyboardInterrupt:
        console.print("stopping the cluster ...")
    finally:
        _stop_all(procs)
    code = max((p.returncode or 0) for p in procs) if not stopping else 0
    sys.exit(0 if code in (0, -signal.SIGTERM) else code)


def _stop_all(procs: list[subprocess.Popen[bytes]], grace_s: float = 5.0) -> None:
    for p in procs:
        if p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for p in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(max(0.0, deadline - time.monotonic()))
        if p.poll() is None:
            p.kill()
            p.wait()
