"""Snapshot format: msgpack, columnar, byte-identical for the same state.

Restoring the snapshot is most of a restart, so the layout is shaped for loading a
million nodes with as little Python work per node as possible: every column decodes
in C (one msgpack array, or one int64 blob turned into a list by `array`), nodes are
built by one `map` over the columns, each children set from one slice, and the node
table by one `dict(zip(...))`. Layout (FORMAT 3, one msgpack object after another)::

    header    [FORMAT, last_zxid, node_count, acls, sessions, locks]
              acls     = [[[perms, scheme, id], ...], ...]  distinct ACLs, by first use
              sessions = [[id, passwd, timeout_ms, [[scheme, id], ...]], ...] sorted by id
              locks    = LockTable.to_records(): sorted by path
    names     [name, ...]          every node but the root (node 0), in node order
    data      [bytes, ...]         node_count of each, in node order
    acl       [acl_index, ...]
    czxid     int64 blob           8 bytes per node, little-endian
    ctime     int64 blob
    sparse    [[indexes, values], ...]  int64 blobs, one pair per field of _SPARSE:
              only the nodes whose value differs from the field's default
    children  [parents, counts]    int64 blobs: the nodes that have children

Node order is breadth-first from "/", each node's children sorted by name. So a parent
comes before its children, and the children of the k-th parent form the run of nodes
that follows the runs of the parents before it: the decoder rebuilds each path as
parent + "/" + name, and a children set from one slice of those paths (the very
strings that key the node table: node.py, memory rule 2). A name must be non-empty
and hold no "/", so each path it builds is a new one under its parent.

Defaults are what a freshly created node has (mzxid, pzxid = czxid; mtime = ctime;
versions and ephemeralOwner 0); a restored node shares those int objects just as a
created one does (node.py, rule 4).

Determinism: nodes in the order above, sessions by id, ACLs numbered by first use in
node order; nothing depends on dict or set iteration order. Indexes (ephemerals by
session, containers, TTL nodes) are rebuilt on load, not stored.

Formats 1 and 2 (one [path, data, acl_index, czxid, mzxid, pzxid, ctime, mtime,
version, cversion, aversion, ephemeral_owner] record per node, in sorted path order;
format 1 has no lock table) still load.
"""

from __future__ import annotations

import contextlib
import gc
import io
import sys
from array import array
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from itertools import compress, repeat
from operator import attrgetter, itemgetter, ne
from typing import Any

import msgpack

from quorumd.errors import ProtocolError
from quorumd.machine.node import Node
from quorumd.machine.ops import ACL
from quorumd.machine.paths import path_error
from quorumd.machine.sessions import Session
from quorumd.machine.tree import DataTree

__all__ = ["FORMAT", "decode", "encode"]

FORMAT = 3

# (field, the field its default is taken from, or None for 0), in the order stored.
_SPARSE: tuple[tuple[str, str | None], ...] = (
    ("mzxid", "czxid"),
    ("pzxid", "czxid"),
    ("mtime", "ctime"),
    ("version", None),
    ("cversion", None),
    ("aversion", None),
    ("ephemeral_owner", None),
)
_OWNER = len(_SPARSE) - 1
_BIG_ENDIAN = sys.byteorder == "big"

Decoded = tuple[DataTree, dict[int, Session], int, list[Any]]


# -- encode ---------------------------------------------------------------------------


def encode(
    tree: DataTree,
    sessions: dict[int, Session],
    last_zxid: int,
    locks: list[list[Any]] | None = None,
) -> bytes:
    nodes, names, parents, counts = _breadth_first(tree)
    acls, acl_column = _acl_column(nodes)
    header = [
        FORMAT,
        last_zxid,
        len(nodes),
        [[[a.perms, a.scheme, a.id] for a in acl] for acl in acls],
        [
            [s.session_id, s.passwd, s.timeout_ms, [list(ident) for ident in s.auth]]
            for s in (sessions[sid] for sid in sorted(sessions))
        ],
        locks or [],
    ]
    column = {
        name: list(map(attrgetter(name), nodes))
        for name in ("czxid", "ctime", *(field for field, _ in _SPARSE))
    }
    sparse = [_sparse(column[field], column[base] if base else None) for field, base in _SPARSE]
    packer = msgpack.Packer(use_bin_type=True, autoreset=False)
    for obj in (
        header,
        names,
        list(map(attrgetter("data"), nodes)),
        acl_column,
        _blob(column["czxid"]),
        _blob(column["ctime"]),
        sparse,
        [_blob(parents), _blob(counts)],
    ):
        packer.pack(obj)
    return bytes(packer.getbuffer())


