"""Jute binary archive: the primitive encoding of every ZooKeeper record.

Rules (ZooKeeper's BinaryInputArchive / BinaryOutputArchive):

1. Integers are big-endian: `int` 4 bytes, `long` 8 bytes, `boolean` 1 byte (any
   non-zero byte reads as true, as Java's `readBoolean`).
2. `buffer` and `ustring` are a 4-byte length then the bytes (UTF-8 for strings); length
   -1 is null. quorumd reads a null string as "" and a null buffer as b"" (kazoo itself
   writes "" as null), except where `_opt` readers keep the distinction.
3. `vector<T>` is a 4-byte count (-1 = null, read as empty) then the elements.

The reader is the hot path of every request, so it works on a memoryview (or bytes)
with `struct.unpack_from` at an offset: no slicing per field, no intermediate copies.
Every bound is checked before anything is allocated, so a hostile length prefix costs
nothing; every failure is a `MalformedFrame`.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from quorumd.errors import UsageError
from quorumd.wire.constants import JUTE_MAX_BUFFER, jute_extra_allowance
from quorumd.wire.errors import MalformedFrame

__all__ = ["DEFAULT_MAX_FIELD", "Reader", "Writer"]

T = TypeVar("T")

#: Largest single buffer/string the reader accepts: maxbuffer + the "extra" allowance.
DEFAULT_MAX_FIELD = JUTE_MAX_BUFFER + jute_extra_allowance(JUTE_MAX_BUFFER)

_INT = struct.Struct(">i")
_LONG = struct.Struct(">q")
_unpack_int = _INT.unpack_from
_unpack_long = _LONG.unpack_from
_pack_int = _INT.pack
_pack_long = _LONG.pack
_NULL = _INT.pack(-1)


class Reader:
    """Reads jute primitives from `buf[pos:end]`; `pos` advances as fields are read."""

    __slots__ = ("_buf", "end", "max_field", "pos")

    def __init__(
        self,
        buf: memoryview | bytes | bytearray,
        pos: int = 0,
        end: int | None = None,
        max_field: int = DEFAULT_MAX_FIELD,
    ) -> None:
        self._buf = buf
        self.pos = pos
        self.end = len(buf) if end is None else end
        self.max_field = max_field

    @property
    def remaining(self) -> int:
        return self.end - self.pos

    def startswith(self, prefix: bytes) -> bool:
        """Whether the unread bytes begin with `prefix` (nothing is consumed)."""
        end = self.pos + len(prefix)
        return end <= self.end and self._buf[self.pos : end] == prefix

    def _truncated(self, n: int) -> MalformedFrame:
        return MalformedFrame(
            f"truncated: need {n} bytes at offset {self.pos}, frame ends at {self.end}"
        )

    def read_int(self) -> int:
        pos = self.pos
        if pos + 4 > self.end:
            raise self._truncated(4)
        self.pos = pos + 4
        value: int = _unpack_int(self._buf, pos)[0]
        return value

    def read_long(self) -> int:
        pos = self.pos
        if pos + 8 > self.end:
            raise self._truncated(8)
        self.pos = pos + 8
        value: int = _unpack_long(self._buf, pos)[0]
        return value

    def read_bool(self) -> bool:
        pos = self.pos
        if pos >= self.end:
            raise self._truncated(1)
        self.pos = pos + 1
        return self._buf[pos] != 0

    def read_struct(self, fmt: struct.Struct) -> tuple[Any, ...]:
        """Several fixed-size fields at once (headers, Stat): one bounds check, one call."""
        pos = self.pos
        if pos + fmt.size > self.end:
            raise self._truncated(fmt.size)
        self.pos = pos + fmt.size
        return fmt.unpack_from(self._buf, pos)

    def _length(self) -> int:
        """A buffer/string length: -1 is null; anything else must fit the field limit and
        the bytes actually left in the frame."""
        n = self.read_int()
        if n < 0:
            if n == -1:
                return -1
            raise MalformedFrame(f"negative length {n} at offset {self.pos - 4}")
        if n > self.max_field:
            raise MalformedFrame(f"length {n} exceeds the field limit {self.max_field}")
        if self.pos + n > self.end:
            raise MalformedFrame(f"length {n} at offset {self.pos - 4} runs past the frame end")
        return n

    def read_buffer_opt(self) -> bytes | None:
        n = self._length()
        if n < 0:
            return None
        pos = self.pos
        self.pos = pos + n
        return bytes(self._buf[pos : pos + n])

    def read_buffer(self) -> bytes:
        # A non-empty buffer that fits, the common case, in one method call; anything
        # else (null, empty, too long, truncated) takes the checked path from the start.
        pos = self.pos + 4
        if pos <= self.end:
            n: int = _unpack_int(self._buf, pos - 4)[0]
            if 0 < n <= self.max_field and pos + n <= self.end:
                self.pos = pos + n
                return bytes(self._buf[pos : pos + n])
        n = self._length()
        if n <= 0:
            return b""
        pos = self.pos
        self.pos = pos + n
        return bytes(self._buf[pos : pos + n])

    def read_ustring_opt(self) -> str | None:
        n = self._length()
        if n < 0:
            return None
        return self._decode_utf8(n)

    def read_ustring(self) -> str:
        pos = self.pos + 4  # the fast path of read_buffer, for strings
        if pos <= self.end:
            n: int = _unpack_int(self._buf, pos - 4)[0]
            if 0 < n <= self.max_field and pos + n <= self.end:
                self.pos = pos
                return self._decode_utf8(n)
        n = self._length()
        if n <= 0:
            return ""
        return self._decode_utf8(n)

    def _decode_utf8(self, n: int) -> str:
        pos = self.pos
        self.pos = pos + n
        try:
            return str(self._buf[pos : pos + n], "utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedFrame(f"invalid UTF-8 in string at offset {pos}") from exc

    def _count(self, min_element_size: int) -> int:
        """A vector count: -1 (null) reads as 0; a count that cannot fit in the remaining
        bytes is rejected before any element is read or any list is grown."""
        n = self.read_int()
        if n < 0:
            if n == -1:
                return 0
            raise MalformedFrame(f"negative vector count {n}")
        if n * min_element_size > self.end - self.pos:
            raise MalformedFrame(f"vector count {n} cannot fit in {self.end - self.pos} bytes")
        return n

    def read_ustring_vector(self) -> tuple[str, ...]:
        n = self._count(4)
        read = self.read_ustring
        return tuple([read() for _ in range(n)])

    def read_vector(
        self, read_element: Callable[[Reader], T], min_element_size: int
    ) -> tuple[T, ...]:
        n = self._count(min_element_size)
        return tuple([read_element(self) for _ in range(n)])

    def expect_end(self) -> None:
        """Records fill their frame exactly: trailing bytes mean the two sides disagree."""
        if self.pos != self.end:
            raise MalformedFrame(f"{self.end - self.pos} trailing bytes after the record")


class Writer:
    """Appends jute primitives to a bytearray. `begin_frame`/`end_frame` back-fill the
    4-byte length prefix, as the Java client does, so a frame is built in one buffer."""

    __slots__ = ("buf",)

    def __init__(self) -> None:
        self.buf = bytearray()

    def write_int(self, value: int) -> None:
        self.buf += _pack_int(value)

    def write_long(self, value: int) -> None:
        self.buf += _pack_long(value)

    def write_bool(self, value: bool) -> None:
        self.buf.append(1 if value else 0)

    def write_struct(self, fmt: struct.Struct, *values: Any) -> None:
        self.buf += fmt.pack(*values)

    def write_buffer(self, value: bytes | None) -> None:
        if value is None:
            self.buf += _NULL
        else:
            self.buf += _pack_int(len(value))
            self.buf += value

    def write_ustring(self, value: str | None) -> None:
        if value is None:
            self.buf += _NULL
            return
        try:
            data = value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise UsageError(f"string is not encodable as UTF-8: {value!r}") from exc
        self.buf += _pack_int(len(data))
        self.buf += data

    def write_ustring_vector(self, values: Iterable[str]) -> None:
        values = tuple(values)
        self.buf += _pack_int(len(values))
        for value in values:
            self.write_ustring(value)

    def begin_frame(self) -> int:
        """Reserve the length prefix; returns its offset for `end_frame`."""
        offset = len(self.buf)
        self.buf += b"\0\0\0\0"
        return offset

    def end_frame(self, offset: int) -> None:
        _INT.pack_into(self.buf, offset, len(self.buf) - offset - 4)

    def getvalue(self) -> bytes:
        return bytes(self.buf)
