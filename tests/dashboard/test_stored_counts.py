"""Counts stored by the writers of the data, and the page's recount when they are missing."""

from datetime import UTC, datetime

import pytest

from dashboard import querysets
from dashboard.models import CountSnapshot
from integrations import coverage
from integrations.models import ScannedAddress, ScannedHost, SubscribedRange, SyncRun
from integrations.services import runs, store
from integrations.signals import qualys_tables_replaced
from inventory.models import Host
from inventory.services import delete_hosts
from lumeta_qualys.ipset import IPSet, key_of, parse_address
from tests.sync import scenario
from tests.sync.conftest import configure, no_sleep, qualys, sync_redis  # noqa: F401

from .conftest import SUBSCRIBED_ADDRESSES, index_hosts


def recounted() -> querysets.Coverage:
    """Count everything from the tables now, bypassing the stored counts."""
    return querysets.compute_coverage(querysets.compute_qualys_totals())


@pytest.fixture
def no_page_recount(monkeypatch):
    """Make any recount on the page path fail the test: the counts must be stored already."""

    def fail(snapshot):
        raise AssertionError("the page recounted; the writer should have stored the counts")

    monkeypatch.setattr(querysets, "_recount", fail)


def assert_stored_counts_current() -> None:
    snapshot = CountSnapshot.objects.get(pk=1)
    hosts_signature, qualys_signature = querysets.data_signature()

    assert snapshot.computed_generation == snapshot.generation
    assert snapshot.signature == f"{hosts_signature};{qualys_signature}"


def scanned_row(qualys_id: int, ipv4: str = "", ipv6: str = "") -> tuple:
    """Return a spool row in the order of ``store.SCANNED_HOST_FIELDS``."""
    return (
        qualys_id,
        ipv4,
        key_of(ipv4) if ipv4 else "",
        ipv6,
        key_of(ipv6) if ipv6 else "",
        f"q{qualys_id}.example.test",
        f"Q{qualys_id}",
        "Linux",
        "IP",
        datetime(2026, 12, 1, 8, 0, tzinfo=UTC),
        0,
    )


def store_qualys(subscription: list[str], scanned: list[str], *, hand_over: bool = True) -> None:
    """Replace the Qualys tables as the sync's store step does."""
    rows = []
    for number, text in enumerate(scanned, start=500):
        version, _ = parse_address(text)
        if version == 4:
            rows.append(scanned_row(number, ipv4=text))
        else:
            rows.append(scanned_row(number, ipv6=text))
    with store.HostSpool() as spool:
        for row in rows:
            spool.append(row)
        store.replace_qualys_tables(
            IPSet.from_strings(subscription),
            spool,
            IPSet.from_strings(scanned) if hand_over else None,
        )


def test_import_stores_counts(coverage_data, no_page_recount):
    querysets.store_counts()

    index_hosts(["192.0.2.50", "203.0.113.77"])

    assert_stored_counts_current()
    counts = querysets.coverage_counts()
    assert counts == recounted()
    assert counts.indexed == 10
    assert counts.managed_by_both == 5
    assert counts.unmanaged_by_lumeta == 2


def test_deletion_stores_counts(coverage_data, no_page_recount):
    querysets.store_counts()

    delete_hosts(Host.objects.filter(address__in=["203.0.113.5", "192.0.2.3"]))

    assert_stored_counts_current()
    counts = querysets.coverage_counts()
    assert counts == recounted()
    assert counts.indexed == 6
    assert counts.unmanaged_by_lumeta == 4


def test_saved_host_stores_counts(coverage_data, no_page_recount):
    querysets.store_counts()

    Host(address="198.51.100.99", source="admin").save()

    assert_stored_counts_current()
    counts = querysets.coverage_counts()
    assert counts == recounted()
    assert counts.managed_by_both == 5


def test_changed_host_address_stores_counts(coverage_data, no_page_recount):
    querysets.store_counts()
    host = Host.objects.get(address="192.0.2.200")

    host.address = "192.0.2.50"
    host.save()

    counts = querysets.coverage_counts()
    assert counts == recounted()
    assert counts.managed_by_both == 5
    assert counts.unmanaged_by_qualys == 2


