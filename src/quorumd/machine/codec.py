"""Log-entry encoding of a `Txn`: msgpack arrays, no field names, ZooKeeper opcodes.

    txn = [session_id, time_ms, origin, request_id, op]
    op  = [tag, field, ...]   in the dataclass's field order; ACL = [perms, scheme, id]

Tags are ZooKeeper's opcodes where one exists (create 1, delete 2, setData 5,
setACL 7, check 13, multi 14, createSession -10, closeSession -11, auth 100) and
quorumd's own otherwise (noop 0, expireSessions -12, deleteTTLExpired 20, and for
locks acquireLock 200, releaseLock 201 as on the wire, grantDueLocks 210). Decoding
checks every type and range: bytes from a log or a peer that are not a txn raise
ProtocolError, never a TypeError deep inside apply. Every replica decodes every entry,
so the common writes take a fast path (`_fast_txn`) that makes the same checks inline.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgpack

from quorumd.errors import ProtocolError
from quorumd.machine.ops import (
    ACL,
    OPEN_ACL_UNSAFE,
    AcquireLock,
    AddAuth,
    Check,
    CloseSession,
    Create,
    CreateSession,
    Delete,
    DeleteTTLExpired,
    ExpireSessions,
    GrantDueLocks,
    Multi,
    MultiOp,
    Noop,
    Op,
    ReleaseLock,
    SetACL,
    SetData,
    Txn,
)

__all__ = ["decode_txn", "encode_txn"]

_I64 = 1 << 63
_I32 = 1 << 31

_unpackb = msgpack.unpackb
# One Packer for every txn: `packb` builds a Packer per call, more than half its cost.
# Sharing it is safe: for the types of a txn `pack` runs wholly in C (no Python code, so
# no thread switch midway) and empties its buffer when it returns or raises.
_pack = msgpack.Packer(use_bin_type=True).pack


_OPEN = 0  # the encoding of OPEN_ACL_UNSAFE, which nearly every create carries


def _acl_out(acl: tuple[ACL, ...]) -> list[list[object]] | int:
    if acl == OPEN_ACL_UNSAFE:
        return _OPEN
    return [[a.perms, a.scheme, a.id] for a in acl]


def _op_out(op: Op) -> list[Any]:
    match op:  # the common writes first: each case is an isinstance check
        case SetData():
            return [5, op.path, op.data, op.version]
        case Create():
            return [1, op.path, op.data, _acl_out(op.acl), op.mode, op.ttl_ms]
        case Delete():
            return [2, op.path, op.version]
        case SetACL():
            return [7, op.path, _acl_out(op.acl), op.version]
        case Check():
            return [13, op.path, op.version]
        case Multi():
            return [14, [_op_out(sub) for sub in op.ops]]
        case CreateSession():
            return [-10, op.session_id, op.passwd, op.timeout_ms]
        case CloseSession():
            return [-11, op.session_id]
        case ExpireSessions():
            return [-12, list(op.session_ids)]
        case AddAuth():
            return [100, op.session_id, op.scheme, op.id]
        case DeleteTTLExpired():
            return [20, list(op.paths)]
        case AcquireLock():
            return [200, op.path, op.mode, op.wait, op.lock_delay_ms]
        case ReleaseLock():
            return [201, op.path]
        case GrantDueLocks():
            return [210]
        case Noop():
            return [0]
    raise TypeError(f"not an op: {op!r}")


def encode_txn(txn: Txn) -> bytes:
    record = [txn.session_id, txn.time_ms, txn.origin, txn.request_id, _op_out(txn.op)]
    return _pack(record)  # type: ignore[no-any-return]


def _int(value: object, bound: int = _I64) -> int:
    if type(value) is not int or not -bound <= value < bound:
        raise ProtocolError(f"expected an integer, got {value!r:.40}")
    return value


def _str(value: object) -> str:
    if type(value) is not str:
        raise ProtocolError(f"expected a string, got {value!r:.40}")
    return value


def _bool(value: object) -> bool:
    if type(value) is not bool:
        raise ProtocolError(f"expected a boolean, got {value!r:.40}")
    return value


def _bytes(value: object) -> bytes:
    if type(value) is not bytes:
        raise ProtocolError(f"expected bytes, got {value!r:.40}")
    return value


def _list(value: object, length: int | None = None) -> list[Any]:
    if type(value) is not list or (length is not None and len(value) != length):
        raise ProtocolError(f"expected a list of {length}, got {value!r:.40}")
    return value


def _acl_in(value: object) -> tuple[ACL, ...]:
    if type(value) is int and value == _OPEN:  # not False, which == 0 too
        return OPEN_ACL_UNSAFE
    out = []
    for item in _list(value):
        perms, scheme, ident = _list(item, 3)
        out.append(ACL(_int(perms, _I32), _str(scheme), _str(ident)))
    return tuple(out)


def _multi_in(f: list[Any]) -> Multi:
    subs: list[MultiOp] = []
    for raw in _list(f[0]):
        sub = _op_in(raw)
        if not isinstance(sub, Create | Delete | SetData | Check):
            raise ProtocolError(f"{type(sub).__name__} inside a multi")
        subs.append(sub)
    return Multi(tuple(subs))


_DECODERS: dict[int, tuple[int, Callable[[list[Any]], Op]]] = {
    1: (5, lambda f: Create(_str(f[0]), _bytes(f[1]), _acl_in(f[2]), _int(f[3], _I32), _int(f[4]))),
    2: (2, lambda f: Delete(_str(f[0]), _int(f[1], _I32))),
    5: (3, lambda f: SetData(_str(f[0]), _bytes(f[1]), _int(f[2], _I32))),
    7: (3, lambda f: SetACL(_str(f[0]), _acl_in(f[1]), _int(f[2], _I32))),
    13: (2, lambda f: Check(_str(f[0]), _int(f[1], _I32))),
    14: (1, _multi_in),
    -10: (3, lambda f: CreateSession(_int(f[0]), _bytes(f[1]), _int(f[2], _I32))),
    -11: (1, lambda f: CloseSession(_int(f[0]))),
    -12: (1, lambda f: ExpireSessions(tuple(_int(v) for v in _list(f[0])))),
    100: (3, lambda f: AddAuth(_int(f[0]), _str(f[1]), _str(f[2]))),
    20: (1, lambda f: DeleteTTLExpired(tuple(_str(v) for v in _list(f[0])))),
    200: (4, lambda f: AcquireLock(_str(f[0]), _int(f[1], _I32), _bool(f[2]), _int(f[3], _I32))),
    201: (1, lambda f: ReleaseLock(_str(f[0]))),
    210: (0, lambda f: GrantDueLocks()),
    0: (0, lambda f: Noop()),
}


def _op_in(raw: object) -> Op:
    fields = _list(raw)
    if not fields:
        raise ProtocolError("empty op")
    tag = _int(fields[0])
    decoder = _DECODERS.get(tag)
    if decoder is None:
        raise ProtocolError(f"unknown op tag {tag}")
    arity, build = decoder
    if len(fields) != arity + 1:
        raise ProtocolError(f"op {tag} has {len(fields) - 1} fields, expected {arity}")
    return build(fields[1:])


def decode_txn(data: bytes) -> Txn:
    try:
        # msgpack >= 1.0 defaults to raw=False, use_list=True, strict_map_key=True, which
        # is what this decoder needs; spelling them out costs a third of the call. Were
        # a later msgpack to change them, the type checks would reject every txn (the
        # round-trip tests fail), never misread one.
        raw = _unpackb(data)
    except Exception as exc:  # ExtraData, FormatError, StackError, UnicodeDecodeError...
        raise ProtocolError(f"undecodable txn: {exc!r:.80}") from exc
    return _fast_txn(raw) or _slow_txn(raw)


def _slow_txn(raw: object) -> Txn:
    """Every op, every check one helper call: the reference decoder, and the one that
    names what is wrong."""
    session_id, time_ms, origin, request_id, op = _list(raw, 5)
    return Txn(_int(session_id), _int(time_ms), _int(origin), _int(request_id), _op_in(op))


def _fast_txn(raw: Any) -> Txn | None:
    """setData, delete and create with OPEN_ACL_UNSAFE (nearly every write) in one pass
    of inline checks; None for anything else or anything wrong, which `_slow_txn` then
    decodes or rejects. It accepts nothing that `_slow_txn` rejects and builds the same
    Txn (tests/machine/test_machine_codec_fast.py checks both on the same inputs).
    msgpack ints are int64 or uint64, so an int64 field needs only its upper bound
    checked."""
    if type(raw) is not list or len(raw) != 5:
        return None
    session_id, time_ms, origin, request_id, f = raw
    if not (
        type(session_id) is int
        and type(time_ms) is int
        and type(origin) is int
        and type(request_id) is int
        and session_id < _I64
        and time_ms < _I64
        and origin < _I64
        and request_id < _I64
        and type(f) is list
        and f
    ):
        return None
    tag = f[0]
    n = len(f)
    op: Op
    if tag == 5 and n == 4 and type(tag) is int:  # [5, path, data, version]
        path, data, version = f[1], f[2], f[3]
        if not (
            type(path) is str
            and type(data) is bytes
            and type(version) is int
            and -_I32 <= version < _I32
        ):
            return None
        op = SetData(path, data, version)
    elif tag == 1 and n == 6 and type(tag) is int:  # [1, path, data, acl, mode, ttl]
        path, data, acl, mode, ttl_ms = f[1], f[2], f[3], f[4], f[5]
        if not (
            type(path) is str
            and type(data) is bytes
            and acl == _OPEN
            and type(acl) is int
            and type(mode) is int
            and -_I32 <= mode < _I32
            and type(ttl_ms) is int
            and ttl_ms < _I64
        ):
            return None
        op = Create(path, data, OPEN_ACL_UNSAFE, mode, ttl_ms)
    elif tag == 2 and n == 3 and type(tag) is int:  # [2, path, version]
        path, version = f[1], f[2]
        if not (type(path) is str and type(version) is int and -_I32 <= version < _I32):
            return None
        op = Delete(path, version)
    else:
        return None
    return Txn(session_id, time_ms, origin, request_id, op)
