"""Sans-I/O ZooKeeper connections, in the style of h11: bytes in, events out.

The runtime owns the socket; these objects own the protocol. Feed every chunk read
from the socket to `receive_data`, then call `next_event()` until it returns None
(need more bytes); send whatever bytes the encode methods return:

    conn = ServerConnection()
    conn.receive_data(chunk)
    while (event := conn.next_event()) is not None:
        ...                                   # ConnectRequest | Request | FourLetterWord
        sock.send(conn.reply(event.xid, zxid, 0, event.opcode, result))

Theory of operation:

1. Framing: every message is a 4-byte big-endian length + payload. A length < 0 or
   above the limit raises `FrameTooLarge` before anything is allocated. ZooKeeper
   bounds a client frame by `jute.maxbuffer` (NIOServerCnxn.readLength); a single
   buffer or string inside may reach maxbuffer + the "extra" allowance.
2. The first client frame is a ConnectRequest, unless its first 4 bytes spell a known
   four-letter word: then the connection is an admin command (`FourLetterWord`) and
   nothing after it is read. The server answers a 44-byte ConnectRequest without the
   readOnly byte and a 45-byte one with it.
3. Replies come back in request order. The client keeps the opcode of each pending
   xid in a FIFO to know which record to decode; a reply for any other xid raises
   `XidOutOfOrder`, except notifications (-1), pings (-2) and auth (-4).
4. Buffering is amortized linear: consumed bytes are dropped only once they are half
   the buffer, and frames are decoded in place through a memoryview.
5. A ProtocolError leaves the object unusable: close the connection.
"""

from __future__ import annotations

import enum
import struct
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from quorumd.errors import UsageError
from quorumd.wire.codec import Record, RecordTables, RecordType, check_record, opcode_of
from quorumd.wire.constants import (
    AUTH_XID,
    JUTE_MAX_BUFFER,
    NOTIFICATION_XID,
    PING_XID,
    KeeperState,
    OpCode,
    jute_extra_allowance,
)
from quorumd.wire.errors import FrameTooLarge, MalformedFrame, UnknownOpcode, XidOutOfOrder
from quorumd.wire.jute import Reader, Writer
from quorumd.wire.records import ConnectRequest, ConnectResponse, WatcherEvent

__all__ = [
    "FOUR_LETTER_WORDS",
    "ClientConnection",
    "FourLetterWord",
    "Notification",
    "Reply",
    "Request",
    "ServerConnection",
]

_INT = struct.Struct(">i")
_REQUEST_HEADER = struct.Struct(">ii")
_REPLY_HEADER = struct.Struct(">iqi")
_FRAME_REPLY_HEADER = struct.Struct(">iiqi")  # length + ReplyHeader, for bodyless replies

#: Every word ZooKeeper 3.8 recognises as a command (FourLetterCommands.cmd2String).
FOUR_LETTER_WORDS: frozenset[bytes] = frozenset(
    w.encode()
    for w in [
        "conf",
        "cons",
        "crst",
        "dirs",
        "dump",
        "envi",
        "gtmk",
        "ruok",
        "stmk",
        "srvr",
        "srst",
        "stat",
        "wchc",
        "wchp",
        "wchs",
        "mntr",
        "isro",
        "hash",
    ]
)


# Request, Reply and Notification are made per frame: like the data records (records.py)
# they are non-frozen with `Final` fields, read-only to mypy and cheaper to build.


@dataclass(slots=True, unsafe_hash=True)
class Request:
    """A client request after the handshake. `record` is None for ping, closeSession
    and whoAmI, which have no body."""

    xid: Final[int]
    opcode: Final[int]
    record: Final[Record | None]


@dataclass(frozen=True, slots=True)
class FourLetterWord:
    """The connection is an admin command (`ruok`, `stat`, ...): answer and close."""

    word: str


@dataclass(slots=True, unsafe_hash=True)
class Reply:
    """A reply to a request of the client (including ping, xid -2, and auth, xid -4).
    `record` is None when the op has no response body or when err != 0 (except a
    failed multi that carries its per-op results)."""

    xid: Final[int]
    zxid: Final[int]
    err: Final[int]
    opcode: Final[int]
    record: Final[Record | None]


@dataclass(slots=True, unsafe_hash=True)
class Notification:
    """A watch fired (xid -1). `zxid` is -1 from 3.8 servers."""

    event_type: Final[int]
    state: Final[int]
    path: Final[str]
    zxid: Final[int]


class _State(enum.Enum):
    AWAIT_CONNECT = "await-connect"
    CONNECTED = "connected"
    ADMIN = "admin"  # a four-letter word was read; the connection carries nothing else


