"""The hot-path shortcuts of the apply path agree with the reference code they skip.

- `codec._fast_txn` (setData, delete, create with OPEN_ACL_UNSAFE) must accept exactly
  what `codec._slow_txn` accepts, into an equal Txn, and leave everything else to it.
- StateMachine validates a path only when it names no node (state.py, rule 7), and
  recognises OPEN_ACL_UNSAFE by identity: the verdicts must not change.
"""

from __future__ import annotations

from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from machine_helpers import OPEN, Driver

from quorumd import errors
from quorumd.machine import (
    ACL,
    Create,
    CreateMode,
    Delete,
    SetData,
    StateMachine,
    Txn,
    decode_txn,
    encode_txn,
)
from quorumd.machine.codec import _fast_txn, _slow_txn

I64 = 2**63
I32 = 2**31

# Values of every msgpack type, with the boundaries of the int ranges the decoder checks.
scalars = st.one_of(
    st.sampled_from([0, 1, 2, 5, -1, I32 - 1, I32, -I32, -I32 - 1, I64 - 1, I64, -I64, 2**64 - 1]),
    st.integers(-I64, 2**64 - 1),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False),
    st.text(max_size=6),
    st.binary(max_size=6),
)
fields = st.one_of(scalars, st.lists(scalars, max_size=3))
tags = st.sampled_from([1, 2, 5, 7, True, 5.0, "5", -1])
raw_ops = st.builds(lambda tag, rest: [tag, *rest], tags, st.lists(fields, max_size=6))
envelopes = st.lists(st.one_of(scalars, raw_ops), min_size=4, max_size=6)
shaped = st.builds(lambda env, op: [*env, op], st.lists(scalars, min_size=4, max_size=4), raw_ops)


@pytest.fixture
def d() -> Driver:
    driver = Driver()
    driver.session(1)
    return driver


def _slow_or_error(raw: Any) -> Txn | errors.ProtocolError:
    try:
        return _slow_txn(raw)
    except errors.ProtocolError as exc:
        return exc


def _agree(raw: Any) -> None:
    packed = msgpack.packb(raw, use_bin_type=True)
    reference = _slow_or_error(msgpack.unpackb(packed))
    fast = _fast_txn(msgpack.unpackb(packed))
    if fast is not None:
        assert fast == reference
    try:
        assert decode_txn(packed) == reference
    except errors.ProtocolError:
        assert isinstance(reference, errors.ProtocolError)


@settings(max_examples=400)
@given(st.one_of(shaped, envelopes))
def test_fast_decoder_accepts_only_what_the_reference_accepts(raw: Any) -> None:
    _agree(raw)


i32 = st.integers(-I32, I32 - 1)
i64 = st.integers(-I64, I64 - 1)
fast_ops = st.one_of(
    st.builds(SetData, st.text(max_size=12), st.binary(max_size=8), i32),
    st.builds(Delete, st.text(max_size=12), i32),
    st.builds(Create, st.text(max_size=12), st.binary(max_size=8), st.just(OPEN), i32, i64),
)


@settings(max_examples=200)
@given(st.builds(Txn, i64, i64, i64, i64, fast_ops))
def test_fast_decoder_takes_every_common_write(txn: Txn) -> None:
    raw = msgpack.unpackb(encode_txn(txn))
    assert _fast_txn(raw) == txn
    assert decode_txn(encode_txn(txn)) == txn


def _set_data_raw() -> list[Any]:
    return [1, 2, 3, 4, [5, "/a", b"x", -1]]


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ((0,), I64),  # session id beyond int64 (msgpack uint64)
        ((1,), True),  # a bool is not an int
        ((3,), 1.0),
        ((4, 0), True),  # tag True == 1 but is no tag
        ((4, 0), 5.0),
        ((4, 1), b"/a"),  # path as bytes
        ((4, 2), "x"),  # data as str
        ((4, 3), I32),  # version beyond int32
        ((4, 3), -I32 - 1),
        ((4, 3), None),
    ],
)
def test_malformed_set_data_is_a_protocol_error(where: tuple[int, ...], value: object) -> None:
    raw = _set_data_raw()
    target: Any = raw
    for index in where[:-1]:
        target = target[index]
    target[where[-1]] = value
    assert _fast_txn(msgpack.unpackb(msgpack.packb(raw))) is None
    with pytest.raises(errors.ProtocolError):
        decode_txn(msgpack.packb(raw, use_bin_type=True))


