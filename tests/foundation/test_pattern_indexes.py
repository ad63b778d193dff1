"""Address keys and host sources carry no PostgreSQL pattern index; their plain indexes stay."""

import pytest
from django.db import connection

from inventory.models import Host
from lumeta_qualys.ipset import key_of

KEY_COLUMNS = [
    ("inventory_host", "key"),
    ("inventory_host", "source"),
    ("integrations_scannedaddress", "key"),
    ("qualys_scanned_ips", "address_key"),
    ("qualys_scanned_ips", "ipv6_key"),
    ("qualys_subscribed_ips", "start_key"),
]


def index_definitions(table: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = %s", [table])
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.parametrize(("table", "column"), KEY_COLUMNS)
def test_key_column_has_plain_index_only(db, table, column):
    if connection.vendor != "postgresql":
        pytest.skip("pattern indexes exist only on PostgreSQL")
    on_column = [
        definition
        for definition in index_definitions(table)
        if definition.endswith(f"({column})") or f"({column} varchar_pattern_ops)" in definition
    ]

    assert any(definition.endswith(f"({column})") for definition in on_column), on_column
    assert not any("varchar_pattern_ops" in definition for definition in on_column), on_column


def test_host_name_has_one_byte_order_index(db):
    if connection.vendor != "postgresql":
        pytest.skip("pattern indexes and collations are PostgreSQL's")

    on_column = [
        definition
        for definition in index_definitions("inventory_host")
        if "(hostname" in definition
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT collation_name FROM information_schema.columns "
            "WHERE table_name = 'inventory_host' AND column_name = 'hostname'"
        )
        collation = cursor.fetchone()[0]

    assert collation == "C"
    assert len(on_column) == 1, on_column
    assert on_column[0].endswith("(hostname)"), on_column


def test_host_name_prefix_filter_reads_the_index(db):
    if connection.vendor != "postgresql":
        pytest.skip("the plan checked here is PostgreSQL's")
    Host.objects.bulk_create(
        Host(
            address=f"198.51.100.{n}",
            key=key_of(f"198.51.100.{n}"),
            version=4,
            hostname=f"host-{n}.example.test",
            source="test",
        )
        for n in range(200)
    )
    query = Host.objects.filter(hostname__startswith="host-1").order_by()

    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = query.explain()

    assert "Index Cond: (((hostname)::text >= 'host-1'::text)" in plan, plan
    assert query.count() == 111
