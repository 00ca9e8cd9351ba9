"""quorumd.check."""
