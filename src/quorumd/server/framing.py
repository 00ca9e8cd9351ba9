"""Length-prefixed msgpack frames between peers: 4-byte big-endian length + payload."""

from __future__ import annotations

import struct
from typing import Any

import msgpack

from quorumd.errors import ProtocolError

_LEN = struct.Struct(">I")


def pack_frame(obj: Any) -> bytes:
    payload: bytes = msgpack.packb(obj, use_bin_type=True)
    return _LEN.pack(len(payload)) + payload


class FrameReader:
    """Accumulates bytes and yields decoded frames; rejects frames over `max_frame`."""

    __slots__ = ("_buf", "_max")

    def __init__(self, max_frame: int) -> None:
        self._buf = bytearray()
        self._max = max_frame

    def feed(self, data: bytes) -> list[Any]:
        self._buf += data
        out: list[Any] = []
        buf = self._buf
        pos = 0
        while len(buf) - pos >= 4:
            (size,) = _LEN.unpack_from(buf, pos)
            if size > self._max:
                raise ProtocolError(f"peer frame of {size} bytes exceeds the limit {self._max}")
            if len(buf) - pos - 4 < size:
                break
            start = pos + 4
            try:
                out.append(msgpack.unpackb(buf[start : start + size], raw=False, use_list=True))
            except Exception as exc:  # msgpack raises several unrelated types
                raise ProtocolError(f"undecodable peer frame: {exc}") from exc
            pos = start + size
        if pos:
            del buf[:pos]
        return out
