"""quorumd: a distributed coordination service in Python.

Consensus (Raft by default, Multi-Paxos selectable) replicates a ZooKeeper-style
namespace with Chubby-style locks; clients speak the ZooKeeper wire protocol.
See docs/design/ and DESIGN.md for the layering.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
