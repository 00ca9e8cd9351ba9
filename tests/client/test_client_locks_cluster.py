"""quorumd's Chubby locks end to end: the client against a real 3-node cluster.

The acceptance criteria of docs/design/locks.md, each checked through what a client can
observe: mutual exclusion of a read-modify-write, FIFO grants, shared/exclusive without
writer starvation, fencing tokens that grow across a kill -9 of the leader, a SIGSTOPped
holder losing its lock, and lock-delay after a holder's session expires (but not after
a clean release). Timing checks are lower bounds only ("not before expiry + delay").
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, MutableSequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
from client_harness import Cluster

from quorumd.client import Client, LockMode, Sequencer, SessionState, SyncClient

pytestmark = pytest.mark.integration

SESSION_MS = 4000  # the servers' minimum session timeout: waits for expiry stay short
HOLDER = str(Path(__file__).with_name("lock_holder.py"))
LOCK_FREE = -1
T = TypeVar("T")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Shared by the tests that kill no server node (each uses its own lock paths)."""
    c = Cluster(Path(tmp_path_factory.mktemp("locks-cluster")))
    try:
        c.start()
        yield c
    finally:
        c.stop()


@pytest.fixture
def own_cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path)
    try:
        c.start()
        yield c
    finally:
        c.stop()


class InOrder(random.Random):
    """Hosts are tried in the order given: lets a test put a client on a chosen node."""

    def shuffle(self, x: MutableSequence[Any]) -> None:  # type: ignore[override]
        return None


def run(body: Callable[[], Awaitable[None]], timeout_s: float = 60) -> None:
    async def bounded() -> None:
        await asyncio.wait_for(body(), timeout_s)

    asyncio.run(bounded())


@asynccontextmanager
async def started(*clients: Client) -> AsyncIterator[None]:
    try:
        for c in clients:
            await c.start(15)
        yield
    finally:
        for c in clients:
            await c.close()


async def until(probe: Callable[[], Awaitable[T]], what: str, timeout_s: float = 15) -> T:
    deadline = time.monotonic() + timeout_s
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def queued(client: Client, path: str, sessions: list[int]) -> bool:
    """Whether lockInfo shows exactly `sessions` waiting on `path`, in that order."""
    return (await client.lock_info(path))[3] == sessions


def visibility_node(path: str) -> str:
    return "/quorumd/locks/" + path[1:].replace("%", "%25").replace("/", "%2F")


def fields(data: bytes) -> dict[str, str]:
    return dict(item.split("=", 1) for item in data.decode().split())


# --------------------------------------------------------------------- exclusion


def test_mutual_exclusion_of_a_read_modify_write_counter(cluster: Cluster) -> None:
    """8 clients (5 asyncio, 3 SyncClient threads) each add 1 to a znode 20 times
    under the lock, with no version check: only mutual exclusion prevents lost
    updates. Grants are also ordered: the token grows with the value read."""
    n_async, n_sync, rounds = 5, 3, 20
    seen: list[tuple[int, int]] = []  # (counter value read, token); list.append is atomic

    def sync_worker() -> None:
        with SyncClient(cluster.hosts, session_timeout_ms=SESSION_MS) as zk:
            for _ in range(rounds):
                with zk.lock("/mutex/lock") as seq:
                    value = int(zk.get("/mutex/counter")[0])
                    seen.append((value, seq.token))
                    zk.set("/mutex/counter", str(value + 1).encode())

    async def async_worker(c: Client) -> None:
        for _ in range(rounds):
            async with c.lock("/mutex/lock") as seq:
                value = int((await c.get("/mutex/counter"))[0])
                seen.append((value, seq.token))
                await asyncio.sleep(0)  # let the others run while we hold it
                await c.set("/mutex/counter", str(value + 1).encode())

    async def body() -> None:
        clients = [Client(cluster.hosts, session_timeout_ms=SESSION_MS) for _ in range(n_async)]
        async with started(*clients):
            await clients[0].create("/mutex/counter", b"0", makepath=True)
            await asyncio.gather(
                *(async_worker(c) for c in clients),
                *(asyncio.to_thread(sync_worker) for _ in range(n_sync)),
            )
            assert (await clients[0].get("/mutex/counter"))[0] == b"%d" % len(seen)

    run(body, 120)
    total = (n_async + n_sync) * rounds
    assert len(seen) == total
    seen.sort()
    assert [value for value, _ in seen] == list(range(total))  # no update lost
    tokens = [token for _, token in seen]
    assert all(a < b for a, b in itertools.pairwise(tokens))


