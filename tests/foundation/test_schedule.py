"""The periodic sync schedule follows the settings at once, and a running beat obeys it."""

import time
from datetime import timedelta

import pytest
import redis
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask, PeriodicTasks

from integrations import constants
from integrations.forms import QualysSettingsForm
from integrations.models import QualysSettings
from integrations.schedule import apply_schedule

CONFIGURED = {
    "enabled": "on",
    "polling_interval": "24",
    "server": "qualysapi.qualys.com",
    "username": "lumeta_api",
    "password": "schedule-password",
    "host_list_version": "2.0",
    "page_size": "5000",
}


def save_form(**overrides) -> QualysSettings:
    """Save the settings through the settings page's form, as a user would."""
    data = {**CONFIGURED, **overrides}
    data = {name: value for name, value in data.items() if value is not None}
    form = QualysSettingsForm(data, instance=QualysSettings.load())
    assert form.is_valid(), form.errors
    return form.save()


def sync_task() -> PeriodicTask:
    return PeriodicTask.objects.select_related("interval").get(name=constants.SYNC_TASK_NAME)


@pytest.mark.django_db
class TestApplySchedule:
    def test_enabled_settings_schedule_the_sync(self):
        save_form(polling_interval="6")
        task = sync_task()
        assert task.task == constants.SYNC_TASK_PATH
        assert task.enabled is True
        assert task.interval.every == 6
        assert task.interval.period == IntervalSchedule.HOURS

    def test_first_run_one_interval_after_enabling(self):
        before = timezone.now()
        save_form(polling_interval="6")
        task = sync_task()
        assert before <= task.last_run_at <= timezone.now()
        assert task.schedule.remaining_estimate(task.last_run_at) > timedelta(hours=5)

    def test_disabled_settings_disable_the_task(self):
        save_form()
        save_form(enabled=None)
        assert sync_task().enabled is False

    def test_unconfigured_settings_keep_task_disabled(self):
        settings = QualysSettings.load()
        settings.enabled = True
        settings.save()
        assert settings.is_configured is False
        assert sync_task().enabled is False

    def test_interval_change_moves_last_update(self):
        save_form(polling_interval="24")
        before = PeriodicTasks.last_change()
        save_form(polling_interval="2", password="")
        assert sync_task().interval.every == 2
        assert PeriodicTasks.last_change() > before

    def test_turning_off_moves_last_update(self):
        save_form()
        before = PeriodicTasks.last_change()
        save_form(enabled=None, password="")
        assert PeriodicTasks.last_change() > before

    def test_one_task_whatever_the_saves(self):
        save_form()
        for hours in ("1", "5", "168", "5"):
            save_form(polling_interval=hours, password="")
        assert PeriodicTask.objects.filter(task=constants.SYNC_TASK_PATH).count() == 1
        assert sync_task().interval.every == 5

    def test_seconds_override_for_tests(self):
        settings = save_form()
        apply_schedule(settings, every=3, period=IntervalSchedule.SECONDS)
        task = sync_task()
        assert (task.interval.every, task.interval.period) == (3, IntervalSchedule.SECONDS)

    def test_duplicate_intervals_are_tolerated(self):
        IntervalSchedule.objects.create(every=7, period=IntervalSchedule.HOURS)
        IntervalSchedule.objects.create(every=7, period=IntervalSchedule.HOURS)
        save_form(polling_interval="7")
        assert sync_task().interval.every == 7

    def test_task_renamed_in_admin_is_restored(self):
        save_form()
        task = sync_task()
        task.task = "something.else"
        task.save()
        save_form(password="")
        assert sync_task().task == constants.SYNC_TASK_PATH


def wait_until(condition, timeout: float, what: str, output=lambda: "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}:\n{output()[-4000:]}")


@pytest.mark.services
def test_running_beat_follows_form_without_restart(celery_beat_process, redis_url):
    queue = redis.Redis.from_url(redis_url)
    # Beat sends to the default "celery" list; no worker runs in this test, so
    # every sent task stays in the list.
    queue.delete("celery")
    sent_line = f"Sending due task {constants.SYNC_TASK_NAME} ({constants.SYNC_TASK_PATH})"
    try:
        settings = save_form(polling_interval="24")
        beat = celery_beat_process(max_interval=1)
        beat.wait_for_output("DatabaseScheduler: initial read", timeout=60)
        # Beat takes the change timestamp it sees on its first tick as the baseline,
        # so a change saved before that tick would wait for the five-minute full sync.
        wait_until(
            lambda: (
                beat.output().split("DatabaseScheduler: initial read", 1)[1].count("Waking up") >= 2
            ),
            30,
            "beat's first ticks",
            beat.output,
        )

        # The same function the form's save calls, with a seconds period.
        before = PeriodicTasks.last_change()
        apply_schedule(settings, every=1, period=IntervalSchedule.SECONDS)
        assert PeriodicTasks.last_change() > before

        wait_until(
            lambda: queue.llen("celery") >= 2, 30, "beat to send the sync twice", beat.output
        )
        assert sent_line in beat.output()

        # Turn the integration off through the form.
        before = PeriodicTasks.last_change()
        save_form(enabled=None, password="")
        assert PeriodicTasks.last_change() > before
        wait_until(
            lambda: beat.output().count("DatabaseScheduler: Schedule changed.") >= 2,
            30,
            "beat to reload the schedule after the integration was turned off",
            beat.output,
        )
        log_after_change = len(beat.output())
        sent_before = queue.llen("celery")
        time.sleep(3)  # three one-second intervals

        assert queue.llen("celery") == sent_before
        assert sent_line not in beat.output()[log_after_change:]
        assert beat.process.poll() is None, beat.output()[-2000:]
    finally:
        # Leave no scheduled sync behind for a worker started by a later test.
        queue.delete("celery")
