"""The client's local expiry (rule 5 of client/_session.py) must not wait for a hung
connect: `quorumd lock` stops its command when the session is LOST, and its safety
argument needs LOST no later than about `last_confirmed + session timeout`, which a
handshake hanging on an unresponsive node (up to the connect timeout) would delay."""

from __future__ import annotations

import asyncio

from fake_zk import FakeNode

from quorumd.client import Client, SessionState


def test_a_hung_handshake_does_not_delay_the_local_expiry() -> None:
    async def main() -> None:
        node = await FakeNode().start()
        # a connect timeout far beyond the session timeout: only rule 5 can end the wait
        c = Client(node.host, session_timeout_ms=1000, connect_timeout_s=60)
        try:
            await c.start(3)
            states = c.states()
            node.stalled = True  # TCP stays up, nothing is answered, handshakes hang
            assert (await asyncio.wait_for(anext(states), 5)).new is SessionState.SUSPENDED
            lost = await asyncio.wait_for(anext(states), 10)  # generous: 10x the timeout
            assert lost.new is SessionState.LOST
        finally:
            await c.close()
            await node.stop()

    asyncio.run(main())
