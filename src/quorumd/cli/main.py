"""The `quorumd` command. Subcommands live in sibling modules and register here."""

from __future__ import annotations

import importlib

import click

from quorumd import __version__, build

# Imported when used: `quorumd serve` should not pay for the load generator and the
# simulator (about 0.2 s of a restart).
_LAZY = {
    "bench": "quorumd.cli.bench:bench",
    "sim": "quorumd.cli.sim:sim",
    "check-data": "quorumd.cli.check_data:check_data",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *_LAZY])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _LAZY.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module, attr = target.split(":")
        command: click.Command = getattr(importlib.import_module(module), attr)
        return command


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="quorumd",
                      message=f"%(prog)s %(version)s ({build()})")
def main() -> None:
    """quorumd: a distributed coordination service (ZooKeeper protocol, Raft/Paxos)."""


# Subcommands register last, after `main` exists.
from quorumd.cli.client_cmds import CLIENT_COMMANDS as _CLIENT_COMMANDS  # noqa: E402
from quorumd.cli.cluster import cluster as _cluster  # noqa: E402
from quorumd.cli.lock import lock as _lock  # noqa: E402
from quorumd.cli.run_elected import run_elected as _run_elected  # noqa: E402
from quorumd.cli.serve import serve as _serve  # noqa: E402
from quorumd.cli.status import status as _status  # noqa: E402

for _cmd in (_serve, _cluster, _status, *_CLIENT_COMMANDS, _lock, _run_elected):
    main.add_command(_cmd)


if __name__ == "__main__":  # pragma: no cover
    main()
