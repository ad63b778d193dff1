"""Coverage flags follow the stored Qualys tables and the inventory."""

import ipaddress
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard.querysets import compute_qualys_totals
from integrations import coverage
from integrations.models import ScannedAddress, ScannedHost, SubscribedRange
from inventory.models import Host
from inventory.services import delete_hosts, expire_stale_hosts
from inventory.signals import hosts_deleted, hosts_imported
from lumeta_qualys.ipset import IPSet, format_address, key_of


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
    for address in [
        "192.0.2.1",
        "192.0.2.5",
        "192.0.2.20",
        "192.0.2.21",
        "2001:db8::10",
        "2001:db8::100",
    ]:
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
def test_bulk_delete_unindexes_addresses_in_few_queries():
    scan("192.0.2.9", "192.0.2.10")
    Host.objects.bulk_create(
        Host(address=f"192.0.2.{n}", key=key_of(f"192.0.2.{n}"), version=4, source="test")
        for n in range(1, 255)
    )
    hosts_imported.send(sender=Host, new_since_pk=0, import_run=None)

    with CaptureQueriesContext(connection) as queries:
        deleted = delete_hosts(Host.objects.all())

    assert deleted == 254
    assert ScannedAddress.objects.filter(indexed=True).count() == 0
    # One statement per 500 hosts and one flag update, never one per host.
    assert len(queries) < 30


@pytest.mark.django_db
def test_expiry_unindexes_addresses_in_few_queries():
    scan("192.0.2.9")
    long_ago = timezone.now() - timedelta(days=40)
    Host.objects.bulk_create(
        Host(address=f"192.0.2.{n}", key=key_of(f"192.0.2.{n}"), version=4, source="test",
             stale=True, stale_since=long_ago)
        for n in range(1, 255)
    )  # fmt: skip
    hosts_imported.send(sender=Host, new_since_pk=0, import_run=None)

    with CaptureQueriesContext(connection) as queries:
        deleted = expire_stale_hosts(days=30)

    assert deleted == 254
    assert ScannedAddress.objects.get(address="192.0.2.9").indexed is False
    assert len(queries) < 30


@pytest.mark.django_db
def test_edited_address_moves_flags():
    scan("192.0.2.9")
    host = Host(address="192.0.2.9", source="test")
    host.save()
    host.address = "192.0.2.10"
    host.save()

    assert ScannedAddress.objects.get(address="192.0.2.9").indexed is False
    assert flags("192.0.2.10") == (False, False)


def set_flags(address: str, subscribed: bool, scanned: bool) -> None:
    Host.objects.filter(address=address).update(subscribed=subscribed, scanned=scanned)


@pytest.mark.django_db
def test_full_refresh_at_address_space_edges():
    last_v6 = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
    next_to_last_v6 = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"
    # The first and last address of each version lie outside S, their neighbours inside.
    outside = ["0.0.0.0", "255.255.255.255", "::", last_v6]
    inside = ["0.0.0.1", "255.255.255.254", "::1", next_to_last_v6]
    subscribe(("0.0.0.1", "255.255.255.254"), ("::1", "::1"), (next_to_last_v6, next_to_last_v6))
    for address in outside + inside:
        Host(address=address, source="test").save()
    # Every flag starts wrong, so each one has to change.
    for address in outside:
        set_flags(address, True, False)
    for address in inside:
        set_flags(address, False, False)

    summary = coverage.refresh_all()

    assert summary == {"subscribed": 8, "scanned": 0, "indexed": 0}
    for address in outside:
        assert flags(address) == (False, False), address
    for address in inside:
        assert flags(address) == (True, False), address


@pytest.mark.django_db
def test_full_refresh_writes_only_wrong_flags():
    subscribe(("192.0.2.0", "192.0.2.9"))
    scan("192.0.2.1", "192.0.2.50", "203.0.113.1")
    for address in ["192.0.2.1", "192.0.2.2", "192.0.2.50", "198.51.100.1"]:
        Host(address=address, source="test").save()
    ScannedAddress.objects.filter(address="203.0.113.1").update(indexed=True)
    ScannedAddress.objects.filter(address="192.0.2.50").update(indexed=False)
    set_flags("192.0.2.1", True, False)  # scanned is wrong
    set_flags("192.0.2.2", False, True)  # both are wrong
    set_flags("192.0.2.50", True, True)  # subscribed is wrong
    set_flags("198.51.100.1", False, False)  # right

    first = coverage.refresh_all()
    second = coverage.refresh_all()

    assert first == {"subscribed": 2, "scanned": 2, "indexed": 2}
    assert second == {"subscribed": 0, "scanned": 0, "indexed": 0}
    assert flags("192.0.2.1") == (True, True)
    assert flags("192.0.2.2") == (True, False)
    assert flags("192.0.2.50") == (False, True)
    assert flags("198.51.100.1") == (False, False)
    indexed = set(ScannedAddress.objects.filter(indexed=True).values_list("address", flat=True))
    assert indexed == {"192.0.2.1", "192.0.2.50"}


