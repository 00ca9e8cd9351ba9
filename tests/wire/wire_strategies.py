"""Hypothesis strategies for every wire record, derived from the dataclass fields.

Field widths follow zookeeper.jute: a field named in `LONG_FIELDS` is a jute long
(64-bit), every other int a jute int (32-bit). A wrong width here shows up as a
struct.error in the round-trip tests, so the table is itself checked.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import pathlib
import sys
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
        return record_strategy(_actual(tp))
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
    hints = typing.get_type_hints(_declared(cls), vars(records) | vars(control) | vars(multi))
    fields = {f.name: _for_type(f.name, hints[f.name]) for f in dataclasses.fields(cls)}
    return st.builds(cls, **fields)


_PURE = "_pure_"  # prefix of a module loaded again as plain Python


def _declared(cls: type) -> type:
    """The class whose annotations are the declared field types. A mypyc-compiled
    class (`make test-compiled`) reports some as bare `type` or `tuple`; its module's
    `.py`, still beside the extension, is loaded once more as plain Python for them."""
    module = sys.modules[cls.__module__]
    if (module.__file__ or "").endswith(".py"):
        return cls
    name = _PURE + module.__name__
    if name not in sys.modules:
        stem = module.__name__.rpartition(".")[2]
        path = pathlib.Path(module.__file__ or "").with_name(stem + ".py")
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None, path
        pure = importlib.util.module_from_spec(spec)
        sys.modules[name] = pure
        spec.loader.exec_module(pure)
    declared: type = getattr(sys.modules[name], cls.__name__)
    return declared


def _actual(cls: type) -> type:
    """The class the codec uses, for a field type `_declared` found."""
    if not cls.__module__.startswith(_PURE):
        return cls
    actual: type = getattr(sys.modules[cls.__module__.removeprefix(_PURE)], cls.__name__)
    return actual


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
