"""Coverage flags follow the stored Qualys tables and the inventory."""

import pytest

from integrations import coverage
from integrations.models import ScannedAddress, ScannedHost, SubscribedRange
from inventory.models import Host
from inventory.signals import hosts_deleted, hosts_imported
from lumeta_qualys.ipset import key_of


def subscribe(*ranges: tuple[str, str]) -> None:
    for start, end in ranges:
        SubscribedRange.objects.create(
            version=6 if ":" in start else 4,
            start_key=key_of(start),
            end_key=key_of(end),
            start_address=start,
            end_address=end,
            size=0,
        )


def scan(*addresses: str) -> None:
    for number, address in enumerate(addresses, start=1):
        host = ScannedHost.objects.create(qualys_id=number, address=address)
        ScannedAddress.objects.create(
            key=key_of(address), address=address, version=6 if ":" in address else 4, host=host
        )


def flags(address: str) -> tuple[bool, bool]:
    host = Host.objects.get(address=address)
    return host.subscribed, host.scanned


@pytest.mark.django_db
def test_full_refresh_sets_flags():
    subscribe(("192.0.2.1", "192.0.2.20"), ("2001:db8::1", "2001:db8::ff"))
    scan("192.0.2.5", "198.51.100.9", "2001:db8::10")
    for address in ["192.0.2.1", "192.0.2.5", "192.0.2.20", "192.0.2.21", "2001:db8::10", "2001:db8::100"]:
        Host(address=address, source="test").save()

    coverage.refresh_all()

    assert flags("192.0.2.1") == (True, False)
    assert flags("192.0.2.5") == (True, True)
    assert flags("192.0.2.20") == (True, False)
    assert flags("192.0.2.21") == (False, False)
    assert flags("2001:db8::10") == (True, True)
    assert flags("2001:db8::100") == (False, False)
    assert set(ScannedAddress.objects.filter(indexed=True).values_list("address", flat=True)) == {
        "192.0.2.5",
        "2001:db8::10",
    }


@pytest.mark.django_db
def test_full_refresh_clears_old_flags():
    subscribe(("192.0.2.1", "192.0.2.1"))
    scan("192.0.2.1")
    Host(address="192.0.2.1", source="test").save()
    coverage.refresh_all()
    assert flags("192.0.2.1") == (True, True)

    SubscribedRange.objects.all().delete()
    ScannedHost.objects.all().delete()
    coverage.refresh_all()

    assert flags("192.0.2.1") == (False, False)


@pytest.mark.django_db
def test_ipv4_range_never_covers_ipv6_host():
    subscribe(("0.0.0.0", "255.255.255.255"))
    Host(address="2001:db8::1", source="test").save()
    coverage.refresh_all()
    assert flags("2001:db8::1") == (False, False)


@pytest.mark.django_db
def test_import_signal_sets_flags():
    subscribe(("198.51.100.0", "198.51.100.255"))
    scan("198.51.100.7")
    Host.objects.bulk_create(
        [
            Host(address=a, key=key_of(a), version=4, source="bulk")
            for a in ["198.51.100.7", "198.51.100.8", "203.0.113.1"]
        ]
    )

    hosts_imported.send(sender=Host, new_since_pk=0, import_run=None)

    assert flags("198.51.100.7") == (True, True)
    assert flags("198.51.100.8") == (True, False)
    assert flags("203.0.113.1") == (False, False)
    assert ScannedAddress.objects.get(address="198.51.100.7").indexed is True


@pytest.mark.django_db
def test_deleted_host_unindexes_address():
    scan("192.0.2.9")
    host = Host(address="192.0.2.9", source="test")
    host.save()
    assert ScannedAddress.objects.get(address="192.0.2.9").indexed is True

    hosts_deleted.send(sender=Host, keys=[host.key])

    assert ScannedAddress.objects.get(address="192.0.2.9").indexed is False


@pytest.mark.django_db
def test_edited_address_moves_flags():
    scan("192.0.2.9")
    host = Host(address="192.0.2.9", source="test")
    host.save()
    host.address = "192.0.2.10"
    host.save()

    assert ScannedAddress.objects.get(address="192.0.2.9").indexed is False
    assert flags("192.0.2.10") == (False, False)
