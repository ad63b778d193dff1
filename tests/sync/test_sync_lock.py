"""Two syncs never run at once: the Redis lease, skipped runs and redelivered tasks."""

import contextlib
import logging
import re
import sys
import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from integrations.models import SyncRun
from integrations.services import runs
from integrations.services.lock import LOCK_KEY_PREFIX, SyncLock, current_holder, lock_key

from . import scenario

pytestmark = pytest.mark.django_db


def kill(lock: SyncLock) -> None:
    """Stop a lock's heartbeat without releasing it, as a killed worker would."""
    lock._stop.set()
    lock._thread.join()


def test_lock_key_names_the_database(monkeypatch):
    key = lock_key()
    monkeypatch.setitem(connection.settings_dict, "NAME", "another-database")

    assert key.startswith(f"{LOCK_KEY_PREFIX}:")
    assert lock_key() != key


def test_other_database_lock_does_not_block(sync_redis, monkeypatch):
    with monkeypatch.context() as patched:
        patched.setitem(connection.settings_dict, "NAME", "another-database")
        other = SyncLock("other", connection=sync_redis)
        assert other.acquire() is True
    own = SyncLock("1", connection=sync_redis)

    try:
        assert own.acquire() is True
        assert current_holder(sync_redis) == "1"
    finally:
        own.release()
        other.release()


def test_lock_is_exclusive_until_released(sync_redis):
    first = SyncLock("1", connection=sync_redis)
    second = SyncLock("2", connection=sync_redis)

    assert first.acquire() is True
    assert second.acquire() is False
    assert current_holder(sync_redis) == "1"
    first.release()
    assert second.acquire() is True
    second.release()
    assert current_holder(sync_redis) is None


def test_heartbeat_keeps_lease_beyond_its_length(sync_redis):
    lock = SyncLock("1", connection=sync_redis, lease_seconds=1)
    lock.acquire()
    time.sleep(1.6)

    assert current_holder(sync_redis) == "1"
    assert lock.lost is False
    lock.release()


def test_lease_lapses_when_holder_dies(sync_redis):
    dead = SyncLock("1", connection=sync_redis, lease_seconds=1)
    dead.acquire()
    kill(dead)
    time.sleep(1.2)

    successor = SyncLock("2", connection=sync_redis)
    assert successor.acquire() is True
    # The lapsed holder can neither renew nor delete the successor's lease.
    assert dead.renew() is False
    assert dead.lost is True
    dead._held = True
    dead.release()
    assert current_holder(sync_redis) == "2"
    successor.release()


@pytest.mark.parametrize(
    ("owner", "running"),
    # A lease of a sync run names the run; one held by anything else does not.
    [("other", "another sync"), ("41", "another sync (run 41)")],
)
def test_sync_skipped_while_another_holds_lock(qualys, configure, sync_redis, owner, running):
    configure()
    scenario.load(qualys)
    holder = SyncLock(owner, connection=sync_redis)
    holder.acquire()
    try:
        run = runs.execute_run(runs.create_run(SyncRun.Trigger.SCHEDULE))
    finally:
        holder.release()

    assert run.status == SyncRun.Status.SKIPPED
    assert run.error == (
        f"{running} was running, so this one did not start. Wait until it has finished, "
        "then start a new sync if you still need one. A sync whose worker was stopped holds the "
        "lock until its lease lapses, within 120 seconds."
    )
    assert run.finished_at is not None
    assert qualys.calls == []


def test_redelivered_run_does_not_push_twice(qualys, configure):
    configure(auto_subscribe=True)
    scenario.load(qualys)
    run = runs.create_run(SyncRun.Trigger.BUTTON)
    runs.execute_run(run.pk)
    calls = len(qualys.calls)

    again = runs.execute_run(run.pk)

    assert again.status == SyncRun.Status.SUCCEEDED
    assert len(qualys.calls) == calls
    assert len(qualys.calls_of("ip_add")) == 1
    assert len(qualys.calls_of("group_add")) == 1


def test_running_run_is_not_started_again(qualys, configure):
    configure()
    run = runs.create_run(SyncRun.Trigger.BUTTON)
    SyncRun.objects.filter(pk=run.pk).update(status=SyncRun.Status.RUNNING)

    again = runs.execute_run(run.pk)

    assert again.status == SyncRun.Status.RUNNING
    assert qualys.calls == []


def test_scheduled_task_redelivery_reuses_its_run(qualys, configure):
    configure()
    run, created = runs.claim_scheduled_run("task-1")
    again, created_again = runs.claim_scheduled_run("task-1")

    assert created is True
    assert created_again is False
    assert again.pk == run.pk


def test_run_abandoned_by_killed_process_is_marked_failed(qualys, configure):
    configure()
    scenario.load(qualys)
    abandoned = runs.create_run(SyncRun.Trigger.SCHEDULE)
    SyncRun.objects.filter(pk=abandoned.pk).update(status=SyncRun.Status.RUNNING)

    run = runs.execute_run(runs.create_run(SyncRun.Trigger.BUTTON))

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    abandoned.refresh_from_db()
    assert abandoned.status == SyncRun.Status.FAILED
    assert "stopped before it finished" in abandoned.error


