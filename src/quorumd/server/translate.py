"""The edge between the wire records and the state machine's ops and results.

`wire/` and `machine/` never import each other (DESIGN.md); this module is the one place
that knows both vocabularies. Errors cross as typed exceptions on the machine side and
as codes on the wire side (`ZKError.code`), translated here and nowhere else.
"""

from __future__ import annotations

from quorumd import machine as m
from quorumd import wire as w
from quorumd.errors import BadArguments, ZKError
from quorumd.wire.constants import OpCode
from quorumd.wire.records import OPEN_ACL

WRITE_OPCODES = frozenset(
    {
        OpCode.CREATE,
        OpCode.CREATE2,
        OpCode.CREATE_CONTAINER,
        OpCode.CREATE_TTL,
        OpCode.DELETE,
        OpCode.SET_DATA,
        OpCode.SET_ACL,
        OpCode.MULTI,
        OpCode.CHECK,
    }
)


def acl_in(acl: tuple[w.ACL, ...]) -> tuple[m.ACL, ...]:
    if acl is OPEN_ACL:  # the decoder's shared tuple for the common case
        return m.OPEN_ACL_UNSAFE
    return tuple(m.ACL(a.perms, a.id.scheme, a.id.id) for a in acl)


def acl_out(acl: tuple[m.ACL, ...]) -> tuple[w.ACL, ...]:
    return tuple(w.ACL(a.perms, w.Id(a.scheme, a.id)) for a in acl)


def stat_out(s: m.Stat) -> w.Stat:
    return w.Stat(
        s.czxid, s.mzxid, s.ctime, s.mtime, s.version, s.cversion, s.aversion,
        s.ephemeral_owner, s.data_length, s.num_children, s.pzxid,
    )


def _create_op(opcode: int, rec: object) -> m.Create:
    if isinstance(rec, w.CreateTTLRequest):
        return m.Create(rec.path, rec.data, acl_in(rec.acl), rec.flags, rec.ttl)
    assert isinstance(rec, w.CreateRequest)
    mode = rec.flags
    if opcode == OpCode.CREATE_CONTAINER:
        mode = int(m.CreateMode.CONTAINER)
    return m.Create(rec.path, rec.data, acl_in(rec.acl), mode)


def write_op(opcode: int, rec: object) -> m.Op:
    """The replicated op for a write request (raises BadArguments for a bad multi)."""
    if opcode in (OpCode.CREATE, OpCode.CREATE2, OpCode.CREATE_CONTAINER, OpCode.CREATE_TTL):
        return _create_op(opcode, rec)
    if isinstance(rec, w.DeleteRequest):
        return m.Delete(rec.path, rec.version)
    if isinstance(rec, w.SetDataRequest):
        return m.SetData(rec.path, rec.data, rec.version)
    if isinstance(rec, w.SetACLRequest):
        return m.SetACL(rec.path, acl_in(rec.acl), rec.version)
    if isinstance(rec, w.CheckVersionRequest):
        return m.Check(rec.path, rec.version)
    if isinstance(rec, w.MultiRequest):
        return m.Multi(tuple(_multi_op(op) for op in rec.ops))
    raise BadArguments(f"opcode {opcode} is not a write")


def _multi_op(op: w.MultiOp) -> m.MultiOp:
    rec = op.request
    if isinstance(rec, w.GetDataRequest | w.GetChildrenRequest):
        raise BadArguments("read operations are not allowed in a multi (use multiRead)")
    result = write_op(op.opcode, rec)
    assert isinstance(result, m.Create | m.Delete | m.SetData | m.Check)
    return result


def write_response(opcode: int, rec: object, result: object) -> tuple[int, w.Record | None]:
    """(err, response record) for an applied write request `rec`."""
    if isinstance(result, ZKError):
        return result.code, None
    if opcode == OpCode.MULTI:
        assert isinstance(result, tuple) and isinstance(rec, w.MultiRequest)
        # a failed multi is still err 0 in the header: each op carries its own result
        return 0, multi_response(result, tuple(op.opcode for op in rec.ops))
    if isinstance(result, m.Created):
        if opcode == OpCode.CREATE:
            return 0, w.CreateResponse(result.path)
        return 0, w.Create2Response(result.path, stat_out(result.stat))
    if isinstance(result, m.Stat):
        if opcode == OpCode.SET_ACL:
            return 0, w.SetACLResponse(stat_out(result))
        return 0, w.SetDataResponse(stat_out(result))
    return 0, None


def multi_response(results: tuple[object, ...], opcodes: tuple[int, ...]) -> w.MultiResponse:
    """Per-op results of a multi (`opcodes` tells create from create2, delete from check)."""
    out: list[w.MultiResult] = []
    for opcode, r in zip(opcodes, results, strict=True):
        if isinstance(r, ZKError):
            out.append(w.ErrorResult(r.code))
        elif isinstance(r, m.Created):
            if opcode == OpCode.CREATE:
                out.append(w.CreateResponse(r.path))
            else:
                out.append(w.Create2Response(r.path, stat_out(r.stat)))
        elif isinstance(r, m.Stat):
            out.append(w.SetDataResponse(stat_out(r)))
        elif opcode == OpCode.CHECK:
            out.append(w.CheckResult())
        else:
            out.append(w.DeleteResult())
    return w.MultiResponse(tuple(out))
