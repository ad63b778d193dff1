"""Signals the inventory sends so that other apps can follow its changes.

The inventory knows nothing of Qualys; the integration listens to these to
keep each host's coverage flags current between syncs.
"""

from django.dispatch import Signal

# Sent inside the import's transaction after hosts were added or changed.
# Arguments: ``host_ids`` (a list of primary keys of added hosts) and
# ``source`` (the import's source name).
hosts_imported = Signal()

# Sent inside the transaction that deleted hosts (expiry, admin deletes in
# bulk). Arguments: ``keys`` (address keys of the deleted hosts).
hosts_deleted = Signal()
