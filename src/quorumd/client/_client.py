"""`Client`: the asyncio quorumd/ZooKeeper client API over a `Session`.

    async with Client("127.0.0.1:2181,127.0.0.1:2182") as zk:
        await zk.create("/app/cfg", b"v1", makepath=True)
        data, stat = await zk.get("/app/cfg", watch=on_change)
        async for event in zk.watch("/app", recursive=True):
            ...
        async with zk.lock("/jobs/nightly") as seq:   # seq.token fences the job's writes
            ...

Errors are the typed classes of `quorumd.errors` (`NoNode`, `NodeExists`,
`BadVersion`, `ConnectionLoss`, `SessionExpired`, ...), as kazoo users know them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Literal, TypeVar, overload

from quorumd.client._locks import Lock, LockMode, Sequencer, lock_extensions
from quorumd.client._session import Session, SessionConfig, parse_hosts
from quorumd.client._states import SessionState, StateChange
from quorumd.client._transaction import (
    Transaction,
    TransactionResult,
    create_flags,
    multi_results,
)
from quorumd.client._watches import PersistentWatch, WatchCallback
from quorumd.errors import ConnectionLoss, NodeExists, NoNode, NotEmpty, UsageError
from quorumd.wire import (
    ACL,
    AddWatchRequest,
    Create2Response,
    CreateRequest,
    CreateResponse,
    CreateTTLRequest,
    DeleteRequest,
    ExistsRequest,
    ExistsResponse,
    GetACLRequest,
    GetACLResponse,
    GetAllChildrenNumberRequest,
    GetAllChildrenNumberResponse,
    GetChildren2Request,
    GetChildren2Response,
    GetChildrenRequest,
    GetChildrenResponse,
    GetDataRequest,
    GetDataResponse,
    GetEphemeralsRequest,
    GetEphemeralsResponse,
    Id,
    MultiOp,
    MultiRequest,
    MultiResponse,
    OpCode,
    Record,
    RemoveWatchesRequest,
    SetACLRequest,
    SetACLResponse,
    SetDataRequest,
    SetDataResponse,
    Stat,
    SyncRequest,
    SyncResponse,
)

__all__ = ["CREATOR_ALL_ACL", "OPEN_ACL_UNSAFE", "READ_ACL_UNSAFE", "Client"]

log = logging.getLogger("quorumd.client")
T = TypeVar("T")

OPEN_ACL_UNSAFE: tuple[ACL, ...] = (ACL(31, Id("world", "anyone")),)
READ_ACL_UNSAFE: tuple[ACL, ...] = (ACL(1, Id("world", "anyone")),)
CREATOR_ALL_ACL: tuple[ACL, ...] = (ACL(31, Id("auth", "")),)


def _parent(path: str) -> str:
    return path.rsplit("/", 1)[0] or "/"


class Client:
    """An asyncio client; one session, pipelined requests, reconnect across nodes."""

    def __init__(
        self,
        hosts: str = "127.0.0.1:2181",
        session_timeout_ms: int = 10_000,
        auth: Sequence[tuple[str, str | bytes]] = (),
        *,
        connect_timeout_s: float | None = None,
        ping_interval_s: float | None = None,
        default_acl: Sequence[ACL] = OPEN_ACL_UNSAFE,
        rng: random.Random | None = None,
    ) -> None:
        credentials = [(s, c.encode() if isinstance(c, str) else c) for s, c in auth]
        config = SessionConfig(
            parse_hosts(hosts), session_timeout_ms, credentials, connect_timeout_s,
            lock_extensions(), ping_interval_s=ping_interval_s,
        )  # fmt: skip
        self._session = Session(config, rng)
        self.default_acl = tuple(default_acl)

    # ----------------------------------------------------------------- lifecycle

    async def start(self, timeout_s: float | None = 15.0) -> None:
        """Connect (trying every host) and establish the session."""
        await self._session.start(timeout_s)

    async def close(self) -> None:
        """End the session: its ephemeral nodes, watches and locks go at once."""
        await self._session.close()

    async def __aenter__(self) -> Client:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def state(self) -> SessionState:
        return self._session.state

    @property
    def session_id(self) -> int:
        return self._session.session_id

    @property
    def session_timeout_ms(self) -> int:
        """The negotiated session timeout (the requested one before the handshake)."""
        return self._session.negotiated_timeout_ms

    @property
    def last_confirmed(self) -> float:
        """Loop time (`loop.time()`) at which the session was last known alive: the send
        time of the latest request or ping a server answered. The servers cannot
        expire the session before `last_confirmed + session_timeout_ms / 1000`."""
        return self._session.last_confirmed

    @property
    def last_zxid(self) -> int:
        return self._session.last_zxid

    @property
    def connected_host(self) -> tuple[str, int] | None:
        return self._session.connected_host

    def add_listener(self, listener: Callable[[StateChange], object]) -> None:
        """Call `listener(change)` on every state change (synchronously, on the loop)."""
        self._session.listeners.append(listener)

    def remove_listener(self, listener: Callable[[StateChange], object]) -> None:
        with contextlib.suppress(ValueError):
            self._session.listeners.remove(listener)

    async def states(self) -> AsyncIterator[StateChange]:
        """Every state change from now on, until the client is closed."""
        queue: asyncio.Queue[StateChange] = asyncio.Queue()
        self.add_listener(queue.put_nowait)
        try:
            while self.state is not SessionState.CLOSED or not queue.empty():
                change = await queue.get()
                yield change
                if change.new is SessionState.CLOSED:
                    return
        finally:
            self.remove_listener(queue.put_nowait)

    async def wait_connected(self, timeout_s: float | None = None) -> None:
        await self._session.wait_connected(timeout_s)

    async def retry(
        self, fn: Callable[[], Awaitable[T]], *, max_tries: int = 10, wait_s: float | None = None
    ) -> T:
        """Run `fn()` again after ConnectionLoss, once connected again. Only for
        idempotent operations (a create may have happened before the reply was lost)."""
        for attempt in range(max_tries):
            try:
                return await fn()
            except ConnectionLoss:
                if attempt + 1 == max_tries:
                    raise
                await self.wait_connected(wait_s or self.session_timeout_ms / 1000)
        raise AssertionError("unreachable")

    async def _call(
        self, opcode: int, record: Record | None, path: str = "",
        on_reply: Callable[[int], None] | None = None,
    ) -> Record | None:  # fmt: skip
        return await self._session.submit(opcode, record, path, on_reply)

    # ----------------------------------------------------------------- data operations

    async def create(
        self,
        path: str,
        value: bytes = b"",
        acl: Sequence[ACL] | None = None,
        *,
        ephemeral: bool = False,
        sequential: bool = False,
        container: bool = False,
        ttl_ms: int | None = None,
        makepath: bool = False,
    ) -> str:
        """Create a node; returns its path (with the sequence suffix if sequential)."""
        acls = tuple(acl) if acl is not None else self.default_acl
        flags = create_flags(ephemeral, sequential)
        record: CreateRequest | CreateTTLRequest
        if container:
            if ephemeral or sequential or ttl_ms is not None:
                raise UsageError("a container node is neither ephemeral, sequential nor TTL")
            opcode, record = OpCode.CREATE_CONTAINER, CreateRequest(path, value, acls, 4)
        elif ttl_ms is not None:
            if ephemeral:
                raise UsageError("a TTL node cannot be ephemeral")
            flags = 6 if sequential else 5
            opcode, record = OpCode.CREATE_TTL, CreateTTLRequest(path, value, acls, flags, ttl_ms)
        else:
            opcode, record = OpCode.CREATE, CreateRequest(path, value, acls, flags)
        try:
            result = await self._call(opcode, record, path)
        except NoNode:
            if not makepath or _parent(path) == "/":
                raise
            await self.ensure_path(_parent(path), acls)
            result = await self._call(opcode, record, path)
        assert isinstance(result, CreateResponse | Create2Response)
        return result.path

    async def ensure_path(self, path: str, acl: Sequence[ACL] | None = None) -> None:
        """Create `path` and its missing ancestors as empty persistent nodes."""
        parts = [p for p in path.split("/") if p]
        current = ""
        for part in parts:
            current += "/" + part
            if await self.exists(current) is not None:
                continue
            with contextlib.suppress(NodeExists):
                await self.create(current, b"", acl)

    async def get(self, path: str, watch: WatchCallback | None = None) -> tuple[bytes, Stat]:
        on_reply = self._watch_hook(path, watch, "data")
        result = await self._call(OpCode.GET_DATA, GetDataRequest(path, watch is not None), path,
                                  on_reply)
        assert isinstance(result, GetDataResponse)
        return result.data, result.stat

    async def set(self, path: str, value: bytes, version: int = -1) -> Stat:
        result = await self._call(OpCode.SET_DATA, SetDataRequest(path, value, version), path)
        assert isinstance(result, SetDataResponse)
        return result.stat

    async def delete(self, path: str, version: int = -1, *, recursive: bool = False) -> None:
        """Delete a node; with `recursive`, its subtree first (not atomic)."""
        if recursive:
            try:
                children = await self.get_children(path)
            except NoNode:
                return
            for child in children:
                await self.delete(f"{path.rstrip('/')}/{child}", recursive=True)
            with contextlib.suppress(NoNode):
                await self._call(OpCode.DELETE, DeleteRequest(path, version), path)
            return
        await self._call(OpCode.DELETE, DeleteRequest(path, version), path)

    async def exists(self, path: str, watch: WatchCallback | None = None) -> Stat | None:
        """The node's Stat, or None. A watch is left either way (on creation if absent)."""
        on_reply = self._watch_hook(path, watch, "exists")
        try:
            result = await self._call(OpCode.EXISTS, ExistsRequest(path, watch is not None),
                                      path, on_reply)
        except NoNode:
            return None
        assert isinstance(result, ExistsResponse)
        return result.stat

    @overload
    async def get_children(
        self, path: str, watch: WatchCallback | None = ..., *, include_stat: Literal[False] = ...
    ) -> list[str]: ...

    @overload
    async def get_children(
        self, path: str, watch: WatchCallback | None = ..., *, include_stat: Literal[True]
    ) -> tuple[list[str], Stat]: ...

    async def get_children(
        self, path: str, watch: WatchCallback | None = None, *, include_stat: bool = False
    ) -> list[str] | tuple[list[str], Stat]:
        on_reply = self._watch_hook(path, watch, "child")
        if include_stat:
            result = await self._call(
                OpCode.GET_CHILDREN2, GetChildren2Request(path, watch is not None), path, on_reply
            )
            assert isinstance(result, GetChildren2Response)
            return list(result.children), result.stat
        result = await self._call(
            OpCode.GET_CHILDREN, GetChildrenRequest(path, watch is not None), path, on_reply
        )
        assert isinstance(result, GetChildrenResponse)
        return list(result.children)

    async def get_acl(self, path: str) -> tuple[list[ACL], Stat]:
        result = await self._call(OpCode.GET_ACL, GetACLRequest(path), path)
        assert isinstance(result, GetACLResponse)
        return list(result.acl), result.stat

    async def set_acl(self, path: str, acl: Sequence[ACL], version: int = -1) -> Stat:
        result = await self._call(OpCode.SET_ACL, SetACLRequest(path, tuple(acl), version), path)
        assert isinstance(result, SetACLResponse)
        return result.stat

    async def get_ephemerals(self, prefix: str = "/") -> list[str]:
        """Paths of this session's ephemeral nodes under `prefix`."""
        result = await self._call(OpCode.GET_EPHEMERALS, GetEphemeralsRequest(prefix), prefix)
        assert isinstance(result, GetEphemeralsResponse)
        return list(result.ephemerals)

    async def get_all_children_number(self, path: str) -> int:
        result = await self._call(
            OpCode.GET_ALL_CHILDREN_NUMBER, GetAllChildrenNumberRequest(path), path
        )
        assert isinstance(result, GetAllChildrenNumberResponse)
        return result.total_number

    async def sync(self, path: str = "/") -> str:
        """After sync, this client's next read sees every write committed before it."""
        result = await self._call(OpCode.SYNC, SyncRequest(path), path)
        assert isinstance(result, SyncResponse)
        return result.path

    async def add_auth(self, scheme: str, credential: str | bytes) -> None:
        """Add an identity to the session (re-sent on every reconnect)."""
        cred = credential.encode() if isinstance(credential, str) else credential
        await self._session.add_auth(scheme, cred)

    def transaction(self) -> Transaction:
        return Transaction(self.multi, self.default_acl)

    async def multi(self, ops: Sequence[MultiOp]) -> list[TransactionResult]:
        """Apply all `ops` atomically; a failure raises the failing op's typed error."""
        result = await self._call(OpCode.MULTI, MultiRequest(tuple(ops)))
        assert isinstance(result, MultiResponse)
        return multi_results(ops, result.results)

    # ----------------------------------------------------------------- watches

    def _watch_hook(
        self, path: str, watch: WatchCallback | None, kind: Literal["data", "exists", "child"]
    ) -> Callable[[int], None] | None:
        """Register the watch as the reply is decoded (ZooKeeper: only on success,
        except exists, which watches for creation when the node is absent)."""
        if watch is None:
            return None
        watches = self._session.watches

        def on_reply(err: int) -> None:
            if kind == "exists":
                if err == 0:
                    watches.add(watches.data, path, watch)
                elif err == NoNode.code:
                    watches.add(watches.exist, path, watch)
            elif err == 0:
                watches.add(watches.data if kind == "data" else watches.child, path, watch)

        return on_reply

    def watch(self, path: str, *, recursive: bool = False) -> PersistentWatch:
        """A persistent watch on `path` (and its subtree if `recursive`), as an async
        iterator of events: `async for event in client.watch("/cfg"): ...`."""
        return PersistentWatch(path, recursive, self._add_watch, self._remove_watch)

    async def _add_watch(self, stream: PersistentWatch) -> None:
        if self._session.watches.add_stream(stream):
            try:
                await self._call(OpCode.ADD_WATCH, AddWatchRequest(stream.path, stream.mode),
                                 stream.path)
            except BaseException:
                self._session.watches.remove_stream(stream)
                raise

    async def _remove_watch(self, stream: PersistentWatch) -> None:
        if not self._session.watches.remove_stream(stream):
            return
        if self.state is not SessionState.CONNECTED:
            return  # the server forgets it with the session, or setWatches omits it
        with contextlib.suppress(NoNode, ConnectionLoss, NotEmpty):
            await self._call(
                OpCode.REMOVE_WATCHES, RemoveWatchesRequest(stream.path, stream.watcher_type),
                stream.path,
            )

    # ----------------------------------------------------------------- locks

    def lock(
        self,
        path: str,
        *,
        shared: bool = False,
        timeout: float | None = None,
        lock_delay_ms: int | None = None,
    ) -> Lock:
        """`async with client.lock(path) as seq:` holds a server-side Chubby lock."""
        mode = LockMode.SHARED if shared else LockMode.EXCLUSIVE
        return Lock(self._session, path, mode, timeout, lock_delay_ms)

    async def try_lock(
        self, path: str, *, shared: bool = False, lock_delay_ms: int | None = None
    ) -> Lock | None:
        """The held lock if it is free right now, else None (nothing is queued)."""
        lock = self.lock(path, shared=shared, lock_delay_ms=lock_delay_ms)
        return lock if await lock.try_acquire() else None

    async def check_sequencer(self, sequencer: Sequencer) -> bool:
        """True iff `sequencer` still names a current holder (Chubby §2.4)."""
        return await Lock.check(self._session, sequencer)

    async def lock_info(self, path: str) -> tuple[int, int, list[int], list[int]]:
        """(mode, token, holder session ids, waiter session ids) of a lock; mode is -1
        when nobody holds it, and token is this session's own when it is a holder."""
        return await Lock.info(self._session, path)
