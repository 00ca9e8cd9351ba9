"""The command run by `quorumd run-elected` / `quorumd lock` in tests.

Appends `start`, then `alive` every 20 ms, then `stop` on SIGTERM, each as
`<kind> <pid> <supervisor pid> <time.time()> <token>` to the file in argv[1]. It also
takes an exclusive flock on argv[1] + ".flock": if another copy holds it, it writes
`overlap` (two copies at once), which the tests look for.
"""

from __future__ import annotations

import fcntl
import os
import signal
import sys
import time

path = sys.argv[1]
token = os.environ.get("QUORUMD_FENCING_TOKEN", "-")


def mark(kind: str) -> None:
    with open(path, "a") as f:
        f.write(f"{kind} {os.getpid()} {os.getppid()} {time.time():.6f} {token}\n")


def on_term(signum: int, frame: object) -> None:
    mark("stop")
    sys.exit(0)


signal.signal(signal.SIGTERM, on_term)
lock_file = open(path + ".flock", "a")  # noqa: SIM115 - held until exit
try:
    fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
except OSError:
    mark("overlap")
    fcntl.flock(lock_file, fcntl.LOCK_EX)
mark("start")
while True:
    mark("alive")
    time.sleep(0.02)
