"""The disk writer: one dedicated thread that writes the log store under load.

Only one side touches the store at a time: the loop writes a small Ready itself (low
load, see `Node._persist_inline`) only while `busy()` is False.

The event loop hands it whole `Ready` batches; while it fsyncs, the loop keeps reading
sockets and the engine keeps accepting proposals, which all land in the next batch —
group commit falls out of this without any timer. Completion comes back to the loop
with `call_soon_threadsafe`; a failed write is fatal (a node that cannot persist must not
vote or acknowledge), so the error is handed to the loop, which stops the node.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger("quorumd.writer")

Done = Callable[[BaseException | None], None]


class DiskWriter:
    def __init__(self, loop: asyncio.AbstractEventLoop, name: str = "quorumd-writer") -> None:
        self._loop = loop
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Done] | None] = queue.SimpleQueue()
        # not `_thread`: mypyc (tools/build_compiled.py) emits it as `__thread`, a C keyword
        self._worker = threading.Thread(target=self._run, name=name, daemon=True)
        self._worker.start()
        self._unfinished = 0  # only touched on the loop thread

    def submit(self, job: Callable[[], Any], done: Done) -> None:
        """Run `job` on the writer thread, then `done(error_or_None)` on the loop."""
        self._unfinished += 1
        self._jobs.put((job, functools.partial(self._finished, done)))

    def _finished(self, done: Done, err: BaseException | None) -> None:
        self._unfinished -= 1
        done(err)

    def busy(self) -> bool:
        """A job is queued or running: the loop must not touch the store itself."""
        return self._unfinished > 0

    def _run(self) -> None:
        while True:
            item = self._jobs.get()
            if item is None:
                return
            job, done = item
            err: BaseException | None = None
            try:
                job()
            except BaseException as exc:  # handed to the loop, which decides
                log.exception("disk write failed")
                err = exc
            try:
                self._loop.call_soon_threadsafe(done, err)
            except RuntimeError:  # loop closed during shutdown
                return

    def close(self, timeout: float = 5.0) -> None:
        self._jobs.put(None)
        self._worker.join(timeout)