def test_deleted_host_marks_counts_out_of_date(coverage_data):
    querysets.store_counts()

    # A delete without hosts_deleted only marks the counts, so the page recounts.
    Host.objects.get(address="203.0.113.5").delete()

    snapshot = CountSnapshot.objects.get(pk=1)
    assert snapshot.computed_generation != snapshot.generation
    assert querysets.coverage_counts().indexed == 7


def test_sync_store_stores_handed_over_counts(coverage_data, no_page_recount):
    store_qualys(["192.0.2.0/24", "2001:db8::/64"], ["192.0.2.2", "192.0.2.77", "198.51.100.1"])

    assert_stored_counts_current()
    counts = querysets.coverage_counts()
    assert counts == recounted()
    assert counts.subscribed == 256 + 2**64
    assert counts.scanned == 3
    assert counts.qualys.scanned_subscribed == 2
    assert counts.managed_by_both == 1
    assert counts.unmanaged_by_lumeta == 2


def test_sync_store_without_scanned_set_recounts_tables(coverage_data, no_page_recount):
    querysets.store_counts()

    store_qualys(["192.0.2.0/24"], ["192.0.2.2", "198.51.100.1"], hand_over=False)

    counts = querysets.coverage_counts()
    assert counts == recounted()
    assert counts.subscribed == 256
    assert counts.qualys.scanned_subscribed == 1


def test_failed_store_keeps_previous_counts(coverage_data):
    before = querysets.store_counts()

    def fail(sender, **kwargs) -> None:
        # Runs after the dashboard's receiver, which has stored new counts by now.
        raise RuntimeError("the database went away")

    qualys_tables_replaced.connect(fail, dispatch_uid="test.fail")
    try:
        with pytest.raises(RuntimeError):
            store_qualys(["203.0.113.0/24"], ["203.0.113.5"])
    finally:
        qualys_tables_replaced.disconnect(dispatch_uid="test.fail")

    assert_stored_counts_current()
    assert querysets.coverage_counts() == before
    assert SubscribedRange.objects.count() == 3


def test_counts_recounted_when_row_missing(coverage_data):
    CountSnapshot.objects.all().delete()

    counts = querysets.coverage_counts()

    assert counts == recounted()
    assert counts.indexed == 8
    assert counts.subscribed == SUBSCRIBED_ADDRESSES
    assert_stored_counts_current()


def test_counts_recounted_after_unsignalled_change(coverage_data):
    querysets.store_counts()
    # Qualys tables replaced without the sync's signal: their ID bounds move.
    ScannedAddress.objects.all().delete()
    ScannedHost.objects.all().delete()
    coverage.refresh_all()

    counts = querysets.coverage_counts()

    assert counts.scanned == 0
    assert counts.managed_by_both == 0
    assert counts == recounted()


def test_page_recount_never_overwrites_newer_store(coverage_data):
    stale = CountSnapshot.objects.get(pk=1)
    # A writer stores its counts while the page is still counting.
    index_hosts(["203.0.113.77"])
    stored = CountSnapshot.objects.get(pk=1)

    querysets._recount(stale)

    after = CountSnapshot.objects.get(pk=1)
    assert after.generation == stored.generation
    assert after.computed_at == stored.computed_at


def test_sync_end_to_end_leaves_counts_stored(qualys, configure, no_page_recount):  # noqa: F811
    configure(auto_subscribe=True)
    scenario.load(qualys)

    run = runs.execute_run(runs.create_run(SyncRun.Trigger.COMMAND))

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert_stored_counts_current()
    counts = querysets.coverage_counts()
    assert counts == recounted()
    assert counts.subscribed == run.subscribed
    assert counts.unmanaged_by_qualys == run.unmanaged_by_qualys
    assert counts.unmanaged_by_lumeta == run.unmanaged_by_lumeta
    assert counts.managed_by_both == run.managed_by_both
