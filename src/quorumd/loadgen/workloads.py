"""What each workload sends: setup requests and the request flows of the load (pure).

A *flow* is one measured operation: a short sequence of dependent requests, each sent
once the previous reply arrived. set/get/create are one request; a lock is the kazoo
recipe (create an ephemeral sequential node, list the lock's children, delete ours when
it is the lowest) or quorumd's native lockAcquire + lockRelease. A connection keeps
`depth` flows in flight, each with exactly one request outstanding, so requests are
pipelined and the replies of a connection still come back in order.

Layout under the root (default /quorumd-bench; `nonce` makes each run's paths fresh):

    data/n0000 .. data/n0999          100-byte nodes for set/get/mixed
    create-<nonce>/n-0000000001 ...   persistent sequential nodes of `create`
    locks/<nonce>-w<W>-c<C>-s<S>/     one lock per flow slot: a recipe lock is never
                                      contended, so the lowest node is always ours
    (native) <root>/nlocks/<nonce>-w<W>-c<C>-s<S>   lock names, not znodes
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from quorumd.loadgen.lockwire import LOCK_ACQUIRE, LOCK_RELEASE, acquire_request, release_request
from quorumd.wire import (
    ACL,
    CreateMode,
    CreateRequest,
    DeleteRequest,
    GetChildrenRequest,
    GetDataRequest,
    Id,
    OpCode,
    Record,
    Reply,
    SetDataRequest,
)

__all__ = [
    "OPEN_ACL_UNSAFE",
    "WORKLOADS",
    "Flow",
    "Layout",
    "Step",
    "Workload",
    "make_workload",
    "op_name",
    "sequence_number",
]

#: (opcode, record) of one request.
Step = tuple[int, Record | None]

OPEN_ACL_UNSAFE: tuple[ACL, ...] = (ACL(31, Id("world", "anyone")),)
WORKLOADS = ("set", "get", "mixed", "create", "lock", "lock-native")
MIXED_SET_FRACTION = 0.1

_OP_NAMES = {LOCK_ACQUIRE: "lockAcquire", LOCK_RELEASE: "lockRelease"}


def op_name(opcode: int) -> str:
    """setData, getData, ...: ZooKeeper's own camelCase names, for error reports."""
    if opcode in _OP_NAMES:
        return _OP_NAMES[opcode]
    try:
        parts = OpCode(opcode).name.lower().split("_")
    except ValueError:
        return f"op{opcode}"
    return parts[0] + "".join(p.title() for p in parts[1:])


def sequence_number(name: str) -> int:
    """The 10-digit counter ZooKeeper appends to a sequential node's name."""
    return int(name[-10:])


@dataclass(frozen=True, slots=True)
class Layout:
    root: str = "/quorumd-bench"
    nonce: str = "0"
    nodes: int = 1000
    data_size: int = 100

    def data_path(self, i: int) -> str:
        return f"{self.root}/data/n{i:04d}"

    @property
    def create_parent(self) -> str:
        return f"{self.root}/create-{self.nonce}"

    def slot_name(self, worker: int, conn: int, slot: int) -> str:
        return f"{self.nonce}-w{worker}-c{conn}-s{slot}"


class Flow(Protocol):
    """One measured operation. `advance` sees only successful replies (err == 0);
    `anomaly` names something that went wrong without an error reply."""

    anomaly: str | None

    def first(self) -> Step: ...

    def advance(self, reply: Reply) -> Step | None: ...


class _Single:
    __slots__ = ("anomaly", "step")

    def __init__(self, step: Step) -> None:
        self.step = step
        self.anomaly: str | None = None

    def first(self) -> Step:
        return self.step

    def advance(self, reply: Reply) -> Step | None:
        return None


class _RecipeLock:
    """kazoo's Lock recipe, uncontended: create, getChildren, delete if lowest."""

    __slots__ = ("anomaly", "lock_dir", "mine")

    def __init__(self, lock_dir: str) -> None:
        self.lock_dir = lock_dir
        self.mine = ""
        self.anomaly: str | None = None

    def first(self) -> Step:
        mode = int(CreateMode.EPHEMERAL_SEQUENTIAL)
        return OpCode.CREATE, CreateRequest(self.lock_dir + "/lock-", b"", OPEN_ACL_UNSAFE, mode)

    def advance(self, reply: Reply) -> Step | None:
        record: Any = reply.record
        if reply.opcode == OpCode.CREATE:
            self.mine = record.path
            return OpCode.GET_CHILDREN, GetChildrenRequest(self.lock_dir, False)
        if reply.opcode == OpCode.GET_CHILDREN:
            children: tuple[str, ...] = record.children
            lowest = min(children, key=sequence_number) if children else ""
            if f"{self.lock_dir}/{lowest}" != self.mine:
                self.anomaly = "lock-not-lowest"
            return OpCode.DELETE, DeleteRequest(self.mine, -1)
        return None


