"""quorumd.storage."""
