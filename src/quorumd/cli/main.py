"""The `quorumd` command. Subcommands live in sibling modules and register here."""

from __future__ import annotations

import click

from quorumd import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="quorumd")
def main() -> None:
    """quorumd: a distributed coordination service (ZooKeeper protocol, Raft/Paxos)."""


from quorumd.cli.check_data import check_data as _check_data  # noqa: E402
from quorumd.cli.cluster import cluster as _cluster  # noqa: E402
from quorumd.cli.serve import serve as _serve  # noqa: E402
from quorumd.cli.status import status as _status  # noqa: E402

main.add_command(_check_data)
main.add_command(_serve)
main.add_command(_cluster)
main.add_command(_status)


if __name__ == "__main__":  # pragma: no cover
    main()
