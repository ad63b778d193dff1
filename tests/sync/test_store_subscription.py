"""Storing the subscription read again after an add: only changed ranges are rewritten."""

import pytest

from integrations.models import SubscribedRange
from integrations.services import store
from inventory.models import Host
from lumeta_qualys.ipset import IPSet

pytestmark = pytest.mark.django_db


def stored() -> IPSet:
    return IPSet.from_strings(
        f"{row.start_address}-{row.end_address}" for row in SubscribedRange.objects.all()
    )


def row_ids() -> dict[str, int]:
    return dict(SubscribedRange.objects.values_list("start_address", "id"))


def store_first(subscription: IPSet) -> None:
    store.insert_rows(
        SubscribedRange, store.SUBSCRIBED_RANGE_FIELDS, store.subscription_rows(subscription)
    )


def test_reread_subscription_keeps_unchanged_rows():
    before = IPSet.from_strings(
        ["192.0.2.1", "192.0.2.3", "198.51.100.0-198.51.100.9", "2001:db8::1"]
    )
    after = before | IPSet.from_strings(["192.0.2.2", "203.0.113.5", "2001:db8::2"])
    store_first(before)
    ids_before = row_ids()

    count = store.replace_subscription(after, before)

    assert count == 4
    assert stored() == after
    assert SubscribedRange.objects.count() == len(list(after.ranges()))
    ids_after = row_ids()
    # 198.51.100.0-198.51.100.9 did not change, so its row stays.
    assert ids_after["198.51.100.0"] == ids_before["198.51.100.0"]
    # 192.0.2.1 and 192.0.2.3 merged with 192.0.2.2 into a new row.
    assert ids_after["192.0.2.1"] != ids_before["192.0.2.1"]
    assert "192.0.2.3" not in ids_after
    range_row = SubscribedRange.objects.get(start_address="192.0.2.1")
    assert (range_row.end_address, range_row.size) == ("192.0.2.3", 3)


def test_reread_subscription_sets_host_flags():
    before = IPSet.from_strings(["192.0.2.1-192.0.2.10"])
    after = IPSet.from_strings(["192.0.2.5-192.0.2.20"])
    store_first(before)
    for address in ["192.0.2.2", "192.0.2.7", "192.0.2.15", "192.0.2.30"]:
        Host(address=address, source="test").save()

    store.replace_subscription(after, before)

    subscribed = set(Host.objects.filter(subscribed=True).values_list("address", flat=True))
    assert subscribed == {"192.0.2.7", "192.0.2.15"}
    assert stored() == after


def test_reread_subscription_replaces_all_when_table_differs(caplog):
    before = IPSet.from_strings(["192.0.2.1", "192.0.2.3"])
    after = before | IPSet.from_strings(["192.0.2.9"])
    store_first(before)
    # A row that the sync did not store before the add.
    store_first(IPSet.from_strings(["203.0.113.0-203.0.113.255"]))

    count = store.replace_subscription(after, before)

    assert count == 3
    assert stored() == after
    assert "so all 3 ranges are replaced" in caplog.text