class _FrameBuffer:
    """Accumulates bytes and yields complete frames' (start, end) without copying.

    One memoryview over the buffer serves every frame decoded between two
    `append`s; it is released before the buffer is compacted or grown (a bytearray
    cannot resize while exported). Records copy what they keep, so no view outlives it.
    """

    __slots__ = ("_view", "buf", "max_frame", "pos")

    def __init__(self, max_frame: int) -> None:
        self.buf = bytearray()
        self.pos = 0
        self.max_frame = max_frame
        self._view: memoryview | None = None

    def append(self, data: bytes | bytearray | memoryview) -> None:
        if self._view is not None:
            self._view.release()
            self._view = None
        pos = self.pos
        if pos and pos * 2 >= len(self.buf):
            del self.buf[:pos]
            self.pos = 0
        self.buf += data

    def view(self) -> memoryview:
        view = self._view
        if view is None:
            view = self._view = memoryview(self.buf)
        return view

    def peek(self, n: int) -> bytes | None:
        if len(self.buf) - self.pos < n:
            return None
        return bytes(self.buf[self.pos : self.pos + n])

    def next_frame(self) -> tuple[int, int] | None:
        """(start, end) of the next complete frame's payload, or None. Does not consume."""
        buf = self.buf
        pos = self.pos
        available = len(buf) - pos
        if available < 4:
            return None
        length: int = _INT.unpack_from(buf, pos)[0]
        if length < 0 or length > self.max_frame:
            raise FrameTooLarge(length, self.max_frame)
        if available - 4 < length:
            return None
        return pos + 4, pos + 4 + length


def _frame(record: Record) -> bytes:
    w = Writer()
    start = w.begin_frame()
    record.encode(w)
    w.end_frame(start)
    return bytes(w.buf)


class ServerConnection:
    """The server side of one client connection."""

    def __init__(
        self,
        max_buffer: int = JUTE_MAX_BUFFER,
        extensions: Mapping[int, tuple[RecordType | None, RecordType | None]] | None = None,
    ) -> None:
        self._frames = _FrameBuffer(max_buffer)
        self._max_field = max_buffer + jute_extra_allowance(max_buffer)
        self._tables = RecordTables().with_extensions(extensions or {})
        self._state = _State.AWAIT_CONNECT
        self._client_sent_read_only = True

    @property
    def handshake_done(self) -> bool:
        return self._state is _State.CONNECTED

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        self._frames.append(data)

    def next_event(self) -> ConnectRequest | Request | FourLetterWord | None:
        state = self._state
        if state is _State.ADMIN:
            return None
        frames = self._frames
        if state is _State.AWAIT_CONNECT:
            head = frames.peek(4)
            if head is not None and head in FOUR_LETTER_WORDS:
                frames.pos += 4
                self._state = _State.ADMIN
                return FourLetterWord(head.decode())
        span = frames.next_frame()
        if span is None:
            return None
        start, end = span
        r = Reader(frames.view(), start, end, self._max_field)
        if state is _State.AWAIT_CONNECT:
            event: ConnectRequest | Request = self._decode_connect(r)
        else:
            event = self._decode_request(r)
        frames.pos = end
        return event

    def _decode_connect(self, r: Reader) -> ConnectRequest:
        request = ConnectRequest.decode(r)
        self._client_sent_read_only = request.read_only is not None
        self._state = _State.CONNECTED
        return request

    def _decode_request(self, r: Reader) -> Request:
        xid, opcode = r.read_struct(_REQUEST_HEADER)
        try:
            record_type = self._tables.requests[opcode]
        except KeyError:
            raise UnknownOpcode(xid, opcode) from None
        record = None if record_type is None else record_type.decode(r)
        r.expect_end()
        return Request(xid, opcode_of(opcode), record)

    # ------------------------------------------------------------------- encoding

    def connect_response(self, response: ConnectResponse) -> bytes:
        """The handshake reply, in the form the client used (rule 2)."""
        if self._state is not _State.CONNECTED:
            raise UsageError("connect_response before a ConnectRequest was received")
        if self._client_sent_read_only:
            read_only: bool | None = bool(response.read_only)
        else:
            read_only = None
        return _frame(
            ConnectResponse(
                response.protocol_version,
                response.timeout_ms,
                response.session_id,
                response.passwd,
                read_only,
            )
        )

    def reply(
        self, xid: int, zxid: int, err: int, opcode: int, record: Record | None = None
    ) -> bytes:
        """A reply frame. With err != 0 the body is dropped (ZooKeeper sends none),
        except for multi/multiRead whose body lists each op's error."""
        if err != 0 and opcode not in (OpCode.MULTI, OpCode.MULTI_READ):
            record = None
        elif err == 0 or record is not None:
            check_record("response", opcode, record, self._tables.responses)
        if record is None:
            return _FRAME_REPLY_HEADER.pack(_REPLY_HEADER.size, xid, zxid, err)
        w = Writer()
        buf = w.buf
        buf += _FRAME_REPLY_HEADER.pack(0, xid, zxid, err)  # the length is filled in below
        record.encode(w)
        _INT.pack_into(buf, 0, len(buf) - 4)
        return bytes(buf)

    def ping_reply(self, zxid: int) -> bytes:
        return _FRAME_REPLY_HEADER.pack(_REPLY_HEADER.size, PING_XID, zxid, 0)

    def notification(
        self,
        event_type: int,
        state: int = KeeperState.SYNC_CONNECTED,
        path: str = "",
        zxid: int = -1,
    ) -> bytes:
        """A watch event (xid -1). ZooKeeper 3.8 puts zxid -1 in the header; 3.9 the
        event's zxid: pass it if clients should see it."""
        w = Writer()
        start = w.begin_frame()
        w.buf += _REPLY_HEADER.pack(NOTIFICATION_XID, zxid, 0)
        WatcherEvent(event_type, state, path).encode(w)
        w.end_frame(start)
        return bytes(w.buf)


