"""Receivers that keep the stored dashboard counts current as the data changes.

Imports, deletions, saved hosts and the sync store fresh counts inside the
transaction that made the change, after the integration's receivers have
updated the coverage flags. Django calls
receivers in the order they were connected, and the integrations app comes
before this one in INSTALLED_APPS, so its receivers run first.
"""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from integrations.signals import qualys_tables_replaced
from inventory.models import Host
from inventory.signals import hosts_deleted, hosts_imported

from .querysets import mark_counts_out_of_date, qualys_totals_of, store_counts


@receiver(hosts_imported, dispatch_uid="dashboard.hosts_imported")
def hosts_were_imported(sender, **kwargs) -> None:
    store_counts()


@receiver(hosts_deleted, dispatch_uid="dashboard.hosts_deleted")
def hosts_were_deleted(sender, **kwargs) -> None:
    store_counts()


@receiver(post_save, sender=Host, dispatch_uid="dashboard.host_saved")
def host_was_saved(sender, **kwargs) -> None:
    # Single saves, as in the admin. Imports write in bulk and send hosts_imported.
    store_counts()


@receiver(post_delete, sender=Host, dispatch_uid="dashboard.host_deleted")
def host_was_deleted(sender, **kwargs) -> None:
    # Deleting sends this once per host. The inventory's deletions (expiry,
    # the admin) then send hosts_deleted, which recounts once. A delete
    # without it leaves the counts marked, and the next page recounts them.
    mark_counts_out_of_date()


@receiver(qualys_tables_replaced, dispatch_uid="dashboard.qualys_tables_replaced")
def qualys_tables_were_replaced(sender, subscription, scanned, **kwargs) -> None:
    if scanned is None:
        # Without M the Qualys totals are recounted from the new tables.
        store_counts(reuse_qualys=False)
    else:
        store_counts(qualys_totals_of(subscription, scanned))
