"""The state around the counts: the integration's settings, the last sync and the next one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from integrations import constants
from integrations.models import QualysSettings, SyncRun

# Sync runs drawn in the trend chart, the latest ones.
TREND_RUNS = 90


@dataclass(frozen=True)
class NextRun:
    """When beat starts the next sync: ``at`` is None when no sync is scheduled."""

    scheduled: bool
    at: datetime | None = None
    due_now: bool = False


def settings_row() -> QualysSettings | None:
    """Return the Qualys settings without creating them (a page view writes nothing)."""
    return QualysSettings.objects.filter(pk=1).first()


def last_sync() -> SyncRun | None:
    """Return the latest sync that finished (succeeded or failed), previews excluded."""
    return (
        SyncRun.objects.filter(
            status__in=[SyncRun.Status.SUCCEEDED, SyncRun.Status.FAILED], dry_run=False
        )
        .order_by("-created_at", "-pk")
        .first()
    )


def last_successful_sync() -> SyncRun | None:
    return (
        SyncRun.objects.filter(status=SyncRun.Status.SUCCEEDED, dry_run=False)
        .order_by("-created_at", "-pk")
        .first()
    )


def last_stored_sync() -> SyncRun | None:
    """Return the latest sync that stored what it read from Qualys: the dashboard's data.

    A run records its counts once it has stored the Qualys tables, so a run
    that failed at the add or the asset group counts here, and one that
    failed before storing does not.
    """
    stored = Q(status=SyncRun.Status.SUCCEEDED) | Q(
        status=SyncRun.Status.FAILED, subscribed__isnull=False
    )
    return SyncRun.objects.filter(stored, dry_run=False).order_by("-created_at", "-pk").first()


def running_sync() -> SyncRun | None:
    """Return a sync that is queued or running now, if any."""
    return (
        SyncRun.objects.filter(status__in=[SyncRun.Status.QUEUED, SyncRun.Status.RUNNING])
        .order_by("-created_at", "-pk")
        .first()
    )


def next_run() -> NextRun:
    """Return when the periodic sync runs next: its last run plus its interval.

    A task that never ran is due at beat's next check. A missing or disabled
    task, or one on another kind of schedule, is reported as not scheduled.
    """
    task = (
        PeriodicTask.objects.select_related("interval")
        .filter(name=constants.SYNC_TASK_NAME)
        .first()
    )
    if task is None or not task.enabled or task.interval is None:
        return NextRun(scheduled=False)
    every = task.interval.schedule.run_every
    if task.last_run_at is None:
        start = task.start_time
        if start is not None and start > timezone.now():
            return NextRun(scheduled=True, at=start)
        return NextRun(scheduled=True, due_now=True)
    return NextRun(scheduled=True, at=task.last_run_at + every)


def trend_runs(limit: int = TREND_RUNS) -> list[SyncRun]:
    """Return the latest successful syncs with counts, oldest first."""
    runs = SyncRun.objects.filter(
        status=SyncRun.Status.SUCCEEDED, dry_run=False, indexed__isnull=False
    ).order_by("-created_at", "-pk")[:limit]
    return list(reversed(runs))
