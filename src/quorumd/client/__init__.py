"""quorumd.client."""
