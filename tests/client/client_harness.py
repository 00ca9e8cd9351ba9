"""Real-cluster fixtures for the client's integration tests (reuses tests/server/harness)."""

from __future__ import annotations

import sys
from pathlib import Path

_SERVER_TESTS = str(Path(__file__).resolve().parent.parent / "server")
if _SERVER_TESTS not in sys.path:
    sys.path.insert(0, _SERVER_TESTS)

from harness import HOST, Cluster, free_ports  # noqa: E402

__all__ = ["HOST", "Cluster", "free_ports"]
