"""A lock holder in a process of its own, for tests that SIGSTOP or kill -9 it.

    python lock_holder.py HOSTS SESSION_MS EPHEMERAL PATH:DELAY_MS [PATH:DELAY_MS ...]

Connects, creates the ephemeral node EPHEMERAL (its disappearance shows the session
expired), takes each lock (exclusive, with that lock-delay) and prints one line
`granted <path> <token> <session id>` per lock, then `ready`. It then waits; if a
lock is lost (the session expired, e.g. while the process was stopped) it prints
`lost <path>`. Every line is flushed at once.
"""

from __future__ import annotations

import asyncio
import sys

from quorumd.client import Client, Lock


def say(line: str) -> None:
    print(line, flush=True)


async def main(hosts: str, session_ms: int, ephemeral: str, specs: list[str]) -> None:
    client = Client(hosts, session_timeout_ms=session_ms)
    await client.start(15)
    await client.create(ephemeral, b"", ephemeral=True, makepath=True)
    locks: list[Lock] = []
    for spec in specs:
        path, delay = spec.rsplit(":", 1)
        lock = client.lock(path, lock_delay_ms=int(delay))
        seq = await lock.acquire(15)
        locks.append(lock)
        say(f"granted {seq.path} {seq.token} {client.session_id}")
    say("ready")

    async def report_loss(lock: Lock) -> None:
        await lock.wait_lost()
        say(f"lost {lock.path}")

    await asyncio.gather(*(report_loss(lock) for lock in locks))
    await asyncio.sleep(3600)  # the test kills us


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]))