def _breadth_first(tree: DataTree) -> tuple[list[Node], list[str], list[int], list[int]]:
    """(nodes in node order, names of all but the root, parents, their child counts).
    One level at a time, so that a leaf costs no bytecode of its own: only parents do."""
    table = tree.nodes
    nodes: list[Node] = []
    names: list[str] = []
    parents: list[int] = []
    counts: list[int] = []
    level = ["/"]
    while level:
        first = len(nodes)
        nodes += map(table.__getitem__, level)
        below: list[str] = []
        children: list[Any] = list(map(attrgetter("children"), nodes[first:]))
        for i in compress(range(len(level)), children):
            kids = sorted(children[i])  # the same order as by name: they share a prefix
            names += map(itemgetter(slice(len(level[i]) + 1 if first + i else 1, None)), kids)
            below += kids
            parents.append(first + i)
            counts.append(len(kids))
        level = below
    assert len(nodes) == len(table), "nodes unreachable from /"
    return nodes, names, parents, counts


def _acl_column(nodes: list[Node]) -> tuple[list[tuple[ACL, ...]], list[int]]:
    """Distinct ACLs by first use, and each node's index into them. Equal ACLs held as
    different tuples (not interned) still get one index."""
    held = list(map(attrgetter("acl"), nodes))
    by_value: dict[tuple[ACL, ...], int] = {}
    by_id = {
        key: by_value.setdefault(acl, len(by_value))
        for key, acl in dict(zip(map(id, held), held, strict=True)).items()
    }
    return list(by_value), list(map(by_id.__getitem__, map(id, held)))


def _sparse(values: list[int], defaults: list[int] | None) -> list[bytes]:
    """[indexes, values] of the nodes whose value is not the default (None: 0)."""
    differs = values if defaults is None else list(map(ne, values, defaults))
    return [_blob(compress(range(len(values)), differs)), _blob(compress(values, differs))]


def _blob(values: Iterable[int]) -> bytes:
    column = array("q", values)
    if _BIG_ENDIAN:
        column.byteswap()
    return column.tobytes()


# -- decode ---------------------------------------------------------------------------


def decode(data: bytes) -> Decoded:
    """(tree, sessions, last_zxid, lock records for `LockTable.from_records`)."""
    try:
        with _collector_paused():
            return _decode(data)
    except ProtocolError:
        raise
    except Exception as exc:  # msgpack raises a zoo of types on garbage
        raise ProtocolError(f"bad snapshot: {exc!r}") from exc


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Loading allocates millions of objects that cannot form a cycle; with the cyclic
    collector running, its generation-2 passes walk the growing heap again and again,
    which made loading several times slower (bench/memory_recovery.py)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _decode(data: bytes) -> Decoded:
    unpacker = msgpack.Unpacker(
        io.BytesIO(data), raw=False, use_list=True, max_buffer_size=max(len(data), 1 << 20)
    )
    header: Any = unpacker.unpack()
    if not isinstance(header, list) or (header[:1], len(header)) not in (
        ([1], 5),
        ([2], 6),
        ([3], 6),
    ):
        raise ProtocolError("not a quorumd machine snapshot")
    version, last_zxid, count, raw_acls, raw_sessions, *rest = header
    locks: list[Any] = rest[0] if rest else []
    if type(count) is not int or count < 1 or type(last_zxid) is not int:
        raise ProtocolError("bad snapshot header")
    tree = DataTree()
    acls = [
        tree.intern_acl(tuple(ACL(int(p), str(s), str(i)) for p, s, i in acl)) for acl in raw_acls
    ]
    sessions: dict[int, Session] = {}
    for sid, passwd, timeout_ms, auth in raw_sessions:
        session = Session(int(sid), bytes(passwd), int(timeout_ms))
        session.auth = [(str(scheme), str(ident)) for scheme, ident in auth]
        sessions[session.session_id] = session
    if version == 3:
        _load_columns(tree, unpacker, count, acls)
    else:
        for _ in range(count):
            _load_node(tree, unpacker.unpack(), acls)
        if "/" not in tree.nodes:
            raise ProtocolError("snapshot without a root node")
    for owner, paths in tree.ephemerals.items():
        if owner not in sessions:
            raise ProtocolError(f"ephemeral nodes of session 0x{owner:x}, which is not open")
        if any(tree.nodes[p].children for p in paths):
            raise ProtocolError("an ephemeral node with children")
    try:
        unpacker.unpack()
    except msgpack.OutOfData:
        return tree, sessions, last_zxid, locks
    raise ProtocolError("trailing data after snapshot")


