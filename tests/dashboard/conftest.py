"""Coverage data built as the product builds it: Qualys tables, hosts, then the flags."""

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from integrations import coverage
from integrations.models import ScannedAddress, ScannedHost, SubscribedRange
from inventory.models import Host
from inventory.signals import hosts_imported
from lumeta_qualys.ipset import IPSet, address_key, format_address, key_of, parse_address

# Sizes of the subscription below: a /25, an 11-address range and an IPv6 /64.
SUBSCRIPTION = ["192.0.2.0/25", "198.51.100.10-198.51.100.20", "2001:db8::/64"]
SUBSCRIBED_ADDRESSES = 128 + 11 + 2**64
HOSTS = [
    "192.0.2.1",
    "192.0.2.2",
    "192.0.2.3",
    "192.0.2.200",
    "198.51.100.15",
    "203.0.113.5",
    "2001:db8::1",
    "2001:db8:1::1",
]


def scan_time(day: int) -> datetime:
    return datetime(2026, 11, day, 8, 30, tzinfo=UTC)


# (Qualys ID, IPv4, IPv6, network ID, DNS, NetBIOS, last scan day)
SCANNED = [
    (101, "192.0.2.1", "", 0, "web-1.example.test", "WEB1", 3),
    (102, "192.0.2.1", "", 7, "web-1.branch.example.test", "WEB1B", 5),
    (103, "192.0.2.2", "2001:db8::1", 0, "db-1.example.test", "DB1", 2),
    (104, "203.0.113.5", "", 0, "vpn.example.test", "VPN", 9),
    (105, "192.0.2.50", "", 0, "printer.example.test", "", None),
    (106, "198.51.100.99", "", 0, "old.example.test", "OLD", 1),
    (107, "", "2001:db8::2", 0, "v6only.example.test", "", 4),
]


def store_subscription(tokens: list[str]) -> None:
    """Store S as the sync does: one row per merged interval."""
    for version, start, end in IPSet.from_strings(tokens).ranges():
        SubscribedRange.objects.create(
            version=version,
            start_key=address_key(version, start),
            end_key=address_key(version, end),
            start_address=format_address(version, start),
            end_address=format_address(version, end),
            size=end - start + 1,
        )


def store_scanned(rows) -> None:
    """Store M as the sync does: every host, then one row per distinct address.

    An address listed in several networks is one ScannedAddress, linked to
    the first of its hosts, with the latest scan time.
    """
    addresses: dict[str, tuple[ScannedHost, datetime | None]] = {}
    for qualys_id, ipv4, ipv6, network, dns, netbios, day in rows:
        host = ScannedHost.objects.create(
            qualys_id=qualys_id,
            address=ipv4,
            address_key=key_of(ipv4) if ipv4 else "",
            ipv6=ipv6,
            ipv6_key=key_of(ipv6) if ipv6 else "",
            dns=dns,
            netbios=netbios,
            os="Linux 5.15",
            tracking_method="IP",
            last_scan=scan_time(day) if day else None,
            network_id=network,
        )
        for text in (ipv4, ipv6):
            if not text:
                continue
            first, latest = addresses.get(text, (host, None))
            if host.last_scan and (latest is None or host.last_scan > latest):
                latest = host.last_scan
            addresses[text] = (first, latest)
    for text, (host, latest) in addresses.items():
        version, _ = parse_address(text)
        ScannedAddress.objects.create(
            key=key_of(text), address=text, version=version, host=host, last_scan=latest
        )


def index_hosts(addresses: list[str], **fields) -> None:
    """Add hosts as an import does: bulk insert, then the import signal."""
    before = Host.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    hosts = []
    for number, text in enumerate(addresses):
        version, value = parse_address(text)
        name = f"host-{text.replace('.', '-').replace(':', '-')}.example.test"
        hosts.append(
            Host(
                address=format_address(version, value),
                key=address_key(version, value),
                version=version,
                hostname=name,
                hostnames=[name, f"alias-{number}.example.test"],
                mac=f"02:00:00:00:00:{number:02x}",
                os_name="Debian 12",
                source="scan.xml",
                first_seen=datetime(2026, 10, 1, tzinfo=UTC),
                last_seen=datetime(2026, 11, 30, 12, 0, tzinfo=UTC),
                **fields,
            )
        )
    Host.objects.bulk_create(hosts)
    hosts_imported.send(sender=Host, new_since_pk=before, import_run=None)


@dataclass
class Data:
    subscribed: int = SUBSCRIBED_ADDRESSES


@pytest.fixture
def coverage_data(db) -> Data:
    """I, S and M with ranges, IPv6, duplicates and scanned hosts outside S, after a sync."""
    index_hosts(HOSTS)
    store_subscription(SUBSCRIPTION)
    store_scanned(SCANNED)
    coverage.refresh_all()
    return Data()
