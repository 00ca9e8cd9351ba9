"""quorumd: a distributed coordination service in Python.

Consensus (Raft by default, Multi-Paxos selectable) replicates a ZooKeeper-style
namespace with Chubby-style locks; clients speak the ZooKeeper wire protocol.
See docs/design/ and DESIGN.md for the layering.
"""

from importlib.util import find_spec

__version__ = "0.1.0"

__all__ = ["__version__", "build"]


def build() -> str:
    """"compiled" when the server's hot path was built with mypyc (`make compiled`),
    else "interpreted". Logged at start and printed by `--version`, so a figure can
    always be told apart by the build that produced it. Looks, does not import."""
    spec = find_spec("quorumd.server.node")
    origin = spec.origin if spec is not None else None
    return "interpreted" if origin is None or origin.endswith(".py") else "compiled"
