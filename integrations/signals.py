"""Receivers that keep the periodic sync schedule in step with the Qualys settings.

Also defines the signal the sync sends when it replaces the stored Qualys tables.
"""

from django.db.models.signals import post_save
from django.dispatch import Signal, receiver

from .models import QualysSettings
from .schedule import apply_schedule


@receiver(post_save, sender=QualysSettings, dispatch_uid="integrations.apply_schedule")
def reschedule_sync(sender, instance: QualysSettings, raw: bool = False, **kwargs) -> None:
    # Fixture loading (raw) restores rows as they were; the schedule is not touched.
    if raw:
        return
    apply_schedule(instance)


# Sent by the sync inside the transaction that replaced the stored Qualys
# tables, after the coverage flags were brought up to date. Arguments:
# ``subscription`` (the IPSet S as now stored) and ``scanned`` (the IPSet M as
# now stored, or None when the sender does not hold it, so a receiver has to
# read M from the tables).
qualys_tables_replaced = Signal()