class ClientConnection:
    """The client side of one connection to a ZooKeeper(-compatible) server.

    A client frame limit of maxbuffer alone (the Java client's) can refuse the reply to
    a getData of a node near maxbuffer, whose reply has more overhead than the setData
    that wrote it; this client therefore allows maxbuffer + the extra allowance.
    """

    def __init__(
        self,
        max_buffer: int = JUTE_MAX_BUFFER,
        extensions: Mapping[int, tuple[RecordType | None, RecordType | None]] | None = None,
    ) -> None:
        extra = jute_extra_allowance(max_buffer)
        self._frames = _FrameBuffer(max_buffer + extra)
        self._max_field = max_buffer + extra
        self._tables = RecordTables().with_extensions(extensions or {})
        self._state = _State.AWAIT_CONNECT
        self._connect_sent = False
        self._pending: deque[tuple[int, int]] = deque()

    @property
    def pending(self) -> tuple[tuple[int, int], ...]:
        """(xid, opcode) of every request awaiting its reply, oldest first."""
        return tuple(self._pending)

    def connect(self, request: ConnectRequest) -> bytes:
        if self._connect_sent:
            raise UsageError("connect() may be called once per connection")
        self._connect_sent = True
        return _frame(request)

    def request(self, xid: int, opcode: int, record: Record | None = None) -> bytes:
        """A request frame; remembers (xid, opcode) to decode the reply, except for
        pings and auth, whose replies are recognised by their special xid."""
        if not self._connect_sent:
            raise UsageError("request() before connect()")
        check_record("request", opcode, record, self._tables.requests)
        w = Writer()
        start = w.begin_frame()
        w.buf += _REQUEST_HEADER.pack(xid, opcode)
        if record is not None:
            record.encode(w)
        w.end_frame(start)
        if xid not in (PING_XID, AUTH_XID):
            self._pending.append((xid, opcode))
        return bytes(w.buf)

    def ping(self) -> bytes:
        return self.request(PING_XID, OpCode.PING)

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        self._frames.append(data)

    def next_event(self) -> ConnectResponse | Reply | Notification | None:
        frames = self._frames
        span = frames.next_frame()
        if span is None:
            return None
        start, end = span
        r = Reader(frames.view(), start, end, self._max_field)
        if self._state is _State.AWAIT_CONNECT:
            event: ConnectResponse | Reply | Notification = ConnectResponse.decode(r)
            self._state = _State.CONNECTED
        else:
            event = self._decode_reply(r)
        frames.pos = end
        return event

    def _decode_reply(self, r: Reader) -> Reply | Notification:
        xid, zxid, err = r.read_struct(_REPLY_HEADER)
        if xid == NOTIFICATION_XID:
            event = WatcherEvent.decode(r)
            r.expect_end()
            return Notification(event.type, event.state, event.path, zxid)
        if xid == PING_XID:
            opcode: int = OpCode.PING
        elif xid == AUTH_XID:
            opcode = OpCode.AUTH
        else:
            if not self._pending or self._pending[0][0] != xid:
                raise XidOutOfOrder(self._pending[0][0] if self._pending else None, xid)
            opcode = self._pending.popleft()[1]
        record: Record | None = None
        if err == 0 or (opcode in (OpCode.MULTI, OpCode.MULTI_READ) and r.remaining > 0):
            record_type = self._tables.responses.get(opcode)
            if record_type is not None:
                record = record_type.decode(r)
            if r.remaining:
                raise MalformedFrame(f"{r.remaining} trailing bytes in reply to opcode {opcode}")
        return Reply(xid, zxid, err, opcode_of(opcode), record)
