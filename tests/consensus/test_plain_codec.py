"""The shared entry codec: its fast path decides exactly as the checking path does."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quorumd.consensus.engine import Entry, EntryKind
from quorumd.consensus.plain import MAX_INT, _decode_entry_checked, decode_entry, encode_entry
from quorumd.errors import ProtocolError

field = st.one_of(
    st.integers(min_value=-2, max_value=MAX_INT + 2),
    st.sampled_from([0, 1, 2, 3, MAX_INT]),
    st.booleans(),
    st.binary(max_size=8),
    st.text(max_size=3),
    st.none(),
)
raw_entries = st.one_of(
    st.lists(field, min_size=3, max_size=5),
    st.tuples(field, field, field, field),
    field,
)


def _outcome(fn: object, obj: object) -> object:
    try:
        return fn(obj)  # type: ignore[operator]
    except ProtocolError:
        return ProtocolError


@given(raw_entries)
def test_fast_path_agrees_with_the_checked_path(obj: object) -> None:
    assert _outcome(decode_entry, obj) == _outcome(_decode_entry_checked, obj)


@given(
    st.integers(0, MAX_INT), st.integers(0, MAX_INT), st.sampled_from(EntryKind), st.binary()
)
def test_round_trip(term: int, index: int, kind: EntryKind, data: bytes) -> None:
    e = Entry(term, index, kind, data)  # type: ignore[arg-type]
    back = decode_entry(encode_entry(e))
    assert back == e and type(back.kind) is EntryKind


@pytest.mark.parametrize("bad", [[1, 2, 9, b""], [1, -1, 0, b""], [True, 1, 0, b""], [1, 2, 0]])
def test_malformed_entries_are_protocol_errors(bad: object) -> None:
    with pytest.raises(ProtocolError):
        decode_entry(bad)
