"""Length-prefixed msgpack frames between peers: 4-byte big-endian length + payload."""

from __future__ import annotations

import struct
from typing import Any

import msgpack

from quorumd.errors import ProtocolError

_LEN = struct.Struct(">I")


# One packer for every frame: `msgpack.packb` builds a new Packer per call. Frames are
# packed on the event loop thread only.
_PACKER = msgpack.Packer(use_bin_type=True)


def pack_frame(obj: Any) -> bytes:
    payload: bytes = _PACKER.pack(obj)
    return _LEN.pack(len(payload)) + payload


class FrameReader:
    """Accumulates bytes and yields decoded frames; rejects frames over `max_frame`."""

    __slots__ = ("_buf", "_max")

    def __init__(self, max_frame: int) -> None:
        self._buf = bytearray()
        self._max = max_frame

    def feed(self, data: bytes) -> list[Any]:
        if not self._buf and len(data) > 4:
            # One whole frame, the usual case at low load: decode it in place.
            (size,) = _LEN.unpack_from(data, 0)
            if size == len(data) - 4 and size <= self._max:
                try:
                    return [msgpack.unpackb(memoryview(data)[4:], raw=False, use_list=True)]
                except Exception as exc:  # msgpack raises several unrelated types
                    raise ProtocolError(f"undecodable peer frame: {exc}") from exc
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
