"""Garbage on the client port disconnects that client, logged, and nobody else."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator

import pytest
from harness import Cluster
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kazoo.client import KazooClient

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def zk(cluster: Cluster) -> Iterator[KazooClient]:
    client = KazooClient(hosts=cluster.hosts, timeout=10)
    client.start(timeout=15)
    client.ensure_path("/alive")
    yield client
    client.stop()
    client.close()


def _send(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        chunks = []
        try:
            while chunk := s.recv(65536):
                chunks.append(chunk)
        except (ConnectionResetError, TimeoutError):
            pass
    return b"".join(chunks)


def _connect_request() -> bytes:
    body = struct.pack(">iqiq", 0, 0, 10000, 0) + struct.pack(">i", 16) + bytes(16) + b"\0"
    return struct.pack(">i", len(body)) + body


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(garbage=st.binary(min_size=1, max_size=2048), after_handshake=st.booleans())
def test_random_bytes_never_hurt_the_node(cluster: Cluster, zk: KazooClient, garbage: bytes,
                                          after_handshake: bool) -> None:
    port = cluster.node(1).client_port
    _send(port, (_connect_request() if after_handshake else b"") + garbage)
    assert zk.exists("/alive") is not None  # everyone else is still served
    assert cluster.node(1).alive


def test_oversize_frame_and_unknown_opcode_are_refused_with_a_reason(cluster: Cluster,
                                                                      zk: KazooClient) -> None:
    port = cluster.node(2).client_port
    _send(port, _connect_request() + struct.pack(">i", 64 << 20) + b"x" * 100)
    _send(port, _connect_request() + struct.pack(">iii", 8, 7, 77))
    log = cluster.node(2).log_path.read_text()
    assert "WARNING quorumd.clients: closing client 127.0.0.1 (session 0x0): protocol error: " \
        "frame length 67108864 outside" in log
    assert "unknown opcode 77 (xid 7)" in log
    zk.sync("/alive")
    assert zk.exists("/alive") is not None
