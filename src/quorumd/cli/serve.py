"""`quorumd serve`: run one node. With no arguments: a single node on 127.0.0.1:2181."""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

from quorumd.errors import UsageError


def setup_logging(level: str, node_id: int | None = None) -> None:
    prefix = f"node{node_id} " if node_id is not None else ""
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format=f"%(asctime)s {prefix}%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


@click.command()
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False),
              help="TOML file with the same keys as the flags (flags win).")
@click.option("--id", "node_id", type=int, help="This node's id (default 1).")
@click.option("--peers", help="ID=HOST:PORT,... peer (consensus) addresses of every voter.")
@click.option("--client-host", help="Address for ZooKeeper clients (default 127.0.0.1).")
@click.option("--client-port", type=int, help="Port for ZooKeeper clients (default 2181).")
@click.option("--data-dir", type=click.Path(file_okay=False),
              help="Where the log and snapshots live (default ./quorumd-data).")
@click.option("--cluster-id", help="Name shared by the nodes of one cluster.")
@click.option("--consensus", type=click.Choice(["raft", "paxos"]), help="Engine (default raft).")
@click.option("--tick-ms", type=int, help="Length of one tick (default 50).")
@click.option("--election-timeout-ticks", type=int, help="Election timeout in ticks (default 10).")
@click.option("--heartbeat-ticks", type=int, help="Heartbeat interval in ticks (default 1).")
@click.option("--snapshot-every", type=int, help="Entries between snapshots (default 100000).")
@click.option("--min-session-timeout-ms", type=int)
@click.option("--max-session-timeout-ms", type=int)
@click.option("--super-digest", help="ZooKeeper superDigest: super:<base64 sha1>.")
@click.option("--log-level", default="info", show_default=True)
def serve(config_file: str | None, peers: str | None, log_level: str, **flags: Any) -> None:
    """Run one quorumd node."""
    from quorumd.server.app import run
    from quorumd.server.config import build_config, load_toml, parse_peers

    flags["id"] = flags.pop("node_id")
    try:
        toml_values = load_toml(config_file) if config_file else {}
        if peers is not None:
            flags["peers"] = parse_peers(peers)
        cfg = build_config(toml_values, flags)
    except (UsageError, OSError, ValueError, TypeError) as exc:
        raise click.UsageError(str(exc)) from exc
    setup_logging(log_level, cfg.id)
    try:
        code = run(cfg)
    except OSError as exc:
        raise click.ClickException(f"node {cfg.id}: {exc}") from exc
    sys.exit(code)
