"""`quorumd run-elected --name SVC -- CMD...`: run CMD on exactly one machine at a time.

Start one supervisor per machine; they campaign in an `Election` under
`/run-elected/SVC`. The leader starts CMD; the others stand by. When the leader
dies or loses its session, another takes over within about one session timeout.

Why two copies never run at once (T = negotiated session timeout; the whole
argument uses only the supervisor's own monotonic clock):

1. The client records `last_confirmed`: the send time of the latest request or ping
   a server answered. The server renewed the session after that instant, so the
   session cannot expire on any server before `last_confirmed + T` (a new leader
   even restarts every session's timeout: Chubby's grace period).
2. Another supervisor can be elected only after our election node is gone, i.e.
   after our session expired (or we resigned): so not before `last_confirmed + T`.
3. We ping every T/10 (the client's default is T/3), so while the servers answer,
   `now - last_confirmed` stays near T/10. Once it exceeds T/3 - leadership is "in
   doubt" (Chubby's jeopardy) - we SIGTERM CMD, and SIGKILL it `grace` later. CMD is
   dead by `last_confirmed + T/3 + grace + ε`, before `last_confirmed + T` as long as
   `grace <= T/2` (leaving T/6 for kill latency and clock-rate drift). The command
   refuses a larger --grace.
4. A LOST session stops CMD at once, and if the supervisor itself dies CMD gets
   SIGKILL from the kernel (PR_SET_PDEATHSIG), long before the session expires.
5. After stopping CMD we campaign again: if the session survived (a short outage,
   a failover of the connected server), our node is still first and CMD restarts.

Assumptions the argument needs: a server answers a ping only while it can renew the
session with the quorum (quorumd servers forward keepalives to the leader); the
supervisor process is not paused (a SIGSTOPped supervisor cannot stop CMD: that is
what the fencing token in QUORUMD_FENCING_TOKEN - the election node's czxid, larger
for every new leader - is for).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
from collections.abc import Sequence

import click

from quorumd.cli.client_cmds import connect, hosts_option
from quorumd.cli.lock import Child
from quorumd.client import Client, Election, SessionState
from quorumd.errors import ConnectionLoss, NoNode, ZKError

__all__ = ["Supervisor", "run_elected"]

log = logging.getLogger("quorumd.run_elected")

DOUBT_FRACTION = 1 / 3
PING_FRACTION = 1 / 10
MAX_GRACE_FRACTION = 1 / 2


class Supervisor:
    def __init__(self, client: Client, name: str, argv: Sequence[str], grace_s: float,
                 identity: str) -> None:  # fmt: skip
        self.client = client
        self.election = Election(client, f"/run-elected/{name}")
        self.name = name
        self.argv = list(argv)
        self.grace_s = grace_s
        self.identity = identity
        self.stopping = asyncio.Event()
        self.exit_code = 0

    @property
    def doubt_s(self) -> float:
        return self.client.session_timeout_ms / 1000 * DOUBT_FRACTION

    def in_doubt(self, led_session: int | None = None) -> bool:
        """Rule 3 (silence past T/3) and rule 4 (the session we were elected in is gone)."""
        client = self.client
        if client.state in (SessionState.LOST, SessionState.CLOSED):
            return True
        if led_session is not None and client.session_id != led_session:
            return True
        return asyncio.get_running_loop().time() - client.last_confirmed > self.doubt_s

    async def run(self) -> int:
        while not self.stopping.is_set():
            campaign = asyncio.ensure_future(self.election.campaign(self.identity.encode()))
            stop = asyncio.ensure_future(self.stopping.wait())
            await asyncio.wait([campaign, stop], return_when=asyncio.FIRST_COMPLETED)
            if stop.done():
                campaign.cancel()
                break
            stop.cancel()
            try:
                campaign.result()
            except (ConnectionLoss, ZKError) as exc:
                log.warning("campaign failed (%s); campaigning again", exc)
                await asyncio.sleep(0.2)
                continue
            finished = await self._lead()
            if finished:
                break
        with contextlib.suppress(ConnectionLoss, ZKError, TimeoutError):
            await asyncio.wait_for(self.election.resign(), 3)
        return self.exit_code

    async def _token(self) -> int:
        node = self.election.node
        if node is None:
            return 0
        try:
            stat = await self.client.exists(f"{self.election.path}/{node}")
        except (ConnectionLoss, NoNode):
            return 0
        return 0 if stat is None else stat.czxid

    async def _lead(self) -> bool:
        """Run CMD while leadership holds; True if the supervisor should exit."""
        while self.in_doubt():  # elected, but not sure yet that the session is healthy
            if self.stopping.is_set():
                return True
            await asyncio.sleep(0.05)
        led_session = self.client.session_id
        token = await self._token()
        click.echo(f"run-elected: {self.identity} leads {self.name} (token {token}); "
                   f"starting {' '.join(self.argv)}", err=True)  # fmt: skip
        child = Child(self.argv, {"QUORUMD_FENCING_TOKEN": str(token),
                                  "QUORUMD_ELECTION": self.name}, self.grace_s)  # fmt: skip
        await child.start()
        waiter = asyncio.ensure_future(child.wait())
        while not waiter.done():
            if self.stopping.is_set():
                self.exit_code = await child.stop()
                return True
            if self.in_doubt(led_session):
                click.echo(f"run-elected: leadership of {self.name} in doubt "
                           f"(state {self.client.state.value}); stopping the command",
                           err=True)  # fmt: skip
                await child.stop()
                return False
            await asyncio.wait([waiter], timeout=0.05)
        self.exit_code = waiter.result()
        click.echo(f"run-elected: the command exited with {self.exit_code}; resigning",
                   err=True)  # fmt: skip
        return True


@click.command("run-elected", context_settings={"ignore_unknown_options": True})
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.option("--name", required=True, help="Service name: one leader per name.")
@click.option("--grace", type=float, default=3.0, show_default=True,
              help="Seconds between SIGTERM and SIGKILL when stopping the command.")
@click.option("--session-timeout-ms", type=int, default=10_000, show_default=True)
@click.option("--identity", default=None, help="This supervisor's name (default host:pid).")
@hosts_option
def run_elected(command: tuple[str, ...], name: str, grace: float, session_timeout_ms: int,
                identity: str | None, hosts: str) -> None:  # fmt: skip
    """Run COMMAND only while this supervisor is the elected leader of NAME."""
    if grace > session_timeout_ms / 1000 * MAX_GRACE_FRACTION:
        raise click.UsageError(
            f"--grace {grace}s is over half the session timeout ({session_timeout_ms} ms): "
            "the command could outlive our leadership; raise --session-timeout-ms"
        )
    who = identity or f"{socket.gethostname()}:{os.getpid()}"

    async def main() -> int:
        client = connect(hosts, session_timeout_ms=session_timeout_ms,
                         ping_interval_s=session_timeout_ms / 1000 * PING_FRACTION)
        try:
            await client.start(30.0)
        except ConnectionLoss:
            click.echo(f"run-elected: cannot reach any server of {hosts}", err=True)
            return 2
        if grace > client.session_timeout_ms / 1000 * MAX_GRACE_FRACTION:
            click.echo("run-elected: the servers negotiated a shorter session timeout "
                       f"({client.session_timeout_ms} ms) than --grace allows", err=True)
            await client.close()
            return 2
        supervisor = Supervisor(client, name, command, grace, who)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, supervisor.stopping.set)
        try:
            return await supervisor.run()
        finally:
            await client.close()

    sys.exit(asyncio.run(main()))
