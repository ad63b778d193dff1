"""The three sets and every count, on data with ranges, IPv6, duplicates and M outside S."""

import pytest

from dashboard import querysets
from integrations import coverage
from integrations.models import ScannedAddress, ScannedHost, SubscribedRange
from inventory.models import Host
from inventory.signals import hosts_deleted

from .conftest import SUBSCRIBED_ADDRESSES, index_hosts, store_subscription


def addresses(queryset) -> list[str]:
    return list(queryset.order_by("key").values_list("address", flat=True))


def test_unmanaged_by_qualys_is_indexed_outside_subscription(coverage_data):
    assert addresses(querysets.unmanaged_by_qualys()) == [
        "192.0.2.200",
        "203.0.113.5",
        "2001:db8:1::1",
    ]


def test_unmanaged_by_lumeta_is_scanned_not_indexed(coverage_data):
    assert addresses(querysets.unmanaged_by_lumeta()) == [
        "192.0.2.50",
        "198.51.100.99",
        "2001:db8::2",
    ]


def test_managed_by_both_counts_duplicate_address_once(coverage_data):
    # 192.0.2.1 is listed in two Qualys networks; 203.0.113.5 is scanned outside S.
    assert addresses(querysets.managed_by_both()) == [
        "192.0.2.1",
        "192.0.2.2",
        "203.0.113.5",
        "2001:db8::1",
    ]
    assert addresses(querysets.scanned_indexed()) == addresses(querysets.managed_by_both())


def test_counts_are_exact_for_every_set(coverage_data):
    counts = querysets.coverage_counts()

    assert counts.indexed == 8
    assert counts.subscribed == SUBSCRIBED_ADDRESSES
    assert counts.scanned == 7
    assert counts.unmanaged_by_qualys == 3
    assert counts.unmanaged_by_lumeta == 3
    assert counts.managed_by_both == 4
    assert counts.coverage == 0.5
    assert type(counts.subscribed) is int


def test_regions_include_scanned_addresses_outside_subscription(coverage_data):
    regions = querysets.coverage_counts().regions()

    assert regions == {
        "I": 2,  # 192.0.2.200, 2001:db8:1::1
        "IS": 2,  # 192.0.2.3, 198.51.100.15
        "ISM": 3,  # 192.0.2.1, 192.0.2.2, 2001:db8::1
        "IM": 1,  # 203.0.113.5
        "SM": 2,  # 192.0.2.50, 2001:db8::2
        "M": 1,  # 198.51.100.99
        "S": SUBSCRIBED_ADDRESSES - 5 - 2,
    }
    assert sum(regions.values()) == 8 + SUBSCRIBED_ADDRESSES + 1 + 2 + 1 - 5 - 3


def test_qualys_totals_count_scanned_inside_subscription(coverage_data):
    totals = querysets.compute_qualys_totals()

    assert totals.scanned_subscribed == 5
    assert totals.subscribed_v6 == 2**64


def test_hosts_imported_after_sync_count_at_once(coverage_data):
    assert querysets.coverage_counts().managed_by_both == 4

    # Discovery finds a host Qualys already scanned, and one neither side listed.
    index_hosts(["192.0.2.50", "203.0.113.77"])
    counts = querysets.coverage_counts()

    assert counts.indexed == 10
    assert counts.managed_by_both == 5
    assert counts.unmanaged_by_lumeta == 2
    assert counts.unmanaged_by_qualys == 4
    assert counts.regions()["ISM"] == 4
    assert counts.regions()["SM"] == 1


def test_deleted_hosts_leave_the_counts(coverage_data):
    querysets.coverage_counts()
    host = Host.objects.get(address="203.0.113.5")
    keys = [host.key]
    Host.objects.filter(pk=host.pk).delete()
    hosts_deleted.send(sender=Host, keys=keys)

    counts = querysets.coverage_counts()

    assert counts.indexed == 7
    assert counts.unmanaged_by_lumeta == 4
    assert counts.regions()["M"] == 2


def test_counts_follow_a_new_sync(coverage_data):
    querysets.coverage_counts()
    # The next sync replaces the tables: the subscription is now 203.0.113.0/24 only.
    ScannedAddress.objects.all().delete()
    ScannedHost.objects.all().delete()
    SubscribedRange.objects.all().delete()
    store_subscription(["203.0.113.0/24"])
    coverage.refresh_all()

    counts = querysets.coverage_counts()

    assert counts.subscribed == 256
    assert counts.scanned == 0
    assert counts.unmanaged_by_qualys == 7
    assert counts.managed_by_both == 0
    assert counts.regions()["IS"] == 1
    assert counts.regions()["S"] == 255


def test_coverage_of_empty_inventory_is_one(db):
    counts = querysets.coverage_counts()

    assert counts.indexed == 0
    assert counts.coverage == 1.0
    assert counts.regions() == {"I": 0, "S": 0, "M": 0, "IS": 0, "IM": 0, "SM": 0, "ISM": 0}


def test_saved_host_updates_counts(coverage_data):
    querysets.coverage_counts()
    Host(address="198.51.100.99", source="admin").save()

    counts = querysets.coverage_counts()

    assert counts.managed_by_both == 5
    assert counts.unmanaged_by_lumeta == 2
    assert counts.unmanaged_by_qualys == 4


@pytest.mark.parametrize(
    ("name", "value"),
    [("subscribed", False), ("scanned", True)],
)
def test_flag_filter_uses_equality(name, value, db):
    sql = str(Host.objects.filter(querysets.flag(name, value)).query)
    assert " IN (" in sql
