"""Receivers that keep the stored dashboard counts current as the data changes.

Each change stores fresh counts inside the transaction that made it, after
the integration's receivers have updated the coverage flags. Django calls
receivers in the order they were connected, and the integrations app comes
before this one in INSTALLED_APPS, so its receivers run first.
"""

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from integrations.signals import qualys_tables_replaced
from inventory.models import Host
from inventory.signals import hosts_deleted, hosts_imported

from .querysets import (
    mark_counts_out_of_date,
    qualys_totals_of,
    store_counts,
    store_counts_if_out_of_date,
)


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
    # A bulk delete sends this once per host and then hosts_deleted, which
    # recounts once. A delete without hosts_deleted is recounted after its commit.
    mark_counts_out_of_date()
    transaction.on_commit(store_counts_if_out_of_date)


@receiver(qualys_tables_replaced, dispatch_uid="dashboard.qualys_tables_replaced")
def qualys_tables_were_replaced(sender, subscription, scanned, **kwargs) -> None:
    if scanned is None:
        # Without M the Qualys totals are recounted from the new tables.
        store_counts(reuse_qualys=False)
    else:
        store_counts(qualys_totals_of(subscription, scanned))
