"""quorumd.consensus.raft."""
