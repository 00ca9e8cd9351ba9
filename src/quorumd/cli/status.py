"""`quorumd status`: one row per node, from each node's `mntr` four-letter word."""

from __future__ import annotations

import socket
import sys

import click
from rich.console import Console
from rich.table import Table


def parse_hosts(spec: str) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    for raw in spec.split(","):
        item = raw.strip()
        if not item:
            continue
        host, _, port = item.rpartition(":")
        try:
            out.append((host or "127.0.0.1", int(port)))
        except ValueError as exc:
            raise click.UsageError(f"bad host {item!r}: expected HOST:PORT") from exc
    if not out:
        raise click.UsageError("no hosts given")
    return out


def four_letter(host: str, port: int, word: str, timeout: float = 2.0) -> str:
    """Send a ZooKeeper four-letter word and return the whole reply ('' if unreachable)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(word.encode())
            chunks = []
            while True:
                data = s.recv(65536)
                if not data:
                    break
                chunks.append(data)
        return b"".join(chunks).decode(errors="replace")
    except OSError:
        return ""


def mntr(host: str, port: int) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in four_letter(host, port, "mntr").splitlines():
        key, _, value = line.partition("\t")
        if key:
            out[key] = value
    return out


COLUMNS = [
    ("id", "quorumd_node_id"),
    ("role", "zk_server_state"),
    ("term", "quorumd_term"),
    ("commit", "quorumd_commit"),
    ("applied", "quorumd_applied"),
    ("lag", "quorumd_lag"),
    ("sessions", "quorumd_sessions"),
    ("watches", "zk_watch_count"),
    ("latency avg ms", "zk_avg_latency"),
]


def status_table(hosts: list[tuple[str, int]]) -> Table:
    table = Table(title="quorumd cluster")
    table.add_column("node")
    for title, _ in COLUMNS:
        table.add_column(title, justify="right")
    for host, port in hosts:
        m = mntr(host, port)
        if not m:
            table.add_row(f"{host}:{port}", "-", "[red]down[/red]", *["-"] * (len(COLUMNS) - 2))
            continue
        table.add_row(f"{host}:{port}", *[m.get(key, "-") for _, key in COLUMNS])
    return table


@click.command()
@click.option("--hosts", default="127.0.0.1:2181", show_default=True,
              help="HOST:PORT,... client addresses of the nodes.")
def status(hosts: str) -> None:
    """Print a table of the nodes: role, term, commit, applied, lag, sessions, ..."""
    # piped output gets the whole table, not one squeezed to 80 columns
    Console(width=None if sys.stdout.isatty() else 140).print(status_table(parse_hosts(hosts)))