def test_waiters_are_granted_in_fifo_order(cluster: Cluster) -> None:
    async def body() -> None:
        owner, *waiters = [Client(cluster.hosts, session_timeout_ms=SESSION_MS)
                           for _ in range(4)]  # fmt: skip
        async with started(owner, *waiters):
            first = owner.lock("/fifo/lock")
            seq0 = await first.acquire()
            granted: list[tuple[int, int]] = []

            async def wait_turn(i: int) -> None:
                async with waiters[i].lock("/fifo/lock") as seq:
                    granted.append((i, seq.token))

            arrival = (2, 0, 1)
            tasks = []
            for n, i in enumerate(arrival, 1):
                tasks.append(asyncio.create_task(wait_turn(i)))
                sids = [waiters[j].session_id for j in arrival[:n]]
                await until(lambda sids=sids: queued(owner, "/fifo/lock", sids), "queue")
            await first.release()
            await asyncio.gather(*tasks)
            assert [i for i, _ in granted] == list(arrival)
            tokens = [seq0.token, *(token for _, token in granted)]
            assert tokens == sorted(set(tokens))
            assert not await owner.check_sequencer(seq0)

    run(body)


def test_shared_holders_and_no_writer_starvation(cluster: Cluster) -> None:
    """Two shared holders at once; an exclusive waiter waits for both; a shared waiter
    that arrives behind it waits too, although it is compatible with the holders."""
    path = "/rw/lock"

    async def body() -> None:
        r1, r2, w, late, probe = [Client(cluster.hosts, session_timeout_ms=SESSION_MS)
                                  for _ in range(5)]  # fmt: skip
        async with started(r1, r2, w, late, probe):
            lock1, lock2 = r1.lock(path, shared=True), r2.lock(path, shared=True)
            s1, s2 = await lock1.acquire(), await lock2.acquire()
            assert s1.mode is s2.mode is LockMode.SHARED
            mode, _, holders, _ = await probe.lock_info(path)
            assert (mode, holders) == (LockMode.SHARED, [r1.session_id, r2.session_id])
            assert await probe.check_sequencer(s1) and await probe.check_sequencer(s2)

            writer_lock = w.lock(path)
            writer = asyncio.create_task(writer_lock.acquire())
            await until(lambda: queued(probe, path, [w.session_id]), "the writer queued")
            reader = asyncio.create_task(late.lock(path, shared=True).acquire())
            await until(lambda: queued(probe, path, [w.session_id, late.session_id]),
                        "the late reader queued behind the writer")  # fmt: skip

            await lock1.release()  # grants happen in the release's entry: no race below
            _, _, holders, waiting = await probe.lock_info(path)
            assert (holders, waiting) == ([r2.session_id], [w.session_id, late.session_id])
            await lock2.release()
            _, _, holders, waiting = await probe.lock_info(path)
            assert (holders, waiting) == ([w.session_id], [late.session_id])
            ws = await writer
            assert ws.mode is LockMode.EXCLUSIVE and ws.token > max(s1.token, s2.token)
            assert not reader.done()
            await writer_lock.release()
            rs = await reader
            assert rs.mode is LockMode.SHARED and rs.token > ws.token

    run(body)


# --------------------------------------------------------------------- lock-delay


def test_no_lock_delay_after_a_clean_release_or_close(cluster: Cluster) -> None:
    """Lock-delay is for holders that vanish, not for those that let go: with a 60 s
    delay asked for, the next waiter is granted by the very release/close entry."""
    path = "/nodelay/lock"

    async def body() -> None:
        a, b, c, probe = [Client(cluster.hosts, session_timeout_ms=SESSION_MS) for _ in range(4)]
        async with started(a, b, c, probe):
            held = a.lock(path, lock_delay_ms=60_000)
            await held.acquire()
            b_task = asyncio.create_task(b.lock(path, lock_delay_ms=60_000).acquire())
            await until(lambda: queued(probe, path, [b.session_id]), "b queued")
            c_task = asyncio.create_task(c.lock(path).acquire())
            await until(lambda: queued(probe, path, [b.session_id, c.session_id]), "c queued")
            await held.release()
            assert (await probe.lock_info(path))[2] == [b.session_id]
            await b_task
            await b.close()  # a clean session close: no delay either
            assert (await probe.lock_info(path))[2] == [c.session_id]
            await c_task

    run(body)


