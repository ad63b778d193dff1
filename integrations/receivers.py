"""Receivers that keep coverage flags current as hosts enter and leave the inventory."""

from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from inventory.models import Host
from inventory.signals import hosts_deleted, hosts_imported

from . import coverage


@receiver(hosts_imported)
def refresh_imported_hosts(sender, new_since_pk: int, **kwargs) -> None:
    coverage.refresh_hosts(Host.objects.filter(pk__gt=new_since_pk))


@receiver(hosts_deleted)
def forget_deleted_hosts(sender, keys, **kwargs) -> None:
    coverage.forget_hosts(keys)


@receiver(pre_save, sender=Host)
def remember_previous_key(sender, instance: Host, **kwargs) -> None:
    if instance.pk is not None:
        instance._previous_key = (
            Host.objects.filter(pk=instance.pk).values_list("key", flat=True).first()
        )


@receiver(post_save, sender=Host)
def refresh_saved_host(sender, instance: Host, **kwargs) -> None:
    # Single saves (the admin, a host page); bulk imports send hosts_imported instead.
    coverage.refresh_hosts(Host.objects.filter(pk=instance.pk))
    previous_key = getattr(instance, "_previous_key", None)
    if previous_key and previous_key != instance.key:
        coverage.forget_hosts([previous_key])


@receiver(post_delete, sender=Host)
def forget_deleted_host(sender, instance: Host, **kwargs) -> None:
    coverage.forget_hosts([instance.key])
