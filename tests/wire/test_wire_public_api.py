"""Pins quorumd.wire's public surface: the server and client are written against it."""

from __future__ import annotations

import inspect

import pytest

import quorumd.wire
from quorumd.errors import ProtocolError
from quorumd.wire import connection, constants


def test_every_exported_name_exists() -> None:
    for name in quorumd.wire.__all__:
        assert hasattr(quorumd.wire, name), name


@pytest.mark.pure_python
def test_connection_signatures() -> None:
    server = quorumd.wire.ServerConnection
    assert list(inspect.signature(server).parameters) == ["max_buffer", "extensions"]
    assert list(inspect.signature(server.reply).parameters) == [
        "self", "xid", "zxid", "err", "opcode", "record",
    ]  # fmt: skip
    assert list(inspect.signature(server.notification).parameters) == [
        "self", "event_type", "state", "path", "zxid",
    ]  # fmt: skip
    client = quorumd.wire.ClientConnection
    assert list(inspect.signature(client.request).parameters) == [
        "self", "xid", "opcode", "record",
    ]  # fmt: skip
    assert inspect.signature(server).parameters["max_buffer"].default == 0xFFFFF


def test_errors_are_distinct_protocol_errors() -> None:
    kinds = [
        quorumd.wire.MalformedFrame,
        quorumd.wire.FrameTooLarge,
        quorumd.wire.UnknownOpcode,
        quorumd.wire.XidOutOfOrder,
    ]
    assert len(set(kinds)) == 4
    for kind in kinds:
        assert issubclass(kind, ProtocolError)
        assert not any(issubclass(kind, other) for other in kinds if other is not kind)


def test_opcodes_and_special_xids() -> None:
    assert {int(op) for op in constants.OpCode} == {
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
        100, 101, 102, 103, 104, 105, 106, 107, -10, -11, -1,
    }  # fmt: skip
    assert not set(constants.EXTENSION_OPCODES) & {int(op) for op in constants.OpCode}
    assert list(constants.EXTENSION_OPCODES) == list(range(200, 220))
    assert (
        constants.NOTIFICATION_XID,
        constants.PING_XID,
        constants.AUTH_XID,
        constants.SET_WATCHES_XID,
    ) == (-1, -2, -4, -8)


def test_four_letter_words_are_zookeepers() -> None:
    assert {w.decode() for w in connection.FOUR_LETTER_WORDS} >= {
        "ruok", "srvr", "stat", "mntr", "conf", "cons", "envi", "wchs", "dump", "isro",
    }  # fmt: skip
