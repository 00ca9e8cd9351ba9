"""Reads served from this node's state machine (ZooKeeper semantics: local, no quorum).

Each handler returns `(err, record)`; a `ZKError` raised by the machine becomes its code.
Watches are armed here, at the moment the read is evaluated, so a watch never misses a
change that happened after the data it was armed on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from quorumd import machine as m
from quorumd import wire as w
from quorumd.errors import BadArguments, NoNode, ZKError
from quorumd.server.translate import acl_out, stat_out
from quorumd.wire.constants import OpCode

if TYPE_CHECKING:
    from quorumd.server.connection import ClientConn

Reply = tuple[int, w.Record | None]
ReadHandler = Callable[["ClientConn", object], Reply]


def _get_data(conn: ClientConn, rec: object) -> Reply:
    assert isinstance(rec, w.GetDataRequest)
    data, stat = conn.machine.get_data(rec.path, conn.session_id)
    if rec.watch:
        conn.watches.add(conn, rec.path, m.WatchKind.DATA)
    return 0, w.GetDataResponse(data, stat_out(stat))


def _exists(conn: ClientConn, rec: object) -> Reply:
    assert isinstance(rec, w.ExistsRequest)
    stat = conn.machine.exists(rec.path, conn.session_id)
    if rec.watch:
        kind = m.WatchKind.EXIST if stat is None else m.WatchKind.DATA
        conn.watches.add(conn, rec.path, kind)
    if stat is None:
        return NoNode.code, None
    return 0, w.ExistsResponse(stat_out(stat))


def _children(conn: ClientConn, rec: object, with_stat: bool) -> Reply:
    assert isinstance(rec, w.GetChildrenRequest | w.GetChildren2Request)
    children, stat = conn.machine.get_children(rec.path, conn.session_id)
    if rec.watch:
        conn.watches.add(conn, rec.path, m.WatchKind.CHILD)
    if with_stat:
        return 0, w.GetChildren2Response(tuple(children), stat_out(stat))
    return 0, w.GetChildrenResponse(tuple(children))


def _get_acl(conn: ClientConn, rec: object) -> Reply:
    assert isinstance(rec, w.GetACLRequest)
    acl, stat = conn.machine.get_acl(rec.path, conn.session_id)
    return 0, w.GetACLResponse(acl_out(acl), stat_out(stat))


def _ephemerals(conn: ClientConn, rec: object) -> Reply:
    assert isinstance(rec, w.GetEphemeralsRequest)
    paths = conn.machine.get_ephemerals(conn.session_id, rec.prefix_path or "/")
    return 0, w.GetEphemeralsResponse(tuple(paths))


def _all_children(conn: ClientConn, rec: object) -> Reply:
    assert isinstance(rec, w.GetAllChildrenNumberRequest)
    return 0, w.GetAllChildrenNumberResponse(
        conn.machine.get_all_children_number(rec.path, conn.session_id)
    )


def _who_am_i(conn: ClientConn, rec: object) -> Reply:
    info = conn.machine.session(conn.session_id)
    ids = info.auth if info is not None else ()
    clients = [w.ClientInfo("ip", conn.peer_ip)] + [w.ClientInfo(s, i) for s, i in ids]
    return 0, w.WhoAmIResponse(tuple(clients))


def _multi_read(conn: ClientConn, rec: object) -> Reply:
    assert isinstance(rec, w.MultiRequest)
    results: list[w.MultiResult] = []
    for op in rec.ops:
        r = op.request
        try:
            if isinstance(r, w.GetDataRequest):
                data, stat = conn.machine.get_data(r.path, conn.session_id)
                results.append(w.GetDataResponse(data, stat_out(stat)))
            elif isinstance(r, w.GetChildrenRequest):
                children, _ = conn.machine.get_children(r.path, conn.session_id)
                results.append(w.GetChildrenResponse(tuple(children)))
            else:
                raise BadArguments("only getData and getChildren are allowed in multiRead")
        except ZKError as exc:
            results.append(w.ErrorResult(exc.code))
    return 0, w.MultiResponse(tuple(results))


def _add_watch(conn: ClientConn, rec: object) -> Reply:
    assert isinstance(rec, w.AddWatchRequest)
    if rec.mode == w.AddWatchMode.PERSISTENT:
        conn.watches.add(conn, rec.path, m.WatchKind.PERSISTENT)
    elif rec.mode == w.AddWatchMode.PERSISTENT_RECURSIVE:
        conn.watches.add(conn, rec.path, m.WatchKind.PERSISTENT_RECURSIVE)
    else:
        return BadArguments.code, None
    return 0, None


def _remove_watches(conn: ClientConn, rec: object) -> Reply:
    assert isinstance(rec, w.RemoveWatchesRequest)
    conn.watches.remove(conn, rec.path, m.WatcherType(rec.type))
    return 0, None


def _check_watches(conn: ClientConn, rec: object) -> Reply:
    assert isinstance(rec, w.CheckWatchesRequest)
    conn.watches.check(conn, rec.path, m.WatcherType(rec.type))
    return 0, None


def _set_watches(conn: ClientConn, rec: object) -> Reply:
    assert isinstance(rec, w.SetWatches | w.SetWatches2)
    persistent: tuple[str, ...] = ()
    recursive: tuple[str, ...] = ()
    if isinstance(rec, w.SetWatches2):
        persistent, recursive = rec.persistent_watches, rec.persistent_recursive_watches
    fired = conn.watches.set_watches(
        conn,
        rec.relative_zxid,
        conn.machine.exists,
        data=rec.data_watches,
        exist=rec.exist_watches,
        child=rec.child_watches,
        persistent=persistent,
        persistent_recursive=recursive,
    )
    for _, event_type, path in fired:
        conn.notify(int(event_type), path)
    return 0, None


READS: dict[int, ReadHandler] = {
    OpCode.GET_DATA: _get_data,
    OpCode.EXISTS: _exists,
    OpCode.GET_CHILDREN: lambda c, r: _children(c, r, False),
    OpCode.GET_CHILDREN2: lambda c, r: _children(c, r, True),
    OpCode.GET_ACL: _get_acl,
    OpCode.GET_EPHEMERALS: _ephemerals,
    OpCode.GET_ALL_CHILDREN_NUMBER: _all_children,
    OpCode.WHO_AM_I: _who_am_i,
    OpCode.MULTI_READ: _multi_read,
    OpCode.ADD_WATCH: _add_watch,
    OpCode.REMOVE_WATCHES: _remove_watches,
    OpCode.CHECK_WATCHES: _check_watches,
    OpCode.SET_WATCHES: _set_watches,
    OpCode.SET_WATCHES2: _set_watches,
}


def run_read(conn: ClientConn, opcode: int, rec: object) -> Reply:
    try:
        return READS[opcode](conn, rec)
    except ZKError as exc:
        return exc.code, None
