"""quorumd.server."""
