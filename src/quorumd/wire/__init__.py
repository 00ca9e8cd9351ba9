"""quorumd.wire."""
