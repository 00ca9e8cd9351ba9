"""Transcript tests: tests/consensus/testdata/paxos_transcripts/*.txt drive an in-memory
Multi-Paxos cluster (paxos_harness.py has the commands).

Each block is a command, a `----` line and the expected output, ended by a blank line;
`#` lines are comments. Regenerate after an intended change with
`QUORUMD_REWRITE=1 .venv/bin/python -m pytest tests/consensus/test_paxos_transcripts.py`
and review the diff. (The format is etcd-io/raft's datadriven testdata.)
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from paxos_harness import Cluster, run_command

TESTDATA = Path(__file__).parent / "testdata" / "paxos_transcripts"
REWRITE = os.environ.get("QUORUMD_REWRITE") == "1"


def _blocks(text: str) -> list[tuple[list[str], str, list[str]]]:
    """(leading comment lines, command, expected output lines) per block."""
    blocks: list[tuple[list[str], str, list[str]]] = []
    lines = text.splitlines()
    i = 0
    comments: list[str] = []
    while i < len(lines):
        line = lines[i]
        if not line.strip() or line.startswith("#"):
            comments.append(line)
            i += 1
            continue
        assert lines[i + 1] == "----", f"line {i + 2}: expected ----"
        i += 2
        expected: list[str] = []
        while i < len(lines) and lines[i].strip():
            expected.append(lines[i])
            i += 1
        blocks.append((comments, line, expected))
        comments = []
    if comments:
        blocks.append((comments, "", []))
    return blocks


@pytest.mark.parametrize("path", sorted(TESTDATA.glob("*.txt")), ids=lambda p: p.stem)
def test_paxos_transcript(path: Path) -> None:
    cluster = Cluster(seed=1)
    out: list[str] = []
    mismatches: list[str] = []
    for comments, command, expected in _blocks(path.read_text()):
        out.extend(comments)
        if not command:
            continue
        actual = run_command(cluster, command).splitlines()
        out.extend([command, "----", *actual, ""])
        if actual != expected:
            mismatches.append(
                f"{command}\n--- expected\n" + "\n".join(expected) + "\n--- actual\n"
                + "\n".join(actual)
            )
    if REWRITE:
        path.write_text(("\n".join(out).rstrip("\n") + "\n").replace("\n\n\n", "\n\n"))
        return
    assert not mismatches, f"{path.name}: " + "\n\n".join(mismatches[:3])
