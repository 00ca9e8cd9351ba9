"""Run one quorumd server process: node + client listener + signals.

SIGTERM on a leader first hands leadership to the most caught-up follower (Raft thesis
§3.10), so a planned restart costs clients no election timeout. SIGINT stops at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from quorumd.server.clients import ClientServer
from quorumd.server.config import ServerConfig
from quorumd.server.node import Node

log = logging.getLogger("quorumd.server")


async def serve(cfg: ServerConfig) -> int:
    node = Node(cfg)
    await node.start()
    clients = ClientServer(node, cfg)
    await clients.start()
    log.info(
        "quorumd node %d serving clients on %s:%d (peers: %s)",
        cfg.id, cfg.client_host, clients.port,
        ", ".join(f"{k}={v}" for k, v in sorted(cfg.peers.items())) or "none",
    )
    loop = asyncio.get_running_loop()
    stop = loop.create_future()

    def on_signal(sig: signal.Signals) -> None:
        if not stop.done():
            stop.set_result(sig)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)
    assert node.fatal is not None
    done, _ = await asyncio.wait({stop, node.fatal}, return_when=asyncio.FIRST_COMPLETED)
    code = 0
    if node.fatal in done:
        code = 1
    elif stop.result() == signal.SIGTERM:
        election_timeout_s = cfg.tick_ms * cfg.election_timeout_ticks / 1000
        moved = await node.transfer_leadership(timeout_s=2 * election_timeout_s)
        if moved:
            log.info("node %d handed leadership over before exiting", cfg.id)
    await clients.stop()
    await node.stop()
    return code


def run(cfg: ServerConfig) -> int:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        return asyncio.run(serve(cfg))
    with contextlib.suppress(KeyboardInterrupt):
        return uvloop.run(serve(cfg))
    return 130
