"""`quorumd get|set|create|delete|ls|stat|watch PATH`: the tree, for people.

Each command opens a session, does one thing and closes it (so an `--ephemeral` node
lives only as long as the command: useful for testing watches, not for keeping).
Errors print one line ("no node /x") and exit 1; unreachable servers exit 2.
"""

from __future__ import annotations

import asyncio
import datetime
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from quorumd.client import Client
from quorumd.errors import (
    BadVersion,
    ConnectionLoss,
    NoAuth,
    NodeExists,
    NoNode,
    NotEmpty,
    QuorumdError,
    UsageError,
    ZKError,
)
from quorumd.wire import Stat

__all__ = ["CLIENT_COMMANDS", "connect", "hosts_option"]

hosts_option = click.option(
    "--hosts", default="127.0.0.1:2181", show_default=True, envvar="QUORUMD_HOSTS",
    help="HOST:PORT,... client addresses of the nodes (env QUORUMD_HOSTS).",
)  # fmt: skip


def _message(exc: QuorumdError, path: str) -> str:
    if isinstance(exc, NoNode):
        return f"no node {path}"
    if isinstance(exc, NodeExists):
        return f"node {path} already exists"
    if isinstance(exc, NotEmpty):
        return f"node {path} has children (use --recursive)"
    if isinstance(exc, BadVersion):
        return f"version mismatch on {path}"
    if isinstance(exc, NoAuth):
        return f"not authorized for {path}"
    if isinstance(exc, ZKError):
        return f"{exc.zk_name.lower()}: {path}"
    return str(exc)


def connect(hosts: str, timeout_s: float = 10.0, session_timeout_ms: int = 10_000,
            **kwargs: Any) -> Client:  # fmt: skip
    try:
        return Client(hosts, session_timeout_ms, **kwargs)
    except UsageError as exc:
        raise click.UsageError(str(exc)) from exc


def run_client(hosts: str, path: str, body: Callable[[Client], Awaitable[None]]) -> None:
    """Connect, run `body`, close; map errors to one line and an exit code."""

    async def main() -> None:
        client = connect(hosts)
        try:
            await client.start(10.0)
        except ConnectionLoss:
            click.echo(f"error: cannot reach any server of {hosts}", err=True)
            sys.exit(2)
        try:
            # A new session may land on a node that lags: sync so that what a person
            # wrote a moment ago with another command is what they read now.
            await client.sync("/")
            await body(client)
        finally:
            await client.close()

    try:
        asyncio.run(main())
    except ConnectionLoss:
        click.echo(f"error: connection to {hosts} lost", err=True)
        sys.exit(2)
    except QuorumdError as exc:
        click.echo(f"error: {_message(exc, path)}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)


def _show(data: bytes) -> str:
    try:
        return data.decode()
    except UnicodeDecodeError:
        return repr(data)


def _ms(ms: int) -> str:
    when = datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC)
    return when.isoformat(timespec="milliseconds")


def stat_table(path: str, stat: Stat) -> Table:
    table = Table(title=path, show_header=False)
    for name in ("czxid", "mzxid", "pzxid"):
        table.add_row(name, hex(getattr(stat, name)))
    table.add_row("ctime", _ms(stat.ctime))
    table.add_row("mtime", _ms(stat.mtime))
    for name in ("version", "cversion", "aversion", "data_length", "num_children"):
        table.add_row(name, str(getattr(stat, name)))
    table.add_row("ephemeral_owner", hex(stat.ephemeral_owner))
    return table


@click.command("get")
@click.argument("path")
@click.option("--stat", "with_stat", is_flag=True, help="Also print the node's Stat.")
@hosts_option
def get_cmd(path: str, with_stat: bool, hosts: str) -> None:
    """Print a node's data."""

    async def body(c: Client) -> None:
        data, stat = await c.get(path)
        click.echo(_show(data))
        if with_stat:
            Console().print(stat_table(path, stat))

    run_client(hosts, path, body)


