"""Named host queries: CIDR, range and search-box matching on the key index."""

import pytest

from inventory.models import Host
from inventory.querysets import address_search_error, search_error
from lumeta_qualys.ipset import AddressError

pytestmark = pytest.mark.django_db


@pytest.fixture
def hosts():
    for address, name in [
        ("192.0.2.1", "alpha.example.test"),
        ("192.0.2.15", "beta.example.test"),
        ("192.0.2.16", "alpine"),
        ("198.51.100.1", ""),
        ("2001:db8::1", "six"),
        ("2001:db8::1:0", ""),
    ]:
        names = [name, f"{name.split('.')[0]}-mgmt.example.test"] if name else []
        Host.objects.create(address=address, hostname=name, hostnames=names, source="test")


def found(queryset) -> list[str]:
    return list(queryset.values_list("address", flat=True))


def test_in_cidr_uses_block_bounds(hosts):
    assert found(Host.objects.in_cidr("192.0.2.0/28")) == ["192.0.2.1", "192.0.2.15"]
    assert found(Host.objects.in_cidr("2001:db8::/112")) == ["2001:db8::1"]


def test_in_cidr_rejects_host_bits(hosts):
    with pytest.raises(AddressError):
        Host.objects.in_cidr("192.0.2.7/24")


def test_in_range_includes_both_ends(hosts):
    assert found(Host.objects.in_range("192.0.2.15", "198.51.100.1")) == [
        "192.0.2.15",
        "192.0.2.16",
        "198.51.100.1",
    ]


def test_in_range_rejects_mixed_versions(hosts):
    with pytest.raises(AddressError):
        Host.objects.in_range("192.0.2.1", "2001:db8::1")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("192.0.2.15", ["192.0.2.15"]),
        ("  2001:DB8:0::1 ", ["2001:db8::1"]),
        ("192.0.2.0/27", ["192.0.2.1", "192.0.2.15", "192.0.2.16"]),
        ("192.0.2.2-192.0.2.20", ["192.0.2.15", "192.0.2.16"]),
        ("ALP", ["192.0.2.1", "192.0.2.16"]),
        ("example", []),
        # Names after the first, and not in the middle of a name.
        ("beta-mgmt.example", ["192.0.2.15"]),
        ("SIX-MGMT", ["2001:db8::1"]),
        ("mgmt", []),
        # What users type that an import would reject.
        ("192.0.2.7/24", ["192.0.2.1", "192.0.2.15", "192.0.2.16"]),
        ("192.0.2.17/28", ["192.0.2.16"]),
        ("2001:db8::5/64", ["2001:db8::1", "2001:db8::1:0"]),
        ("192.0.2.", ["192.0.2.1", "192.0.2.15", "192.0.2.16"]),
        ("198.", ["198.51.100.1"]),
        ("256.", []),
        ("2001:db8:", ["2001:db8::1", "2001:db8::1:0"]),
        ("2001:DB8:0:0:0:0:0:", ["2001:db8::1"]),
        ("2001:db9:", []),
        # The importers store an IPv4-mapped address as its IPv4 address.
        ("::ffff:192.0.2.15", ["192.0.2.15"]),
        ("::ffff:192.0.2.0/123", ["192.0.2.1", "192.0.2.15", "192.0.2.16"]),
        ("192.0.02.", []),
        (
            "",
            [
                "192.0.2.1",
                "192.0.2.15",
                "192.0.2.16",
                "198.51.100.1",
                "2001:db8::1",
                "2001:db8::1:0",
            ],
        ),
    ],
)
def test_matching_address_cidr_or_name_prefix(hosts, query, expected):
    assert found(Host.objects.matching(query)) == expected


def test_order_is_numeric_not_textual(hosts):
    assert found(Host.objects.all())[:3] == ["192.0.2.1", "192.0.2.15", "192.0.2.16"]


def test_after_key_pages_by_address(hosts):
    first = Host.objects.get(address="192.0.2.16")

    assert found(Host.objects.after_key(first.key))[:1] == ["198.51.100.1"]


def test_cidr_query_uses_key_index(hosts):
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("the plan check reads SQLite's EXPLAIN QUERY PLAN output")
    sql, params = Host.objects.in_cidr("192.0.2.0/28").query.sql_with_params()

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        plan = " ".join(str(row) for row in cursor.fetchall())

    assert "USING INDEX" in plan
    assert "key>? AND key<?" in plan.replace('"', "").replace("=", "")


def test_mapped_address_text_is_rewritten():
    from importlib import import_module

    from django.apps import apps

    migration = import_module("inventory.migrations.0007_ipv4_mapped_address_text")
    host = Host.objects.create(address="::ffff:192.0.2.9", source="test")
    other = Host.objects.create(address="2001:db8::9", source="test")
    Host.objects.filter(pk=host.pk).update(address="::ffff:c000:209")

    migration.rewrite(apps, None)

    assert Host.objects.get(pk=host.pk).address == "::ffff:192.0.2.9"
    assert Host.objects.get(pk=other.pk).address == "2001:db8::9"


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        (
            "192.0.2.7/33",
            "“192.0.2.7/33” is not a valid address, block or range: the prefix "
            "length 33 is more than 32.",
        ),
        ("192.0.2.300", "the octet '300' is more than 255."),
        ("10.8.0.1-3", "write both ends in full, such as 10.8.0.1-10.8.0.3."),
        ("2001:db8:::1", "“2001:db8:::1” is not a valid address, block or range"),
    ],
)
def test_search_that_is_no_address_is_explained(query, reason):
    assert reason in address_search_error(query)


@pytest.mark.parametrize(
    "query",
    ["192.0.2.1", "192.0.2.", "192.0.2.7/24", "2001:db8:", "2001:db8::/32", "alpha", "db-1.x", ""],
)
def test_address_and_name_searches_need_no_explanation(query):
    assert address_search_error(query) is None


