"""Queries for stale hosts read the partial index that holds only them."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from inventory.models import Host
from inventory.services import expired_hosts


@pytest.mark.django_db
def test_expiry_query_reads_stale_index():
    now = timezone.now()
    Host(address="192.0.2.1", source="test", stale=True, stale_since=now).save()
    Host(address="192.0.2.2", source="test").save()
    expired = expired_hosts(now + timedelta(days=1))

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")
        plan = expired.explain()

    assert "host_stale_since" in plan, plan
    assert list(expired.values_list("address", flat=True)) == ["192.0.2.1"]


@pytest.mark.django_db
def test_stale_index_is_partial():
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'host_stale_since'")
        else:
            cursor.execute("SELECT sql FROM sqlite_master WHERE name = 'host_stale_since'")
        definition = cursor.fetchone()[0]

    assert "WHERE" in definition.upper(), definition
    assert "stale" in definition.upper().split("WHERE", 1)[1].lower(), definition
