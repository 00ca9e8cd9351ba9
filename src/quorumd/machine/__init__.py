"""quorumd.machine."""
