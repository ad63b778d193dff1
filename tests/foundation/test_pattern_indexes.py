"""Address keys and host sources carry no PostgreSQL pattern index; their plain indexes stay."""

import pytest
from django.db import connection

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


def test_host_name_keeps_pattern_index(db):
    if connection.vendor != "postgresql":
        pytest.skip("pattern indexes exist only on PostgreSQL")

    definitions = index_definitions("inventory_host")

    assert any("(hostname varchar_pattern_ops)" in definition for definition in definitions)