class _NativeLock:
    """quorumd's lockAcquire (try, exclusive) then lockRelease."""

    __slots__ = ("anomaly", "path")

    def __init__(self, path: str) -> None:
        self.path = path
        self.anomaly: str | None = None

    def first(self) -> Step:
        return LOCK_ACQUIRE, acquire_request(self.path)

    def advance(self, reply: Reply) -> Step | None:
        if reply.opcode == LOCK_ACQUIRE:
            record: Any = reply.record
            if record is None or record.status != 0:
                self.anomaly = "lock-not-granted"
            return LOCK_RELEASE, release_request(self.path)
        return None


class Workload:
    """Builds setup requests and flows for one named workload over a `Layout`."""

    def __init__(self, name: str, layout: Layout) -> None:
        if name not in WORKLOADS:
            raise ValueError(f"unknown workload {name!r}; choose from {', '.join(WORKLOADS)}")
        self.name = name
        self.layout = layout
        payload = bytes(layout.data_size)
        paths = [layout.data_path(i) for i in range(layout.nodes)]
        self._sets = [(OpCode.SET_DATA, SetDataRequest(p, payload, -1)) for p in paths]
        self._gets = [(OpCode.GET_DATA, GetDataRequest(p, False)) for p in paths]
        self._create: Step = (
            OpCode.CREATE,
            CreateRequest(
                layout.create_parent + "/n-",
                payload,
                OPEN_ACL_UNSAFE,
                int(CreateMode.PERSISTENT_SEQUENTIAL),
            ),
        )

    @property
    def needs_data_nodes(self) -> bool:
        return self.name in ("set", "get", "mixed")

    def setup_steps(self) -> Iterator[Step]:
        """Requests to run once before the load; NODEEXISTS replies are expected
        (the data nodes are shared across runs)."""
        lay = self.layout
        yield _mkdir(lay.root)
        if self.needs_data_nodes:
            yield _mkdir(f"{lay.root}/data")
            payload = bytes(lay.data_size)
            for i in range(lay.nodes):
                yield _mkdir(lay.data_path(i), payload)
        elif self.name == "create":
            yield _mkdir(lay.create_parent)
        elif self.name == "lock":
            yield _mkdir(f"{lay.root}/locks")

    def slot_setup_steps(self, worker: int, conn: int, depth: int) -> Iterator[Step]:
        """Requests a worker runs for its own connection's flow slots (lock dirs)."""
        if self.name != "lock":
            return
        for slot in range(depth):
            yield _mkdir(self._lock_dir(worker, conn, slot))

    def _lock_dir(self, worker: int, conn: int, slot: int) -> str:
        return f"{self.layout.root}/locks/{self.layout.slot_name(worker, conn, slot)}"

    def flow_factory(self, worker: int, conn: int, slot: int, rng: random.Random) -> FlowFactory:
        """A zero-argument callable making the next flow of one slot."""
        name = self.name
        if name == "lock":
            lock_dir = self._lock_dir(worker, conn, slot)
            return lambda: _RecipeLock(lock_dir)
        if name == "lock-native":
            path = f"{self.layout.root}/nlocks/{self.layout.slot_name(worker, conn, slot)}"
            return lambda: _NativeLock(path)
        if name == "create":
            step = self._create
            return lambda: _Single(step)
        sets, gets, n = self._sets, self._gets, len(self._sets)
        if name == "set":
            return lambda: _Single(sets[rng.randrange(n)])
        if name == "get":
            return lambda: _Single(gets[rng.randrange(n)])
        return lambda: _Single(
            sets[rng.randrange(n)] if rng.random() < MIXED_SET_FRACTION else gets[rng.randrange(n)]
        )


class FlowFactory(Protocol):
    def __call__(self) -> Flow: ...


def _mkdir(path: str, data: bytes = b"") -> Step:
    return OpCode.CREATE, CreateRequest(path, data, OPEN_ACL_UNSAFE, int(CreateMode.PERSISTENT))


def make_workload(name: str, layout: Layout | None = None) -> Workload:
    return Workload(name, layout or Layout())
