"""Reader.read_ustring / read_buffer take a one-call path for a non-empty field that fits;
it must give what the checked path (`_length`, then the bytes) gives, and stop at the
frame's end, not the buffer's."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from quorumd.wire.errors import MalformedFrame
from quorumd.wire.jute import Reader


def _checked(r: Reader, text: bool) -> str | bytes:
    n = r._length()
    if n <= 0:
        return "" if text else b""
    pos = r.pos
    r.pos = pos + n
    raw = bytes(r._buf[pos : pos + n])
    if not text:
        return raw
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedFrame("invalid UTF-8") from exc


def _outcome(read: object) -> tuple[object, ...]:
    assert callable(read)
    try:
        return ("ok", read())
    except MalformedFrame:
        return ("malformed",)


@settings(max_examples=400)
@given(
    length=st.one_of(st.integers(-3, 3), st.sampled_from([-(2**31), 2**31 - 1])),
    payload=st.binary(min_size=1, max_size=12) | st.just(b"\xc3\x28abc"),
    start=st.integers(0, 3),
    cut=st.integers(0, 6),
    max_field=st.integers(0, 12),
    text=st.booleans(),
)
def test_fast_read_matches_the_checked_read(
    length: int, payload: bytes, start: int, cut: int, max_field: int, text: bool
) -> None:
    if -3 <= length <= 3:  # mostly near the payload's size: the boundaries that matter
        length = max(-3, len(payload) + length)
    buf = bytes(start) + struct.pack(">i", length) + payload
    end = max(start, len(buf) - cut)  # the frame may end before the buffer does
    fast = Reader(memoryview(buf), start, end, max_field)
    slow = Reader(memoryview(buf), start, end, max_field)
    got = _outcome(fast.read_ustring if text else fast.read_buffer)
    want = _outcome(lambda: _checked(slow, text))
    assert got == want
    if got[0] == "ok":
        assert fast.pos == slow.pos <= end
