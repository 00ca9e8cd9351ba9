"""quorumd.cli."""