@pytest.mark.django_db
def test_full_refresh_can_leave_indexed_flags():
    scan("192.0.2.1", "203.0.113.1")
    Host(address="192.0.2.1", source="test").save()
    ScannedAddress.objects.filter(address="203.0.113.1").update(indexed=True)

    summary = coverage.refresh_all(indexed=False)

    assert summary == {"subscribed": 0, "scanned": 0}
    assert ScannedAddress.objects.get(address="203.0.113.1").indexed is True
    assert coverage.refresh_all() == {"subscribed": 0, "scanned": 0, "indexed": 1}


@pytest.mark.django_db
def test_full_refresh_with_stored_subscription_given():
    subscribe(("198.51.100.0", "198.51.100.9"))
    Host(address="192.0.2.3", source="test").save()
    Host(address="198.51.100.3", source="test").save()
    set_flags("192.0.2.3", True, False)
    set_flags("198.51.100.3", False, False)

    summary = coverage.refresh_all(subscription=IPSet.from_strings(["198.51.100.0-198.51.100.9"]))

    assert summary["subscribed"] == 2
    assert flags("192.0.2.3") == (False, False)
    assert flags("198.51.100.3") == (True, False)


@pytest.mark.django_db
def test_unsubscribed_refresh_skips_subscribed_hosts():
    subscribe(("192.0.2.0", "192.0.2.9"))
    for address in ["192.0.2.1", "192.0.2.2", "198.51.100.1"]:
        Host(address=address, source="test").save()
    set_flags("192.0.2.1", False, False)
    # Wrong, but outside what this refresh checks.
    set_flags("198.51.100.1", True, False)

    with connection.cursor() as cursor:
        changed = coverage.refresh_subscribed(cursor, unsubscribed_only=True)

    assert changed == 1
    assert flags("192.0.2.1") == (True, False)
    assert flags("198.51.100.1") == (True, False)


def _plan_nodes(node: dict):
    yield node
    for child in node.get("Plans", []):
        yield from _plan_nodes(child)


@pytest.mark.django_db
def test_postgresql_flag_walk_ignores_stale_statistics():
    """Statistics taken while every flag was false must not make the range table an inner loop."""
    if connection.vendor != "postgresql":
        pytest.skip("The statement under test is PostgreSQL's; SQLite has its own, tested below.")
    Host.objects.bulk_create(
        Host(address=f"198.51.100.{n}", key=key_of(f"198.51.100.{n}"), version=4, source="test")
        for n in range(200)
    )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Host._meta.db_table}")
    subscribe(*[(f"198.51.100.{n}", f"198.51.100.{n}") for n in range(0, 200, 2)])
    Host.objects.update(subscribed=True)

    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN (ANALYZE, FORMAT JSON) "
            + coverage.walk_subscribed_sql(unsubscribed_only=False)
        )
        plan = cursor.fetchone()[0]
    nodes = list(_plan_nodes(plan[0]["Plan"]))

    range_scans = [
        node for node in nodes if node.get("Relation Name") == SubscribedRange._meta.db_table
    ]
    assert [node["Actual Loops"] for node in range_scans] == [1]
    assert plan[0]["Plan"]["Plans"][0]["Actual Rows"] == 100
    assert Host.objects.filter(subscribed=True).count() == 100


@pytest.mark.django_db
def test_sqlite_flag_update_puts_the_range_table_outside():
    if connection.vendor != "sqlite":
        pytest.skip("The statement under test is SQLite's; PostgreSQL has its own, tested above.")
    Host(address="192.0.2.1", source="test").save()
    with connection.cursor() as cursor:
        coverage._load_key_ranges(
            cursor, coverage.INSIDE_TABLE, IPSet.from_strings(["192.0.2.0/24"])
        )
        cursor.execute(
            "EXPLAIN QUERY PLAN " + coverage.subscribed_in_sql(coverage.INSIDE_TABLE), [True, False]
        )
        steps = [row[-1] for row in cursor.fetchall()]
        cursor.execute(f"DROP TABLE {coverage.INSIDE_TABLE}")

    assert steps[0] == "SCAN ranges"
    assert steps[1].startswith("SEARCH inventory_host USING")
    assert "INDEX host_subscribed_key (subscribed=? AND key>? AND key<?)" in steps[1]