def _load_columns(
    tree: DataTree, unpacker: msgpack.Unpacker, count: int, acls: list[tuple[ACL, ...]]
) -> None:
    names = _typed(unpacker.unpack(), str, count - 1)
    if not all(names) or "/" in "".join(names):
        raise ProtocolError("empty node name or a name with '/'")
    # Every name once, as one path (a regex over it in the usual all-ASCII case): the
    # state machine validates a path only when it names no node (state.py rule 7), so
    # what is in the tree must be valid.
    reason = path_error("/" + "/".join(names)) if names else None
    if reason is not None:
        raise ProtocolError(f"invalid node name in the snapshot: {reason}")
    datas = _typed(unpacker.unpack(), bytes, count)
    acl_indexes = _typed(unpacker.unpack(), int, count)
    if min(acl_indexes) < 0:
        raise ProtocolError("bad ACL index")
    czxids = _int64s(unpacker.unpack(), count)
    ctime_column = _int64_array(unpacker.unpack(), count)
    sparse = unpacker.unpack()
    children = unpacker.unpack()
    if type(sparse) is not list or len(sparse) != len(_SPARSE) or len(children) != 2:
        raise ProtocolError("bad snapshot columns")
    # Nodes created in one millisecond share one ctime object: 32 bytes a node saved
    # (memory, not semantics). Each int read from the array is dropped at once unless it
    # is a new time, so no freed ints are left behind to fragment the heap.
    # An ACL index past the end raises IndexError (see decode).
    times: dict[int, int] = {}
    ctimes = map(times.setdefault, ctime_column, ctime_column)
    nodes = list(map(Node, datas, map(acls.__getitem__, acl_indexes), czxids, ctimes, repeat(0)))
    fields = [_sparse_in(pair, count) for pair in sparse]
    for (field, _), (indexes, values) in zip(_SPARSE, fields, strict=True):
        setter = vars(Node)[field].__set__  # the slot's descriptor: C speed in `map`
        deque(map(setter, map(nodes.__getitem__, indexes), values), maxlen=0)
    paths = _link(nodes, names, _int64s(children[0]), _int64s(children[1]))
    table = dict(zip(paths, nodes, strict=True))
    if len(table) != count:
        raise ProtocolError("a path occurs twice in the snapshot")
    tree.install(table, map(paths.__getitem__, fields[_OWNER][0]))


def _link(nodes: list[Node], names: list[str], parents: list[int], counts: list[int]) -> list[str]:
    """The paths in node order; sets every parent's children (layout in the docstring)."""
    if len(parents) != len(counts):
        raise ProtocolError("bad children column")
    paths = ["/"]
    end = 1  # nodes [0, end) have their paths
    last = -1
    for k, n in zip(parents, counts, strict=True):
        if not last < k < end or n < 1 or end + n > len(nodes):
            raise ProtocolError(f"bad children record: node {k}, {n} children")
        prefix = paths[k] + "/" if k else "/"
        kids = list(map(prefix.__add__, names[end - 1 : end - 1 + n]))
        paths += kids
        nodes[k].children = set(kids)
        end += n
        last = k
    if end != len(nodes):
        raise ProtocolError(f"{len(nodes) - end} nodes have no parent")
    return paths


def _typed(column: object, kind: type, count: int) -> list[Any]:
    if type(column) is not list or len(column) != count or not set(map(type, column)) <= {kind}:
        raise ProtocolError(f"bad snapshot column: expected {count} of {kind.__name__}")
    return column


def _int64s(blob: object, count: int | None = None) -> list[int]:
    return _int64_array(blob, count).tolist()


def _int64_array(blob: object, count: int | None = None) -> array[int]:
    if type(blob) is not bytes or len(blob) % 8 or (count is not None and len(blob) != 8 * count):
        raise ProtocolError("bad int64 column in snapshot")
    column = array("q")
    column.frombytes(blob)
    if _BIG_ENDIAN:
        column.byteswap()
    return column


def _sparse_in(pair: object, count: int) -> tuple[list[int], list[int]]:
    if type(pair) is not list or len(pair) != 2:
        raise ProtocolError("bad sparse column in snapshot")
    indexes = _int64s(pair[0])
    values = _int64s(pair[1], len(indexes))
    if indexes and (min(indexes) < 0 or max(indexes) >= count):
        raise ProtocolError("sparse column index out of range")
    return indexes, values


def _load_node(tree: DataTree, record: Any, acls: Sequence[tuple[ACL, ...]]) -> None:
    """One node of a format 1 or 2 snapshot."""
    path, data, acl_index, czxid, mzxid, pzxid, ctime, mtime, ver, cver, aver, owner = record
    ints = (acl_index, czxid, mzxid, pzxid, ctime, mtime, ver, cver, aver, owner)
    if not isinstance(path, str) or not isinstance(data, bytes):
        raise ProtocolError("bad node record")
    if not all(type(v) is int for v in ints) or not 0 <= acl_index < len(acls):
        raise ProtocolError(f"bad node record for {path!r}")
    if path != "/" and path[: max(path.rfind("/"), 1)] not in tree.nodes:
        raise ProtocolError(f"node {path!r} precedes its parent")
    # Share int objects the way a freshly created node does (memory, not semantics).
    mzxid = czxid if mzxid == czxid else mzxid
    pzxid = czxid if pzxid == czxid else pzxid
    mtime = ctime if mtime == ctime else mtime
    node = Node(data, acls[acl_index], czxid, ctime, owner)
    node.mzxid, node.pzxid, node.mtime = mzxid, pzxid, mtime
    node.version, node.cversion, node.aversion = ver, cver, aver
    tree.link(path, node)
