"""Services of the Qualys integration: the sync and what it needs (lock, store, progress)."""