@pytest.mark.django_db
def test_full_refresh_runs_twice_in_one_transaction():
    subscribe(("192.0.2.0", "192.0.2.9"))
    Host(address="192.0.2.3", source="test").save()

    with transaction.atomic():
        coverage.refresh_all()
        SubscribedRange.objects.all().delete()
        coverage.refresh_all()

    assert flags("192.0.2.3") == (False, False)


@pytest.mark.django_db
def test_full_refresh_with_empty_subscription():
    scan("2001:db8::5")
    Host(address="2001:db8::5", source="test").save()
    set_flags("2001:db8::5", True, False)

    assert coverage.refresh_all() == {"subscribed": 1, "scanned": 1, "indexed": 0}
    assert flags("2001:db8::5") == (False, True)


# Small pools keep ranges, hosts and scanned addresses overlapping often.
V4_POOL = [str(ipaddress.IPv4Address("192.0.2.0") + offset) for offset in range(24)]
V6_POOL = [str(ipaddress.IPv6Address("2001:db8::") + offset) for offset in range(24)]


@st.composite
def coverage_cases(draw):
    pool = draw(st.sampled_from([V4_POOL, V6_POOL, V4_POOL[:12] + V6_POOL[:12]]))
    bounds = draw(st.lists(st.tuples(st.sampled_from(pool), st.sampled_from(pool)), max_size=5))
    hosts = draw(st.lists(st.sampled_from(pool), unique=True, max_size=12))
    scanned = draw(st.lists(st.sampled_from(pool), unique=True, max_size=8))
    stale = draw(st.lists(st.booleans(), min_size=3 * len(pool), max_size=3 * len(pool)))
    return bounds, hosts, scanned, stale


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=coverage_cases())
def test_full_refresh_matches_python_sets(case):
    bounds, hosts, scanned, stale = case
    SubscribedRange.objects.all().delete()
    ScannedHost.objects.all().delete()
    Host.objects.all().delete()
    inside: set = set()
    stored = IPSet.from_strings(
        f"{min(a, b, key=ipaddress.ip_address)}-{max(a, b, key=ipaddress.ip_address)}"
        for a, b in bounds
        if ipaddress.ip_address(a).version == ipaddress.ip_address(b).version
    )
    for version, start, end in stored.ranges():
        subscribe((format_address(version, start), format_address(version, end)))
        inside.update(ipaddress.ip_address(value) for value in range(start, end + 1))
    scan(*scanned)
    for index, address in enumerate(hosts):
        Host(address=address, source="test").save()
        # Start from arbitrary flags, as left by an earlier subscription.
        set_flags(address, stale[2 * index], stale[2 * index + 1])
    for index, address in enumerate(scanned):
        ScannedAddress.objects.filter(address=address).update(indexed=stale[2 * len(hosts) + index])

    coverage.refresh_all()

    for address in hosts:
        expected = (ipaddress.ip_address(address) in inside, address in scanned)
        assert flags(address) == expected, address
    indexed = set(ScannedAddress.objects.filter(indexed=True).values_list("address", flat=True))
    assert indexed == set(scanned) & set(hosts)
    scanned_inside = [address for address in scanned if ipaddress.ip_address(address) in inside]
    assert compute_qualys_totals().scanned_subscribed == len(scanned_inside)


@pytest.mark.django_db
def test_host_refresh_without_qualys_data_clears_flags():
    subscribe(("203.0.113.0", "203.0.113.9"))
    scan("203.0.113.20")
    for address in ["192.0.2.1", "192.0.2.2", "192.0.2.3"]:
        Host(address=address, source="test").save()
    set_flags("192.0.2.1", True, False)
    set_flags("192.0.2.2", False, True)

    looked_at = coverage.refresh_hosts(Host.objects.filter(address__startswith="192.0.2."))

    assert looked_at == 3
    assert flags("192.0.2.1") == (False, False)
    assert flags("192.0.2.2") == (False, False)
    assert flags("192.0.2.3") == (False, False)
