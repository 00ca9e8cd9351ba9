from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import Cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A 3-node cluster shared by the tests of one module (they use distinct paths)."""
    c = Cluster(Path(tmp_path_factory.mktemp("cluster")))
    try:
        c.start()
        yield c
    finally:
        c.stop()


@pytest.fixture
def fresh_cluster(tmp_path: Path) -> Iterator[Cluster]:
    """A 3-node cluster of its own, for tests that kill or stop nodes."""
    c = Cluster(tmp_path)
    try:
        c.start()
        yield c
    finally:
        c.stop()