@pytest.mark.parametrize(
    "op",
    [
        [5, "/a", b"x"],  # a field short
        [5, "/a", b"x", -1, 0],  # a field too many
        [1, "/a", b"", 0, 0],  # create, a field short
        [1, "/a", b"", False, 0, 0],  # OPEN is the int 0, not False
        [1, "/a", b"", 0, I32, 0],  # mode beyond int32
        [1, "/a", b"", 0, 0, I64],  # ttl beyond int64
        [2, "/a"],  # delete without a version
        [2, "/a", True],
        [],
    ],
)
def test_malformed_fast_ops_are_protocol_errors(op: list[Any]) -> None:
    raw = [1, 2, 3, 4, op]
    assert _fast_txn(msgpack.unpackb(msgpack.packb(raw))) is None
    with pytest.raises(errors.ProtocolError):
        decode_txn(msgpack.packb(raw, use_bin_type=True))


def test_create_with_another_acl_still_decodes() -> None:
    acl = (ACL(1, "digest", "u:x"),)
    txn = Txn(1, 2, 3, 4, Create("/a", b"", acl, int(CreateMode.EPHEMERAL)))
    assert _fast_txn(msgpack.unpackb(encode_txn(txn))) is None  # left to the reference
    assert decode_txn(encode_txn(txn)) == txn


# ----------------------------------------------------------------- rule 7, OPEN by identity


@pytest.mark.parametrize("path", ["", "a", "/a/", "//a", "/a/..", "/.", "/a\x00b"])
def test_reads_of_bad_paths_are_bad_arguments_not_absent(d: Driver, path: str) -> None:
    m = d.machine
    for read in (
        lambda: m.exists(path),
        lambda: m.exists(path, 1),
        lambda: m.get_children(path, 1),
        lambda: m.get_acl(path, 1),
        lambda: m.get_all_children_number(path, 1),
    ):
        with pytest.raises(errors.BadArguments):
            read()


def test_missing_reserved_path_is_no_auth_before_no_node(d: Driver) -> None:
    assert isinstance(d.apply(SetData("/quorumd/x", b"")).result, errors.NoAuth)
    assert isinstance(d.apply(SetData("/nope", b"")).result, errors.NoNode)
    assert isinstance(d.apply(SetData("/nope/", b"")).result, errors.BadArguments)


def test_equal_acls_intern_to_open_acl_unsafe_also_after_restore(d: Driver) -> None:
    copy = (ACL(31, "world", "anyone"),)
    assert copy is not OPEN
    d.create("/a")
    d.ok(Create("/b", b"", copy))
    m = StateMachine.restore(d.machine.snapshot())
    for machine in (d.machine, m):
        for path in ("/", "/a", "/b"):
            assert machine.get_acl(path)[0] is OPEN


def test_read_only_acl_still_denies_writes(d: Driver) -> None:
    d.ok(Create("/r", b"", (ACL(1, "world", "anyone"),)))
    assert isinstance(d.apply(SetData("/r", b"x")).result, errors.NoAuth)
    assert d.machine.get_data("/r", 1)[0] == b""


def test_a_failed_encode_leaves_the_shared_packer_clean() -> None:
    txn = Txn(1, 2, 3, 4, SetData("/a", b"x"))
    with pytest.raises(OverflowError):
        encode_txn(Txn(2**64, 2, 3, 4, SetData("/a", b"x")))
    assert encode_txn(txn) == msgpack.packb([1, 2, 3, 4, [5, "/a", b"x", -1]], use_bin_type=True)
