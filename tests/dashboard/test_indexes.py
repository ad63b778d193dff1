"""The indexes behind the list filters serve the exact SQL the filters run, on both databases."""

import pytest
from django.db import connection
from django.db.models import Q

from dashboard.lists import AddressFilter
from integrations.models import ScannedHost

from .conftest import SCANNED, store_scanned


def query_plan(queryset) -> str:
    """Return the database's plan of ``queryset`` as one text."""
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Tiny test tables are cheapest to read whole; the question here
            # is whether an index can serve the condition at all.
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(f"EXPLAIN {sql}", params)
        else:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        return "\n".join(str(row) for row in cursor.fetchall())


@pytest.mark.parametrize("column", ["dns", "netbios"])
def test_qualys_name_prefix_uses_index(db, column):
    store_scanned(SCANNED)
    prefix = AddressFilter.parse("Web-1").name_prefix
    # The same lookup the list filter applies through the scanned address's host.
    queryset = ScannedHost.objects.filter(Q(**{f"{column}__istartswith": prefix}))

    plan = query_plan(queryset)

    assert f"scanned_host_{column}_prefix" in plan


def test_qualys_name_filter_ignores_case(db):
    store_scanned(SCANNED)
    # NetBIOS names are upper case in Qualys; the filter lowers what was typed.
    prefix = AddressFilter.parse("Web1").name_prefix

    matches = ScannedHost.objects.filter(
        Q(dns__istartswith=prefix) | Q(netbios__istartswith=prefix)
    )

    assert sorted(matches.values_list("qualys_id", flat=True)) == [101, 102]
