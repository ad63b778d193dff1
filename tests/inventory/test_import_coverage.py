"""An import leaves every coverage flag as a full refresh would set it."""

import random

import pytest

from integrations import coverage
from integrations.models import ScannedAddress, ScannedHost, SubscribedRange
from inventory.models import Host
from inventory.services import import_file
from lumeta_qualys.ipset import IPSet, format_address, key_of, parse_address

pytestmark = pytest.mark.django_db

V4_BASE = int.from_bytes(bytes([192, 0, 2, 0]), "big")
V6_BASE = 0x20010DB8 << 96


def random_addresses(generator: random.Random, count: int) -> list[str]:
    """Return addresses from 192.0.2.0/24 and a small corner of 2001:db8::/32."""
    addresses = set()
    while len(addresses) < count:
        if generator.random() < 0.7:
            addresses.add(format_address(4, V4_BASE + generator.randrange(256)))
        else:
            addresses.add(format_address(6, V6_BASE + generator.randrange(256)))
    return sorted(addresses)


def subscribe(generator: random.Random) -> IPSet:
    ranges = []
    for version, base in ((4, V4_BASE), (6, V6_BASE)):
        for _ in range(generator.randrange(4)):
            start = base + generator.randrange(256)
            end = min(start + generator.randrange(40), base + 255)
            ranges.append((version, start, end))
            SubscribedRange.objects.create(
                version=version,
                start_key=key_of(format_address(version, start)),
                end_key=key_of(format_address(version, end)),
                start_address=format_address(version, start),
                end_address=format_address(version, end),
                size=end - start + 1,
            )
    return IPSet.from_ranges(ranges)


def scan(addresses: list[str]) -> None:
    for number, address in enumerate(addresses, start=1):
        host = ScannedHost.objects.create(qualys_id=number, address=address)
        version, _ = parse_address(address)
        ScannedAddress.objects.create(
            key=key_of(address), address=address, version=version, host=host
        )


@pytest.mark.parametrize("seed", range(6))
def test_import_flags_match_full_refresh(tmp_path, seed):
    generator = random.Random(seed)
    subscription = subscribe(generator)
    scanned = random_addresses(generator, 30)
    scan(scanned)
    listed = random_addresses(generator, 60)
    # Every range's first and last address and their neighbours outside it.
    for version, start, end in subscription.ranges():
        base = V4_BASE if version == 4 else V6_BASE
        for value in (start - 1, start, end, end + 1):
            if base <= value <= base + 255:
                listed.append(format_address(version, value))
    listed = sorted(set(listed), key=key_of)
    # A first import stores a third of the hosts, so the second one adds and
    # refreshes only the rest.
    import_file(_write(tmp_path, "first.txt", listed[::3]), source="first")

    import_file(_write(tmp_path, "second.txt", listed), source="second")

    for host in Host.objects.all():
        version, value = parse_address(host.address)
        assert host.subscribed == subscription.contains(version, value), host.address
        assert host.scanned == (host.address in scanned), host.address
    indexed = set(ScannedAddress.objects.filter(indexed=True).values_list("address", flat=True))
    assert indexed == set(scanned) & set(listed)
    assert coverage.refresh_all() == {"subscribed": 0, "scanned": 0, "indexed": 0}


def _write(tmp_path, name: str, addresses: list[str]):
    path = tmp_path / name
    path.write_text("".join(f"{address}\n" for address in addresses))
    return path
