"""quorumd.sim."""
