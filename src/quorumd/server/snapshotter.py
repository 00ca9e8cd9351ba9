"""Snapshots that do not stall the event loop: serialize in a forked child.

Serializing a million nodes takes seconds of pure Python — long enough to lose
leadership if it ran on the loop. `fork()` gives the child a copy-on-write image of the
state machine at exactly the applied index; it serializes and writes the bytes to a file
while the parent keeps serving and applying. The loop is blocked only for the fork
itself (copying page tables: milliseconds, growing with the heap). The parent then reads
the bytes back on a worker thread and hands them to the disk writer like any snapshot.
(Redis's BGSAVE works the same way.)
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable

from quorumd.errors import StorageError


def fork_serialize(serialize: Callable[[], bytes], path: str) -> tuple[int, float]:
    """Start a child that writes `serialize()` to `path`; returns (pid, loop-blocked ms)."""
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # child: no logging, no event loop, no threads — just the bytes
        code = 1
        try:
            data = serialize()
            with open(path, "wb") as f:
                f.write(data)
            code = 0
        finally:
            os._exit(code)
    return pid, (time.perf_counter() - started) * 1000


def _collect(pid: int, path: str) -> bytes:
    _, status = os.waitpid(pid, 0)
    try:
        if os.waitstatus_to_exitcode(status) != 0:
            raise StorageError(f"snapshot child {pid} failed (status {status})")
        with open(path, "rb") as f:
            return f.read()
    finally:
        if os.path.exists(path):
            os.remove(path)


async def collect(pid: int, path: str) -> bytes:
    """Wait for the child on a worker thread and read what it wrote."""
    return await asyncio.get_running_loop().run_in_executor(None, _collect, pid, path)
