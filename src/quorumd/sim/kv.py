"""The simulator's replicated state machine: a key-value map with put, get and cas.

Commands carry (client, seq). The machine remembers each client's last seq and answer
(a session table, as in Raft thesis §6.3), so a write retried after a timeout is applied
once however many times it reaches the log. Clients have one operation outstanding at
a time, so one slot per client is enough; an older seq arriving late has no effect.
Gets are not logged: they go through ReadIndex and read the local map.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from quorumd.check.models import KvInput
from quorumd.consensus.engine import Entry, EntryKind


@dataclass(frozen=True, slots=True)
class Command:
    client: int
    seq: int
    input: KvInput


@dataclass(frozen=True, slots=True)
class Applied:
    """The answer to (client, seq); `fresh` is False for a duplicate."""

    client: int
    seq: int
    output: object
    fresh: bool


def encode(cmd: Command) -> bytes:
    i = cmd.input
    return json.dumps([cmd.client, cmd.seq, i.op, i.key, i.value, i.expected]).encode()


def decode(data: bytes) -> Command:
    client, seq, op, key, value, expected = json.loads(data)
    return Command(client, seq, KvInput(op, key, value, expected))


class KvMachine:
    def __init__(self) -> None:
        self.data: dict[str, str] = {}
        self.sessions: dict[int, tuple[int, object]] = {}

    def apply(self, entry: Entry) -> Applied | None:
        if entry.kind is not EntryKind.NORMAL:
            return None
        cmd = decode(entry.data)
        last = self.sessions.get(cmd.client)
        if last is not None and cmd.seq <= last[0]:
            if cmd.seq == last[0]:
                return Applied(cmd.client, cmd.seq, last[1], fresh=False)
            return None
        output = self._execute(cmd.input)
        self.sessions[cmd.client] = (cmd.seq, output)
        return Applied(cmd.client, cmd.seq, output, fresh=True)

    def _execute(self, inp: KvInput) -> object:
        if inp.op == "put":
            assert inp.value is not None
            self.data[inp.key] = inp.value
            return None
        if inp.op == "cas":
            assert inp.value is not None
            if self.data.get(inp.key) == inp.expected:
                self.data[inp.key] = inp.value
                return True
            return False
        raise AssertionError(f"not a logged kv operation: {inp}")

    def read(self, key: str) -> str | None:
        return self.data.get(key)

    def snapshot(self) -> bytes:
        sessions = [[c, s, o] for c, (s, o) in sorted(self.sessions.items())]
        return json.dumps([sorted(self.data.items()), sessions]).encode()

    @classmethod
    def restore(cls, data: bytes | None) -> KvMachine:
        machine = cls()
        if data:
            items, sessions = json.loads(data)
            machine.data = dict(items)
            machine.sessions = {c: (s, o) for c, s, o in sessions}
        return machine
