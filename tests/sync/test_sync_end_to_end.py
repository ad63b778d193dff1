"""The whole path: Redis, a real Celery worker (and beat), the Qualys emulator over HTTPS.

The emulator runs as a subprocess with its own state file; the worker gets
the emulator's certificate as QUALYS_CA_BUNDLE. Checks read the emulator's
state file (subscription, asset groups, write log) and the local tables.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import pytest
import redis
from django_celery_beat.models import IntervalSchedule

from integrations import constants
from integrations.models import QualysSettings, ScannedHost, SubscribedRange, SyncRun
from integrations.schedule import apply_schedule
from integrations.services import runs
from integrations.services.call_guard import SLOTS_KEY
from integrations.services.lock import current_holder
from integrations.tasks import send_sync
from lumeta_qualys.celery import app as celery_app
from lumeta_qualys.ipset import IPSet
from tests.support.services import subprocess_env

from .conftest import index

pytestmark = [pytest.mark.services]

TITLE = constants.ASSET_GROUP_TITLE
STATE = {
    "users": {"apiuser": "a-password"},
    "subscription": {
        "ips": ["192.0.2.1", "192.0.2.10-192.0.2.30", "198.51.100.0-198.51.100.255", "0.0.0.7"],
        "licence_limit": None,
    },
    "ipv6_enabled": True,
    "ipv6_mappings": [{"id": 1, "v4": "0.0.0.7", "v6": "2001:db8::7"}],
    "hosts": [
        {
            "id": 101,
            "ip": "192.0.2.10",
            "dns": "a.example.test",
            "tracking_method": "IP",
            "last_vuln_scan": "2026-11-30T02:00:00Z",
        },
        {"id": 102, "ip": "192.0.2.11", "tracking_method": "IP"},
        {"id": 103, "ip": "0.0.0.7", "ipv6": "2001:db8::7", "tracking_method": "IP"},
        {"id": 104, "ip": "203.0.113.9", "tracking_method": "IP"},
    ],
    "asset_groups": [{"id": 10, "title": "Servers", "ips": ["192.0.2.20-192.0.2.25"]}],
}
INDEXED = ["192.0.2.1", "192.0.2.10", "192.0.2.12", "192.0.2.40", "203.0.113.9", "2001:db8::99"]


def wait_for(condition: Callable[[], object], timeout: float, what: str, process=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    output = process.output()[-4000:] if process is not None else ""
    raise AssertionError(f"timed out waiting for {what}\n{output}")


def finished(run: SyncRun) -> Callable[[], SyncRun | None]:
    def check() -> SyncRun | None:
        run.refresh_from_db()
        return run if run.status not in (SyncRun.Status.QUEUED, SyncRun.Status.RUNNING) else None

    return check


@pytest.fixture
def stack(transactional_db, redis_url, start_process, qualys_emulator, settings, monkeypatch):
    """Start the emulator and return helpers to configure the product and start workers."""
    settings.REDIS_URL = redis_url
    monkeypatch.setattr(celery_app.conf, "broker_url", redis_url)

    class Stack:
        emulator = None

        def start_emulator(self, state=STATE, args=()):
            self.emulator = qualys_emulator(state, args)
            settings.QUALYS_CA_BUNDLE = str(self.emulator.cert_path)
            return self.emulator

        def configure(self, **values) -> QualysSettings:
            qualys_settings = QualysSettings.load()
            qualys_settings.enabled = True
            qualys_settings.server = self.emulator.url
            qualys_settings.username = self.emulator.username
            qualys_settings.password = self.emulator.password
            for name, value in values.items():
                setattr(qualys_settings, name, value)
            qualys_settings.save()
            return qualys_settings

        def env(self, **extra: str) -> dict[str, str]:
            return subprocess_env(
                REDIS_URL=redis_url, QUALYS_CA_BUNDLE=str(self.emulator.cert_path), **extra
            )

        def worker(self, **extra: str):
            worker = start_process(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "lumeta_qualys",
                    "worker",
                    "--pool",
                    "solo",
                    "--loglevel",
                    "INFO",
                    "--without-heartbeat",
                    "--without-gossip",
                    "--without-mingle",
                ],
                self.env(**extra),
                name="celery-worker",
            )
            worker.wait_for_output("ready.", timeout=60)
            return worker

        def beat(self, workdir):
            return start_process(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "lumeta_qualys",
                    "beat",
                    "--loglevel",
                    "INFO",
                    "--max-interval",
                    "1",
                    "--schedule",
                    str(workdir / "beat.db"),
                ],
                self.env(),
                name="celery-beat",
            )

    yield Stack()
    # A killed worker's Qualys call slot holds for the read timeout plus a minute,
    # which would hold up the next test's syncs.
    redis.Redis.from_url(redis_url).delete(SLOTS_KEY)


def stored_subscription() -> IPSet:
    return IPSet.from_strings(str(row) for row in SubscribedRange.objects.all())


def test_sync_now_through_worker_pushes_to_emulator(stack):
    emulator = stack.start_emulator()
    stack.configure(auto_subscribe=True)
    index(*INDEXED)
    worker = stack.worker()

    run = send_sync(runs.create_run(SyncRun.Trigger.BUTTON))
    run = wait_for(finished(run), 60, "the sync to finish", worker)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    state = emulator.read_state()
    subscription = IPSet.from_strings(state["subscription"]["ips"])
    # I − S (IPv4 part) was added; IPv6 2001:db8::99 was not sent.
    # I − S in IPv4 (192.0.2.40, 203.0.113.9) was added; IPv6 2001:db8::99 was not sent.
    assert IPSet.from_strings(["192.0.2.40", "203.0.113.9"]) & subscription == IPSet.from_strings(
        ["192.0.2.40", "203.0.113.9"]
    )
    assert run.ips_added == 2
    assert run.ipv6_not_pushable == 1
    assert run.details["not_pushable_sample"] == ["2001:db8::99"]
    groups = {group["title"]: group for group in state["asset_groups"]}
    assert groups["Servers"]["ips"] == ["192.0.2.20-192.0.2.25"]
    # S′ − M: the subscription after the add without the scanned addresses.
    assert groups[TITLE]["ips"] == [
        "192.0.2.1",
        "192.0.2.12-192.0.2.30",
        "192.0.2.40",
        "198.51.100.0-198.51.100.255",
    ]
    assert run.group_size == 1 + 19 + 1 + 256
    # The IP API took three calls (list, add, list again), more than any other API.
    assert run.details["rate_limit_api"] == "/api/2.0/fo/asset/ip/"
    assert run.rate_limit_remaining == run.rate_limit_limit - 3

    log = emulator.write_log()
    assert [entry["action"] for entry in log] == ["asset/ip add", "asset/group add"]
    assert log[0]["params"]["ips"] == "192.0.2.40,203.0.113.9"
    assert log[1]["params"]["title"] == TITLE
    assert all(entry["params"].get("id") != "10" for entry in log)

    # The local tables now equal Qualys's state, with placeholders replaced by their IPv6.
    held = (subscription - IPSet.from_strings(["0.0.0.7"])) | IPSet.from_strings(["2001:db8::7"])
    assert stored_subscription() == held
    assert set(ScannedHost.objects.values_list("qualys_id", flat=True)) == {101, 102, 103, 104}


def test_redelivered_task_does_not_push_twice(stack):
    emulator = stack.start_emulator()
    stack.configure(auto_subscribe=True)
    index(*INDEXED)
    worker = stack.worker()
    run = runs.create_run(SyncRun.Trigger.BUTTON)

    send_sync(run)
    send_sync(run)  # the same run id delivered again
    wait_for(finished(run), 60, "the sync to finish", worker)
    wait_for(
        lambda: worker.output().count("integrations.tasks.run_sync[") >= 4,
        30,
        "both deliveries to be handled",
        worker,
    )

    actions = [entry["action"] for entry in emulator.write_log()]
    assert actions == ["asset/ip add", "asset/group add"]
    assert SyncRun.objects.count() == 1


def kill_worker_in_sync(stack, emulator) -> SyncRun:
    """Start a sync on a worker, hold it in the host list, kill the worker; return its run.

    The worker's lease is short, so that its lock lapses before the next test.
    """
    emulator.set_faults(
        [{"kind": "slow", "endpoint": "asset/host", "action": "list", "delay": 30, "times": 1}]
    )
    worker = stack.worker(SYNC_LOCK_LEASE_SECONDS="2")
    doomed = send_sync(runs.create_run(SyncRun.Trigger.BUTTON))

    def reading_hosts() -> bool:
        doomed.refresh_from_db()
        return doomed.step == "fetch_scanned_hosts"

    wait_for(reading_hosts, 60, "the sync to reach the host list", worker)
    worker.stop(kill=True)
    emulator.set_faults([])
    return doomed


def test_killed_worker_lock_lapses_and_next_sync_runs(stack):
    emulator = stack.start_emulator()
    stack.configure(auto_subscribe=False)
    index(*INDEXED)
    first = runs.execute_run(runs.create_run(SyncRun.Trigger.COMMAND))
    assert first.status == SyncRun.Status.SUCCEEDED, first.error
    before = sorted(SubscribedRange.objects.values_list("start_key", "end_key"))
    writes_before = len(emulator.write_log())

    doomed = kill_worker_in_sync(stack, emulator)
    wait_for(lambda: current_holder() is None, 15, "the lock to lapse")

    assert sorted(SubscribedRange.objects.values_list("start_key", "end_key")) == before
    assert len(emulator.write_log()) == writes_before

    worker = stack.worker(SYNC_LOCK_LEASE_SECONDS="2")
    after = send_sync(runs.create_run(SyncRun.Trigger.BUTTON))
    after = wait_for(finished(after), 60, "the next sync to finish", worker)

    assert after.status == SyncRun.Status.SUCCEEDED, after.error
    doomed.refresh_from_db()
    assert doomed.status == SyncRun.Status.FAILED
    assert "stopped before it finished" in doomed.error


def test_redelivered_sync_task_does_not_sync_again(stack, redis_url):
    # With acks_late, a task whose worker dies stays unacknowledged, and Redis
    # hands it to another worker once the visibility timeout has passed.
    emulator = stack.start_emulator()
    stack.configure(auto_subscribe=False)
    index(*INDEXED)
    doomed = kill_worker_in_sync(stack, emulator)
    broker = redis.Redis.from_url(redis_url)
    unacked = broker.zrange("unacked_index", 0, -1)
    assert unacked, "the killed worker's task should be unacknowledged"
    # The index records each delivery's time. Moved back past any visibility timeout,
    # it makes the next worker that starts redeliver the task at once.
    broker.zadd("unacked_index", dict.fromkeys(unacked, 0))
    requests_before = emulator.output().count("/api/2.0/fo/")
    assert requests_before > 0, "the emulator should log each request"

    second = stack.worker(SYNC_LOCK_LEASE_SECONDS="2")
    second.wait_for_output(
        f"Sync {doomed.pk} is running already; this delivery does nothing", timeout=60
    )

    # The second delivery found the run taken and did not sync: no call, no write.
    assert emulator.output().count("/api/2.0/fo/") == requests_before
    assert emulator.write_log() == []
    doomed.refresh_from_db()
    assert doomed.status == SyncRun.Status.RUNNING
    assert SyncRun.objects.count() == 1
    wait_for(lambda: broker.zcard("unacked_index") == 0, 30, "the redelivery to be acknowledged")
    wait_for(lambda: current_holder() is None, 15, "the killed worker's lock to lapse")


def test_schedule_changes_take_effect_without_restart(stack, tmp_path):
    stack.start_emulator()
    qualys_settings = stack.configure(auto_subscribe=False)
    index(*INDEXED)
    apply_schedule(qualys_settings, every=1, period=IntervalSchedule.SECONDS)
    worker = stack.worker()
    beat = stack.beat(tmp_path)

    def scheduled_runs() -> int:
        return SyncRun.objects.filter(
            trigger=SyncRun.Trigger.SCHEDULE, status=SyncRun.Status.SUCCEEDED
        ).count()

    wait_for(lambda: scheduled_runs() >= 2, 60, "two scheduled syncs", beat)

    # Turning the integration off stops the schedule: no more scheduled runs.
    qualys_settings.enabled = False
    qualys_settings.save()
    time.sleep(2)  # let a run sent just before the change finish
    settled = SyncRun.objects.filter(trigger=SyncRun.Trigger.SCHEDULE).count()
    time.sleep(4)
    assert SyncRun.objects.filter(trigger=SyncRun.Trigger.SCHEDULE).count() == settled

    # Turning it on again with a one-second interval brings the runs back.
    qualys_settings.enabled = True
    qualys_settings.save()
    apply_schedule(qualys_settings, every=1, period=IntervalSchedule.SECONDS)
    wait_for(
        lambda: scheduled_runs() >= settled + 1, 60, "a scheduled sync after re-enabling", worker
    )