def test_long_queued_run_is_failed_by_next_sync(qualys, configure):
    configure()
    scenario.load(qualys)
    lost = runs.create_run(SyncRun.Trigger.BUTTON)
    recent = runs.create_run(SyncRun.Trigger.BUTTON)
    long_ago = timezone.now() - timedelta(minutes=runs.LOST_QUEUED_MINUTES + 1)
    SyncRun.objects.filter(pk=lost.pk).update(created_at=long_ago)

    run = runs.execute_run(runs.create_run(SyncRun.Trigger.SCHEDULE))

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    lost.refresh_from_db()
    recent.refresh_from_db()
    assert lost.status == SyncRun.Status.FAILED
    assert lost.error.startswith("No worker started this sync within 30 minutes")
    # A run queued a moment ago may still get its task, which is then skipped or runs.
    assert recent.status == SyncRun.Status.QUEUED
    # The lost task, should it still come, does nothing.
    assert runs.execute_run(lost.pk).status == SyncRun.Status.FAILED


def test_sync_fails_when_redis_is_unreachable(qualys, configure, settings):
    configure()
    settings.REDIS_URL = "redis://127.0.0.1:1/0"

    run = runs.execute_run(runs.create_run(SyncRun.Trigger.COMMAND))

    assert run.status == SyncRun.Status.FAILED
    assert "redis://127.0.0.1:1/0 is not reachable" in run.error
    assert qualys.calls == []


def test_command_exit_codes(qualys, configure, sync_redis, capsys):
    configure()
    scenario.load(qualys)

    call_command("qualys_sync", "--no-progress")
    assert "succeeded" in capsys.readouterr().out

    holder = SyncLock("other", connection=sync_redis)
    holder.acquire()
    with pytest.raises(SystemExit) as skipped:
        call_command("qualys_sync", "--no-progress")
    holder.release()
    assert skipped.value.code == 3
    assert "another sync was running, so this one did not start" in capsys.readouterr().out

    qualys.fail("ip_list", status=401, body=b"", repeat=True)
    with pytest.raises(SystemExit) as failed:
        call_command("qualys_sync", "--no-progress")
    assert failed.value.code == 2
    assert "failed" in capsys.readouterr().out


def test_quiet_sync_prints_only_failures(qualys, configure, capsys, caplog):
    configure()
    scenario.load(qualys)
    caplog.clear()

    call_command("qualys_sync", "--no-progress", verbosity=0)
    assert capsys.readouterr().out == ""
    # The scenario's data warnings are on the run, not in cron's mail.
    assert SyncRun.objects.latest("pk").details["warnings"]
    assert [record for record in caplog.records if record.levelno < logging.ERROR] == []

    qualys.fail("ip_list", status=401, body=b"", repeat=True)
    with pytest.raises(SystemExit):
        call_command("qualys_sync", "--no-progress", verbosity=0)
    assert "failed" in capsys.readouterr().out


def test_command_dry_run_prints_what_would_change(qualys, configure, capsys):
    configure(auto_subscribe=True)
    scenario.load(qualys)

    call_command("qualys_sync", "--dry-run", "--no-progress")

    out = capsys.readouterr().out
    assert "(preview)" in out
    assert "would add=2 " in out
    assert "Ranges the sync would add: 2 addresses in 2 ranges" in out
    assert "  192.0.2.40" in out
    assert "Asset group ranges (preview): 278 addresses in 5 ranges" in out
    assert qualys.writes == []
    assert SyncRun.objects.get().trigger == SyncRun.Trigger.COMMAND


def test_failed_dry_run_prints_no_ranges(qualys, configure, capsys):
    configure(auto_subscribe=True)
    scenario.load(qualys)
    qualys.fail("ip_list", status=401, body=b"", repeat=True)

    with pytest.raises(SystemExit):
        call_command("qualys_sync", "--dry-run", "--no-progress")

    out = capsys.readouterr().out
    assert "Ranges the sync would add: not computed, because the run ended before then." in out
    assert "Asset group ranges (preview): not computed, because the run ended before then." in out
    assert "0 addresses" not in out


@pytest.mark.parametrize("dry_run", [True, False])
def test_command_names_add_held_back_by_limit(qualys, configure, capsys, dry_run):
    configure(auto_subscribe=True, max_add_per_sync=1)
    scenario.load(qualys)
    options = ["--dry-run"] if dry_run else []

    with contextlib.suppress(SystemExit):
        call_command("qualys_sync", "--no-progress", "--show-ranges", *options)

    out = capsys.readouterr().out
    verb, leave = ("would add", "would leave") if dry_run else ("added", "left")
    assert f"{verb}=0 (2 held back) " in out
    assert (
        "Held back by the Auto-Subscribe limit: 2 addresses; the sync "
        f"{leave} the asset group as it is."
    ) in out
    assert "  192.0.2.40" in out
    assert "Asset group ranges" not in out
    assert "Ranges the sync" not in out


def test_command_shows_progress_bar_on_terminal(qualys, configure, capsys, monkeypatch):
    configure()
    scenario.load(qualys)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)

    call_command("qualys_sync")

    err = capsys.readouterr().err
    # The bar keeps its last state: the whole host list read, in the last step.
    drawn = [line for line in re.split(r"[\r\n]+", err) if "scanned hosts read [" in line]
    assert drawn[-1].startswith(f"Recording: {len(scenario.HOSTS)} scanned hosts read [")


def test_command_draws_no_bar_into_a_file(qualys, configure, capsys):
    configure()
    scenario.load(qualys)

    call_command("qualys_sync")

    assert "scanned hosts read [" not in capsys.readouterr().err
