"""The `quorumd` command. Subcommands live in sibling modules and register here."""

from __future__ import annotations

import click

from quorumd import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="quorumd")
def main() -> None:
    """quorumd: a distributed coordination service (ZooKeeper protocol, Raft/Paxos)."""


if __name__ == "__main__":  # pragma: no cover
    main()