@click.command("set")
@click.argument("path")
@click.argument("data")
@click.option("--version", type=int, default=-1, help="Expected version (default: any).")
@hosts_option
def set_cmd(path: str, data: str, version: int, hosts: str) -> None:
    """Replace a node's data."""

    async def body(c: Client) -> None:
        stat = await c.set(path, data.encode(), version)
        click.echo(f"{path} version {stat.version}")

    run_client(hosts, path, body)


@click.command("create")
@click.argument("path")
@click.argument("data", default="")
@click.option("--ephemeral", "-e", is_flag=True, help="Gone when this command's session ends.")
@click.option("--sequential", "-s", is_flag=True, help="Append a 10-digit sequence number.")
@click.option("--container", is_flag=True, help="Deleted once its last child goes.")
@click.option("--ttl", "ttl_ms", type=int, help="TTL node: deleted if unmodified this long.")
@click.option("--parents", "-p", is_flag=True, help="Create missing ancestors.")
@hosts_option
def create_cmd(path: str, data: str, ephemeral: bool, sequential: bool, container: bool,
               ttl_ms: int | None, parents: bool, hosts: str) -> None:  # fmt: skip
    """Create a node (prints the created path)."""

    async def body(c: Client) -> None:
        created = await c.create(path, data.encode(), ephemeral=ephemeral,
                                 sequential=sequential, container=container, ttl_ms=ttl_ms,
                                 makepath=parents)  # fmt: skip
        click.echo(created)

    run_client(hosts, path, body)


@click.command("delete")
@click.argument("path")
@click.option("--version", type=int, default=-1, help="Expected version (default: any).")
@click.option("--recursive", "-r", is_flag=True, help="Delete the subtree too.")
@hosts_option
def delete_cmd(path: str, version: int, recursive: bool, hosts: str) -> None:
    """Delete a node."""

    async def body(c: Client) -> None:
        if recursive and await c.exists(path) is None:
            raise NoNode(path)
        await c.delete(path, version, recursive=recursive)

    run_client(hosts, path, body)


@click.command("ls")
@click.argument("path", default="/")
@click.option("--long", "-l", "long_", is_flag=True, help="Version, size and children count.")
@hosts_option
def ls_cmd(path: str, long_: bool, hosts: str) -> None:
    """List a node's children."""

    async def body(c: Client) -> None:
        children = sorted(await c.get_children(path))
        if not long_:
            for child in children:
                click.echo(child)
            return
        stats = await asyncio.gather(
            *(c.exists(f"{path.rstrip('/')}/{child}") for child in children)
        )
        table = Table("name", "version", "bytes", "children", "ephemeral owner")
        for child, st in zip(children, stats, strict=True):
            if st is not None:
                owner = hex(st.ephemeral_owner) if st.ephemeral_owner else ""
                table.add_row(child, str(st.version), str(st.data_length),
                              str(st.num_children), owner)  # fmt: skip
        Console().print(table)

    run_client(hosts, path, body)


@click.command("stat")
@click.argument("path")
@hosts_option
def stat_cmd(path: str, hosts: str) -> None:
    """Print a node's Stat."""

    async def body(c: Client) -> None:
        stat = await c.exists(path)
        if stat is None:
            raise NoNode(path)
        Console().print(stat_table(path, stat))

    run_client(hosts, path, body)


@click.command("watch")
@click.argument("path")
@click.option("--recursive", "-r", is_flag=True, help="Watch the whole subtree.")
@hosts_option
def watch_cmd(path: str, recursive: bool, hosts: str) -> None:
    """Print every change under PATH until Ctrl-C (a persistent watch)."""

    async def body(c: Client) -> None:
        c.add_listener(lambda ch: click.echo(f"# session {ch.new.value}", err=True))
        async with c.watch(path, recursive=recursive) as events:
            click.echo(f"# watching {path}{' recursively' if recursive else ''}", err=True)
            async for event in events:
                now = datetime.datetime.now().isoformat(timespec="milliseconds")
                click.echo(f"{now} {event.type.name} {event.path}", nl=True)
                sys.stdout.flush()

    run_client(hosts, path, body)


CLIENT_COMMANDS = [get_cmd, set_cmd, create_cmd, delete_cmd, ls_cmd, stat_cmd, watch_cmd]
