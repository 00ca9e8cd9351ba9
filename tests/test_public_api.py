"""Pins the public surface: a name removed or renamed here is an API change."""

from click.testing import CliRunner

import quorumd
import quorumd.consensus
import quorumd.server.node
from quorumd.cli.main import main


def test_consensus_exports() -> None:
    assert sorted(quorumd.consensus.__all__) == [
        "ClusterConfig",
        "Engine",
        "Entry",
        "EntryKind",
        "HardState",
        "ReadState",
        "Ready",
        "Restored",
        "Role",
        "Snapshot",
        "SnapshotMeta",
        "Status",
    ]


def test_version() -> None:
    assert quorumd.__version__


def test_build_names_the_modules_that_run() -> None:
    """`make test` runs this twice: on the source tree, then on the compiled copy."""
    loaded = quorumd.server.node.__file__ or ""
    expected = "interpreted" if loaded.endswith(".py") else "compiled"
    assert quorumd.build() == expected
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"quorumd {quorumd.__version__} ({expected})\n"
