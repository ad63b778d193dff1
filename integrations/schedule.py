"""The periodic sync task: one django-celery-beat PeriodicTask that follows the settings.

Beat runs with the DatabaseScheduler, which reloads its schedule when
``PeriodicTasks.last_update`` changes. django-celery-beat bumps that value from
the ``post_save`` signals of its models, so every write here goes through
model ``.save()``: a queryset ``.update()`` sends no signal and a running beat
would keep the old interval until it restarts.

NOTE: django-celery-beat 2.9 takes the change time it reads on its first tick
after start as its baseline, so a change saved in that first second is only
picked up by the scheduler's full reload, at most five minutes later.
"""

import logging

from django.db import transaction
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from . import constants

logger = logging.getLogger(__name__)


def apply_schedule(
    settings, *, every: int | None = None, period: str | None = None
) -> PeriodicTask:
    """Create or update the sync's PeriodicTask from ``settings`` (a QualysSettings).

    The task runs every ``settings.polling_interval`` hours, and is enabled
    only while the integration is enabled and configured. ``every`` and
    ``period`` (an ``IntervalSchedule`` period such as ``IntervalSchedule.SECONDS``)
    override the interval; tests use them for a seconds-level schedule.
    """
    every = every if every is not None else settings.polling_interval
    period = period or IntervalSchedule.HOURS
    enabled = bool(settings.enabled and settings.is_configured)

    with transaction.atomic():
        # The admin can create duplicate intervals, so take the first rather than get().
        interval = (
            IntervalSchedule.objects.filter(every=every, period=period).order_by("pk").first()
        )
        if interval is None:
            interval = IntervalSchedule(every=every, period=period)
            interval.save()
        task = PeriodicTask.objects.filter(name=constants.SYNC_TASK_NAME).first()
        if task is None:
            task = PeriodicTask(name=constants.SYNC_TASK_NAME)
        changed = (
            task.pk is None
            or task.task != constants.SYNC_TASK_PATH
            or task.interval_id != interval.pk
            or task.enabled != enabled
        )
        if enabled and task.last_run_at is None:
            # Beat counts the first interval from its own start when this is empty;
            # setting it counts from now, and lets pages show the next run time.
            task.last_run_at = timezone.now()
            changed = True
        if changed:
            task.task = constants.SYNC_TASK_PATH
            task.interval = interval
            task.crontab = None
            task.solar = None
            task.clocked = None
            task.one_off = False
            task.enabled = enabled
            task.description = (
                "Fetches the Qualys subscription and scanned hosts and pushes the gap."
            )
            # Model save, never .update(): only the save signal notifies a running beat.
            task.save()

    if changed:
        # IntervalSchedule periods are plural nouns ("hours"): "every 1 hours" reads as a slip.
        unit = period[:-1] if every == 1 else period
        logger.info(
            "Sync schedule set: every %s %s, %s",
            every,
            unit,
            "enabled" if enabled else "disabled",
        )
    return task
