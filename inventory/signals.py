"""Signals the inventory sends so that other apps can follow its changes.

The inventory knows nothing of Qualys; the integration listens to these to
keep each host's coverage flags current between syncs.
"""

from django.dispatch import Signal

# Sent by every import that writes (never by a dry run or a failed import),
# inside the import's transaction, after its hosts were written.
# Arguments: ``new_since_pk`` (the largest Host primary key before the
# import, or 0; every host the import added has a greater primary key) and
# ``import_run`` (the ImportRun).
hosts_imported = Signal()

# Sent inside the transaction that deleted hosts (expiry, bulk deletes in the
# admin). Arguments: ``keys`` (address keys of the deleted hosts).
hosts_deleted = Signal()
