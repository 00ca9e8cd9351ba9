"""Snapshots in the formats quorumd wrote before FORMAT 3, for tests that old data dirs
still load: format 2 is one record per node in sorted path order; format 1 is format 2
without the lock table. This is the encoder those versions shipped, kept verbatim in
what it writes."""

from __future__ import annotations

from typing import Any

import msgpack

from quorumd.machine import ACL, StateMachine


def encode_format_2(machine: StateMachine, *, version: int = 2) -> bytes:
    tree = machine._tree
    sessions = machine._sessions
    nodes = tree.nodes
    paths = sorted(nodes)
    by_value: dict[tuple[ACL, ...], int] = {}
    acl_indexes = [by_value.setdefault(nodes[p].acl, len(by_value)) for p in paths]
    header: list[Any] = [
        version,
        machine.last_zxid,
        len(paths),
        [[[a.perms, a.scheme, a.id] for a in acl] for acl in by_value],
        [
            [s.session_id, s.passwd, s.timeout_ms, [list(ident) for ident in s.auth]]
            for s in (sessions[sid] for sid in sorted(sessions))
        ],
    ]
    if version == 2:
        header.append(machine._locks.to_records())
    packer = msgpack.Packer(use_bin_type=True, autoreset=False)
    packer.pack(header)
    for path, acl_index in zip(paths, acl_indexes, strict=True):
        n = nodes[path]
        packer.pack(
            [
                path,
                n.data,
                acl_index,
                n.czxid,
                n.mzxid,
                n.pzxid,
                n.ctime,
                n.mtime,
                n.version,
                n.cversion,
                n.aversion,
                n.ephemeral_owner,
            ]
        )
    return bytes(packer.getbuffer())


def encode_format_1(machine: StateMachine) -> bytes:
    """Format 1 had no lock table: only a machine without locks can be written in it."""
    assert not machine._locks.to_records(), "format 1 cannot hold locks"
    return encode_format_2(machine, version=1)