@pytest.fixture
def detailed_hosts():
    for address, mac, vendor, os_name, tags, source in [
        ("192.0.2.1", "00:1A:2B:3C:4D:5E", "Cisco Systems", "IOS 15", ["PCI", "dmz"], "a.xml"),
        ("192.0.2.2", "00:1A:2B:00:00:01", "Cisco Systems", "Linux 5.4", ["pci-old"], "a.xml"),
        ("192.0.2.3", "AA:BB:CC:00:00:02", "Dell Inc.", "Windows 10", ["Zürich"], "b.csv"),
        ("192.0.2.4", "", "", "", [], "b.csv"),
    ]:
        Host.objects.create(
            address=address,
            hostname="ad-bb-cc-00-00-02" if address == "192.0.2.4" else "",
            hostnames=["ad-bb-cc-00-00-02"] if address == "192.0.2.4" else [],
            mac=mac,
            mac_vendor=vendor,
            os_name=os_name,
            tags=tags,
            source=source,
        )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # A whole MAC address in each notation people write.
        ("00:1a:2b:3c:4d:5e", ["192.0.2.1"]),
        ("00-1A-2B-3C-4D-5E", ["192.0.2.1"]),
        ("001a.2b3c.4d5e", ["192.0.2.1"]),
        ("001A2B3C4D5E", ["192.0.2.1"]),
        ("0:1a:2b:3c:4d:5e", ["192.0.2.1"]),
        # A hyphenated MAC address also matches a host name that starts so.
        ("ad-bb-cc-00-00-02", ["192.0.2.4"]),
        ("AA-BB-CC-00-00-02", ["192.0.2.3"]),
        # The start of a MAC address, in any notation.
        ("mac:00:1A:2B", ["192.0.2.1", "192.0.2.2"]),
        ("MAC: 001a2b3", ["192.0.2.1"]),
        ("mac:aabbcc000002", ["192.0.2.3"]),
        ("mac:0:1a:2b", ["192.0.2.1", "192.0.2.2"]),
        ("mac:0-1a", ["192.0.2.1", "192.0.2.2"]),
        ("mac:zz", []),
        ("os:windows", ["192.0.2.3"]),
        ("OS :windows", ["192.0.2.3"]),
        ("OS:ios 1", ["192.0.2.1"]),
        ("os:", []),
        ("vendor:cisco", ["192.0.2.1", "192.0.2.2"]),
        # A tag matches whole, in any case, non-ASCII letters included.
        ("tag:pci", ["192.0.2.1"]),
        ("tag:zürich", ["192.0.2.3"]),
        ("tag:dm", []),
        ("source:B.CSV", ["192.0.2.3", "192.0.2.4"]),
        ("source:b.", []),
        ("name:ad-bb", ["192.0.2.4"]),
        # Other names for the fields.
        ("hostname:ad-bb", ["192.0.2.4"]),
        ("tags:dmz", ["192.0.2.1"]),
        ("ip:192.0.2.2-192.0.2.3", ["192.0.2.2", "192.0.2.3"]),
        ("address: 192.0.2.4", ["192.0.2.4"]),
        ("ip:192.0.2.", ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"]),
        ("ip:ad-bb", []),
        # An IPv6 address whose first group is hexadecimal letters is no field.
        ("fade:", []),
    ],
)
def test_matching_mac_and_fields(detailed_hosts, query, expected):
    assert found(Host.objects.matching(query)) == expected


def test_matching_ipv6_with_letter_group_is_an_address():
    Host.objects.create(address="fade::1", source="test")

    assert found(Host.objects.matching("fade::1")) == ["fade::1"]
    assert found(Host.objects.matching("[fade::1]")) == ["fade::1"]
    assert found(Host.objects.matching("fade::1%eth0")) == ["fade::1"]
    assert search_error("fade::1%eth0") is None
    assert found(Host.objects.matching("fade:")) == ["fade::1"]
    assert search_error("fade::1") is None


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "role:web",
            "“role:” is not a search field. Name one of ip:, mac:, os:, vendor:, tag:, source:, "
            "name: before the text to find, or leave the colon out to search host names.",
        ),
        ("ip:web", "“web” is not an address, a CIDR block or a range. Enter for example"),
        ("ip:192.0.2.300", "the octet '300' is more than 255."),
        ("os: ", "Enter what to find after os:, for example os:windows."),
        ("mac:00:1G", "“00:1G” is not the start of a MAC address."),
        ("mac:00112233445566", "“00112233445566” is not the start of a MAC address."),
        (
            "tag:pci os:windows",
            "“tag:pci os:windows” searches more than one field. Search one field at a time, "
            "such as tag:pci.",
        ),
        ("2001:db8:::1", "“2001:db8:::1” is not a valid address, block or range"),
    ],
)
def test_search_error_names_the_problem(query, message):
    assert message in search_error(query)


@pytest.mark.parametrize(
    "query",
    [
        "00:1a:2b:3c:4d:5e",
        "DC:A6:32:00:11:22",
        "ac-de-48-00-11-22",
        "001a.2b3c.4d5e",
        "os:windows",
        "mac:00-1a",
        "tag:pci",
        "web-01",
    ],
)
def test_search_error_accepts_mac_and_field_searches(query):
    assert search_error(query) is None
    assert Host.objects.reads_every_row(query)


@pytest.mark.parametrize(
    "query", ["", "192.0.2.1", "192.0.2.0/24", "192.0.2.", "2001:db8::1", "ip:192.0.2.0/24"]
)
def test_address_searches_read_the_index(query):
    assert not Host.objects.reads_every_row(query)
