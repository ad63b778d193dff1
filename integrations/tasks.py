"""Celery tasks of the integration: thin wrappers around ``integrations.services.runs``.

Both tasks carry the time limits from the settings. The broker's visibility
timeout is kept above the hard limit (the settings refuse to start
otherwise), and a redelivered task finds its run already started and does
nothing, so a long sync is never pushed twice.
"""

import logging

from celery import shared_task
from django.conf import settings

from .models import QualysSettings, SyncRun
from .services import runs
from .services.sync import summarize

logger = logging.getLogger(__name__)

TIME_LIMITS = {
    "soft_time_limit": settings.SYNC_SOFT_TIME_LIMIT,
    "time_limit": settings.SYNC_TIME_LIMIT,
    "acks_late": True,
}


@shared_task(bind=True, name="integrations.tasks.run_sync", **TIME_LIMITS)
def run_sync(self, run_id: int) -> str:
    """Run the queued sync ``run_id`` (sent by "Sync now" and "Preview")."""
    run = runs.execute_run(run_id)
    return summarize(run) if run is not None else f"sync {run_id} does not exist"


@shared_task(bind=True, name="integrations.tasks.run_scheduled_sync", **TIME_LIMITS)
def run_scheduled_sync(self) -> str:
    """Run the periodic sync that Celery beat sends at every polling interval."""
    qualys_settings = QualysSettings.load()
    if not (qualys_settings.enabled and qualys_settings.is_configured):
        logger.info("Scheduled sync not run: the Qualys integration is off or not configured")
        return "not run: the integration is off or not configured"
    run, created = runs.claim_scheduled_run(self.request.id or "")
    if not created:
        logger.info(
            "Scheduled task %s was delivered again; sync %s is %s",
            self.request.id,
            run.pk,
            run.status,
        )
        return f"sync {run.pk} is {run.status} already"
    run = runs.execute_run(run)
    return summarize(run)


def send_sync(run: SyncRun) -> SyncRun:
    """Queue ``run`` on a worker and remember the task id."""
    result = run_sync.delay(run.pk)
    SyncRun.objects.filter(pk=run.pk).update(task_id=result.id)
    run.task_id = result.id
    return run
