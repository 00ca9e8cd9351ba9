"""Client-side watch bookkeeping: which watcher hears which server notification.

Theory of operation (ZooKeeper's ZKWatchManager.materialize):

1. A server sends one notification per (connection, path, event); the client fans it
   out. One-shot watches live in three tables (data, exist, child) and are removed
   when they fire; persistent ones stay until removed.
2. NodeCreated / NodeDataChanged fire data and exist watches of the path;
   NodeChildrenChanged fires child watches; NodeDeleted fires all three. Persistent
   watches on the path hear every event; persistent-recursive watches on the path or
   any ancestor hear all but NodeChildrenChanged (the server sends none to them).
3. A one-shot watch is registered when the reply of the read that set it arrives, in
   the same step that decodes it, so no notification can slip between the two.
4. On reconnect every watch is re-armed with setWatches(2) and the last zxid seen;
   the server fires at once those whose node changed meanwhile. On session loss
   every one-shot watcher hears an EXPIRED event and every stream ends with
   SessionExpired.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from quorumd.errors import SessionExpired, ZKError
from quorumd.wire import AddWatchMode, EventType, KeeperState, WatcherType

__all__ = ["PersistentWatch", "WatchCallback", "WatchManager", "WatchedEvent"]

log = logging.getLogger("quorumd.client")


@dataclass(frozen=True, slots=True)
class WatchedEvent:
    """What a watcher hears: `type` is an `EventType`, `state` a `KeeperState`."""

    type: EventType
    state: KeeperState
    path: str


#: A one-shot watcher: a callable (its awaitable result, if any, runs as a task) or a
#: future that receives the event.
WatchCallback = Callable[[WatchedEvent], Any] | asyncio.Future[WatchedEvent]

_DATA_EVENTS = (EventType.NODE_CREATED, EventType.NODE_DATA_CHANGED, EventType.NODE_DELETED)


def _ancestors(path: str) -> Iterator[str]:
    """The path itself, then each ancestor up to "/"."""
    yield path
    while path not in ("/", ""):
        path = path.rsplit("/", 1)[0] or "/"
        yield path


class WatchManager:
    def __init__(self) -> None:
        self.data: dict[str, list[WatchCallback]] = {}
        self.exist: dict[str, list[WatchCallback]] = {}
        self.child: dict[str, list[WatchCallback]] = {}
        self.persistent: dict[str, list[PersistentWatch]] = {}
        self.recursive: dict[str, list[PersistentWatch]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    def add(self, table: dict[str, list[WatchCallback]], path: str, cb: WatchCallback) -> None:
        table.setdefault(path, []).append(cb)

    def add_stream(self, stream: PersistentWatch) -> bool:
        """Register a stream; True if it is the first of its (path, mode) (send addWatch)."""
        table = self.recursive if stream.recursive else self.persistent
        streams = table.setdefault(stream.path, [])
        streams.append(stream)
        return len(streams) == 1

    def remove_stream(self, stream: PersistentWatch) -> bool:
        """Unregister; True if none of its (path, mode) remain (send removeWatches)."""
        table = self.recursive if stream.recursive else self.persistent
        streams = table.get(stream.path, [])
        if stream in streams:
            streams.remove(stream)
        if streams:
            return False
        table.pop(stream.path, None)
        return True

    @property
    def empty(self) -> bool:
        return not (self.data or self.exist or self.child or self.persistent or self.recursive)

    def dispatch(self, event_type: int, path: str) -> None:
        """Fan one server notification out to its watchers (rule 2)."""
        try:
            etype = EventType(event_type)
        except ValueError:
            log.warning("ignoring notification of unknown type %d on %s", event_type, path)
            return
        event = WatchedEvent(etype, KeeperState.SYNC_CONNECTED, path)
        fired: list[WatchCallback] = []
        if etype in _DATA_EVENTS:
            fired += self.data.pop(path, [])
            fired += self.exist.pop(path, [])
        if etype in (EventType.NODE_CHILDREN_CHANGED, EventType.NODE_DELETED):
            fired += self.child.pop(path, [])
        for cb in fired:
            self._fire(cb, event)
        for stream in self.persistent.get(path, ()):
            stream.push(event)
        if etype is not EventType.NODE_CHILDREN_CHANGED:
            for ancestor in _ancestors(path):
                for stream in self.recursive.get(ancestor, ()):
                    stream.push(event)

    def expire(self) -> None:
        """The session is lost: every watch is gone with it (rule 4)."""
        for table in (self.data, self.exist, self.child):
            for path, cbs in table.items():
                for cb in cbs:
                    self._fire(cb, WatchedEvent(EventType.NONE, KeeperState.EXPIRED, path))
            table.clear()
        for streams in (*self.persistent.values(), *self.recursive.values()):
            for stream in streams:
                stream.fail(SessionExpired("session expired; the watch is gone"))
        self.persistent.clear()
        self.recursive.clear()

    def rearm_lists(self) -> tuple[list[str], list[str], list[str], list[str], list[str]]:
        """Paths for setWatches2: data, exist, child, persistent, recursive."""
        return (
            sorted(self.data), sorted(self.exist), sorted(self.child),
            sorted(self.persistent), sorted(self.recursive),
        )  # fmt: skip

    def _fire(self, cb: WatchCallback, event: WatchedEvent) -> None:
        if isinstance(cb, asyncio.Future):
            if not cb.done():
                cb.set_result(event)
            return
        try:
            result = cb(event)
        except Exception:
            log.exception("watch callback %r failed", cb)
            return
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(result)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)


class PersistentWatch:
    """`async for event in client.watch(path)`: a persistent (or recursive) watch.

    The addWatch is sent on `async with` or on the first iteration; removeWatches when
    the stream closes (`aclose()`, leaving `async with`, or the iterating async
    generator being finalized after a `break`). Events queue without bound while the
    consumer is slow: a watch stream is for low-rate configuration changes.
    """

    def __init__(
        self,
        path: str,
        recursive: bool,
        register: Callable[[PersistentWatch], Awaitable[None]],
        unregister: Callable[[PersistentWatch], Awaitable[None]],
    ) -> None:
        self.path = path
        self.recursive = recursive
        self._register = register
        self._unregister = unregister
        self._queue: asyncio.Queue[WatchedEvent | ZKError] = asyncio.Queue()
        self._registered = False
        self._closed = False

    @property
    def mode(self) -> AddWatchMode:
        return AddWatchMode.PERSISTENT_RECURSIVE if self.recursive else AddWatchMode.PERSISTENT

    @property
    def watcher_type(self) -> WatcherType:
        return WatcherType.PERSISTENT_RECURSIVE if self.recursive else WatcherType.PERSISTENT

    def push(self, event: WatchedEvent) -> None:
        if not self._closed:
            self._queue.put_nowait(event)

    def fail(self, error: ZKError) -> None:
        if not self._closed:
            self._registered = False
            self._queue.put_nowait(error)

    async def start(self) -> None:
        if self._closed:
            raise RuntimeError("watch stream already closed")
        if not self._registered:
            self._registered = True
            try:
                await self._register(self)
            except BaseException:
                self._registered = False
                raise

    async def next_event(self) -> WatchedEvent:
        await self.start()
        item = await self._queue.get()
        if isinstance(item, ZKError):
            self._closed = True
            raise item
        return item

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._registered:
            self._registered = False
            await self._unregister(self)

    async def __aenter__(self) -> PersistentWatch:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __aiter__(self) -> AsyncIterator[WatchedEvent]:
        return self._events()

    async def _events(self) -> AsyncIterator[WatchedEvent]:
        try:
            while True:
                yield await self.next_event()
        finally:
            await self.aclose()
