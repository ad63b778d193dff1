"""CSV export of a whole list, streamed in address order with flat memory.

The set's keys come from the same segments as the pages (so the filter is
the same), a chunk at a time by keyset. Each chunk's details are then read
with one joined SQL query over the chunk's key range and written straight
from the database rows: building ORM dictionaries and converting every date
would cut the rate several times over.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

from django.db import connection

from integrations.models import ScannedAddress, ScannedHost
from inventory.models import Host

from .lists import AddressFilter, CoverageSet

# Keys per chunk: one keyset query for the keys and one range query for the details.
CHUNK = 5000

COLUMNS = [
    "Address",
    "Host name",
    "Host names",
    "MAC address",
    "MAC vendor",
    "OS",
    "First seen",
    "Last seen",
    "Source",
    "Stale",
    "In subscription",
    "Qualys host ID",
    "Qualys DNS name",
    "Qualys NetBIOS name",
    "Qualys OS",
    "Tracking method",
    "Last scan",
    "Qualys network ID",
]


def yes_no(value) -> str:
    if value is None:
        return ""
    return "yes" if value else "no"


def _names(value) -> str:
    """Return the JSON list of host names as space-separated text."""
    if not value or value == "[]":
        return ""
    if isinstance(value, str):
        # Django writes the list with json.dumps: '["a", "b"]'. Names without
        # quotes or escapes split directly, much faster than json.loads.
        if value.startswith('["') and value.endswith('"]') and "\\" not in value:
            return " ".join(value[2:-2].split('", "'))
        value = json.loads(value)
    return " ".join(value)


def _time(column: str) -> str:
    """Return the SQL that formats a time column as ISO 8601 in UTC, to the second.

    Formatting in SQL saves parsing each value into a datetime and printing
    it again, which would cost more than the rest of the row.
    """
    if connection.vendor == "sqlite":
        # Django stores times on SQLite as UTC text, "YYYY-MM-DD HH:MM:SS[.ffffff]".
        return f"substr({column}, 1, 10) || 'T' || substr({column}, 12, 8) || 'Z'"
    return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')"""


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _host_sql(flag_column: str) -> str:
    return (
        "SELECT h.key, h.address, h.hostname, h.hostnames, h.mac, h.mac_vendor, h.os_name, "
        f"{_time('h.first_seen')}, {_time('h.last_seen')}, h.source, h.stale, h.subscribed, "
        "s.qualys_id, s.dns, s.netbios, s.os, s.tracking_method, "
        f"{_time('a.last_scan')}, s.network_id "
        f"FROM {_table(Host)} h "
        # The key range repeated on the join lets PostgreSQL read both tables by index.
        f"LEFT JOIN {_table(ScannedAddress)} a ON a.key = h.key AND a.key >= %s AND a.key <= %s "
        f"LEFT JOIN {_table(ScannedHost)} s ON s.id = a.host_id "
        f"WHERE h.key >= %s AND h.key <= %s AND h.{flag_column} = %s ORDER BY h.key"
    )


def _scanned_sql() -> str:
    return (
        "SELECT a.key, a.address, s.qualys_id, s.dns, s.netbios, s.os, s.tracking_method, "
        f"{_time('a.last_scan')}, s.network_id "
        f"FROM {_table(ScannedAddress)} a JOIN {_table(ScannedHost)} s ON s.id = a.host_id "
        "WHERE a.key >= %s AND a.key <= %s AND a.indexed = %s ORDER BY a.key"
    )


# For each set: the SQL of a chunk's details and the flag value that selects the set.
DETAIL_QUERIES = {
    "unmanaged-by-qualys": ("host", "subscribed", False),
    "managed-by-both": ("host", "scanned", True),
    "unmanaged-by-lumeta": ("scanned", "indexed", False),
}


def _host_line(row: tuple) -> list:
    (
        _,
        address,
        hostname,
        hostnames,
        mac,
        vendor,
        os_name,
        first_seen,
        last_seen,
        source,
        stale,
        subscribed,
        qualys_id,
        dns,
        netbios,
        qualys_os,
        tracking,
        last_scan,
        network_id,
    ) = row
    return [
        address, hostname, _names(hostnames), mac, vendor, os_name, first_seen,
        last_seen, source, yes_no(stale), yes_no(subscribed),
        "" if qualys_id is None else qualys_id, dns or "", netbios or "", qualys_os or "",
        tracking or "", last_scan, "" if network_id is None else network_id,
    ]  # fmt: skip


def _scanned_line(row: tuple) -> list:
    _, address, qualys_id, dns, netbios, qualys_os, tracking, last_scan, network_id = row
    # Not indexed: no inventory details, and the subscription flag is kept on hosts only.
    return [
        address, "", "", "", "", "", "", "", "", "", "", qualys_id, dns, netbios, qualys_os,
        tracking, last_scan, "" if network_id is None else network_id,
    ]  # fmt: skip


def _chunk_keys(
    coverage_set: CoverageSet, address_filter: AddressFilter | None
) -> Iterator[list[str]]:
    """Yield the filtered set's keys in address order, CHUNK at a time, by keyset."""
    queryset = coverage_set.queryset()
    if address_filter is not None:
        queryset = address_filter.apply(queryset, coverage_set.side)
    last_key = None
    while True:
        page = queryset.order_by("key")
        if last_key is not None:
            page = page.filter(key__gt=last_key)
        keys = list(page.values_list("key", flat=True)[:CHUNK])
        if not keys:
            return
        yield keys
        last_key = keys[-1]


def csv_lines(coverage_set: CoverageSet, address_filter: AddressFilter | None) -> Iterator[str]:
    """Yield the CSV text of the whole filtered set, one chunk of lines at a time."""
    side, flag_column, flag_value = DETAIL_QUERIES[coverage_set.slug]
    sql = _host_sql(flag_column) if side == "host" else _scanned_sql()
    line = _host_line if side == "host" else _scanned_line
    yield _csv_text([COLUMNS])
    for keys in _chunk_keys(coverage_set, address_filter):
        with connection.cursor() as cursor:
            bounds = [keys[0], keys[-1]]
            cursor.execute(
                sql, bounds * 2 + [flag_value] if side == "host" else bounds + [flag_value]
            )
            rows = cursor.fetchall()
        if address_filter is not None and address_filter.is_name:
            # The key range also holds rows the name filter left out.
            wanted = set(keys)
            rows = [row for row in rows if row[0] in wanted]
        yield _csv_text(map(line, rows))


def _csv_text(lines) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(lines)
    return buffer.getvalue()
