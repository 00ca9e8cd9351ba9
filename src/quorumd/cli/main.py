"""The `quorumd` command. Subcommands live in sibling modules and register here."""

from __future__ import annotations

import click

from quorumd import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="quorumd")
def main() -> None:
    """quorumd: a distributed coordination service (ZooKeeper protocol, Raft/Paxos)."""


# Subcommands register last, after `main` exists.
from quorumd.cli.bench import bench as _bench  # noqa: E402
from quorumd.cli.check_data import check_data as _check_data  # noqa: E402
from quorumd.cli.client_cmds import CLIENT_COMMANDS as _CLIENT_COMMANDS  # noqa: E402
from quorumd.cli.cluster import cluster as _cluster  # noqa: E402
from quorumd.cli.lock import lock as _lock  # noqa: E402
from quorumd.cli.run_elected import run_elected as _run_elected  # noqa: E402
from quorumd.cli.serve import serve as _serve  # noqa: E402
from quorumd.cli.sim import sim as _sim  # noqa: E402
from quorumd.cli.status import status as _status  # noqa: E402

for _cmd in (_serve, _cluster, _status, *_CLIENT_COMMANDS, _lock, _run_elected, _sim,
             _check_data, _bench):
    main.add_command(_cmd)


if __name__ == "__main__":  # pragma: no cover
    main()
