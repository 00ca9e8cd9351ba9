"""Replies are written once per loop iteration or apply batch, and the list of
connections waiting for that write never outlives it (reads alone used to grow it)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from quorumd.client import Client
from quorumd.server.clients import ClientServer
from quorumd.server.config import ServerConfig
from quorumd.server.node import Node


def test_reads_and_writes_leave_no_connection_waiting_for_a_flush(tmp_path: Path) -> None:
    async def scenario() -> tuple[int, int, list[bytes]]:
        cfg = ServerConfig(id=1, data_dir=str(tmp_path / "data"), client_port=0)
        node = Node(cfg)
        await node.start()
        server = ClientServer(node, cfg)
        await server.start()
        client = Client(f"127.0.0.1:{server.port}")
        try:
            await client.start()
            await client.create("/x", b"v")
            values = [(await client.get("/x"))[0] for _ in range(300)]
            after_reads = len(server.unflushed)
            await client.set("/x", b"w")
            values.append((await client.get("/x"))[0])
            after_write = len(server.unflushed)
        finally:
            await client.close()
            await server.stop()
            await node.stop()
        return after_reads, after_write, values

    after_reads, after_write, values = asyncio.run(asyncio.wait_for(scenario(), 30))
    assert values == [b"v"] * 300 + [b"w"]
    assert after_reads <= 1 and after_write <= 1
