"""Snapshot format: msgpack, streamed, byte-identical for the same state.

Layout (one msgpack object after another)::

    header  [FORMAT, last_zxid, node_count, acls, sessions, locks]
            acls     = [[[perms, scheme, id], ...], ...]   distinct ACLs, by first use
            sessions = [[id, passwd, timeout_ms, [[scheme, id], ...]], ...]  sorted by id
            locks    = LockTable.to_records(): sorted by path (format 2; format 1,
                       written before locks existed, has no such field and loads as none)
    node    [path, data, acl_index, czxid, mzxid, pzxid, ctime, mtime,
             version, cversion, aversion, ephemeral_owner]      x node_count,
            in sorted path order (so a parent always precedes its children)

Determinism: nodes sorted by path, sessions by id, ACLs numbered by first use in that
order; nothing depends on dict or set iteration order. Indexes (ephemerals by session,
containers, TTL nodes, children) are rebuilt on load, not stored.
"""

from __future__ import annotations

import io
from typing import Any

import msgpack

from quorumd.errors import ProtocolError
from quorumd.machine.node import Node
from quorumd.machine.ops import ACL
from quorumd.machine.sessions import Session
from quorumd.machine.tree import DataTree

__all__ = ["FORMAT", "decode", "encode"]

FORMAT = 2


def encode(
    tree: DataTree,
    sessions: dict[int, Session],
    last_zxid: int,
    locks: list[list[Any]] | None = None,
) -> bytes:
    nodes = tree.nodes
    paths = sorted(nodes)
    by_id: dict[int, int] = {}
    by_value: dict[tuple[ACL, ...], int] = {}
    acl_indexes = []
    for path in paths:
        acl = nodes[path].acl
        index = by_id.get(id(acl))
        if index is None:
            index = by_value.setdefault(acl, len(by_value))
            by_id[id(acl)] = index
        acl_indexes.append(index)
    header = [
        FORMAT,
        last_zxid,
        len(paths),
        [[[a.perms, a.scheme, a.id] for a in acl] for acl in by_value],
        [
            [s.session_id, s.passwd, s.timeout_ms, [list(ident) for ident in s.auth]]
            for s in (sessions[sid] for sid in sorted(sessions))
        ],
        locks or [],
    ]
    packer = msgpack.Packer(use_bin_type=True, autoreset=False)
    packer.pack(header)
    pack = packer.pack
    for path, acl_index in zip(paths, acl_indexes, strict=True):
        node = nodes[path]
        pack(
            [
                path,
                node.data,
                acl_index,
                node.czxid,
                node.mzxid,
                node.pzxid,
                node.ctime,
                node.mtime,
                node.version,
                node.cversion,
                node.aversion,
                node.ephemeral_owner,
            ]
        )
    return bytes(packer.getbuffer())


def decode(data: bytes) -> tuple[DataTree, dict[int, Session], int, list[Any]]:
    """(tree, sessions, last_zxid, lock records for `LockTable.from_records`)."""
    try:
        return _decode(data)
    except ProtocolError:
        raise
    except Exception as exc:  # msgpack raises a zoo of types on garbage
        raise ProtocolError(f"bad snapshot: {exc!r}") from exc


def _decode(data: bytes) -> tuple[DataTree, dict[int, Session], int, list[Any]]:
    unpacker = msgpack.Unpacker(
        io.BytesIO(data), raw=False, use_list=True, max_buffer_size=max(len(data), 1 << 20)
    )
    header: Any = unpacker.unpack()
    if not isinstance(header, list) or (header[:1], len(header)) not in (([1], 5), ([2], 6)):
        raise ProtocolError("not a quorumd machine snapshot")
    _, last_zxid, count, raw_acls, raw_sessions, *rest = header
    locks: list[Any] = rest[0] if rest else []
    acls = [tuple(ACL(int(p), str(s), str(i)) for p, s, i in acl) for acl in raw_acls]
    tree = DataTree()
    acls = [tree.intern_acl(acl) for acl in acls]
    sessions: dict[int, Session] = {}
    for sid, passwd, timeout_ms, auth in raw_sessions:
        session = Session(int(sid), bytes(passwd), int(timeout_ms))
        session.auth = [(str(scheme), str(ident)) for scheme, ident in auth]
        sessions[session.session_id] = session
    for _ in range(int(count)):
        _load_node(tree, unpacker.unpack(), acls)
    if "/" not in tree.nodes:
        raise ProtocolError("snapshot without a root node")
    try:
        unpacker.unpack()
    except msgpack.OutOfData:
        return tree, sessions, int(last_zxid), locks
    raise ProtocolError("trailing data after snapshot")


def _load_node(tree: DataTree, record: Any, acls: list[tuple[ACL, ...]]) -> None:
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