def test_lock_delay_after_the_holders_session_expires(cluster: Cluster) -> None:
    """The holder (a child process) is killed; once its session expires its locks stay
    unusable until expiry + lock-delay (ask 2.5 s; the default is 10 s; 60 s is the cap)."""
    delay_ms = 2500
    eph = "/delay/holder-alive"

    async def body() -> None:
        waiter, probe = (Client(cluster.hosts, session_timeout_ms=SESSION_MS) for _ in range(2))
        async with started(waiter, probe), holder_process(
            cluster, eph, f"/delay/lock:{delay_ms}", "/delay/capped:3600000", "/delay/default:-1"
        ) as holder:  # fmt: skip
            old_token = holder.tokens["/delay/lock"]
            wait = asyncio.create_task(waiter.lock("/delay/lock").acquire())
            await until(lambda: queued(probe, "/delay/lock", [waiter.session_id]), "queue")
            gone: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            assert await probe.exists(eph, watch=gone) is not None

            holder.kill()
            await asyncio.wait_for(gone, SESSION_MS / 1000 + 15)
            expiry_seen_ms = time.time() * 1000
            data, stat = await probe.get(visibility_node("/delay/lock"))
            state = fields(data)
            # the holder expired and nobody holds the lock, yet the waiter is not granted
            assert (state["mode"], state["holders"], state["waiters"]) == ("none", "", "1")
            assert not wait.done()
            available_at = int(state["available_at"])
            assert available_at == stat.mtime + delay_ms  # mtime: the expiry entry's time

            seq = await wait
            granted_seen_ms = time.time() * 1000
            assert granted_seen_ms >= available_at
            assert seq.token > old_token
            print(f"lock-delay {delay_ms} ms: granted {granted_seen_ms - stat.mtime:.0f} ms "
                  f"after the expiry entry, {granted_seen_ms - expiry_seen_ms:.0f} ms after "
                  "the expiry was seen")  # fmt: skip

            for path, expected_ms in (("/delay/capped", 60_000), ("/delay/default", 10_000)):
                data, stat = await probe.get(visibility_node(path))
                assert int(fields(data)["available_at"]) - stat.mtime == expected_ms, path
                assert await probe.try_lock(path) is None  # still inside its delay

    run(body)


# --------------------------------------------------------------------- paused holder


def test_a_sigstopped_holder_loses_its_lock_to_a_larger_token(cluster: Cluster) -> None:
    """Chubby §2.4's case for sequencers: the holder's process is paused past its
    session timeout; the lock moves on, and the old sequencer no longer checks out."""
    path = "/paused/lock"

    async def body() -> None:
        waiter = Client(cluster.hosts, session_timeout_ms=SESSION_MS)
        async with started(waiter), holder_process(cluster, "/paused/alive", f"{path}:0"
                                                   ) as holder:  # fmt: skip
            old = Sequencer(path, LockMode.EXCLUSIVE, holder.tokens[path])
            assert await waiter.check_sequencer(old)
            wait = asyncio.create_task(waiter.lock(path).acquire())
            await until(lambda: queued(waiter, path, [waiter.session_id]), "queue")

            holder.signal(signal.SIGSTOP)
            seq = await asyncio.wait_for(wait, SESSION_MS / 1000 + 20)
            assert seq.token > old.token
            assert not await waiter.check_sequencer(old)
            assert await waiter.check_sequencer(seq)
            assert await waiter.exists("/paused/alive") is None

            holder.signal(signal.SIGCONT)  # it wakes up and learns it lost the lock
            assert await holder.line(20) == f"lost {path}"
            assert (await waiter.lock_info(path))[2] == [waiter.session_id]

    run(body)


class HolderProcess:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.tokens: dict[str, int] = {}

    async def line(self, timeout_s: float) -> str:
        assert self.proc.stdout is not None
        raw = await asyncio.wait_for(self.proc.stdout.readline(), timeout_s)
        if not raw:
            raise AssertionError(f"holder exited with {await self.proc.wait()}")
        return raw.decode().strip()

    def signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)


