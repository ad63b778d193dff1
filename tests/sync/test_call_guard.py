"""The Redis semaphore that caps Qualys calls in flight across processes."""

import pytest

from integrations.models import SyncRun
from integrations.qualys import ConcurrencyLimited
from integrations.services import runs
from integrations.services.call_guard import REPORTED_LIMIT_KEY, SLOTS_KEY, QualysCallGuard

from . import conftest, scenario

pytestmark = pytest.mark.django_db


@pytest.fixture
def slots(sync_redis):
    sync_redis.delete(SLOTS_KEY, REPORTED_LIMIT_KEY)
    yield sync_redis
    sync_redis.delete(SLOTS_KEY, REPORTED_LIMIT_KEY)


def test_guard_holds_slot_during_call_and_frees_it(slots):
    guard = QualysCallGuard(limit=2, connection=slots)

    with guard():
        assert guard.in_flight() == 1
        with guard():
            assert guard.in_flight() == 2

    assert guard.in_flight() == 0


def test_guard_waits_then_fails_when_slots_stay_taken(slots):
    waits: list[float] = []
    holder = QualysCallGuard(limit=1, connection=slots)
    waiter = QualysCallGuard(
        limit=1, connection=slots, wait_seconds=0.3, poll_seconds=0.1, sleep=waits.append
    )

    with holder():
        with pytest.raises(ConcurrencyLimited, match="1 Qualys calls of this product"):
            with waiter():
                pass
        assert waiter.in_flight() == 1  # only the holder's slot

    assert waits  # it polled before giving up


def test_guard_frees_slot_of_dead_process_after_lease(slots):
    dead = QualysCallGuard(limit=1, connection=slots, lease_seconds=0.01)
    dead._take("left-by-a-killed-worker")
    live = QualysCallGuard(limit=1, connection=slots, wait_seconds=5, sleep=lambda s: None)

    with live():
        assert live.in_flight() == 1


def test_sync_calls_qualys_through_guard(qualys, configure, slots):
    configure(auto_subscribe=True)
    scenario.load(qualys)
    held: list[int] = []
    qualys.observers.append(lambda kind: held.append(slots.zcard(SLOTS_KEY)))

    run = runs.execute_run(runs.create_run(SyncRun.Trigger.COMMAND))

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert held == [1] * len(qualys.calls)
    assert slots.zcard(SLOTS_KEY) == 0


def test_lower_reported_limit_caps_every_guard(slots):
    first = QualysCallGuard(limit=2, connection=slots)
    other = QualysCallGuard(
        limit=2, connection=slots, wait_seconds=0.2, poll_seconds=0.1, sleep=lambda s: None
    )

    first.learn_limit(1)

    assert other.effective_limit() == 1
    with first():
        with pytest.raises(ConcurrencyLimited, match="^1 Qualys calls of this product"):
            with other():
                pass


def test_higher_reported_limit_keeps_the_configured_one(slots):
    guard = QualysCallGuard(
        limit=2, connection=slots, wait_seconds=0.2, poll_seconds=0.1, sleep=lambda s: None
    )

    guard.learn_limit(5)

    assert guard.effective_limit() == 2
    with guard(), guard():
        with pytest.raises(ConcurrencyLimited):
            with guard():
                pass


def test_sync_stores_the_limit_qualys_reports(qualys, configure, slots, monkeypatch):
    monkeypatch.setitem(conftest.LIMIT_HEADERS, "X-Concurrency-Limit-Limit", "1")
    configure()
    scenario.load(qualys)

    run = runs.execute_run(runs.create_run(SyncRun.Trigger.COMMAND))

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert slots.get(REPORTED_LIMIT_KEY) == b"1"
    assert 0 < slots.ttl(REPORTED_LIMIT_KEY) <= 24 * 3600
