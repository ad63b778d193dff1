"""Receivers that keep the periodic sync schedule in step with the Qualys settings."""

from django.db.models.signals import post_save
from django.dispatch import receiver

from .models import QualysSettings
from .schedule import apply_schedule


@receiver(post_save, sender=QualysSettings, dispatch_uid="integrations.apply_schedule")
def reschedule_sync(sender, instance: QualysSettings, raw: bool = False, **kwargs) -> None:
    # Fixture loading (raw) restores rows as they were; the schedule is not touched.
    if raw:
        return
    apply_schedule(instance)