@asynccontextmanager
async def holder_process(cluster: Cluster, ephemeral: str, *specs: str
                         ) -> AsyncIterator[HolderProcess]:  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        sys.executable, HOLDER, cluster.hosts, str(SESSION_MS), ephemeral, *specs,
        stdout=asyncio.subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    holder = HolderProcess(proc)
    try:
        while (line := await holder.line(30)) != "ready":
            _, path, token, _sid = line.split()
            holder.tokens[path] = int(token)
        yield holder
    finally:
        holder.signal(signal.SIGCONT)
        holder.kill()
        await proc.wait()


# --------------------------------------------------------------------- failover


def test_tokens_grow_and_locks_survive_kill_9_of_the_leader(own_cluster: Cluster) -> None:
    """The holder and a waiter are connected to the leader, which is killed: both
    reconnect to another node in the same session, the holder still holds, the waiter
    still waits (its grant notification is recovered with lockInfo), and every token
    after the failover is larger than every token before it."""
    cluster = own_cluster
    path = "/fence/lock"
    leader = cluster.wait_leader()
    port = cluster.node(leader).client_port
    others = [f"127.0.0.1:{n.client_port}" for n in cluster.nodes if n.id != leader]
    on_leader = ",".join([f"127.0.0.1:{port}", *others])

    async def body() -> None:
        holder_c = Client(on_leader, session_timeout_ms=SESSION_MS, rng=InOrder())
        waiter_c = Client(on_leader, session_timeout_ms=SESSION_MS, rng=InOrder())
        probe = Client(",".join(others), session_timeout_ms=SESSION_MS)
        async with started(holder_c, waiter_c, probe):
            tokens = []
            for _ in range(2):
                async with probe.lock(path) as s:
                    tokens.append(s.token)
            held = holder_c.lock(path)
            before = await held.acquire()
            tokens.append(before.token)
            waiting = waiter_c.lock(path)
            wait = asyncio.create_task(waiting.acquire())
            await until(lambda: queued(probe, path, [waiter_c.session_id]), "queue")
            assert holder_c.connected_host == waiter_c.connected_host == ("127.0.0.1", port)
            sids = holder_c.session_id, waiter_c.session_id

            cluster.kill(leader, signal.SIGKILL)
            assert await holder_c.retry(lambda: holder_c.check_sequencer(before))
            assert held.held and holder_c.state is SessionState.CONNECTED
            assert holder_c.connected_host != ("127.0.0.1", port)
            assert not wait.done()
            await held.release()
            after = await asyncio.wait_for(wait, 20)
            assert (holder_c.session_id, waiter_c.session_id) == sids  # same sessions
            tokens.append(after.token)
            assert not await probe.check_sequencer(before)
            await waiting.release()
            async with probe.lock(path) as s:
                tokens.append(s.token)
            assert all(a < b for a, b in itertools.pairwise(tokens)), tokens

    run(body)
    assert cluster.wait_leader(exclude=leader) != leader


# --------------------------------------------------------------------- quorumd lock


def test_lock_command_runs_commands_one_at_a_time(cluster: Cluster, tmp_path: Path) -> None:
    """Three `quorumd lock PATH -- CMD` at once: the commands run one after another,
    each with a larger QUORUMD_FENCING_TOKEN than the one before."""
    marks = tmp_path / "marks.txt"
    script = (
        "import os, sys, time\n"
        "def mark(kind):\n"
        f"    with open({str(marks)!r}, 'a') as f:\n"
        "        f.write(f\"{kind} {os.environ['QUORUMD_FENCING_TOKEN']} {time.time()}\\n\")\n"
        "mark('start'); time.sleep(0.3); mark('end')\n"
    )
    argv = [
        *(sys.executable, "-m", "quorumd", "lock", "/cli/job", "--hosts", cluster.hosts),
        *("--session-timeout-ms", str(SESSION_MS), "--", sys.executable, "-c", script),
    ]
    procs = [subprocess.Popen(argv, start_new_session=True) for _ in range(3)]
    try:
        codes = [p.wait(60) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
    assert codes == [0, 0, 0]
    lines = [line.split() for line in marks.read_text().splitlines()]
    assert [kind for kind, _, _ in lines] == ["start", "end"] * 3  # never two at once
    tokens = [int(token) for _, token, _ in lines]
    assert tokens[0::2] == tokens[1::2]  # each run saw one token
    assert tokens[0] < tokens[2] < tokens[4]
