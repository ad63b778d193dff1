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


def _select(model, columns: str, where: str) -> str:
    return f"SELECT {columns} FROM {_table(model)} WHERE {where}"


HOST_COLUMNS = (
    "key, address, hostname, hostnames, mac, mac_vendor, os_name, "
    "{first_seen}, {last_seen}, source, stale, subscribed"
)
QUALYS_COLUMNS = "id, qualys_id, dns, netbios, os, tracking_method, network_id"

# For each set: the table its rows come from and the flag column and value that select it.
SET_FLAGS = {
    "unmanaged-by-qualys": ("host", "subscribed", False),
    "managed-by-both": ("host", "scanned", True),
    "unmanaged-by-lumeta": ("scanned", "indexed", False),
}


def _fetch(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _chunk_rows(side: str, flag_column: str, flag_value: bool, keys: list[str]) -> list[tuple]:
    """Return the chunk's rows, inventory columns then Qualys columns, in key order.

    Three simple indexed reads merged here rather than one SQL join, whose
    plan PostgreSQL sometimes turns into a full scan of the scanned hosts.
    """
    bounds = [keys[0], keys[-1]]
    in_range = "key >= %s AND key <= %s"
    if side == "host":
        columns = HOST_COLUMNS.format(first_seen=_time("first_seen"), last_seen=_time("last_seen"))
        hosts = _fetch(
            _select(Host, columns, f"{in_range} AND {flag_column} = %s ORDER BY key"),
            bounds + [flag_value],
        )
        # Addresses of indexed hosts are flagged indexed on the Qualys side.
        scans = _fetch(
            _select(
                ScannedAddress,
                f"key, host_id, {_time('last_scan')}",
                f"{in_range} AND indexed = %s",
            ),
            bounds + [True],
        )
    else:
        hosts = None
        scans = _fetch(
            _select(
                ScannedAddress,
                f"key, host_id, {_time('last_scan')}, address",
                f"{in_range} AND indexed = %s ORDER BY key",
            ),
            bounds + [flag_value],
        )
    host_ids = [host_id for _, host_id, *_ in scans]
    details = {}
    if host_ids:
        placeholders = ", ".join(["%s"] * len(host_ids))
        details = {
            row[0]: row[1:]
            for row in _fetch(
                _select(ScannedHost, QUALYS_COLUMNS, f"id IN ({placeholders})"), host_ids
            )
        }
    no_scan = (None, None, None, None, None, None, None)
    if hosts is None:
        # Qualys-only rows: address, then the Qualys columns with the scan time.
        return [
            (key, address, *details[host_id], last_scan)
            for key, host_id, last_scan, address in scans
        ]
    scan_by_key = {key: (*details[host_id], last_scan) for key, host_id, last_scan in scans}
    return [host + scan_by_key.get(host[0], no_scan) for host in hosts]


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
        network_id,
        last_scan,
    ) = row
    return [
        address, hostname, _names(hostnames), mac, vendor, os_name, first_seen, last_seen,
        source, yes_no(stale), yes_no(subscribed), qualys_id, dns, netbios, qualys_os,
        tracking, last_scan, network_id,
    ]  # fmt: skip


def _scanned_line(row: tuple) -> list:
    _, address, qualys_id, dns, netbios, qualys_os, tracking, network_id, last_scan = row
    # Not indexed: no inventory details, and the subscription flag is kept on hosts only.
    return [
        address, "", "", "", "", "", "", "", "", "", "", qualys_id, dns, netbios, qualys_os,
        tracking, last_scan, network_id,
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
    side, flag_column, flag_value = SET_FLAGS[coverage_set.slug]
    line = _host_line if side == "host" else _scanned_line
    yield _csv_text([COLUMNS])
    for keys in _chunk_keys(coverage_set, address_filter):
        rows = _chunk_rows(side, flag_column, flag_value, keys)
        if address_filter is not None and address_filter.is_name:
            # The key range also holds rows the name filter left out.
            wanted = set(keys)
            rows = [row for row in rows if row[0] in wanted]
        yield _csv_text(map(line, rows))


def _csv_text(lines) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(lines)
    return buffer.getvalue()
