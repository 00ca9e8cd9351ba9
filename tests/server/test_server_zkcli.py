"""zkCli from Debian's zookeeper package, unmodified, against quorumd."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from harness import Cluster

pytestmark = pytest.mark.integration

ZKCLI = shutil.which("zkCli.sh") or next(
    (p for p in ["/usr/share/zookeeper/bin/zkCli.sh"] if Path(p).exists()), None
)


def _zkcli(cluster: Cluster, *args: str) -> str:
    assert ZKCLI is not None
    out = subprocess.run([ZKCLI, "-server", cluster.hosts, *args], capture_output=True,
                         text=True, timeout=60, check=False)
    return out.stdout + out.stderr


@pytest.mark.skipif(ZKCLI is None, reason="zkCli.sh not installed (apt-get install zookeeper)")
def test_zkcli_create_get_ls_delete(cluster: Cluster) -> None:
    assert "Created /zkcli" in _zkcli(cluster, "create", "/zkcli", "hello")
    assert "hello" in _zkcli(cluster, "get", "/zkcli").splitlines()
    _zkcli(cluster, "create", "/zkcli/child", "c")
    assert "[child]" in _zkcli(cluster, "ls", "/zkcli")
    _zkcli(cluster, "deleteall", "/zkcli")
    assert "Node does not exist" in _zkcli(cluster, "get", "/zkcli")
