"""`quorumd lock PATH -- CMD` and the SyncClient lock, against a fake server in a thread."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fake_locks import FakeLocks
from fake_zk import FakeNode, FakeState

from quorumd.cli.main import main as cli
from quorumd.client import SyncClient


class ThreadedFake:
    """A FakeNode with lock support on its own loop and thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.state = FakeState()
        self.locks = FakeLocks(self.state)
        self.node: FakeNode = self.call(FakeNode(self.state).start())

    def call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def do(self, fn: Any) -> Any:
        async def wrapped() -> Any:
            return fn()

        return self.call(wrapped())

    def close(self) -> None:
        self.call(self.node.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture
def fake() -> Iterator[ThreadedFake]:
    f = ThreadedFake()
    try:
        yield f
    finally:
        f.close()


def test_lock_command_passes_token_and_exit_code(fake: ThreadedFake, tmp_path: Path) -> None:
    out = tmp_path / "env.txt"
    script = (f"import os; open({str(out)!r}, 'w').write("
              "os.environ['QUORUMD_FENCING_TOKEN'] + ' ' + os.environ['QUORUMD_LOCK_PATH']);"
              " raise SystemExit(3)")
    r = CliRunner().invoke(cli, ["lock", "/jobs/x", "--hosts", fake.node.host, "--",
                                 sys.executable, "-c", script])
    assert r.exit_code == 3, r.output
    token, path = out.read_text().split()
    assert int(token) > 0 and path == "/jobs/x"
    assert fake.do(lambda: fake.locks.locks["/jobs/x"].holders) == []


def test_lock_command_times_out_when_busy(fake: ThreadedFake) -> None:
    with SyncClient(fake.node.host) as zk, zk.lock("/busy") as seq:
        assert seq.token > 0
        r = CliRunner().invoke(cli, ["lock", "/busy", "--timeout", "0.2", "--hosts",
                                     fake.node.host, "--", sys.executable, "-c", "pass"])
        assert r.exit_code == 75
        assert zk.check_sequencer(seq)


def test_lock_command_stops_the_command_when_the_session_is_lost(
    fake: ThreadedFake, tmp_path: Path
) -> None:
    started = tmp_path / "started"
    script = (f"import pathlib, time; pathlib.Path({str(started)!r}).touch(); "
              "time.sleep(60)")
    expired: list[int] = []

    def expire_when_started() -> None:
        deadline = time.monotonic() + 10
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        holder = fake.do(lambda: fake.locks.locks["/lose"].holders[0])
        fake.do(lambda: fake.state.expire(holder))
        expired.append(holder)

    t = threading.Thread(target=expire_when_started)
    t.start()
    r = CliRunner().invoke(cli, ["lock", "/lose", "--grace", "0.5", "--hosts", fake.node.host,
                                 "--", sys.executable, "-c", script])
    t.join(15)
    assert expired and started.exists()
    assert r.exit_code == 70, r.output


def test_lock_command_refuses_a_grace_not_below_the_lock_delay(fake: ThreadedFake) -> None:
    """The safety argument needs CMD dead (grace) before the lock-delay lets the next
    holder in after an expiry."""
    tail = ["--hosts", fake.node.host, "--", sys.executable, "-c", "pass"]
    r = CliRunner().invoke(cli, ["lock", "/g", "--grace", "10", *tail])
    assert r.exit_code == 2 and "lock-delay" in r.output
    r = CliRunner().invoke(cli, ["lock", "/g", "--grace", "10", "--lock-delay-ms", "20000", *tail])
    assert r.exit_code == 0, r.output
