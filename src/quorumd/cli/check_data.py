"""`quorumd check-data DIR`: verify a node's data directory offline, change nothing.

It runs the very checks `LogStore.open` makes at start-up (storage/datadir.py) and
prints what it found: WAL segments and their index ranges, the hard state, every
snapshot (each one verified), and any torn tail or corruption with file and offset.

Exit status: 0 when the node would start with everything it had acknowledged (a torn
tail is normal after a crash: it holds only a write that was never synced, and start-up
cuts it); 1 when anything is corrupt — recovery would refuse, or it would have to pass
over a damaged snapshot.
"""

from __future__ import annotations

import os
import posixpath
import sys

import click
from rich.console import Console
from rich.table import Table

from quorumd.errors import StorageError
from quorumd.storage.datadir import SNAP_DIR, WAL_DIR, DataDirState, inspect_data_dir
from quorumd.storage.osdisk import OsDisk

__all__ = ["check_data"]


@click.command("check-data")
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@click.option(
    "--keep-snapshots",
    default=3,
    show_default=True,
    help="How many snapshots the node keeps (as in its config).",
)
def check_data(directory: str, keep_snapshots: int) -> None:
    """Verify the data directory DIRECTORY offline; exit 1 if anything is corrupt."""
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
    disk = OsDisk()
    console.print(f"[bold]data directory[/bold] {directory}")
    try:
        state = inspect_data_dir(disk, directory, keep_snapshots=keep_snapshots)
    except StorageError as exc:
        _print_files(console, directory)
        console.print(f"[bold red]CORRUPT[/bold red]: {exc}")
        console.print("quorumd would refuse to start on this directory.")
        raise SystemExit(1) from None
    damaged = _print_state(console, state)
    if damaged:
        console.print(f"[bold red]CORRUPT[/bold red]: {damaged} damaged snapshot file(s)")
        raise SystemExit(1)
    console.print("[bold green]OK[/bold green]")


def _print_files(console: Console, directory: str) -> None:
    table = Table(title="files")
    table.add_column("file")
    table.add_column("bytes", justify="right")
    for sub in (WAL_DIR, SNAP_DIR):
        path = posixpath.join(directory, sub)
        if not os.path.isdir(path):
            table.add_row(f"{sub}/", "missing")
            continue
        for name in sorted(os.listdir(path)):
            table.add_row(f"{sub}/{name}", str(os.path.getsize(posixpath.join(path, name))))
    console.print(table)


def _print_state(console: Console, state: DataDirState) -> int:
    """Prints what recovery would restore; returns the number of damaged snapshots."""
    scan = state.scan
    segments = Table(title="WAL segments")
    for col in ("segment", "bytes", "records", "entries", "status"):
        segments.add_column(col, justify="right" if col in ("bytes", "records") else "left")
    for info in scan.segments:
        rng = f"{info.entry_range[0]}..{info.entry_range[1]}" if info.entry_range else "-"
        status = "ok"
        if scan.torn is not None and scan.torn.path == info.path:
            status = (
                f"[yellow]torn tail at offset {scan.torn.offset}: {scan.torn.reason} "
                f"({scan.torn.size - scan.torn.offset} unsynced bytes, cut at start)"
                "[/yellow]"
            )
        segments.add_row(
            posixpath.basename(info.path), str(info.size), str(info.records), rng, status
        )
    console.print(segments)
    hs = state.hard_state
    console.print(f"hard state: term={hs.term} vote={hs.vote} commit={hs.commit}")
    console.print(
        f"WAL holds indexes {scan.base}..{scan.last_index}"
        if scan.entries
        else f"WAL holds no entries (next index {scan.base})"
    )
    damaged = _print_snapshots(console, state)
    snap = state.snapshot
    start = f"snapshot {snap.meta.index} (term {snap.meta.term})" if snap else "an empty state"
    tail = f"{state.entries[0].index}..{state.entries[-1].index}" if state.entries else "none"
    console.print(f"recovery starts from {start}, then log entries {tail}")
    if state.diverged:
        console.print("[yellow]the WAL diverges from the snapshot: its tail is dropped[/yellow]")
    return damaged


def _print_snapshots(console: Console, state: DataDirState) -> int:
    store = state.snapshots
    files = store.list() if store.exists() else []
    table = Table(title="snapshots")
    for col in ("file", "index", "term", "voters", "bytes", "status"):
        table.add_column(col)
    damaged = 0
    chosen = state.snapshot
    for file in reversed(files):
        name = posixpath.basename(file.path)
        try:
            snap = store.load(file)
        except StorageError as exc:
            damaged += 1
            table.add_row(
                name, str(file.index), str(file.term), "?", "?", f"[red]corrupt: {exc}[/red]"
            )
            continue
        mark = "ok, used" if chosen is not None and chosen.meta == snap.meta else "ok"
        voters = ",".join(str(v) for v in snap.meta.config.voters)
        table.add_row(name, str(file.index), str(file.term), voters, str(len(snap.data)), mark)
    console.print(table)
    return damaged
