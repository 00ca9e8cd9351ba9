"""Hypothesis strategies for every wire record, derived from the dataclass fields.

Field widths follow zookeeper.jute: a field named in `LONG_FIELDS` is a jute long
(64-bit), every other int a jute int (32-bit). A wrong width here shows up as a
struct.error in the round-trip tests, so the table is itself checked.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

from hypothesis import strategies as st

from quorumd.wire import codec, control, multi, records
from quorumd.wire.constants import OpCode

INT32 = st.integers(-(2**31), 2**31 - 1)
INT64 = st.integers(-(2**63), 2**63 - 1)
LONG_FIELDS = frozenset(
    {
        "czxid",
        "mzxid",
        "ctime",
        "mtime",
        "ephemeral_owner",
        "pzxid",
        "zxid",
        "session_id",
        "last_zxid_seen",
        "relative_zxid",
        "ttl",
        "cur_config_id",
    }
)
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
BYTES = st.binary(max_size=24)
MAX_TUPLE = 4

# Records whose strategy is not derived from the field types.
_MULTI_OPS = {
    OpCode.CREATE: records.CreateRequest,
    OpCode.CREATE2: records.CreateRequest,
    OpCode.CREATE_CONTAINER: records.CreateRequest,
    OpCode.CREATE_TTL: records.CreateTTLRequest,
    OpCode.DELETE: records.DeleteRequest,
    OpCode.SET_DATA: records.SetDataRequest,
    OpCode.CHECK: records.CheckVersionRequest,
    OpCode.GET_CHILDREN: records.GetChildrenRequest,
    OpCode.GET_DATA: records.GetDataRequest,
}
_MULTI_RESULTS = (
    records.CreateResponse,
    records.Create2Response,
    multi.DeleteResult,
    records.SetDataResponse,
    multi.CheckResult,
    records.GetChildrenResponse,
    records.GetDataResponse,
    multi.ErrorResult,
)


def _for_type(name: str, tp: Any) -> st.SearchStrategy[Any]:
    origin = typing.get_origin(tp)
    if origin is typing.Final:  # the per-request records mark their fields Final
        return _for_type(name, typing.get_args(tp)[0])
    if tp is str:
        return TEXT
    if tp is bytes:
        return BYTES
    if tp is bool:
        return st.booleans()
    if tp is int:
        return INT64 if name in LONG_FIELDS else INT32
    if origin is tuple:
        (element, _ellipsis) = typing.get_args(tp)
        return st.lists(_for_type(name, element), max_size=MAX_TUPLE).map(tuple)
    if origin in (typing.Union, __import__("types").UnionType):
        return st.one_of([_for_type(name, arg) for arg in typing.get_args(tp)])
    if tp is type(None):
        return st.none()
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return record_strategy(tp)
    raise TypeError(f"no strategy for field {name}: {tp!r}")


def _multi_op() -> st.SearchStrategy[multi.MultiOp]:
    return st.sampled_from(sorted(_MULTI_OPS)).flatmap(
        lambda op: record_strategy(_MULTI_OPS[op]).map(lambda r: multi.MultiOp(op, r))
    )


def record_strategy(cls: type) -> st.SearchStrategy[Any]:
    if cls is multi.MultiRequest:
        return st.lists(_multi_op(), max_size=4).map(lambda ops: multi.MultiRequest(tuple(ops)))
    if cls is multi.MultiResponse:
        result = st.one_of([record_strategy(c) for c in _MULTI_RESULTS])
        return st.lists(result, max_size=4).map(lambda rs: multi.MultiResponse(tuple(rs)))
    hints = typing.get_type_hints(cls, vars(records) | vars(control) | vars(multi))
    fields = {f.name: _for_type(f.name, hints[f.name]) for f in dataclasses.fields(cls)}
    return st.builds(cls, **fields)


def all_record_classes() -> list[type]:
    """Every record the codec can put on the wire, headers and handshake included."""
    found: set[type] = {
        records.ConnectRequest,
        records.ConnectResponse,
        records.RequestHeader,
        records.ReplyHeader,
        records.WatcherEvent,
        records.Stat,
        records.ACL,
        records.Id,
        records.ClientInfo,
        records.ErrorResponse,
        multi.MultiHeader,
    }
    for table in (codec.REQUEST_RECORDS, codec.RESPONSE_RECORDS):
        found.update(t for t in table.values() if isinstance(t, type))  # type: ignore[misc]
    return sorted(found, key=lambda c: c.__name__)
