"""Start sync runs: the one path shared by the beat task, the "Sync now" button and the command.

A run is created ``queued``. ``execute_run`` takes the sync lock and moves
the run to ``running`` with a conditional update. A task delivered twice (a
broker can redeliver a long task) therefore runs the sync once, because the
second delivery finds the run no longer queued and does nothing.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings as django_settings
from django.db import transaction
from django.utils import timezone

from ..models import SyncRun
from .call_guard import QualysCallGuard
from .lock import LockError, SyncLock, current_holder
from .progress import Listener
from .sync import SyncService

logger = logging.getLogger(__name__)


def skipped_reason() -> str:
    """Return why a run is skipped while another sync holds the lock, naming that run."""
    try:
        holder = current_holder()
    except LockError:
        holder = None
    # The lease of a sync run is named after the run; any other owner stays unnamed.
    running = f"another sync (run {holder})" if holder and holder.isdigit() else "another sync"
    lease = django_settings.SYNC_LOCK_LEASE_SECONDS
    return (
        f"{running} was running, so this one did not start. Wait until it has finished, then "
        "start a new sync if you still need one. A sync whose worker was stopped holds the "
        f"lock until its lease lapses, within {lease} seconds."
    )


# A run queued this long before a later sync started lost its task (a Redis that
# was emptied or restarted without its data). Its task, should it still come,
# finds the run failed and does nothing.
LOST_QUEUED_MINUTES = 30


def queued_before(run: SyncRun) -> SyncRun | None:
    """Return a run queued before ``run`` that a worker has still to start, or None.

    A run queued longer than LOST_QUEUED_MINUTES lost its task and does not count.
    """
    since = timezone.now() - timedelta(minutes=LOST_QUEUED_MINUTES)
    return (
        SyncRun.objects.filter(status=SyncRun.Status.QUEUED, created_at__gte=since, pk__lt=run.pk)
        .order_by("pk")
        .first()
    )


def queued_reason(waiting: SyncRun) -> str:
    """Return why a run is skipped while ``waiting`` is queued."""
    return (
        f"another sync (run {waiting.pk}) was queued and waits for a worker, so this one did "
        "not start. Wait until that one has finished, then start a new sync if you still need "
        "one."
    )


def create_run(trigger: str, *, dry_run: bool = False, user=None, task_id: str = "") -> SyncRun:
    """Create a queued run."""
    return SyncRun.objects.create(
        trigger=trigger,
        dry_run=dry_run,
        requested_by=user if user is not None and user.is_authenticated else None,
        task_id=task_id,
    )


def claim_scheduled_run(task_id: str) -> tuple[SyncRun, bool]:
    """Return the run of a beat-sent task, creating it on the first delivery.

    Beat's message carries no run id, so the Celery task id stands for it: a
    redelivered message finds the run of its first delivery.
    """
    with transaction.atomic():
        existing = SyncRun.objects.filter(task_id=task_id).first() if task_id else None
        if existing is not None:
            return existing, False
        return create_run(SyncRun.Trigger.SCHEDULE, task_id=task_id), True


def record_skipped(run: SyncRun, reason: str | None = None) -> SyncRun:
    """Mark a queued run skipped, by default because another sync is running."""
    reason = reason or skipped_reason()
    now = timezone.now()
    SyncRun.objects.filter(pk=run.pk, status=SyncRun.Status.QUEUED).update(
        status=SyncRun.Status.SKIPPED, error=reason, started_at=now, finished_at=now
    )
    run.refresh_from_db()
    logger.info("Sync %s skipped: %s", run.pk, reason)
    return run


def record_failed(run: SyncRun, message: str) -> SyncRun:
    now = timezone.now()
    SyncRun.objects.filter(pk=run.pk).update(
        status=SyncRun.Status.FAILED,
        error=message,
        started_at=run.started_at or now,
        finished_at=now,
    )
    run.refresh_from_db()
    logger.error("Sync %s failed: %s", run.pk, message)
    return run


def sync_running() -> bool:
    """Return whether a sync holds the lock now."""
    return current_holder() is not None


def fail_abandoned_runs(current: SyncRun) -> int:
    """Mark failed the runs that can no longer run: ``running`` ones and long-``queued`` ones.

    Only the lock holder calls this, so no other run can really be running: the
    process of such a run died.
    """
    now = timezone.now()
    others = SyncRun.objects.exclude(pk=current.pk)
    died = others.filter(status=SyncRun.Status.RUNNING).update(
        status=SyncRun.Status.FAILED,
        finished_at=now,
        step="",
        error=(
            "The process running this sync stopped before it finished (the worker was stopped "
            "or killed); its lock lapsed and a later sync took over."
        ),
    )
    lost = others.filter(
        status=SyncRun.Status.QUEUED,
        created_at__lt=now - timedelta(minutes=LOST_QUEUED_MINUTES),
    ).update(
        status=SyncRun.Status.FAILED,
        started_at=now,
        finished_at=now,
        error=(
            f"No worker started this sync within {LOST_QUEUED_MINUTES} minutes, and a later sync "
            "ran; its task was lost, as when Redis restarts without its data. Start a new sync "
            "if you still need one."
        ),
    )
    return died + lost


def execute_run(
    run: SyncRun | int, *, listener: Listener | None = None, client=None, call_guard=None
) -> SyncRun | None:
    """Run a queued sync under the sync lock; return the run as recorded.

    A run that is not queued (already running, finished or skipped) is left
    as it is. A run that finds another sync holding the lock is skipped. A
    run id that no longer exists returns None.
    """
    if not isinstance(run, SyncRun):
        found = SyncRun.objects.filter(pk=run).first()
        if found is None:
            logger.warning("Sync %s does not exist (deleted before its task ran)", run)
            return None
        run = found
    if run.status != SyncRun.Status.QUEUED:
        logger.info("Sync %s is %s already; this delivery does nothing", run.pk, run.status)
        return run

    lock = SyncLock(str(run.pk))
    try:
        if not lock.acquire():
            return record_skipped(run)
    except LockError as error:
        return record_failed(run, str(error))

    try:
        claimed = SyncRun.objects.filter(pk=run.pk, status=SyncRun.Status.QUEUED).update(
            status=SyncRun.Status.RUNNING, started_at=timezone.now()
        )
        if not claimed:
            run.refresh_from_db()
            return run
        run.refresh_from_db()
        abandoned = fail_abandoned_runs(run)
        if abandoned:
            logger.warning("Sync %s: marked %s abandoned runs failed", run.pk, abandoned)
        if call_guard is None:
            call_guard = QualysCallGuard(connection=lock.connection)
        service = SyncService(
            run, lock=lock, client=client, listener=listener, call_guard=call_guard
        )
        return service.run_sync()
    finally:
        lock.release()
