"""`quorumd lock PATH -- CMD...`: run CMD while holding a quorumd lock.

CMD gets the lock's fencing token in `QUORUMD_FENCING_TOKEN` (and the path in
`QUORUMD_LOCK_PATH`): pass it along with every write to the protected resource so a
late write from a paused holder can be refused (Chubby §2.4). The command exits with
CMD's exit code (128+N if CMD died of signal N), 75 if the lock was not acquired
within --timeout, 70 if the lock was lost while CMD ran.

If the session is lost (the servers expired it, or no server answered for a whole
session timeout), the lock is gone and someone else may hold it: CMD is stopped
(SIGTERM, then SIGKILL after --grace). CMD also dies if this process is killed
(Linux: PR_SET_PDEATHSIG), so an orphan never keeps running without the lock.

Why the next holder's CMD cannot overlap ours (T = session timeout, D = lock-delay):
the servers cannot expire our session before `last_confirmed + T`, and after an
expiry the lock is not granted again before expiry + D. The client declares the
session LOST at `last_confirmed + T` by its own clock, and CMD is dead `--grace`
later. Hence --grace must stay below D: the command refuses a larger one.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys
from collections.abc import Callable, Mapping, Sequence

import click

from quorumd.cli.client_cmds import connect, hosts_option
from quorumd.client import Client, SessionState
from quorumd.errors import ConnectionLoss

__all__ = ["Child", "lock"]

DEFAULT_LOCK_DELAY_MS = 10_000  # the servers' default (docs/design/locks.md)
MAX_LOCK_DELAY_MS = 60_000  # the servers' cap
EXIT_TIMEOUT = 75  # EX_TEMPFAIL
EXIT_LOST = 70  # EX_SOFTWARE


def _die_with_parent(parent: int) -> Callable[[], None]:
    """preexec_fn: the child gets SIGKILL when we die (Linux), so no orphan outlives us."""
    libc_name = ctypes.util.find_library("c")

    def preexec() -> None:
        if libc_name is not None and sys.platform.startswith("linux"):
            libc = ctypes.CDLL(libc_name, use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # we died between fork and prctl
            os._exit(1)

    return preexec


class Child:
    """CMD as a subprocess: start, stop with a grace period, exit code like a shell."""

    def __init__(self, argv: Sequence[str], env: Mapping[str, str], grace_s: float) -> None:
        self.argv = list(argv)
        self.env = dict(env)
        self.grace_s = grace_s
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv, env={**os.environ, **self.env}, preexec_fn=_die_with_parent(os.getpid())
        )

    def signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(sig)

    async def wait(self) -> int:
        assert self.proc is not None
        code = await self.proc.wait()
        return 128 - code if code < 0 else code

    async def stop(self) -> int:
        """SIGTERM, then SIGKILL after the grace period; the exit code."""
        assert self.proc is not None
        self.signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(asyncio.shield(self.wait()), self.grace_s)
        except TimeoutError:
            self.signal(signal.SIGKILL)
            return await self.wait()


async def _hold_and_run(
    client: Client, path: str, shared: bool, timeout: float | None, grace: float,
    argv: Sequence[str], lock_delay_ms: int = DEFAULT_LOCK_DELAY_MS,
) -> int:  # fmt: skip
    lock = client.lock(path, shared=shared, timeout=timeout, lock_delay_ms=lock_delay_ms)
    try:
        seq = await lock.acquire()
    except TimeoutError:
        click.echo(f"quorumd lock: {path} not acquired within {timeout}s", err=True)
        return EXIT_TIMEOUT
    child = Child(argv, {"QUORUMD_FENCING_TOKEN": str(seq.token), "QUORUMD_LOCK_PATH": path},
                  grace)  # fmt: skip
    lost = asyncio.Event()

    def on_state(change: object) -> None:
        if client.state in (SessionState.LOST, SessionState.CLOSED):
            lost.set()

    client.add_listener(on_state)
    loop = asyncio.get_running_loop()
    forwarded: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        with contextlib.suppress(ValueError, RuntimeError):  # not the main thread
            loop.add_signal_handler(sig, child.signal, sig)
            forwarded.append(sig)
    try:
        await child.start()
        waiter = asyncio.ensure_future(child.wait())
        lost_waiter = asyncio.ensure_future(lost.wait())
        await asyncio.wait([waiter, lost_waiter], return_when=asyncio.FIRST_COMPLETED)
        lost_waiter.cancel()
        if waiter.done():
            return waiter.result()
        click.echo(f"quorumd lock: session lost, {path} may have another holder: "
                   f"stopping the command", err=True)  # fmt: skip
        await child.stop()
        return EXIT_LOST
    finally:
        for sig in forwarded:
            loop.remove_signal_handler(sig)
        with contextlib.suppress(ConnectionLoss, TimeoutError):
            await asyncio.wait_for(lock.release(), 5)


@click.command("lock", context_settings={"ignore_unknown_options": True})
@click.argument("path")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.option("--shared", is_flag=True, help="Take the lock in shared (reader) mode.")
@click.option("--timeout", type=float, help="Give up (exit 75) after this many seconds.")
@click.option("--grace", type=float, default=5.0, show_default=True,
              help="Seconds between SIGTERM and SIGKILL when the lock is lost.")
@click.option("--session-timeout-ms", type=int, default=10_000, show_default=True)
@click.option("--lock-delay-ms", type=click.IntRange(0, MAX_LOCK_DELAY_MS),
              default=DEFAULT_LOCK_DELAY_MS, show_default=True,
              help="How long the lock stays unusable if our session expires; > --grace.")
@hosts_option
def lock(path: str, command: tuple[str, ...], shared: bool, timeout: float | None,
         grace: float, session_timeout_ms: int, lock_delay_ms: int,
         hosts: str) -> None:  # fmt: skip
    """Run COMMAND while holding the lock PATH (use `--` before COMMAND)."""
    if grace * 1000 >= lock_delay_ms:
        raise click.UsageError(
            f"--grace {grace}s is not below the lock-delay ({lock_delay_ms} ms): if our "
            "session expired, the next holder could start while the command still runs"
        )

    async def main() -> int:
        client = connect(hosts, session_timeout_ms=session_timeout_ms)
        try:
            await client.start(10.0)
        except ConnectionLoss:
            click.echo(f"quorumd lock: cannot reach any server of {hosts}", err=True)
            return 2
        try:
            return await _hold_and_run(client, path, shared, timeout, grace, command,
                                       lock_delay_ms)  # fmt: skip
        finally:
            await client.close()

    sys.exit(asyncio.run(main()))
