"""Receivers that mark the stored dashboard counts out of date when the inventory changes."""

from django.db.models import F
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from inventory.models import Host
from inventory.signals import hosts_deleted, hosts_imported

from .models import CountSnapshot


def invalidate_counts() -> None:
    """Bump the snapshot's generation inside the caller's transaction."""
    CountSnapshot.objects.filter(pk=1).update(generation=F("generation") + 1)


@receiver(hosts_imported, dispatch_uid="dashboard.hosts_imported")
def hosts_were_imported(sender, **kwargs) -> None:
    invalidate_counts()


@receiver(hosts_deleted, dispatch_uid="dashboard.hosts_deleted")
def hosts_were_deleted(sender, **kwargs) -> None:
    invalidate_counts()


@receiver(post_save, sender=Host, dispatch_uid="dashboard.host_saved")
def host_was_saved(sender, **kwargs) -> None:
    invalidate_counts()


@receiver(post_delete, sender=Host, dispatch_uid="dashboard.host_deleted")
def host_was_deleted(sender, **kwargs) -> None:
    invalidate_counts()
